# The auditor checks the attestation record a server wrote (se-checksums.txt.enc and
# se-signature.bin, handed over by the server's owner) against the contract that was meant
# to run, with the attestation certificate IBM publishes for the image version.
data "hyperprotect_attestation" "web" {
  record                  = file("${var.evidence}/se-checksums.txt.enc")
  signature               = filebase64("${var.evidence}/se-signature.bin")
  attestation_certificate = file("${var.evidence}/ibm-hyper-protect-container-runtime-1-0-s390x-29-attestation.crt")
  private_key             = file(var.auditor_key_file)
  contract                = var.contract
}

variable "evidence" {
  description = "Folder holding the record, its signature and the attestation certificate."
  type        = string
}

variable "auditor_key_file" {
  description = "The auditor's RSA private key (PEM): the contract's attestationPublicKey is its public half."
  type        = string
}

variable "contract" {
  description = "The contract (user_data) the deployer published, e.g. hyperprotect_contract.web.rendered."
  type        = string
}

output "verified" {
  value = data.hyperprotect_attestation.web.verified
}
