variable "workload_folder" {
  description = "Folder holding the workload: a docker-compose.yml (with any files it needs) or, with workload_kind = \"play\", Kubernetes pod YAML."
  type        = string
}

variable "workload_kind" {
  description = "`compose` (the folder holds a docker-compose.yml) or `play` (pod descriptors, run with podman play)."
  type        = string
  default     = "compose"

  validation {
    condition     = contains(["compose", "play"], var.workload_kind)
    error_message = "The workload_kind must be \"compose\" or \"play\"."
  }
}

variable "registry_auths" {
  description = "Credentials of private registries the workload pulls from: registry host => { username, password }."
  type        = map(object({ username = string, password = string }))
  default     = {}
  sensitive   = true
}

variable "dct_images" {
  description = "Images verified with Docker Content Trust: image (host/namespace/name, no tag) => { notary = URL, publicKey = base64 of the signer's public key }."
  type        = map(object({ notary = string, publicKey = string }))
  default     = {}
}

variable "rhs_images" {
  description = "Images verified with Red Hat simple signing: image reference => { publicKey = base64 of the ASCII-armoured GPG public key }."
  type        = map(object({ publicKey = string }))
  default     = {}
}

variable "env" {
  description = "Environment values the workload fixes (the deployer cannot change them)."
  type        = map(string)
  default     = {}
}

variable "volume_seed" {
  description = "The workload provider's half of the data volume's encryption seed (at least 15 characters); null for a workload without a data volume. The deployer adds the other half."
  type        = string
  default     = null
  sensitive   = true
}

variable "volume_name" {
  description = "Name of the data volume the seed is for (the deployer uses the same name)."
  type        = string
  default     = "data"
}

variable "volume_mount" {
  description = "Where the data volume is mounted inside the guest."
  type        = string
  default     = "/mnt/data"
}

variable "volume_filesystem" {
  description = "Filesystem of the data volume: ext4, xfs or btrfs."
  type        = string
  default     = "ext4"
}

variable "platform" {
  description = "Platform the contract is for: hpvs (default), ccrt, ccrv or ccco."
  type        = string
  default     = "hpvs"
}

variable "encryption_certificate_version" {
  description = "Version (constraint) of the platform encryption certificate: use the version of the image the deployer boots, e.g. \"1.0.29\"."
  type        = string
}

variable "encryption_certificate_url_template" {
  description = "Where encryption certificates are published, with {major}, {minor}, {patch}; null for IBM's location."
  type        = string
  default     = null
}
