//! `hyperprotect_instance_profiles`: the region's instance profiles with what matters for
//! confidential computing (architecture, Secure Execution, confidential compute modes,
//! vCPU and memory), optionally filtered.

use crate::cloud::InstanceProfile;
use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Number, Type, Value};

pub struct HyperprotectInstanceProfiles;

/// The filters of one read.
struct Filter {
    architecture: Option<String>,
    secure_execution: Option<bool>,
    confidential_compute_mode: Option<String>,
    min_vcpu: Option<u64>,
    min_memory: Option<u64>,
}

impl Filter {
    fn from_config(config: &Value) -> Filter {
        let whole = |name: &str| {
            get(config, name)
                .as_number()
                .and_then(Number::as_i64)
                .and_then(|n| u64::try_from(n).ok())
        };
        Filter {
            architecture: get(config, "architecture").as_str().map(str::to_string),
            secure_execution: get(config, "secure_execution").as_bool(),
            confidential_compute_mode: get(config, "confidential_compute_mode")
                .as_str()
                .map(str::to_string),
            min_vcpu: whole("min_vcpu"),
            min_memory: whole("min_memory"),
        }
    }

    fn keeps(&self, p: &InstanceProfile) -> bool {
        self.architecture
            .as_ref()
            .is_none_or(|a| p.architecture().as_ref() == Some(a))
            && self
                .secure_execution
                .is_none_or(|se| p.secure_execution() == se)
            && self.confidential_compute_mode.as_ref().is_none_or(|m| {
                p.confidential_compute_modes()
                    .iter()
                    .any(|x| x.as_str() == m)
            })
            && self
                .min_vcpu
                .is_none_or(|v| p.vcpu_count.effective().is_some_and(|n| n >= v))
            && self
                .min_memory
                .is_none_or(|v| p.memory.effective().is_some_and(|n| n >= v))
    }
}

fn profile_type() -> Type {
    Type::object([
        ("name", Type::String),
        ("family", Type::String),
        ("status", Type::String),
        ("architecture", Type::String),
        ("secure_execution", Type::Bool),
        ("confidential_compute_modes", Type::list(Type::String)),
        ("default_confidential_compute_mode", Type::String),
        ("vcpu_count", Type::Number),
        ("memory", Type::Number),
    ])
}

fn profile_value(p: &InstanceProfile) -> Value {
    let num = |n: Option<u64>| n.map_or(Value::Null, |n| Value::number(Number::from_u64(n)));
    let text = |s: Option<String>| Value::string(s.unwrap_or_default());
    Value::object([
        ("name", Value::string(p.name.clone())),
        ("family", text(p.family.clone())),
        ("status", text(p.status.clone())),
        ("architecture", text(p.architecture())),
        ("secure_execution", Value::bool(p.secure_execution())),
        (
            "confidential_compute_modes",
            Value::list(
                p.confidential_compute_modes()
                    .iter()
                    .map(|m| Value::string(m.as_str())),
            ),
        ),
        (
            "default_confidential_compute_mode",
            text(
                p.confidential_compute_modes
                    .as_ref()
                    .and_then(|m| m.default.as_ref())
                    .map(|m| m.as_str().to_string()),
            ),
        ),
        ("vcpu_count", num(p.vcpu_count.effective())),
        ("memory", num(p.memory.effective())),
    ])
}

#[async_trait::async_trait]
impl DataSource for HyperprotectInstanceProfiles {
    fn type_name(&self) -> &'static str {
        "hyperprotect_instance_profiles"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::optional("architecture", Type::String)
                    .describe("Only profiles of this vCPU architecture (`s390x`, `amd64`)."),
                Attribute::optional("secure_execution", Type::Bool).describe(
                    "Only IBM Secure Execution profiles (`true`: the `z2e` profiles Hyper Protect \
                     images need) or only others (`false`).",
                ),
                Attribute::optional("confidential_compute_mode", Type::String).describe(
                    "Only profiles offering this confidential compute mode (`tdx`, `sgx`).",
                ),
                Attribute::optional("min_vcpu", Type::Number)
                    .describe("Only profiles with at least this many vCPUs."),
                Attribute::optional("min_memory", Type::Number)
                    .describe("Only profiles with at least this much memory, in GiB."),
                Attribute::computed("profiles", Type::list(profile_type())).describe(
                    "The matching profiles, sorted by name: `name`, `family`, `status` \
                     (`current` or `previous`), `architecture`, `secure_execution`, \
                     `confidential_compute_modes`, `default_confidential_compute_mode` (empty \
                     when none), `vcpu_count`, `memory` (GiB; null when the profile sets a range).",
                ),
            ])
            .describe(
                "Instance profiles of the provider's region, with their confidential computing \
                 capabilities, to pick a profile for `hyperprotect_instance`.",
            ),
        )
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        for name in ["min_vcpu", "min_memory"] {
            if let Some(n) = get(config, name).as_number() {
                if n.as_i64().is_none_or(|v| v < 0) {
                    diags.error_at(
                        AttrPath::attr(name),
                        format!("Invalid {name}"),
                        format!("{name} must be a whole number of at least 0."),
                    );
                }
            }
        }
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome {
        let filter = Filter::from_config(config);
        let listed = cloud_call(
            ctx,
            "Cannot list instance profiles",
            READ_TIMEOUT,
            |c| async move { c.list_instance_profiles().await },
        )
        .await;
        let mut profiles = match listed {
            Ok(p) => p,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        profiles.retain(|p| filter.keeps(p));
        profiles.sort_by(|a, b| a.name.cmp(&b.name));
        let mut state = config.clone();
        if let Value::Object(fields) = &mut state {
            fields.insert(
                "profiles".into(),
                Value::list(profiles.iter().map(profile_value)),
            );
        }
        Outcome::ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> InstanceProfile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn filters_combine() {
        let se = profile(
            r#"{"name":"bz2e-2x8","vcpu_architecture":{"type":"fixed","value":"s390x"},"vcpu_count":{"type":"fixed","value":2},"memory":{"type":"fixed","value":8}}"#,
        );
        let tdx = profile(
            r#"{"name":"bx3dc-2x10","vcpu_architecture":{"type":"fixed","value":"amd64"},"vcpu_count":{"type":"fixed","value":2},"memory":{"type":"fixed","value":10},"confidential_compute_modes":{"type":"enum","default":"tdx","values":["disabled","sgx","tdx"]}}"#,
        );
        let f =
            |arch: Option<&str>, se: Option<bool>, mode: Option<&str>, mem: Option<u64>| Filter {
                architecture: arch.map(str::to_string),
                secure_execution: se,
                confidential_compute_mode: mode.map(str::to_string),
                min_vcpu: None,
                min_memory: mem,
            };
        assert!(f(None, None, None, None).keeps(&se));
        assert!(f(Some("s390x"), Some(true), None, None).keeps(&se));
        assert!(!f(Some("s390x"), Some(true), None, None).keeps(&tdx));
        assert!(f(None, None, Some("sgx"), None).keeps(&tdx));
        assert!(!f(None, None, Some("sgx"), None).keeps(&se));
        assert!(f(None, None, None, Some(10)).keeps(&tdx));
        assert!(!f(None, None, None, Some(10)).keeps(&se));
    }
}
