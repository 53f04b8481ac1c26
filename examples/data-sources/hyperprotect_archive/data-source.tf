# The compose folder as the reproducible tar.gz a workload's compose.archive takes.
data "hyperprotect_archive" "app" {
  folder = "${path.module}/compose"
}

output "archive_sha256" {
  value = data.hyperprotect_archive.app.sha256
}
