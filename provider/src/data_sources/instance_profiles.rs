//! `hyperprotect_instance_profiles`: the region's instance profiles with what matters for
//! confidential computing (architecture, Secure Execution, confidential compute modes,
//! vCPU and memory), optionally filtered.

use crate::cloud::InstanceProfile;
use crate::model;
use crate::provider_data::{cloud_call, READ_TIMEOUT};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, ToValue, Type, Value};

/// The `hyperprotect_instance_profiles` data source.
pub struct InstanceProfilesDataSource;

model! {
    /// The configuration (filters) and result of `hyperprotect_instance_profiles`.
    pub struct InstanceProfilesModel {
        pub architecture: Known<String>,
        pub secure_execution: Known<bool>,
        pub confidential_compute_mode: Known<String>,
        pub min_vcpu: Known<u64>,
        pub min_memory: Known<u64>,
        pub profiles: Known<Vec<ProfileModel>>,
    }
}

model! {
    /// One profile found.
    pub struct ProfileModel {
        pub name: String,
        pub family: String,
        pub status: String,
        pub architecture: String,
        pub secure_execution: bool,
        pub confidential_compute_modes: Vec<String>,
        pub default_confidential_compute_mode: String,
        pub vcpu_count: Option<u64>,
        pub memory: Option<u64>,
    }
}

/// The filters of one read.
struct Filter {
    architecture: Option<String>,
    secure_execution: Option<bool>,
    confidential_compute_mode: Option<String>,
    min_vcpu: Option<u64>,
    min_memory: Option<u64>,
}

impl Filter {
    fn from_config(config: &InstanceProfilesModel) -> Filter {
        Filter {
            architecture: config.architecture.clone().value(),
            secure_execution: config.secure_execution.value(),
            confidential_compute_mode: config.confidential_compute_mode.clone().value(),
            min_vcpu: config.min_vcpu.value(),
            min_memory: config.min_memory.value(),
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

impl ProfileModel {
    fn of(p: &InstanceProfile) -> ProfileModel {
        ProfileModel {
            name: p.name.clone(),
            family: p.family.clone().unwrap_or_default(),
            status: p.status.clone().unwrap_or_default(),
            architecture: p.architecture().unwrap_or_default(),
            secure_execution: p.secure_execution(),
            confidential_compute_modes: p
                .confidential_compute_modes()
                .iter()
                .map(|m| m.as_str().to_string())
                .collect(),
            default_confidential_compute_mode: p
                .confidential_compute_modes
                .as_ref()
                .and_then(|m| m.default.as_ref())
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            vcpu_count: p.vcpu_count.effective(),
            memory: p.memory.effective(),
        }
    }
}

#[async_trait::async_trait]
impl DataSource for InstanceProfilesDataSource {
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
                    .int_range(0, i64::MAX)
                    .describe("Only profiles with at least this many vCPUs."),
                Attribute::optional("min_memory", Type::Number)
                    .int_range(0, i64::MAX)
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

    fn model(&self) -> Option<Vec<Field>> {
        Some(InstanceProfilesModel::fields())
    }

    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome {
        let config = match InstanceProfilesModel::build(config) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let filter = Filter::from_config(&config);
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
        let state = InstanceProfilesModel {
            profiles: Known::Value(profiles.iter().map(ProfileModel::of).collect()),
            ..config
        };
        Outcome::ok(state.to_value())
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
