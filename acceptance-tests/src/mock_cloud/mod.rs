//! mock-cloud: IBM Cloud IAM + VPC API + Hyper Protect boot emulator (being written).

pub mod hpcr;
pub mod pki;
