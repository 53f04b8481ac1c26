//! `hyperprotect_instance`'s mapping between its model and the VPC API: the create body
//! from a configuration, the state from what the API returns (plus the inputs it never
//! returns), the restart-requiring part of an update, and the identity.

use std::time::Duration;

use crate::cloud::models::{
    BootVolumeAttachmentPrototype, ConfidentialComputeMode, CrnRef, IdRef,
    Instance as CloudInstance, InstancePatch, InstancePrototype, NameRef,
    NetworkAttachmentPrototype, StatusReason, VirtualNetworkInterfacePrototype, VolumePrototype,
};
use crate::runtime::schema::rules::parse_duration;
use crate::runtime::value::{Known, Number};

use super::schema::{
    BootVolumeModel, InstanceIdentity, InstanceModel, StatusReasonModel, MAX_CONTRACT_CHECK_SECONDS,
};

/// The default of `contract_check_seconds`.
pub const DEFAULT_CONTRACT_CHECK: Duration = Duration::from_secs(60);
/// The default of every `timeouts` entry.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Which operation a timeout is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl InstanceModel {
    /// The configured timeout of `op` (the declared rule refused anything unparsable).
    pub fn timeout(&self, op: Op) -> Duration {
        let Known::Value(t) = &self.timeouts else {
            return DEFAULT_TIMEOUT;
        };
        let text = match op {
            Op::Create => &t.create,
            Op::Update => &t.update,
            Op::Delete => &t.delete,
        };
        text.as_deref()
            .value()
            .and_then(parse_duration)
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// How long to watch a Hyper Protect guest after it reaches `running`.
    pub fn contract_check(&self) -> Duration {
        match self
            .contract_check_seconds
            .as_ref()
            .value()
            .and_then(Number::to_f64_lossy)
        {
            // `try_`: a number too large for a Duration must not panic (validation refuses
            // it, but this runs on stored state too).
            Some(s) if s.is_finite() && s >= 0.0 => {
                Duration::try_from_secs_f64(s.min(MAX_CONTRACT_CHECK_SECONDS))
                    .unwrap_or(DEFAULT_CONTRACT_CHECK)
            }
            _ => DEFAULT_CONTRACT_CHECK,
        }
    }

    /// The POST /instances body (`default_rg`: the provider's `resource_group`, used when
    /// the resource sets none).
    pub fn prototype(&self, default_rg: Option<&str>) -> InstancePrototype {
        let text = |k: &Known<String>| k.as_deref().value().map(str::to_string);
        let bv = self.boot_volume().cloned().unwrap_or_default();
        InstancePrototype {
            name: text(&self.name).unwrap_or_default(),
            profile: NameRef::new(text(&self.profile).unwrap_or_default()),
            image: IdRef::new(text(&self.image).unwrap_or_default()),
            zone: NameRef::new(text(&self.zone).unwrap_or_default()),
            vpc: text(&self.vpc).map(IdRef::new),
            primary_network_attachment: NetworkAttachmentPrototype {
                name: Some("eth0".into()),
                virtual_network_interface: VirtualNetworkInterfacePrototype {
                    subnet: IdRef::new(text(&self.subnet).unwrap_or_default()),
                    name: None,
                },
            },
            keys: self
                .keys
                .clone()
                .value()
                .unwrap_or_default()
                .into_iter()
                .map(IdRef::new)
                .collect(),
            user_data: text(&self.user_data),
            boot_volume_attachment: Some(BootVolumeAttachmentPrototype {
                delete_volume_on_instance_delete: true,
                volume: VolumePrototype {
                    name: text(&bv.name),
                    capacity: bv.size.value().and_then(|s| u64::try_from(s).ok()),
                    profile: NameRef::new("general-purpose"),
                    encryption_key: text(&bv.encryption_key).map(|crn| CrnRef { crn }),
                },
            }),
            resource_group: text(&self.resource_group)
                .or_else(|| default_rg.map(str::to_string))
                .map(IdRef::new),
            confidential_compute_mode: text(&self.confidential_compute_mode)
                .map(|m| ConfidentialComputeMode::from(m.as_str())),
            enable_secure_boot: self.enable_secure_boot.value(),
        }
    }

    /// A server's state: what the API returned, plus the inputs it never returns taken from
    /// `inputs` (the configuration on create and update, the prior state on refresh).
    pub fn from_api(
        api: &CloudInstance,
        inputs: &InstanceModel,
        secure_execution: bool,
    ) -> InstanceModel {
        let text = |v: Option<&str>| {
            v.filter(|s| !s.is_empty())
                .map_or(Known::Null, |s| Known::Value(s.to_string()))
        };
        let boot_volume = match inputs.boot_volume() {
            Some(bv) => {
                let api_name = api
                    .boot_volume_attachment
                    .as_ref()
                    .and_then(|a| a.volume.as_ref())
                    .and_then(|v| v.name.as_deref());
                vec![BootVolumeModel {
                    name: match api_name {
                        Some(n) => Known::Value(n.to_string()),
                        None => bv.name.clone().unknown_as_null(),
                    },
                    size: bv.size.unknown_as_null(),
                    encryption_key: bv.encryption_key.clone().unknown_as_null(),
                }]
            }
            None => Vec::new(),
        };
        InstanceModel {
            id: Known::Value(api.id.clone()),
            crn: text(Some(&api.crn)),
            name: text(Some(&api.name)),
            profile: text(api.profile.as_ref().map(|p| p.name.as_str())),
            image: text(api.image.as_ref().map(|i| i.id.as_str())),
            zone: text(api.zone.as_ref().map(|z| z.name.as_str())),
            vpc: text(api.vpc.as_ref().map(|v| v.id.as_str())),
            subnet: text(api.primary_subnet_id()),
            primary_ipv4_address: text(api.primary_ipv4_address()),
            resource_group: text(api.resource_group.as_ref().map(|r| r.id.as_str())),
            confidential_compute_mode: Known::Value(
                api.confidential_compute_mode
                    .as_ref()
                    .map_or("disabled", ConfidentialComputeMode::as_str)
                    .to_string(),
            ),
            enable_secure_boot: Known::Value(api.enable_secure_boot.unwrap_or(false)),
            status: Known::Value(api.status.as_str().to_string()),
            status_reasons: Known::Value(
                api.status_reasons
                    .iter()
                    .map(|r| StatusReasonModel {
                        code: r.code.clone(),
                        message: r.message.clone(),
                    })
                    .collect(),
            ),
            vcpu: api
                .vcpu
                .as_ref()
                .map_or(Known::Null, |v| Known::Value(Number::from(v.count))),
            memory: api
                .memory
                .map_or(Known::Null, |m| Known::Value(Number::from_u64(m))),
            created_at: text(api.created_at.as_deref()),
            secure_execution: Known::Value(secure_execution),
            // Never returned by the API: kept from the inputs.
            keys: inputs.keys.clone().unknown_as_null(),
            user_data: inputs.user_data.clone().unknown_as_null(),
            tags: inputs.tags.clone().unknown_as_null(),
            contract_check_seconds: inputs.contract_check_seconds.clone().unknown_as_null(),
            timeouts: inputs.timeouts.clone().unknown_as_null(),
            boot_volume: Known::Value(boot_volume),
        }
    }

    /// What the restart-requiring part of an update (`self` planned, from `prior`) changes;
    /// `None` when nothing does.
    pub fn restart_patch(&self, prior: &InstanceModel) -> Option<InstancePatch> {
        fn changed<T: PartialEq + Clone>(planned: &Known<T>, prior: &Known<T>) -> Option<T> {
            match planned {
                Known::Value(v) if *planned != *prior => Some(v.clone()),
                _ => None,
            }
        }
        let patch = InstancePatch {
            name: None,
            profile: changed(&self.profile, &prior.profile).map(NameRef::new),
            confidential_compute_mode: changed(
                &self.confidential_compute_mode,
                &prior.confidential_compute_mode,
            )
            .map(|m| ConfidentialComputeMode::from(m.as_str())),
            enable_secure_boot: changed(&self.enable_secure_boot, &prior.enable_secure_boot),
        };
        (!patch.is_empty()).then_some(patch)
    }
}

