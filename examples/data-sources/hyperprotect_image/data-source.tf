# The newest available Hyper Protect image of the 1.0 line from 1.0.29 on.
data "hyperprotect_image" "hpcr" {
  version      = "~> 1.0.29"
  architecture = "s390x"
}

output "image" {
  value = "${data.hyperprotect_image.hpcr.name} (${data.hyperprotect_image.hpcr.id})"
}
