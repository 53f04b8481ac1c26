//! `hyperprotect_workload`: the workload provider's part. Checks a plaintext workload section
//! against the contract schema at plan time and encrypts it once into the token a deployer
//! puts into its contract (the sign-only flow), so the deployer never sees the plaintext.

use crate::contract::schema::SectionKind;
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::Type;

use super::common::{self, SealedResource, SealedText};

/// The resource, served through the life cycle all sealed texts share.
pub fn resource() -> SealedResource {
    SealedResource {
        type_name: "hyperprotect_workload",
        sealed: SealedText {
            stored: "content",
            write_only: "content_wo",
            version: "content_wo_version",
            section: Some(SectionKind::Workload),
        },

        schema,
    }
}

fn schema() -> Schema {
    let mut attributes = vec![
        Attribute::optional("content", Type::String)
            .sensitive()
            .describe(
                "The plaintext workload section as YAML, usually `yamlencode({...})`. Checked \
             against the contract schema at plan time (errors name the YAML path). Stored \
             in state (marked sensitive); use `content_wo` to keep it out. Exactly one of \
             `content` and `content_wo` is required.",
            ),
        Attribute::optional("content_wo", Type::String)
            .sensitive()
            .write_only()
            .describe(
                "Write-only twin of `content` (Terraform 1.11 or later): never stored in \
                 state or plan files. Change `content_wo_version` when you change it.",
            ),
        common::version_attribute("content_wo_version", "content_wo"),
        common::certificate_attribute(),
        common::platform_attribute(),
    ];
    attributes.extend(common::sealed_outputs("The workload section"));
    Schema::new(
        0,
        Block::new(attributes).describe(
            "The workload provider's encrypted workload section: a token to hand to the \
             deployer, who signs it into a contract without seeing the plaintext.",
        ),
    )
}
