# Deployer persona: takes the workload provider's encrypted workload token, adds the env
# section (logging, its half of the volume seed, environment values), signs workload and env
# together with its own key into a contract, and boots a confidential server with it. It never
# needs the workload's plaintext.

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

# The newest Hyper Protect image matching the constraint, and the encryption certificate of
# that very image version (a guest decrypts with the key of its own version).
data "hyperprotect_image" "hpcr" {
  version      = var.image_version
  architecture = "s390x"
}

data "hyperprotect_encryption_certificate" "platform" {
  version      = data.hyperprotect_image.hpcr.image_version
  url_template = var.encryption_certificate_url_template
  platform     = var.platform
}

data "hyperprotect_vpc" "this" {
  name = var.vpc_name
}

data "hyperprotect_subnet" "this" {
  name = var.subnet_name
  vpc  = data.hyperprotect_vpc.this.id
}

locals {
  env = merge(
    { type = "env", logging = var.logging },
    length(var.env) > 0 ? { env = var.env } : {},
    var.volume_seed == null ? {} : {
      volumes = { (var.volume_name) = { seed = var.volume_seed } }
    },
  )
  signing_key = var.signing_key_pem != null ? var.signing_key_pem : file(var.signing_key_file)
}

resource "hyperprotect_contract" "this" {
  workload               = var.encrypted_workload
  env                    = yamlencode(local.env)
  signing_key            = local.signing_key
  signing_key_passphrase = var.signing_key_passphrase
  encryption_certificate = data.hyperprotect_encryption_certificate.platform.certificate
  platform               = var.platform
  attestation_public_key = var.attestation_public_key_file == null ? null : file(var.attestation_public_key_file)
}

resource "hyperprotect_instance" "this" {
  name      = var.name
  profile   = var.profile
  image     = data.hyperprotect_image.hpcr.id
  zone      = data.hyperprotect_subnet.this.zone
  vpc       = data.hyperprotect_vpc.this.id
  subnet    = data.hyperprotect_subnet.this.id
  user_data = hyperprotect_contract.this.rendered
  tags      = var.tags

  contract_check_seconds = var.contract_check_seconds
}
