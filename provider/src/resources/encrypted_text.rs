//! `hyperprotect_encrypted_text`: any text encrypted to the platform's certificate as one
//! token (the reference provider's `hpcr_text_encrypted` / `hpcr_json_encrypted` /
//! `hpcr_tgz_encrypted`): a value the workload or env carries that only the server may read.

use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::Type;

use super::common::{self, SealedResource, SealedText};

/// The resource, served through the life cycle all sealed texts share.
pub fn resource() -> SealedResource {
    SealedResource {
        type_name: "hyperprotect_encrypted_text",
        sealed: SealedText {
            stored: "text",
            write_only: "text_wo",
            version: "text_wo_version",
            section: None,
        },

        schema,
    }
}

fn schema() -> Schema {
    let mut attributes = vec![
        Attribute::optional("text", Type::String)
            .sensitive()
            .describe(
                "The plaintext to encrypt (any text: `jsonencode(...)`, base64 of an archive, \
             ...). Stored in state (marked sensitive); use `text_wo` to keep it out. \
             Exactly one of `text` and `text_wo` is required.",
            ),
        Attribute::optional("text_wo", Type::String)
            .sensitive()
            .write_only()
            .describe(
                "Write-only twin of `text` (Terraform 1.11 or later): never stored in \
                 state or plan files. Change `text_wo_version` when you change it.",
            ),
        common::version_attribute("text_wo_version", "text_wo"),
        common::certificate_attribute(),
        common::platform_attribute(),
    ];
    attributes.extend(common::sealed_outputs("The text"));
    Schema::new(
        0,
        Block::new(attributes)
            .describe("A text encrypted to the platform's encryption certificate as one token."),
    )
}
