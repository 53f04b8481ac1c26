data "hyperprotect_vpc" "main" {
  name = "my-vpc"
}

output "vpc_id" {
  value = data.hyperprotect_vpc.main.id
}
