# search.tfquery.hcl: `terraform query` lists the region's Hyper Protect servers whose name
# starts with "web-"; `terraform query -generate-config-out=generated.tf` writes a resource
# block and an `import` block (by identity) for each.
#
# The VPC API never returns an instance's user_data, so the generated resources have
# `user_data = null # sensitive`: set it to the contract the server runs (e.g.
# `hyperprotect_contract.web.rendered`) before or after the import. Changing it right
# after an import updates the state in place and never replaces the server.
list "hyperprotect_instance" "web" {
  provider = hyperprotect
  config {
    name_prefix        = "web-"
    zone               = "us-south-2"
    hyper_protect_only = true
  }
}
