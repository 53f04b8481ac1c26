//! The provider's cloud settings: the `provider` block resolved once (attributes first, then
//! environment variables, then IBM's public endpoints), and the client configuration built
//! from them, with a diagnostic naming the variable to set when a credential is missing.

use crate::cloud::{self, ClientConfig};
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::Model;
use crate::runtime::value::{Known, Number, Value};

/// Environment variables, in order of precedence, for each setting.
pub const API_KEY_ENV: [&str; 2] = ["IC_API_KEY", "IBMCLOUD_API_KEY"];
pub const REGION_ENV: [&str; 2] = ["IC_REGION", "IBMCLOUD_REGION"];
pub const IAM_ENDPOINT_ENV: &str = "IBMCLOUD_IAM_API_ENDPOINT";
pub const VPC_ENDPOINT_ENV: &str = "IBMCLOUD_IS_NG_API_ENDPOINT";
/// The Global Tagging endpoint variable terraform-provider-ibm reads too.
pub const TAGGING_ENDPOINT_ENV: &str = "IBMCLOUD_GT_API_ENDPOINT";
/// Default `max_retries` (as IBM's provider).
pub const DEFAULT_MAX_RETRIES: u32 = 10;
/// The largest `max_retries` accepted.
pub const MAX_RETRIES_LIMIT: u32 = 100;

model! {
    /// The provider block's configuration.
    pub struct ProviderConfig {
        pub api_key: Known<String> [sensitive],
        pub region: Known<String>,
        pub iam_endpoint: Known<String>,
        pub vpc_endpoint: Known<String>,
        pub tagging_endpoint: Known<String>,
        pub resource_group: Known<String>,
        pub max_retries: Known<Number>,
        pub api_version: Known<String>,
    }
}

/// A setting that may still be unknown at plan time (e.g. an API key from another resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Setting {
    Set(String),
    Unset,
    UnknownUntilApply,
}

/// The resolved provider configuration. `Debug` hides the API key.
#[derive(Clone, PartialEq, Eq)]
pub struct CloudSettings {
    api_key: Setting,
    pub(super) region: Setting,
    iam_endpoint: String,
    /// `None`: IBM's public endpoint of the region.
    vpc_endpoint: Option<String>,
    tagging_endpoint: String,
    pub(super) resource_group: Option<String>,
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

/// Formats `A` or `A or B` for messages.
fn env_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

impl CloudSettings {
    /// Resolves attributes, then `env`, then defaults. The declared rules (`max_retries`
    /// range, `api_version` form) were checked by the framework; what they cannot say (that
    /// `api_version` is a real date) is checked here.
    pub fn resolve(
        config: &Value,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<CloudSettings, Diagnostics> {
        let config = ProviderConfig::build(config)?;
        let from_env = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.trim().is_empty()))
        };
        let setting = |value: &Known<String>, names: &[&str]| match value {
            Known::Unknown => Setting::UnknownUntilApply,
            Known::Value(s) if !s.is_empty() => Setting::Set(s.clone()),
            _ => from_env(names).map_or(Setting::Unset, Setting::Set),
        };
        let text = |value: &Known<String>| {
            value
                .as_deref()
                .value()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let max_retries = config
            .max_retries
            .value()
            .and_then(|n| n.as_i64())
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v <= MAX_RETRIES_LIMIT)
            .unwrap_or(DEFAULT_MAX_RETRIES);
        let api_version =
            text(&config.api_version).unwrap_or_else(|| cloud::DEFAULT_API_VERSION.to_string());
        if !is_version_date(&api_version) {
            return Err(Diagnostic::error(
                "Invalid api_version",
                format!("api_version {api_version:?} must be a date of the form YYYY-MM-DD (the VPC API `version`)."),
            )
            .at(AttrPath::attr("api_version"))
            .into());
        }
        Ok(CloudSettings {
            api_key: setting(&config.api_key, &API_KEY_ENV),
            region: setting(&config.region, &REGION_ENV),
            iam_endpoint: text(&config.iam_endpoint)
                .or_else(|| from_env(&[IAM_ENDPOINT_ENV]))
                .unwrap_or_else(|| cloud::DEFAULT_IAM_ENDPOINT.to_string()),
            vpc_endpoint: text(&config.vpc_endpoint).or_else(|| from_env(&[VPC_ENDPOINT_ENV])),
            tagging_endpoint: text(&config.tagging_endpoint)
                .or_else(|| from_env(&[TAGGING_ENDPOINT_ENV]))
                .unwrap_or_else(|| cloud::DEFAULT_TAGGING_ENDPOINT.to_string()),
            resource_group: text(&config.resource_group),
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::provider_data::ProviderState;

    /// A provider configuration setting `pairs` (the attributes left out read as null).
    fn config(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
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
    fn a_date_that_does_not_exist_is_refused_and_secrets_stay_hidden() {
        let e = CloudSettings::resolve(
            &config(&[("api_version", Value::string("2025-13-01"))]),
            env(&[]),
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].path, Some(AttrPath::attr("api_version")));
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
