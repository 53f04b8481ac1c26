output "instance_id" {
  description = "Id of the server."
  value       = hyperprotect_instance.this.id
}

output "instance_status" {
  description = "VPC status of the server (running once the contract was accepted)."
  value       = hyperprotect_instance.this.status
}

output "primary_ipv4_address" {
  description = "Primary IPv4 address of the server."
  value       = hyperprotect_instance.this.primary_ipv4_address
}

output "image_version" {
  description = "Version of the Hyper Protect image the server boots (the auditor needs its attestation certificate)."
  value       = data.hyperprotect_image.hpcr.image_version
}

output "contract_sha256" {
  description = "SHA-256 of the whole contract (user_data): the attestation record's cidata/user-data."
  value       = hyperprotect_contract.this.sha256
}

output "workload_sha256" {
  description = "SHA-256 of the contract's encrypted workload: the attestation record's contract:workload."
  value       = hyperprotect_contract.this.workload_sha256
}

output "env_sha256" {
  description = "SHA-256 of the contract's encrypted env: the attestation record's contract:env."
  value       = hyperprotect_contract.this.env_sha256
}
