//! The hyperprotect provider: its configuration and the resources and data sources it serves.
//! Each resource or data source lives in its own file and joins the runtime with the contract
//! engine or the cloud client.
//!
//! Configuration is resolved once in `configure` (attributes first, then environment
//! variables, then IBM's public endpoints) into a [`ProviderState`]. The cloud client is
//! built only when a cloud object first asks for it, so configurations that only use the
//! contract objects need no account; a missing credential is reported then, naming the
//! variable to set.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::cloud::{self, Client, ClientConfig};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{
    ConfigureRequest, Ctx, DataSource, EphemeralResource, ListResource, Provider, ProviderData,
    Resource,
};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Type, Value};

/// Terraform source address.
pub const ADDRESS: &str = "registry.terraform.io/hyperprotect/hyperprotect";

/// Environment variables, in order of precedence, for each setting.
pub const API_KEY_ENV: [&str; 2] = ["IC_API_KEY", "IBMCLOUD_API_KEY"];
pub const REGION_ENV: [&str; 2] = ["IC_REGION", "IBMCLOUD_REGION"];
pub const IAM_ENDPOINT_ENV: &str = "IBMCLOUD_IAM_API_ENDPOINT";
pub const VPC_ENDPOINT_ENV: &str = "IBMCLOUD_IS_NG_API_ENDPOINT";
/// The Global Tagging endpoint variable terraform-provider-ibm reads too.
pub const TAGGING_ENDPOINT_ENV: &str = "IBMCLOUD_GT_API_ENDPOINT";
/// Default `max_retries` (as IBM's provider).
pub const DEFAULT_MAX_RETRIES: u32 = 10;

pub struct HyperprotectProvider;

/// A setting that may still be unknown at plan time (e.g. an API key from another resource).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Setting {
    Set(String),
    Unset,
    UnknownUntilApply,
}

/// The resolved provider configuration. `Debug` hides the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudSettings {
    api_key: Setting,
    region: Setting,
    iam_endpoint: String,
    /// `None`: IBM's public endpoint of the region.
    vpc_endpoint: Option<String>,
    tagging_endpoint: String,
    resource_group: Option<String>,
    max_retries: u32,
    api_version: String,
}

impl std::fmt::Debug for CloudSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match &self.api_key {
            Setting::Set(_) => "<sensitive>",
            Setting::Unset => "<unset>",
            Setting::UnknownUntilApply => "<unknown>",
        };
        f.debug_struct("CloudSettings")
            .field("api_key", &key)
            .field("region", &self.region)
            .field("iam_endpoint", &self.iam_endpoint)
            .field("vpc_endpoint", &self.vpc_endpoint)
            .field("tagging_endpoint", &self.tagging_endpoint)
            .field("resource_group", &self.resource_group)
            .field("max_retries", &self.max_retries)
            .field("api_version", &self.api_version)
            .finish()
    }
}

/// What resources and data sources get with `ctx.data::<ProviderState>()`.
pub struct ProviderState {
    settings: CloudSettings,
    client: OnceLock<Client>,
}

impl ProviderState {
    pub fn new(settings: CloudSettings) -> ProviderState {
        ProviderState {
            settings,
            client: OnceLock::new(),
        }
    }

    /// The cloud client, built on first use. Fails (with the variable to set) when the
    /// API key or region is missing.
    pub fn client(&self) -> Result<Client, Diagnostic> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let built = self.settings.client_config().and_then(|config| {
            Client::new(config)
                .map_err(|e| Diagnostic::error("Invalid IBM Cloud configuration", e.to_string()))
        })?;
        Ok(self.client.get_or_init(|| built).clone())
    }

    /// The provider's `resource_group` (an id), if set.
    pub fn resource_group(&self) -> Option<&str> {
        self.settings.resource_group.as_deref()
    }

    /// The provider's region, if set.
    pub fn region(&self) -> Option<&str> {
        match &self.settings.region {
            Setting::Set(r) => Some(r),
            _ => None,
        }
    }
}

/// How long a data source read (with its retries) may take.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl ProviderState {
    /// The configured client of a resource or data source call.
    pub fn client_of(ctx: &Ctx) -> Result<Client, Diagnostic> {
        ctx.data::<ProviderState>()?.client()
    }
}

/// Runs one cloud operation for a resource or data source: gets the client (a clear error
/// when credentials are missing), bounds it by `timeout`, ends it when Terraform asks to
/// stop, and turns a failure into a diagnostic titled `summary`.
pub async fn cloud_call<T, F, Fut>(
    ctx: &Ctx,
    summary: &str,
    timeout: Duration,
    op: F,
) -> Result<T, Diagnostic>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, cloud::Error>>,
{
    let client = ProviderState::client_of(ctx)?.with_timeout(timeout);
    let result = tokio::select! {
        r = op(client) => r,
        () = ctx.stopped() => Err(cloud::Error::Cancelled { what: summary.to_string() }),
    };
    result.map_err(|e| cloud_diagnostic(summary, &e))
}

