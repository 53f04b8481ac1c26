output "domain_xml" {
  description = "The libvirt domain for `virsh define`: the boot image first, the cidata disk second."
  value       = local.domain_xml
}

output "cidata_path" {
  description = "The cidata disk to copy to the KVM host (if this is not the host)."
  value       = hyperprotect_cidata.guest.path
}

output "cidata_sha256" {
  description = "SHA-256 of the cidata disk."
  value       = hyperprotect_cidata.guest.sha256
}

output "contract_sha256" {
  description = "SHA-256 of the contract (the attestation record's cidata/user-data)."
  value       = hyperprotect_contract.guest.sha256
}
