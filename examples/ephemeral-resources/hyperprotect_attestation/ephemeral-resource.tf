# The auditor's check with Terraform 1.10 or later: the private key and the decrypted
# record are never written to state or plan files. A mismatch fails the run; the
# postcondition documents what was checked.
variable "auditor_private_key" {
  description = "The auditor's PEM private key (the pair of the contract's attestationPublicKey)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "attestation" {
  description = "What the server's owner handed over: se-checksums.txt.enc, base64 of se-signature.bin, the attestation certificate, and the rendered contract."
  type = object({
    record      = string
    signature   = string
    certificate = string
    contract    = string
  })
}

ephemeral "hyperprotect_attestation" "audit" {
  record                  = var.attestation.record
  private_key             = var.auditor_private_key
  signature               = var.attestation.signature
  attestation_certificate = var.attestation.certificate
  contract                = var.attestation.contract

  lifecycle {
    postcondition {
      condition     = self.verified
      error_message = "The attestation record does not verify: ${join("; ", self.findings)}"
    }
  }
}
