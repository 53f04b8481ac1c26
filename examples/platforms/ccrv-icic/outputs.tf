output "user_data" {
  description = "The contract: the OpenStack server's user_data."
  value       = hyperprotect_contract.server.rendered
}

output "contract_sha256" {
  description = "SHA-256 of the contract (the attestation record's cidata/user-data)."
  value       = hyperprotect_contract.server.sha256
}
