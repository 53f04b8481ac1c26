output "verified" {
  description = "True when the platform's signature verified over the record and every published sha256 matches it."
  value       = data.hyperprotect_attestation.record.verified && length(local.mismatches) == 0
}

output "findings" {
  description = "Every failed check, one line each (empty when verified)."
  value       = local.findings
}

output "checksums" {
  description = "The record's checksums: entry name => SHA-256."
  value       = local.checksums
}
