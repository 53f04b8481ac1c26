//! The plugin runtime: everything needed to be a Terraform provider plugin, with no knowledge
//! of what the provider manages.

pub mod proto;
pub mod value;
