//! Acceptance tests support: the Terraform CLI harness and the mock cloud.
