variable "encrypted_workload" {
  description = "The workload section as the workload provider encrypted it (a hyper-protect-basic. or contract-basic. token); placed into the contract untouched."
  type        = string
}

variable "logging" {
  description = "The env section's `logging` entry, e.g. { logRouter = { hostname = \"…\", iamApiKey = \"…\" } } for IBM Cloud Logs, or { syslog = { hostname, port, server, cert, key } }."
  type        = any
  sensitive   = true
}

variable "env" {
  description = "Environment values the deployer adds (the workload's compose file decides which it reads)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "volume_seed" {
  description = "The deployer's half of the data volume's encryption seed (at least 15 characters); null when the workload has no data volume."
  type        = string
  default     = null
  sensitive   = true
}

variable "volume_name" {
  description = "Name of the data volume, as in the workload section."
  type        = string
  default     = "data"
}

variable "signing_key_file" {
  description = "Path of the deployer's RSA private key (PEM) that signs workload and env. Ignored when signing_key_pem is set."
  type        = string
  default     = null
}

variable "signing_key_pem" {
  description = "The signing key itself (PEM), e.g. tls_private_key.deployer.private_key_pem; takes precedence over signing_key_file."
  type        = string
  default     = null
  sensitive   = true
}

variable "signing_key_passphrase" {
  description = "Passphrase of an encrypted signing key."
  type        = string
  default     = null
  sensitive   = true
}

variable "attestation_public_key_file" {
  description = "Path of the auditor's RSA public key (PEM): the server encrypts its attestation record to it. Null for a plaintext record."
  type        = string
  default     = null
}

variable "platform" {
  description = "Platform the contract is for: hpvs (default), ccrt, ccrv or ccco."
  type        = string
  default     = "hpvs"
}

variable "image_version" {
  description = "Version constraint of the Hyper Protect image, e.g. \">= 1.0.22\"; the newest available match boots."
  type        = string
  default     = "*"
}

variable "encryption_certificate_url_template" {
  description = "Where encryption certificates are published, with {major}, {minor}, {patch}; null for IBM's location."
  type        = string
  default     = null
}

variable "name" {
  description = "Name of the server."
  type        = string
}

variable "profile" {
  description = "Instance profile: an IBM Secure Execution profile (bz2e-*) for Hyper Protect images."
  type        = string
  default     = "bz2e-2x8"
}

variable "vpc_name" {
  description = "Name of the VPC the server joins."
  type        = string
}

variable "subnet_name" {
  description = "Name of the subnet (in vpc_name) of the server's primary network attachment; its zone is the server's zone."
  type        = string
}

variable "tags" {
  description = "User tags for the server."
  type        = set(string)
  default     = []
}

variable "contract_check_seconds" {
  description = "How long to watch the server after it reaches running for a contract rejection (null: the provider's default, 60 s, right for IBM Cloud)."
  type        = number
  default     = null
}