/// A diagnostic for a cloud error (its text carries the API's code, message and trace).
pub fn cloud_diagnostic(summary: &str, e: &cloud::Error) -> Diagnostic {
    Diagnostic::error(summary, e.to_string())
}

/// Formats `A` or `A or B` for messages.
fn env_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

impl CloudSettings {
    /// Resolves attributes, then `env`, then defaults.
    pub fn resolve(
        config: &Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<CloudSettings, Diagnostics> {
        let from_env = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
        };
        let setting = |name: &str, names: &[&str]| match get(config, name) {
            Value::Unknown => Setting::UnknownUntilApply,
            v => match v.as_str().filter(|s| !s.is_empty()) {
                Some(s) => Setting::Set(s.to_string()),
                None => from_env(names).map_or(Setting::Unset, Setting::Set),
            },
        };
        let text = |name: &str| {
            get(config, name)
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut diags = Diagnostics::new();
        let max_retries = match get(config, "max_retries").as_number() {
            None => DEFAULT_MAX_RETRIES,
            Some(n) => match n
                .as_i64()
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v <= 100)
            {
                Some(v) => v,
                None => {
                    diags.error_at(
                        AttrPath::attr("max_retries"),
                        "Invalid max_retries",
                        "max_retries must be a whole number from 0 to 100.",
                    );
                    DEFAULT_MAX_RETRIES
                }
            },
        };
        let api_version =
            text("api_version").unwrap_or_else(|| cloud::DEFAULT_API_VERSION.to_string());
        if !is_version_date(&api_version) {
            diags.error_at(
                AttrPath::attr("api_version"),
                "Invalid api_version",
                format!("api_version {api_version:?} must be a date of the form YYYY-MM-DD (the VPC API `version`)."),
            );
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(CloudSettings {
            api_key: setting("api_key", &API_KEY_ENV),
            region: setting("region", &REGION_ENV),
            iam_endpoint: text("iam_endpoint")
                .or_else(|| from_env(&[IAM_ENDPOINT_ENV]))
                .unwrap_or_else(|| cloud::DEFAULT_IAM_ENDPOINT.to_string()),
            vpc_endpoint: text("vpc_endpoint").or_else(|| from_env(&[VPC_ENDPOINT_ENV])),
            tagging_endpoint: text("tagging_endpoint")
                .or_else(|| from_env(&[TAGGING_ENDPOINT_ENV]))
                .unwrap_or_else(|| cloud::DEFAULT_TAGGING_ENDPOINT.to_string()),
            resource_group: text("resource_group"),
            max_retries,
            api_version,
        })
    }

    /// The client settings, or a diagnostic naming what to set.
    pub fn client_config(&self) -> Result<ClientConfig, Diagnostic> {
        let api_key = match &self.api_key {
            Setting::Set(k) => k.clone(),
            Setting::Unset => {
                return Err(Diagnostic::error(
                    "Missing IBM Cloud API key",
                    format!(
                        "This object calls the IBM Cloud VPC API, which needs an API key: set \
                         `api_key` in the provider block or the environment variable {}.",
                        env_names(&API_KEY_ENV)
                    ),
                ))
            }
            Setting::UnknownUntilApply => return Err(unknown_until_apply("api_key")),
        };
        let region = match &self.region {
            Setting::Set(r) => r.clone(),
            Setting::Unset => {
                return Err(Diagnostic::error(
                    "Missing IBM Cloud region",
                    format!(
                        "This object calls the IBM Cloud VPC API of a region: set `region` in \
                         the provider block or the environment variable {}.",
                        env_names(&REGION_ENV)
                    ),
                ))
            }
            Setting::UnknownUntilApply => return Err(unknown_until_apply("region")),
        };
        let mut config = ClientConfig::new(api_key, region);
        config.iam_endpoint = self.iam_endpoint.clone();
        if let Some(vpc) = &self.vpc_endpoint {
            config.vpc_endpoint = vpc.clone();
        }
        config.tagging_endpoint = self.tagging_endpoint.clone();
        config.api_version = self.api_version.clone();
        config.retry.max_retries = self.max_retries;
        Ok(config)
    }
}

fn unknown_until_apply(name: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Provider `{name}` not known yet"),
        format!(
            "The provider's `{name}` depends on a value known only after apply, so this \
             object cannot be read now. Set it from a value known at plan time."
        ),
    )
}

