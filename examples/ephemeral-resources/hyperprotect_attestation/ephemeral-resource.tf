# The auditor's check with Terraform 1.10 or later: the private key and the decrypted
# record are never written to state or plan files. A mismatch fails the run; the
# postcondition documents what was checked.
ephemeral "hyperprotect_attestation" "audit" {
  record                  = file("se-checksums.txt.enc")
  private_key             = file("auditor.key")
  signature               = filebase64("se-signature.bin")
  attestation_certificate = file("hpse-attestation.crt")
  contract                = file("contract.yaml")

  lifecycle {
    postcondition {
      condition     = self.verified
      error_message = "The attestation record does not verify: ${join("; ", self.findings)}"
    }
  }
}
