output "instance_id" {
  description = "Id of the confidential server."
  value       = module.deployer.instance_id
}

output "instance_status" {
  description = "Its VPC status."
  value       = module.deployer.instance_status
}

output "primary_ipv4_address" {
  description = "Its primary IPv4 address."
  value       = module.deployer.primary_ipv4_address
}

output "image_version" {
  description = "The Hyper Protect image version it boots."
  value       = module.deployer.image_version
}

output "contract_sha256" {
  description = "SHA-256 of its contract (user_data), as the deployer publishes it."
  value       = module.deployer.contract_sha256
}

output "workload_sha256" {
  description = "SHA-256 of the encrypted workload in the contract."
  value       = module.deployer.workload_sha256
}

output "env_sha256" {
  description = "SHA-256 of the encrypted env in the contract."
  value       = module.deployer.env_sha256
}

output "attestation_verified" {
  description = "The auditor's verdict on the server's attestation record (null until the record is given)."
  value       = length(module.auditor) == 0 ? null : module.auditor[0].verified
}

output "attestation_findings" {
  description = "What the auditor found wrong (empty when verified; null until the record is given)."
  value       = length(module.auditor) == 0 ? null : module.auditor[0].findings
}
