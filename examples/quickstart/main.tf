# Quick start (placeholder until the persona modules land): proves the pieces that exist today
# work together — the provider binary built from this tree, loaded by Terraform with mutual
# TLS, next to a running mock-cloud. The workload-provider, deployer and auditor modules will
# be composed here.

terraform {
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

provider "hyperprotect" {}

variable "mock_cloud_url" {
  description = "Base URL of the running mock-cloud (IAM and VPC API)."
  type        = string
}

variable "hpcr_images" {
  description = "Hyper Protect images mock-cloud lists (name = status), fetched by the quick-start script."
  type        = map(string)
  default     = {}
}

output "mock_cloud_url" {
  value = var.mock_cloud_url
}

output "hpcr_images" {
  value = var.hpcr_images
}
