variable "encryption_certificate_file" {
  description = "IBM's CCRV encryption certificate (PEM) for the image version the server boots."
  type        = string
}

variable "signing_key_file" {
  description = "The deployer's RSA private key (PEM), e.g. made by: openssl genrsa -out deployer.key 4096"
  type        = string
}

variable "container_image" {
  description = "The pod's container image, by digest."
  type        = string
  default     = "docker.io/library/nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"
}

variable "log_hostname" {
  description = "The IBM Cloud Logs ingestion host the server sends its logs to."
  type        = string
  default     = "logs.us-south.logging.cloud.ibm.com"
}

variable "log_api_key" {
  description = "The IBM Cloud API key the server's log router sends logs with."
  type        = string
  sensitive   = true
}
