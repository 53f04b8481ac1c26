# The cloud-init disk a CCRT guest on a KVM host reads its contract from. Attach it to the
# libvirt domain as the second disk, after the boot image (examples/platforms/ccrt-kvm).
resource "hyperprotect_cidata" "guest" {
  user_data = var.contract
  hostname  = "ccrt-guest-1"
  # Optional static networking, checked at plan by IBM's rules (interfaces enc<N>).
  network_config = yamlencode({
    network = {
      version = 2
      ethernets = {
        enc1 = {
          dhcp4       = false
          addresses   = ["192.168.122.110/24"]
          gateway4    = "192.168.122.1"
          nameservers = { addresses = ["192.168.122.1"] }
        }
      }
    }
  })
  path = "/var/lib/libvirt/images/ccrt-guest-1-cidata.iso"
}

output "cidata_sha256" {
  value = hyperprotect_cidata.guest.sha256
}

variable "contract" {
  description = "The signed contract, e.g. hyperprotect_contract.guest.rendered (platform = \"ccrt\")."
  type        = string
}
