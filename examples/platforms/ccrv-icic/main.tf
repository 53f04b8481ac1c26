# CCRV (IBM Confidential Computing Container Runtime for Red Hat Virtualization Solutions) on
# IBM Cloud Infrastructure Center (OpenStack): the contract is the server's user_data.
# CCRV runs `play` workloads (podman pods) only, no compose. This configuration builds the
# signed contract; hand `user_data` to whatever creates the server, e.g.
#
#   terraform output -raw user_data > contract.yaml
#   openstack server create --image <CCRV image> --flavor <flavor> --network <net> \
#     --user-data contract.yaml ccrv-guest-1
#
# or the `user_data` argument of an OpenStack server resource in the infrastructure admin's
# own configuration (who learns nothing from it: every section is encrypted).

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

locals {
  # A podman pod, given inline (`play.resources`); `play.archive` takes a folder of pod YAML
  # through the hyperprotect_archive data source instead.
  pod = {
    apiVersion = "v1"
    kind       = "Pod"
    metadata   = { name = "web" }
    spec = {
      containers = [{
        name  = "nginx"
        image = var.container_image
        ports = [{ containerPort = 443, hostPort = 443 }]
      }]
    }
  }
}

resource "hyperprotect_contract" "server" {
  platform = "ccrv"
  workload = yamlencode({
    type = "workload"
    play = { resources = [local.pod] }
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
