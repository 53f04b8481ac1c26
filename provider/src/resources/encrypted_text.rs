//! `hyperprotect_encrypted_text`: any text encrypted to the platform's certificate as one
//! token (the reference provider's `hpcr_text_encrypted` / `hpcr_json_encrypted` /
//! `hpcr_tgz_encrypted`): a value the workload or env carries that only the server may read.

use crate::contract::schema::SectionKind;
use crate::model;
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, Number, Type};

use super::encryption;
use super::sealed_text::{Sealed, SealedModel, SealedTextResource};

/// The `hyperprotect_encrypted_text` resource.
pub type EncryptedTextResource = SealedTextResource<EncryptedTextModel>;

model! {
    #[derive(Default)]
    /// The configuration, plan and state of `hyperprotect_encrypted_text`.
    pub struct EncryptedTextModel {
        pub text: Known<String> [sensitive],
        pub text_wo: Known<String> [sensitive],
        pub text_wo_version: Known<Number>,
        pub encryption_certificate: Known<String>,
        pub platform: Known<String>,
        pub id: Known<String>,
        pub encrypted: Known<String>,
        pub sha256: Known<String>,
    }
}

impl SealedModel for EncryptedTextModel {
    const TYPE_NAME: &'static str = "hyperprotect_encrypted_text";
    const STORED: &'static str = "text";
    const WRITE_ONLY: &'static str = "text_wo";
    const SECTION: Option<SectionKind> = None;

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
            encryption::version_attribute("text_wo_version", "text_wo"),
            encryption::certificate_attribute(),
            encryption::platform_attribute(),
        ];
        attributes.extend(encryption::sealed_outputs("The text"));
        Schema::new(
            0,
            Block::new(attributes)
                .exactly_one_of(&["text", "text_wo"])
                .required_with("text_wo_version", "text_wo")
                .describe(
                    "A text encrypted to the platform's encryption certificate as one token.",
                ),
        )
    }

    fn sealed(&self) -> Sealed<'_> {
        Sealed {
            stored: &self.text,
            write_only: &self.text_wo,
            version: &self.text_wo_version,
            certificate: &self.encryption_certificate,
            platform: &self.platform,
        }
    }

    fn outputs(&mut self) -> [&mut Known<String>; 3] {
        [&mut self.id, &mut self.encrypted, &mut self.sha256]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::document::sha256_hex;
    use crate::runtime::diag::Diagnostics;
    use crate::runtime::framework::{Ctx, Plan, Resource};
    use crate::runtime::value::Value;

    /// A create has a null prior state: the plan still reads it (as the all-null model) and
    /// plans a new token, with the plaintext's hash known at once.
    #[tokio::test]
    async fn a_create_plans_a_new_token() {
        let schema = EncryptedTextModel::schema();
        let config = Value::object([
            ("text", Value::string("x")),
            ("encryption_certificate", Value::Unknown),
        ]);
        let mut plan = Plan {
            schema: &schema,
            prior: &Value::Null,
            config: &config,
            planned: config.clone(),
            requires_replace: Vec::new(),
            private: Vec::new(),
            diagnostics: Diagnostics::new(),
        };
        EncryptedTextResource::new()
            .modify_plan(&Ctx::for_tests(None), &mut plan)
            .await;
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        assert_eq!(plan.planned.attr("id"), Some(&Value::Unknown));
        assert_eq!(
            plan.planned.attr("sha256"),
            Some(&Value::string(sha256_hex(b"x")))
        );
    }
}
