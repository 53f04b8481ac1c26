# CCRT (IBM Confidential Computing Container Runtime) on a KVM host (IBM Z / LinuxONE with
# Secure Execution): the deployer's contract, the cloud-init disk the guest reads it from,
# and the libvirt domain an administrator defines with `virsh define`. The contract is made
# with platform "ccrt" (token prefix `contract-basic.`); the disk is built in-process.
#
#   terraform apply
#   terraform output -raw domain_xml > domain.xml    # on the KVM host:
#   virsh define domain.xml && virsh start ccrt-guest-1

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

# The compose folder, archived reproducibly for the contract's workload.
data "hyperprotect_archive" "compose" {
  folder = "${path.module}/compose"
}

resource "hyperprotect_contract" "guest" {
  platform = "ccrt"
  workload = yamlencode({
    type    = "workload"
    compose = { archive = data.hyperprotect_archive.compose.base64 }
  })
  env = yamlencode({
    type = "env"
    logging = {
      logRouter = {
        hostname  = var.log_hostname
        iamApiKey = var.log_api_key
      }
    }
  })
  signing_key            = file(var.signing_key_file)
  encryption_certificate = file(var.encryption_certificate_file)
}

# user-data (the contract), meta-data (instance-id, local-hostname) and IBM's default
# vendor-data on an ISO 9660 disk labelled `cidata`.
resource "hyperprotect_cidata" "guest" {
  user_data      = hyperprotect_contract.guest.rendered
  hostname       = var.name
  network_config = var.network_config
  path           = abspath("${var.image_folder}/${var.name}-cidata.iso")
}

locals {
  domain_xml = templatefile("${path.module}/domain.xml.tftpl", {
    name         = var.name
    memory_mib   = var.memory_mib
    vcpus        = var.vcpus
    boot_image   = var.boot_image
    cidata_image = hyperprotect_cidata.guest.path
    network      = var.network
    console_log  = "/var/log/libvirt/qemu/${var.name}-console.log"
  })
}
