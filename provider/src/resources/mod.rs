//! Managed resources: one file per `hyperprotect_*` resource, each with its schema and CRUD
//! only (the work itself is in the contract engine or the cloud client).

use std::sync::Arc;

use crate::runtime::framework::Resource;

pub mod cidata;
mod common;
pub mod contract;
pub mod encrypted_text;
pub mod instance;
pub mod workload;

/// Every resource the provider serves.
pub fn all() -> Vec<Arc<dyn Resource>> {
    vec![
        Arc::new(cidata::CidataResource),
        Arc::new(contract::Contract),
        Arc::new(encrypted_text::resource()),
        Arc::new(instance::InstanceResource),
        Arc::new(workload::resource()),
    ]
}

#[cfg(test)]
mod tests {
    use crate::runtime::schema::Block;

    fn undescribed(block: &Block, at: &str, out: &mut Vec<String>) {
        for a in &block.attributes {
            if a.description.trim().is_empty() {
                out.push(format!("{at}{}", a.name));
            }
        }
        for b in &block.blocks {
            if b.block.description.trim().is_empty() {
                out.push(format!("{at}{}", b.type_name));
            }
            undescribed(&b.block, &format!("{at}{}.", b.type_name), out);
        }
    }

    /// Descriptions feed the generated docs: none may be missing.
    #[test]
    fn every_attribute_and_block_has_a_description() {
        for r in super::all() {
            let mut missing = Vec::new();
            undescribed(&r.schema().block, "", &mut missing);
            assert!(missing.is_empty(), "{}: {missing:?}", r.type_name());
        }
    }
}
