//! The hyperprotect provider: its configuration and the resources and data sources it serves.
//! Each resource or data source lives in its own file and joins the runtime with the contract
//! engine or the cloud client.

use std::sync::Arc;

use crate::runtime::diag::Diagnostics;
use crate::runtime::framework::{ConfigureRequest, DataSource, Provider, ProviderData, Resource};
use crate::runtime::schema::{Block, Schema};

/// Terraform source address.
pub const ADDRESS: &str = "registry.terraform.io/hyperprotect/hyperprotect";

pub struct HyperprotectProvider;

#[async_trait::async_trait]
impl Provider for HyperprotectProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::default().describe(
                "Hyper Protect contracts and confidential virtual servers on IBM Cloud VPC.",
            ),
        )
    }

    async fn configure(&self, _req: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics) {
        (None, Diagnostics::new())
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        crate::resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        crate::data_sources::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::framework::GrpcProvider;

    /// Terraform ≥ 1.1 refuses a provider with an invalid schema; 1.0 does not check, so we do.
    #[test]
    fn every_schema_passes_terraforms_rules() {
        for (name, schema) in GrpcProvider::new(HyperprotectProvider).schemas() {
            assert_eq!(schema.check(), Ok(()), "{name}");
        }
    }
}
