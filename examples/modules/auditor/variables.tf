variable "record_file" {
  description = "Path of the attestation record the server wrote: se-checksums.txt.enc (encrypted to the auditor's key) or se-checksums.txt."
  type        = string
}

variable "signature_file" {
  description = "Path of se-signature.bin, the platform's signature over the record."
  type        = string
}

variable "attestation_certificate_file" {
  description = "Path of the attestation certificate (PEM) of the image version the server booted (IBM publishes it beside the encryption certificate, …-attestation.crt)."
  type        = string
}

variable "ca_certificate_file" {
  description = "Path of a PEM bundle of the CAs issuing the attestation certificate, up to a self-signed root; null to skip the chain check."
  type        = string
  default     = null
}

variable "private_key_file" {
  description = "Path of the auditor's RSA private key (PEM), whose public key the deployer put in the contract as attestationPublicKey."
  type        = string
}

variable "private_key_passphrase" {
  description = "Passphrase of an encrypted private key."
  type        = string
  default     = null
  sensitive   = true
}

variable "contract_sha256" {
  description = "SHA-256 of the contract the deployer published (hyperprotect_contract.sha256)."
  type        = string
}

variable "workload_sha256" {
  description = "SHA-256 of the contract's encrypted workload the deployer (or the workload provider) published; null to skip."
  type        = string
  default     = null
}

variable "env_sha256" {
  description = "SHA-256 of the contract's encrypted env the deployer published; null to skip."
  type        = string
  default     = null
}
