//! Ephemeral `hyperprotect_attestation` (auditor, Terraform ≥ 1.10): the same inputs,
//! checks and results as the data source of the same name, but Terraform never writes them
//! to state or plan files, so the auditor's private key and the decrypted record stay out of
//! them. The audit itself is the data source's ([`data_sources::attestation`]).
//!
//! [`data_sources::attestation`]: crate::data_sources::attestation

use crate::data_sources::attestation::{block, evaluate_now, validate};
use crate::runtime::diag::Diagnostics;
use crate::runtime::framework::{Ctx, EphemeralResource, Opened};
use crate::runtime::schema::Schema;
use crate::runtime::value::Value;

pub struct AttestationEphemeral;

#[async_trait::async_trait]
impl EphemeralResource for AttestationEphemeral {
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

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        validate(config, diags);
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
