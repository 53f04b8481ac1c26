# Quick start: the three personas of a Hyper Protect contract, composed in one configuration
# against mock-cloud (or a real IBM Cloud account: see README.md here).
#
#   workload provider -> encrypted workload token -> deployer -> server + contract sha256s
#                                                                 -> auditor (attestation)
#
# In real life each module is its own root configuration run by a different team with its own
# state; only the outputs cross (see README.md). scripts/quickstart.sh runs this twice: first
# to boot the server, then again with the attestation record the server wrote.

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

# Null arguments fall back to the environment (IC_API_KEY, IC_REGION,
# IBMCLOUD_IAM_API_ENDPOINT, IBMCLOUD_IS_NG_API_ENDPOINT, IBMCLOUD_GT_API_ENDPOINT) and then
# to IBM's public endpoints.
provider "hyperprotect" {
  api_key          = var.api_key
  region           = var.region
  iam_endpoint     = var.iam_endpoint
  vpc_endpoint     = var.vpc_endpoint
  tagging_endpoint = var.tagging_endpoint
}

module "workload_provider" {
  source = "../modules/workload-provider"

  workload_folder                     = "${path.module}/compose"
  volume_seed                         = var.workload_volume_seed
  encryption_certificate_version      = var.image_version
  encryption_certificate_url_template = local.certificate_url_template
}

module "deployer" {
  source = "../modules/deployer"

  encrypted_workload = module.workload_provider.encrypted_workload
  logging = {
    logRouter = {
      hostname  = var.log_hostname
      iamApiKey = var.log_api_key
    }
  }
  env                                 = { GREETING = var.greeting }
  volume_seed                         = var.deployer_volume_seed
  signing_key_file                    = var.signing_key_file
  attestation_public_key_file         = var.auditor_public_key_file
  image_version                       = var.image_version
  encryption_certificate_url_template = local.certificate_url_template
  name                                = var.name
  profile                             = var.profile
  vpc_name                            = var.vpc_name
  subnet_name                         = var.subnet_name
  contract_check_seconds              = var.contract_check_seconds
}

# The auditor runs once the server's attestation record is at hand (second stage).
module "auditor" {
  source = "../modules/auditor"
  count  = var.attestation_record_file == null ? 0 : 1

  record_file                  = var.attestation_record_file
  signature_file               = var.attestation_signature_file
  attestation_certificate_file = var.attestation_certificate_file
  private_key_file             = var.auditor_private_key_file
  contract_sha256              = module.deployer.contract_sha256
  # The workload provider's own sha256 of its token: what the server runs is what it sent.
  workload_sha256 = module.workload_provider.encrypted_workload_sha256
  env_sha256      = module.deployer.env_sha256
}

locals {
  certificate_url_template = var.certificate_base_url == null ? null : "${var.certificate_base_url}/s390x-{patch}/ibm-hyper-protect-container-runtime-{major}-{minor}-s390x-{patch}-encrypt.crt"
}
