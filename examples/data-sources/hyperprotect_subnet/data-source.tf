data "hyperprotect_vpc" "main" {
  name = "my-vpc"
}

# The subnet's zone is where a server on it runs.
data "hyperprotect_subnet" "main" {
  name = "my-subnet-1"
  vpc  = data.hyperprotect_vpc.main.id
}

output "subnet_zone" {
  value = data.hyperprotect_subnet.main.zone
}
