//! Ephemeral resources (Terraform ≥ 1.10): one file per `hyperprotect_*` ephemeral resource,
//! each with its schema and open only. Their results are never stored in state or plan files.

pub mod attestation;

use std::sync::Arc;

use crate::runtime::framework::EphemeralResource;

/// Every ephemeral resource the provider serves.
pub fn all() -> Vec<Arc<dyn EphemeralResource>> {
    vec![Arc::new(attestation::AttestationEphemeralResource)]
}
