//! `hyperprotect_workload`: the workload provider's part. Checks a plaintext workload section
//! against the contract schema at plan time and encrypts it once into the token a deployer
//! puts into its contract (the sign-only flow), so the deployer never sees the plaintext.

use crate::contract::schema::SectionKind;
use crate::model;
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, Number, Type};

use super::encryption;
use super::sealed_text::{Sealed, SealedModel, SealedTextResource};

/// The `hyperprotect_workload` resource.
pub type WorkloadResource = SealedTextResource<WorkloadModel>;

model! {
    #[derive(Default)]
    /// The configuration, plan and state of `hyperprotect_workload`.
    pub struct WorkloadModel {
        pub content: Known<String> [sensitive],
        pub content_wo: Known<String> [sensitive],
        pub content_wo_version: Known<Number>,
        pub encryption_certificate: Known<String>,
        pub platform: Known<String>,
        pub id: Known<String>,
        pub encrypted: Known<String>,
        pub sha256: Known<String>,
    }
}

impl SealedModel for WorkloadModel {
    const TYPE_NAME: &'static str = "hyperprotect_workload";
    const STORED: &'static str = "content";
    const WRITE_ONLY: &'static str = "content_wo";
    const SECTION: Option<SectionKind> = Some(SectionKind::Workload);

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
            encryption::version_attribute("content_wo_version", "content_wo"),
            encryption::certificate_attribute(),
            encryption::platform_attribute(),
        ];
        attributes.extend(encryption::sealed_outputs("The workload section"));
        Schema::new(
            0,
            Block::new(attributes)
                .exactly_one_of(&["content", "content_wo"])
                .required_with("content_wo_version", "content_wo")
                .describe(
                    "The workload provider's encrypted workload section: a token to hand to the \
                     deployer, who signs it into a contract without seeing the plaintext.",
                ),
        )
    }

    fn sealed(&self) -> Sealed<'_> {
        Sealed {
            stored: &self.content,
            write_only: &self.content_wo,
            version: &self.content_wo_version,
            certificate: &self.encryption_certificate,
            platform: &self.platform,
        }
    }

    fn outputs(&mut self) -> [&mut Known<String>; 3] {
        [&mut self.id, &mut self.encrypted, &mut self.sha256]
    }
}
