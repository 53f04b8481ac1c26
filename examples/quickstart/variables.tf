variable "api_key" {
  description = "IBM Cloud API key (any non-empty key for mock-cloud); null to use IC_API_KEY."
  type        = string
  default     = null
  sensitive   = true
}

variable "region" {
  description = "VPC region (mock-cloud emulates us-south); null to use IC_REGION."
  type        = string
  default     = "us-south"
}

variable "iam_endpoint" {
  description = "IAM endpoint: mock-cloud's URL, or null for IBM's."
  type        = string
  default     = null
}

variable "vpc_endpoint" {
  description = "VPC API endpoint: mock-cloud's URL, or null for the region's public endpoint."
  type        = string
  default     = null
}

variable "tagging_endpoint" {
  description = "Global Tagging API endpoint (the server's tags): mock-cloud's URL, or null for IBM's."
  type        = string
  default     = null
}

variable "certificate_base_url" {
  description = "Where encryption certificates are published in IBM's layout: mock-cloud's URL, or null for IBM's location."
  type        = string
  default     = null
}

variable "image_version" {
  description = "Hyper Protect image version (constraint); the same version's encryption certificate encrypts the contract."
  type        = string
  default     = "~> 1.0.29"
}

variable "name" {
  description = "Name of the server."
  type        = string
  default     = "quickstart-web"
}

variable "profile" {
  description = "IBM Secure Execution profile of the server."
  type        = string
  default     = "bz2e-2x8"
}

variable "vpc_name" {
  description = "Name of an existing VPC (mock-cloud has mock-vpc)."
  type        = string
  default     = "mock-vpc"
}

variable "subnet_name" {
  description = "Name of an existing subnet in it (mock-cloud has mock-subnet-1 in us-south-1)."
  type        = string
  default     = "mock-subnet-1"
}

variable "contract_check_seconds" {
  description = "How long to watch the booted server for a contract rejection: mock-cloud decides within 2 s; use null (60 s) on IBM Cloud."
  type        = number
  default     = 5
}

variable "log_hostname" {
  description = "IBM Cloud Logs ingestion host the server sends its logs to."
  type        = string
  default     = "logs.us-south.logging.cloud.ibm.com"
}

variable "log_api_key" {
  description = "API key the server's log router uses."
  type        = string
  sensitive   = true
}

variable "greeting" {
  description = "A value the deployer sets for the workload (GREETING)."
  type        = string
  default     = "hello from the deployer"
}

variable "workload_volume_seed" {
  description = "The workload provider's half of the data volume seed (at least 15 characters)."
  type        = string
  sensitive   = true
}

variable "deployer_volume_seed" {
  description = "The deployer's half of the data volume seed (at least 15 characters)."
  type        = string
  sensitive   = true
}

variable "signing_key_file" {
  description = "Path of the deployer's RSA private key (PEM)."
  type        = string
}

variable "auditor_public_key_file" {
  description = "Path of the auditor's RSA public key (PEM): the attestation record is encrypted to it."
  type        = string
}

variable "auditor_private_key_file" {
  description = "Path of the auditor's RSA private key (PEM)."
  type        = string
}

variable "attestation_record_file" {
  description = "Path of the server's attestation record (se-checksums.txt.enc); null before the server has booted (the auditor then does not run)."
  type        = string
  default     = null
}

variable "attestation_signature_file" {
  description = "Path of the record's signature (se-signature.bin)."
  type        = string
  default     = null
}

variable "attestation_certificate_file" {
  description = "Path of the attestation certificate (PEM) of the booted image version."
  type        = string
  default     = null
}
