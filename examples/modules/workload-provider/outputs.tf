output "encrypted_workload" {
  description = "The encrypted workload section (a hyper-protect-basic. or contract-basic. token): hand this to the deployer."
  value       = hyperprotect_workload.this.encrypted
}

output "encrypted_workload_sha256" {
  description = "SHA-256 of the encrypted workload token. The deployer places the token untouched, so the booted server's attestation record shows this value as contract:workload."
  value       = sha256(hyperprotect_workload.this.encrypted)
}
