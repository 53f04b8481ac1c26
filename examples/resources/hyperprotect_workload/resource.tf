# The workload provider encrypts its workload section; only the token leaves its hands.
data "hyperprotect_archive" "app" {
  folder = "${path.module}/compose"
}

data "hyperprotect_encryption_certificate" "hpvs" {
  version = "~> 1.0.29"
}

resource "hyperprotect_workload" "app" {
  content = yamlencode({
    type    = "workload"
    compose = { archive = data.hyperprotect_archive.app.base64 }
    auths = {
      "us.icr.io" = { username = "iamapikey", password = var.registry_api_key }
    }
  })
  encryption_certificate = data.hyperprotect_encryption_certificate.hpvs.certificate
}

variable "registry_api_key" {
  type      = string
  sensitive = true
}

output "encrypted_workload" {
  value = hyperprotect_workload.app.encrypted
}
