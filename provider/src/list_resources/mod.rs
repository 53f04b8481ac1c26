//! List resources (Terraform ≥ 1.14, `terraform query`): one file per `hyperprotect_*` list
//! resource, each finding existing objects of the managed resource type of the same name.

pub mod instance;

use std::sync::Arc;

use crate::runtime::framework::ListResource;

/// Every list resource the provider serves.
pub fn all() -> Vec<Arc<dyn ListResource>> {
    vec![Arc::new(instance::InstanceListResource)]
}