/// The resource identity of instance `id` in `zone` (`us-south-2`): its region is the zone
/// name without the trailing zone number (null when the zone is unknown). Shared with the
/// list resource.
pub fn identity_of(id: &str, zone: Option<&str>) -> InstanceIdentity {
    let region = zone.and_then(|z| {
        let (region, number) = z.rsplit_once('-')?;
        (!region.is_empty() && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
            .then_some(region)
    });
    InstanceIdentity {
        id: Known::Value(id.to_string()),
        region: region.map(str::to_string).into(),
    }
}

/// The status reasons for a message.
pub fn describe_reasons(reasons: &[StatusReason]) -> String {
    if reasons.is_empty() {
        return "the API gave no reason".into();
    }
    reasons
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::framework::model::Model;
    use crate::runtime::value::{ToValue, Type, Value};

    #[test]
    fn state_keeps_inputs_the_api_never_returns() {
        let api: CloudInstance = serde_json::from_value(serde_json::json!({
            "id": "0717_i1", "crn": "crn:i1", "name": "web", "status": "running",
            "profile": {"name": "bz2e-2x8"}, "image": {"id": "r006-img"},
            "zone": {"name": "us-south-2"}, "vpc": {"id": "r006-vpc"},
            "primary_network_attachment": {"subnet": {"id": "0717-sn"}, "primary_ip": {"address": "10.0.0.4"}},
            "resource_group": {"id": "rg"}, "vcpu": {"count": 2}, "memory": 8,
            "created_at": "2026-12-01T00:00:00Z", "status_reasons": [],
            "boot_volume_attachment": {"volume": {"id": "r006-vol", "name": "web-boot"}},
            "unknown_field": {"ignored": true},
        }))
        .unwrap();
        let inputs = InstanceModel {
            user_data: Known::Value("contract".into()),
            boot_volume: Known::Value(vec![BootVolumeModel {
                size: Known::Value(120),
                ..BootVolumeModel::default()
            }]),
            ..InstanceModel::default()
        };
        let s = InstanceModel::from_api(&api, &inputs, true);
        assert_eq!(s.user_data, Known::Value("contract".into()));
        assert_eq!(s.subnet, Known::Value("0717-sn".into()));
        assert_eq!(s.primary_ipv4_address, Known::Value("10.0.0.4".into()));
        assert_eq!(s.confidential_compute_mode, Known::Value("disabled".into()));
        let bv = s.boot_volume().unwrap();
        assert_eq!(bv.name, Known::Value("web-boot".into()));
        assert_eq!(bv.size, Known::Value(120));
        // The state conforms to the schema's type.
        let value = s.to_value();
        value
            .check_type(&super::super::schema::schema().block.implied_type())
            .unwrap();
        assert!(value.is_wholly_known());
        assert_eq!(InstanceModel::build(&value).unwrap(), s);
        let _ = Type::String;
    }

    #[test]
    fn prototype_uses_a_network_attachment_and_the_boot_volume() {
        let config = InstanceModel {
            name: Known::Value("web".into()),
            profile: Known::Value("bz2e-2x8".into()),
            image: Known::Value("r006-img".into()),
            zone: Known::Value("us-south-2".into()),
            vpc: Known::Value("r006-vpc".into()),
            subnet: Known::Value("0717-sn".into()),
            user_data: Known::Value("contract".into()),
            boot_volume: Known::Value(vec![BootVolumeModel {
                size: Known::Value(150),
                encryption_key: Known::Value("crn:key".into()),
                ..BootVolumeModel::default()
            }]),
            ..InstanceModel::default()
        };
        let p = serde_json::to_value(config.prototype(None)).unwrap();
        assert_eq!(
            p["primary_network_attachment"]["virtual_network_interface"]["subnet"]["id"],
            "0717-sn"
        );
        assert_eq!(p["boot_volume_attachment"]["volume"]["capacity"], 150);
        assert_eq!(
            p["boot_volume_attachment"]["volume"]["encryption_key"]["crn"],
            "crn:key"
        );
        assert_eq!(p["user_data"], "contract");
        assert!(p.get("confidential_compute_mode").is_none());
    }

    #[test]
    fn identity_region_is_the_zone_without_its_number() {
        let region = |zone| identity_of("i-1", zone).region;
        assert_eq!(region(Some("us-south-2")), Known::Value("us-south".into()));
        assert_eq!(region(Some("eu-de-10")), Known::Value("eu-de".into()));
        assert_eq!(region(Some("nozone")), Known::Null);
        assert_eq!(region(Some("us-south-")), Known::Null);
        assert_eq!(region(None), Known::Null);
        assert_eq!(
            identity_of("i-1", None).to_value().attr("id"),
            Some(&Value::string("i-1"))
        );
    }

    #[test]
    fn timeouts_and_the_contract_check_have_defaults() {
        let m = InstanceModel::default();
        assert_eq!(m.timeout(Op::Create), DEFAULT_TIMEOUT);
        assert_eq!(m.contract_check(), DEFAULT_CONTRACT_CHECK);
        let m = InstanceModel {
            contract_check_seconds: Known::Value(Number::from(1e300)),
            ..InstanceModel::default()
        };
        assert_eq!(
            m.contract_check(),
            Duration::from_secs_f64(MAX_CONTRACT_CHECK_SECONDS)
        );
    }
}
