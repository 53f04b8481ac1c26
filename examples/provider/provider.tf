terraform {
  required_providers {
    hyperprotect = {
      source = "hyperprotect/hyperprotect"
    }
  }
}

# The API key and region come from the environment (IC_API_KEY, IC_REGION), so they stay
# out of the configuration. Contract-only configurations need neither.
provider "hyperprotect" {}
