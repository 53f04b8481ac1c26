# IBM's published encryption certificate of the newest 1.0.x version from 1.0.29 on,
# checked against its CA chain (IBM's intermediate, DigiCert's code-signing CA and root).
data "hyperprotect_encryption_certificate" "hpvs" {
  version        = "~> 1.0.29"
  ca_certificate = var.ca_bundle
}

variable "ca_bundle" {
  description = "PEM bundle of the CAs issuing the encryption certificate."
  type        = string
}

output "certificate_expires" {
  value = data.hyperprotect_encryption_certificate.hpvs.not_after
}
