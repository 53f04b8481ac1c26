//! Acceptance-test support: the Terraform CLI harness and `mock-cloud`, the emulator of
//! IBM Cloud IAM, the VPC API and a Hyper Protect boot.

pub mod docgen;
pub mod harness;
pub mod mock_cloud;
pub mod rtest;
