# One value encrypted on its own, e.g. a secret env value a workload provider hands to the
# deployer without revealing it.
data "hyperprotect_encryption_certificate" "hpvs" {
  version = "~> 1.0.29"
}

resource "hyperprotect_encrypted_text" "db_password" {
  text                   = var.db_password
  encryption_certificate = data.hyperprotect_encryption_certificate.hpvs.certificate
}

variable "db_password" {
  type      = string
  sensitive = true
}

output "encrypted_db_password" {
  value = hyperprotect_encrypted_text.db_password.encrypted
}
