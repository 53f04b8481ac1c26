# Workload provider persona: turns a compose (or pod) folder, registry credentials, image
# signing keys and a volume seed into the contract's workload section, encrypted to the
# platform's encryption certificate. Only the encrypted token and its sha256 leave this
# module: the deployer never needs (or sees) the plaintext.

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

# The folder, archived reproducibly: touching or re-cloning it changes nothing.
data "hyperprotect_archive" "workload" {
  folder = var.workload_folder
}

data "hyperprotect_encryption_certificate" "platform" {
  version      = var.encryption_certificate_version
  url_template = var.encryption_certificate_url_template
  platform     = var.platform
}

locals {
  # The contract's `compose` or `play` entry: the archive of the folder.
  spec = { archive = data.hyperprotect_archive.workload.base64 }

  # Optional parts appear only when given, so the section stays minimal.
  images = merge(
    length(var.dct_images) > 0 ? { dct = var.dct_images } : {},
    length(var.rhs_images) > 0 ? { rhs = var.rhs_images } : {},
  )

  workload = merge(
    { type = "workload" },
    var.workload_kind == "compose" ? { compose = local.spec } : { play = local.spec },
    length(var.registry_auths) > 0 ? { auths = var.registry_auths } : {},
    length(local.images) > 0 ? { images = local.images } : {},
    length(var.env) > 0 ? { env = var.env } : {},
    var.volume_seed == null ? {} : {
      volumes = {
        (var.volume_name) = {
          seed       = var.volume_seed
          mount      = var.volume_mount
          filesystem = var.volume_filesystem
        }
      }
    },
  )
}

resource "hyperprotect_workload" "this" {
  content                = yamlencode(local.workload)
  encryption_certificate = data.hyperprotect_encryption_certificate.platform.certificate
  platform               = var.platform
}
