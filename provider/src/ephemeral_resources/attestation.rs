//! Ephemeral `hyperprotect_attestation` (auditor, Terraform ≥ 1.10): the same inputs,
//! checks and results as the data source of the same name, but Terraform never writes them
//! to state or plan files, so the auditor's private key and the decrypted record stay out of
//! them. The audit itself is the data source's ([`data_sources::attestation`]).
//!
//! [`data_sources::attestation`]: crate::data_sources::attestation

use crate::data_sources::attestation::{block, evaluate_now, AttestationModel};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, EphemeralResource, Opened};
use crate::runtime::schema::Schema;
use crate::runtime::value::Value;

/// The ephemeral `hyperprotect_attestation`.
pub struct AttestationEphemeralResource;

#[async_trait::async_trait]
impl EphemeralResource for AttestationEphemeralResource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_attestation"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            block().describe(
                "Decrypts and verifies a Hyper Protect attestation record and checks it against \
                 the contract that was meant to run, without storing the auditor's key or the \
                 decrypted record in state or plan files. Check its results with \
                 `lifecycle.postcondition`, or feed them to write-only arguments.",
            ),
        )
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(AttestationModel::fields())
    }

    async fn open(&self, _ctx: &Ctx, config: &Value) -> Opened {
        match evaluate_now(config).await {
            (Some(result), diagnostics) => Opened {
                diagnostics,
                ..Opened::ok(result)
            },
            (None, diagnostics) => Opened::failed(diagnostics),
        }
    }
}
