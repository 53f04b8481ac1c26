//! The hyperprotect provider: its configuration schema, `configure`, and the registration
//! of every object it serves. What the objects share at run time (cloud settings and client,
//! catalog cache, `cloud_call`) is [`crate::provider_data`]; objects import that, never this.

use std::sync::Arc;

use crate::provider_data::{CloudSettings, ProviderState, MAX_RETRIES_LIMIT};
use crate::runtime::diag::Diagnostics;
use crate::runtime::framework::{
    ConfigureRequest, DataSource, EphemeralResource, ListResource, Provider, ProviderData, Resource,
};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Type, Value};

/// Terraform source address.
pub const ADDRESS: &str = "registry.terraform.io/hyperprotect/hyperprotect";

pub struct HyperprotectProvider;

fn provider_block() -> Block {
    Block::new(vec![
        Attribute::optional("api_key", Type::String)
            .sensitive()
            .describe(
                "IBM Cloud API key. Defaults to the environment variable `IC_API_KEY`, then \
                 `IBMCLOUD_API_KEY`. Only needed by the cloud objects (instances and the \
                 image, profile, VPC and subnet data sources); contract objects work without it.",
            ),
        Attribute::optional("region", Type::String).describe(
            "IBM Cloud VPC region, e.g. `us-south`. Defaults to the environment variable \
             `IC_REGION`, then `IBMCLOUD_REGION`.",
        ),
        Attribute::optional("iam_endpoint", Type::String).describe(
            "IAM endpoint issuing bearer tokens. Defaults to the environment variable \
             `IBMCLOUD_IAM_API_ENDPOINT`, else `https://iam.cloud.ibm.com`.",
        ),
        Attribute::optional("vpc_endpoint", Type::String).describe(
            "VPC API endpoint. Defaults to the environment variable \
             `IBMCLOUD_IS_NG_API_ENDPOINT`, else `https://<region>.iaas.cloud.ibm.com`.",
        ),
        Attribute::optional("tagging_endpoint", Type::String).describe(
            "Global Tagging API endpoint, through which `hyperprotect_instance.tags` are \
             attached, read and detached. Defaults to the environment variable \
             `IBMCLOUD_GT_API_ENDPOINT`, else `https://tags.global-search-tagging.cloud.ibm.com`.",
        ),
        Attribute::optional("resource_group", Type::String).describe(
            "Id of the resource group new instances go to when they set none. Defaults to the \
             account's default resource group.",
        ),
        Attribute::optional("max_retries", Type::Number)
            .int_range(0, i64::from(MAX_RETRIES_LIMIT))
            .describe(
                "How many times a VPC or IAM request is retried after a 429 or a 5xx answer \
             (exponential backoff with jitter, honouring `Retry-After`, within the operation's \
             timeout). Default 10.",
            ),
        Attribute::optional("api_version", Type::String)
            .describe(concat!(
                "The VPC API `version` date sent with every request (YYYY-MM-DD). Defaults to `",
                "2025-12-16",
                "`, the version this provider is tested against."
            ))
            .matches(r"^\d{4}-\d{2}-\d{2}$", "a date of the form YYYY-MM-DD"),
    ])
    .describe("Hyper Protect contracts and confidential virtual servers on IBM Cloud VPC.")
}

#[async_trait::async_trait]
impl Provider for HyperprotectProvider {
    fn schema(&self) -> Schema {
        Schema::new(0, provider_block())
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Err(d) = CloudSettings::resolve(config, |_| None) {
            diags.extend(d);
        }
    }

    async fn configure(&self, req: ConfigureRequest<'_>) -> (Option<ProviderData>, Diagnostics) {
        match CloudSettings::resolve(req.config, |name| std::env::var(name).ok()) {
            Ok(settings) => (
                Some(Arc::new(ProviderState::new(settings))),
                Diagnostics::new(),
            ),
            Err(d) => (None, d),
        }
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        crate::resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        crate::data_sources::all()
    }

    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource>> {
        crate::ephemeral_resources::all()
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        crate::list_resources::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud;
    use crate::provider_data::ProviderConfig;
    use crate::runtime::framework::model::{mismatches, Model};
    use crate::runtime::framework::GrpcProvider;

    /// Terraform ≥ 1.1 refuses a provider with an invalid schema; 1.0 does not check, so we do.
    #[test]
    fn every_schema_passes_terraforms_rules() {
        for (name, schema) in GrpcProvider::new(HyperprotectProvider).schemas() {
            assert_eq!(schema.check(), Ok(()), "{name}");
        }
    }

    #[test]
    fn no_object_is_registered_twice() {
        let served = GrpcProvider::new(HyperprotectProvider);
        assert_eq!(served.registration_problems(), [] as [String; 0]);
    }

    #[test]
    fn the_default_version_is_the_one_documented() {
        let block = provider_block();
        let doc = &block.attribute("api_version").unwrap().description;
        assert!(doc.contains(cloud::DEFAULT_API_VERSION), "{doc}");
        for a in &block.attributes {
            assert!(!a.description.is_empty(), "{} has no description", a.name);
        }
    }

    /// Every object reads its values through a model whose fields are exactly its schema's
    /// attributes and blocks (nested ones too).
    #[test]
    fn every_model_matches_its_schema() {
        let mut problems = mismatches(&provider_block(), &ProviderConfig::fields());
        let p = HyperprotectProvider;
        let mut objects: Vec<(
            String,
            Schema,
            Option<Vec<crate::runtime::framework::model::Field>>,
        )> = Vec::new();
        objects.extend(
            p.resources()
                .iter()
                .map(|r| (r.type_name().to_string(), r.schema(), r.model())),
        );
        objects.extend(
            p.data_sources()
                .iter()
                .map(|d| (format!("data {}", d.type_name()), d.schema(), d.model())),
        );
        objects.extend(p.ephemeral_resources().iter().map(|e| {
            (
                format!("ephemeral {}", e.type_name()),
                e.schema(),
                e.model(),
            )
        }));
        objects.extend(
            p.list_resources()
                .iter()
                .map(|l| (format!("list {}", l.type_name()), l.schema(), l.model())),
        );
        for (name, schema, fields) in objects {
            match fields {
                // Objects still on string look-ups (being ported) have no model yet.
                None => {}
                Some(fields) => problems.extend(
                    mismatches(&schema.block, &fields)
                        .into_iter()
                        .map(|m| format!("{name}: {m}")),
                ),
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn bad_settings_are_refused_by_declared_rules_at_their_attribute() {
        use crate::runtime::diag::AttrPath;
        use crate::runtime::schema::rules;
        let config = Value::object([
            ("api_version", Value::string("2025-1-01")),
            ("max_retries", Value::number(-1)),
        ]);
        let d = rules::check(&provider_block(), &config, &AttrPath::root());
        let at: Vec<_> = d.0.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            at,
            [
                Some(AttrPath::attr("max_retries")),
                Some(AttrPath::attr("api_version"))
            ]
        );
    }
}
