# Auditor persona: creates nothing in the cloud. It decrypts the attestation record a booted
# server wrote (se-checksums.txt.enc), verifies the platform's signature over it
# (se-signature.bin) with the image's attestation certificate, and checks the checksums
# against the contract sha256s the deployer published.

terraform {
  required_version = ">= 1.0"
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

data "hyperprotect_attestation" "record" {
  record                  = file(var.record_file)
  signature               = filebase64(var.signature_file)
  attestation_certificate = file(var.attestation_certificate_file)
  ca_certificate          = var.ca_certificate_file == null ? null : file(var.ca_certificate_file)
  private_key             = file(var.private_key_file)
  private_key_passphrase  = var.private_key_passphrase
  # A bad signature is reported through `verified` rather than failing the run, so the
  # verdict below is always produced.
  fail_on_mismatch = false
}

locals {
  checksums = data.hyperprotect_attestation.record.checksums
  # What the deployer published, against what the platform measured.
  expected = merge(
    { "cidata/user-data" = var.contract_sha256 },
    var.workload_sha256 == null ? {} : { "contract:workload" = var.workload_sha256 },
    var.env_sha256 == null ? {} : { "contract:env" = var.env_sha256 },
  )
  mismatches = [
    for entry, want in local.expected :
    format("%s: record has %s, the deployer published %s", entry, lookup(local.checksums, entry, "nothing"), want)
    if lookup(local.checksums, entry, "") != want
  ]
  findings = concat(data.hyperprotect_attestation.record.findings, local.mismatches)
}
