variable "name" {
  description = "The guest's libvirt domain name and host name."
  type        = string
  default     = "ccrt-guest-1"
}

variable "encryption_certificate_file" {
  description = "IBM's CCRT encryption certificate (PEM) for the image version you boot."
  type        = string
}

variable "signing_key_file" {
  description = "The deployer's RSA private key (PEM), e.g. made by: openssl genrsa -out deployer.key 4096"
  type        = string
}

variable "log_hostname" {
  description = "The IBM Cloud Logs ingestion host the guest sends its logs to."
  type        = string
  default     = "logs.us-south.logging.cloud.ibm.com"
}

variable "log_api_key" {
  description = "The IBM Cloud API key the guest's log router sends logs with."
  type        = string
  sensitive   = true
}

variable "network_config" {
  description = "Optional static network configuration (YAML, interfaces enc<N>); DHCP when null."
  type        = string
  default     = null
}

variable "image_folder" {
  description = "Where to write the cidata disk: a folder the KVM host's libvirt can read (e.g. /var/lib/libvirt/images)."
  type        = string
  default     = "."
}

variable "boot_image" {
  description = "The CCRT boot image (qcow2) on the KVM host; give each guest its own copy, since the image changes when it boots."
  type        = string
  default     = "/var/lib/libvirt/images/ccrt-guest-1.qcow2"
}

variable "network" {
  description = "The libvirt network the guest's virtio interface joins."
  type        = string
  default     = "default"
}

variable "memory_mib" {
  description = "Guest memory in MiB."
  type        = number
  default     = 4096
}

variable "vcpus" {
  description = "Guest virtual CPUs."
  type        = number
  default     = 2
}
