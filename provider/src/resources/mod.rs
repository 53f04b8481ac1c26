//! Managed resources: one file per `hyperprotect_*` resource, each with its schema and CRUD
//! only (the work itself is in the contract engine or the cloud client).

use std::sync::Arc;

use crate::runtime::framework::Resource;

pub mod instance;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![Arc::new(instance::Instance::new())]
}