fn is_version_date(v: &str) -> bool {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    v.len() == 10 && time::Date::parse(v, &fmt).is_ok()
}

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
        Attribute::optional("max_retries", Type::Number).describe(
            "How many times a VPC or IAM request is retried after a 429 or a 5xx answer \
             (exponential backoff with jitter, honouring `Retry-After`, within the operation's \
             timeout). Default 10.",
        ),
        Attribute::optional("api_version", Type::String).describe(concat!(
            "The VPC API `version` date sent with every request (YYYY-MM-DD). Defaults to `",
            "2025-12-16",
            "`, the version this provider is tested against."
        )),
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
    use crate::runtime::framework::GrpcProvider;
    use std::collections::HashMap;

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

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut attrs: Vec<(String, Value)> = provider_block()
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect();
        for (k, v) in pairs {
            attrs.retain(|(n, _)| n != k);
            attrs.push((k.to_string(), v.clone()));
        }
        Value::object(attrs)
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn attributes_win_over_environment_in_documented_order() {
        let s = CloudSettings::resolve(
            &config(&[("region", Value::string("eu-de"))]),
            env(&[
                ("IBMCLOUD_API_KEY", "second"),
                ("IC_API_KEY", "first"),
                ("IC_REGION", "us-east"),
                ("IBMCLOUD_IS_NG_API_ENDPOINT", "http://127.0.0.1:9"),
            ]),
        )
        .unwrap();
        let c = s.client_config().unwrap();
        assert_eq!(c.api_key, "first");
        assert_eq!(c.region, "eu-de");
        assert_eq!(c.vpc_endpoint, "http://127.0.0.1:9");
        assert_eq!(c.iam_endpoint, cloud::DEFAULT_IAM_ENDPOINT);
        assert_eq!(c.retry.max_retries, DEFAULT_MAX_RETRIES);
        assert_eq!(c.api_version, cloud::DEFAULT_API_VERSION);
        let public = CloudSettings::resolve(
            &config(&[]),
            env(&[("IBMCLOUD_API_KEY", "k"), ("IBMCLOUD_REGION", "jp-tok")]),
        )
        .unwrap()
        .client_config()
        .unwrap();
        assert_eq!(public.vpc_endpoint, "https://jp-tok.iaas.cloud.ibm.com");
        assert_eq!(public.tagging_endpoint, cloud::DEFAULT_TAGGING_ENDPOINT);
        let tagging = |cfg: &[(&str, Value)], vars: &[(&str, &str)]| {
            let mut all = vec![("IBMCLOUD_API_KEY", "k"), ("IBMCLOUD_REGION", "jp-tok")];
            all.extend_from_slice(vars);
            CloudSettings::resolve(&config(cfg), env(&all))
                .unwrap()
                .client_config()
                .unwrap()
                .tagging_endpoint
        };
        let gt_env = [("IBMCLOUD_GT_API_ENDPOINT", "http://127.0.0.1:7")];
        assert_eq!(tagging(&[], &gt_env), "http://127.0.0.1:7");
        assert_eq!(
            tagging(
                &[("tagging_endpoint", Value::string("http://h:8"))],
                &gt_env
            ),
            "http://h:8"
        );
        assert_eq!(public.api_key, "k");
    }

    #[test]
    fn missing_credentials_fail_only_when_the_cloud_is_used_and_name_the_variable() {
        let state = ProviderState::new(CloudSettings::resolve(&config(&[]), env(&[])).unwrap());
        let d = state.client().err().expect("no key");
        assert!(
            d.detail.contains("`IC_API_KEY` or `IBMCLOUD_API_KEY`"),
            "{}",
            d.detail
        );
        let no_region = ProviderState::new(
            CloudSettings::resolve(&config(&[("api_key", Value::string("k"))]), env(&[])).unwrap(),
        );
        let d = no_region.client().err().expect("no region");
        assert!(
            d.detail.contains("`IC_REGION` or `IBMCLOUD_REGION`"),
            "{}",
            d.detail
        );
        let unknown = ProviderState::new(
            CloudSettings::resolve(
                &config(&[("api_key", Value::Unknown)]),
                env(&[("IC_API_KEY", "k")]),
            )
            .unwrap(),
        );
        assert!(unknown
            .client()
            .err()
            .unwrap()
            .summary
            .contains("not known yet"));
    }

    #[test]
    fn bad_settings_are_reported_at_their_attribute_and_secrets_stay_hidden() {
        let e = CloudSettings::resolve(
            &config(&[
                ("api_version", Value::string("2025-13-01")),
                ("max_retries", Value::number(-1)),
            ]),
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.0[0].path, Some(AttrPath::attr("max_retries")));
        assert_eq!(e.0[1].path, Some(AttrPath::attr("api_version")));
        let s = CloudSettings::resolve(&config(&[("api_key", Value::string("hunter2"))]), env(&[]))
            .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let mut c = s.client_config().err();
        assert!(c.take().is_some()); // region missing; the key is not echoed anywhere
    }

    #[test]
    fn the_client_is_built_once_and_shared() {
        let state = ProviderState::new(
            CloudSettings::resolve(
                &config(&[]),
                env(&[("IC_API_KEY", "k"), ("IC_REGION", "us-south")]),
            )
            .unwrap(),
        );
        let a = state.client().unwrap();
        let b = state.client().unwrap();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
    }
}
