# x86 profiles offering Intel TDX with at least 4 vCPUs.
data "hyperprotect_instance_profiles" "tdx" {
  confidential_compute_mode = "tdx"
  min_vcpu                  = 4
}

output "tdx_profiles" {
  value = [for p in data.hyperprotect_instance_profiles.tdx.profiles : p.name]
}
