# A Hyper Protect server booting a contract, on an IBM Secure Execution profile.
data "hyperprotect_image" "hpcr" {
  version = "~> 1.0.29"
}

data "hyperprotect_vpc" "main" {
  name = "my-vpc"
}

data "hyperprotect_subnet" "main" {
  name = "my-subnet-1"
  vpc  = data.hyperprotect_vpc.main.id
}

resource "hyperprotect_instance" "web" {
  name      = "web-1"
  profile   = "bz2e-2x8"
  image     = data.hyperprotect_image.hpcr.id
  zone      = data.hyperprotect_subnet.main.zone
  vpc       = data.hyperprotect_vpc.main.id
  subnet    = data.hyperprotect_subnet.main.id
  user_data = var.contract
  tags      = ["env:prod"]

  timeouts {
    create = "20m"
  }
}

output "ip" {
  value = hyperprotect_instance.web.primary_ipv4_address
}

variable "contract" {
  description = "The contract to boot, e.g. hyperprotect_contract.web.rendered."
  type        = string
}
