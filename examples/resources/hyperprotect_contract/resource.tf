# The deployer signs the workload provider's encrypted workload together with its own env
# section. The workload token is placed untouched: the deployer never sees its plaintext.
data "hyperprotect_encryption_certificate" "hpvs" {
  version = "~> 1.0.29"
}

resource "hyperprotect_contract" "web" {
  workload = var.encrypted_workload
  env = yamlencode({
    type = "env"
    logging = {
      logRouter = {
        hostname  = "logs.us-south.logging.cloud.ibm.com"
        iamApiKey = var.log_api_key
      }
    }
  })
  signing_key            = file(var.signing_key_file)
  encryption_certificate = data.hyperprotect_encryption_certificate.hpvs.certificate
  # The server encrypts its attestation record to the auditor's key.
  attestation_public_key = file(var.auditor_public_key_file)
}

variable "encrypted_workload" {
  description = "The workload provider's hyperprotect_workload.encrypted."
  type        = string
}

variable "signing_key_file" {
  description = "The deployer's RSA private key (PEM), e.g. made by: openssl genrsa -out deployer.key 4096"
  type        = string
}

variable "auditor_public_key_file" {
  description = "The auditor's RSA public key (PEM)."
  type        = string
}

variable "log_api_key" {
  type      = string
  sensitive = true
}

output "contract_sha256" {
  value = hyperprotect_contract.web.sha256
}
