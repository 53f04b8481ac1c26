//! VPC API objects as the client reads and writes them. Decoding is lenient on purpose:
//! unknown fields are ignored and every enum has an `Other(String)` arm, because the API
//! documents its enums as expandable (a new status must not break a refresh).

use serde::{Deserialize, Serialize};

/// Declares a string enum whose unknown values decode to `Other(String)` and round-trip.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this client does not know yet.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

open_enum!(
    /// `instance.status`.
    InstanceStatus {
        Deleting => "deleting",
        Failed => "failed",
        Pending => "pending",
        Restarting => "restarting",
        Running => "running",
        Starting => "starting",
        Stopped => "stopped",
        Stopping => "stopping",
    }
);

open_enum!(
    /// `instance.lifecycle_state`.
    LifecycleState {
        Deleting => "deleting",
        Failed => "failed",
        Pending => "pending",
        Stable => "stable",
        Suspended => "suspended",
        Updating => "updating",
        Waiting => "waiting",
    }
);

open_enum!(
    /// `confidential_compute_mode` of an instance, and the values a profile offers.
    ConfidentialComputeMode {
        Disabled => "disabled",
        Sgx => "sgx",
        Tdx => "tdx",
    }
);

open_enum!(
    /// Instance action `type`.
    ActionType {
        Reboot => "reboot",
        Start => "start",
        Stop => "stop",
    }
);

open_enum!(
    /// Instance action `status`.
    ActionStatus {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
    }
);

open_enum!(
    /// `image.status`.
    ImageStatus {
        Available => "available",
        Deleting => "deleting",
        Deprecated => "deprecated",
        Failed => "failed",
        Obsolete => "obsolete",
        Pending => "pending",
        Unusable => "unusable",
    }
);

open_enum!(
    /// Console access token `console_type`.
    ConsoleType {
        Serial => "serial",
        Vnc => "vnc",
    }
);

/// A reference by id (`{"id": …}`); reads also carry `crn`, `href`, `name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    pub id: String,
    #[serde(default, skip_serializing)]
    pub crn: Option<String>,
    #[serde(default, skip_serializing)]
    pub name: Option<String>,
}

impl IdRef {
    pub fn new(id: impl Into<String>) -> IdRef {
        IdRef {
            id: id.into(),
            crn: None,
            name: None,
        }
    }
}

/// A reference by name (`{"name": …}`): profiles, zones, volume profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRef {
    pub name: String,
}

impl NameRef {
    pub fn new(name: impl Into<String>) -> NameRef {
        NameRef { name: name.into() }
    }
}

/// A reference by CRN (encryption keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrnRef {
    pub crn: String,
}

/// `GET /instances/{id}/initialization`: what an instance was created with that the instance
/// itself never returns. Only the SSH keys are read (Hyper Protect guests have no password).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct InstanceInitialization {
    pub keys: Vec<IdRef>,
}

/// One of `status_reasons`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusReason {
    pub code: String,
    pub message: String,
    pub more_info: Option<String>,
}

/// `instance.vcpu`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct InstanceVcpu {
    pub architecture: String,
    pub count: u64,
}

/// `primary_ip` of a network interface or attachment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ReservedIp {
    pub address: String,
}

/// A network interface or attachment as read back (only what the provider uses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    pub id: String,
    pub name: String,
    pub primary_ip: Option<ReservedIp>,
    pub subnet: Option<IdRef>,
}

/// The boot volume attachment as read back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct VolumeAttachment {
    pub id: String,
    pub name: String,
    pub volume: Option<IdRef>,
}

/// A virtual server instance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Instance {
    pub id: String,
    #[serde(default)]
    pub crn: String,
    #[serde(default)]
    pub name: String,
    pub status: InstanceStatus,
    #[serde(default)]
    pub status_reasons: Vec<StatusReason>,
    #[serde(default)]
    pub lifecycle_state: Option<LifecycleState>,
    #[serde(default)]
    pub profile: Option<NameRef>,
    /// Absent or a deleted reference when the image is gone.
    #[serde(default)]
    pub image: Option<IdRef>,
    #[serde(default)]
    pub zone: Option<NameRef>,
    #[serde(default)]
    pub vpc: Option<IdRef>,
    #[serde(default)]
    pub resource_group: Option<IdRef>,
    #[serde(default)]
    pub vcpu: Option<InstanceVcpu>,
    /// GiB.
    #[serde(default)]
    pub memory: Option<u64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub primary_network_attachment: Option<NetworkAttachment>,
    #[serde(default)]
    pub primary_network_interface: Option<NetworkAttachment>,
    #[serde(default)]
    pub boot_volume_attachment: Option<VolumeAttachment>,
    #[serde(default)]
    pub confidential_compute_mode: Option<ConfidentialComputeMode>,
    #[serde(default)]
    pub enable_secure_boot: Option<bool>,
    #[serde(default)]
    pub startable: Option<bool>,
}

impl Instance {
    /// The primary IPv4 address, from the network attachment or (older instances) interface.
    pub fn primary_ipv4_address(&self) -> Option<&str> {
        self.primary_network_attachment
            .as_ref()
            .or(self.primary_network_interface.as_ref())
            .and_then(|n| n.primary_ip.as_ref())
            .map(|ip| ip.address.as_str())
            .filter(|a| !a.is_empty() && *a != "0.0.0.0")
    }

    /// The subnet of the primary network attachment or interface.
    pub fn primary_subnet_id(&self) -> Option<&str> {
        self.primary_network_attachment
            .as_ref()
            .or(self.primary_network_interface.as_ref())
            .and_then(|n| n.subnet.as_ref())
            .map(|s| s.id.as_str())
    }
}

/// `virtual_network_interface` of a primary network attachment prototype.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VirtualNetworkInterfacePrototype {
    pub subnet: IdRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `primary_network_attachment` of an instance prototype.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetworkAttachmentPrototype {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub virtual_network_interface: VirtualNetworkInterfacePrototype,
}

/// The boot volume of an instance prototype.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VolumePrototype {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// GB; `None` takes the image's minimum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// e.g. `general-purpose`.
    pub profile: NameRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<CrnRef>,
}

/// `boot_volume_attachment` of an instance prototype.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BootVolumeAttachmentPrototype {
    pub delete_volume_on_instance_delete: bool,
    pub volume: VolumePrototype,
}

/// The body of `POST /instances` (image-based, with a primary network attachment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstancePrototype {
    pub name: String,
    pub profile: NameRef,
    pub image: IdRef,
    pub zone: NameRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<IdRef>,
    pub primary_network_attachment: NetworkAttachmentPrototype,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<IdRef>,
    /// The contract. Never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_volume_attachment: Option<BootVolumeAttachmentPrototype>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidential_compute_mode: Option<ConfidentialComputeMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_secure_boot: Option<bool>,
}

/// The body of `PATCH /instances/{id}` (JSON merge patch: `None` fields are left alone).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InstancePatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<NameRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidential_compute_mode: Option<ConfidentialComputeMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_secure_boot: Option<bool>,
}

impl InstancePatch {
    /// Whether the patch changes something a running instance cannot change (stop first).
    pub fn needs_stop(&self) -> bool {
        self.profile.is_some()
            || self.confidential_compute_mode.is_some()
            || self.enable_secure_boot.is_some()
    }

    pub fn is_empty(&self) -> bool {
        *self == InstancePatch::default()
    }
}

/// The answer of `POST /instances/{id}/actions`. IBM/vpc-node-sdk `vpc/v1.ts` marks
/// `InstanceAction.id`, `href` and `status` (and `started_at`, `completed_at`)
/// "Deprecated", so none of them is required here: only `type` is read.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InstanceAction {
    /// Deprecated by IBM; empty when absent.
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// Deprecated by IBM; `None` when absent.
    #[serde(default)]
    pub status: Option<ActionStatus>,
}

/// `operating_system` of an image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct OperatingSystem {
    pub name: String,
    pub architecture: String,
    pub display_name: String,
    pub family: String,
    pub vendor: String,
    pub version: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImageChecksums {
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ImageFile {
    pub checksums: Option<ImageChecksums>,
    pub size: Option<u64>,
}

/// An image.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub crn: String,
    pub name: String,
    pub status: ImageStatus,
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub operating_system: Option<OperatingSystem>,
    #[serde(default)]
    pub file: Option<ImageFile>,
}

impl Image {
    pub fn sha256(&self) -> Option<&str> {
        self.file
            .as_ref()
            .and_then(|f| f.checksums.as_ref())
            .and_then(|c| c.sha256.as_deref())
    }
}

/// A profile property (`{"type": "fixed"|"range"|"enum"|"dependent", …}`), kept generic:
/// `value` for fixed, `values` for enum, `min`/`max` for range, `default` where given.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, bound(deserialize = "T: Deserialize<'de>"))]
pub struct ProfileProperty<T> {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: Option<T>,
    pub values: Vec<T>,
    pub default: Option<T>,
    pub min: Option<T>,
    pub max: Option<T>,
}

impl<T> Default for ProfileProperty<T> {
    fn default() -> Self {
        ProfileProperty {
            kind: String::new(),
            value: None,
            values: Vec::new(),
            default: None,
            min: None,
            max: None,
        }
    }
}

impl<T: Clone> ProfileProperty<T> {
    /// The value a new instance gets: `value` (fixed), else `default`, else `min`.
    pub fn effective(&self) -> Option<T> {
        self.value
            .clone()
            .or_else(|| self.default.clone())
            .or_else(|| self.min.clone())
    }

    /// Every allowed value listed (`values` for enums, `value` for fixed).
    pub fn allowed(&self) -> Vec<T> {
        if self.values.is_empty() {
            self.value.iter().cloned().collect()
        } else {
            self.values.clone()
        }
    }
}

/// An instance profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct InstanceProfile {
    pub name: String,
    #[serde(default)]
    pub family: Option<String>,
    /// `current` or `previous` (deprecated).
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub vcpu_architecture: ProfileProperty<String>,
    #[serde(default)]
    pub vcpu_count: ProfileProperty<u64>,
    /// GiB.
    #[serde(default)]
    pub memory: ProfileProperty<u64>,
    #[serde(default)]
    pub confidential_compute_modes: Option<ProfileProperty<ConfidentialComputeMode>>,
    #[serde(default)]
    pub secure_boot_modes: Option<ProfileProperty<bool>>,
}

impl InstanceProfile {
    pub fn architecture(&self) -> Option<String> {
        self.vcpu_architecture.effective()
    }

    /// IBM Secure Execution (the `z2e` profiles Hyper Protect needs): s390x with the
    /// Secure Execution letter `e` after the generation digit (`bz2e`, `cz2e`, `mz2e`).
    pub fn secure_execution(&self) -> bool {
        let family_prefix = self.name.split('-').next().unwrap_or("");
        self.architecture().as_deref() == Some("s390x") && family_prefix.ends_with("2e")
    }

    /// Confidential compute modes the profile supports (empty when it has none).
    pub fn confidential_compute_modes(&self) -> Vec<ConfidentialComputeMode> {
        self.confidential_compute_modes
            .as_ref()
            .map(ProfileProperty::allowed)
            .unwrap_or_default()
    }
}

/// A region.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Region {
    pub name: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A zone.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Zone {
    pub name: String,
    #[serde(default)]
    pub region: Option<NameRef>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A VPC.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Vpc {
    pub id: String,
    #[serde(default)]
    pub crn: String,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resource_group: Option<IdRef>,
}

/// A subnet.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Subnet {
    pub id: String,
    #[serde(default)]
    pub crn: String,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub ipv4_cidr_block: Option<String>,
    #[serde(default)]
    pub available_ipv4_address_count: Option<u64>,
    #[serde(default)]
    pub zone: Option<NameRef>,
    #[serde(default)]
    pub vpc: Option<IdRef>,
    #[serde(default)]
    pub resource_group: Option<IdRef>,
}

/// The answer of `POST /instances/{id}/console_access_token`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ConsoleAccessToken {
    pub access_token: String,
    #[serde(default)]
    pub console_type: Option<ConsoleType>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub href: Option<String>,
}

impl std::fmt::Debug for ConsoleAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAccessToken")
            .field("access_token", &"<sensitive>")
            .field("console_type", &self.console_type)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_without_its_deprecated_fields_decodes() {
        let a: InstanceAction =
            serde_json::from_str(r#"{"type":"stop","created_at":"2026-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(a.kind, ActionType::Stop);
        assert_eq!(a.status, None);
        assert!(a.id.is_empty());
        let full: InstanceAction = serde_json::from_str(
            r#"{"id":"x","href":"h","type":"start","status":"pending","created_at":"t"}"#,
        )
        .unwrap();
        assert_eq!(full.status, Some(ActionStatus::Pending));
    }

    #[test]
    fn unknown_enum_values_and_fields_decode() {
        let inst: Instance = serde_json::from_str(
            r#"{"id":"i1","status":"hibernating","lifecycle_state":"frozen","new_field":{"x":1},
                "confidential_compute_mode":"sev_snp","status_reasons":[{"code":"cannot_start_quantum","message":"m","extra":true}]}"#,
        )
        .unwrap();
        assert_eq!(inst.status, InstanceStatus::Other("hibernating".into()));
        assert_eq!(inst.status.as_str(), "hibernating");
        assert_eq!(
            inst.lifecycle_state,
            Some(LifecycleState::Other("frozen".into()))
        );
        assert_eq!(
            inst.confidential_compute_mode,
            Some(ConfidentialComputeMode::Other("sev_snp".into()))
        );
        assert_eq!(inst.status_reasons[0].code, "cannot_start_quantum");
        // Known values still map to their variants and serialize back to the same text.
        assert_eq!(InstanceStatus::from("running"), InstanceStatus::Running);
        assert_eq!(
            serde_json::to_string(&ConfidentialComputeMode::Other("x".into())).unwrap(),
            r#""x""#
        );
    }

    #[test]
    fn profiles_with_new_families_and_property_kinds_decode() {
        let p: InstanceProfile = serde_json::from_str(
            r#"{"name":"qx9q-2x8","family":"quantum","vcpu_architecture":{"type":"fixed","value":"riscv64"},
                "vcpu_count":{"type":"range","min":2,"max":8,"step":2,"default":4},
                "memory":{"type":"dependent"},"confidential_compute_modes":{"type":"enum","default":"tdx","values":["tdx","cca"]}}"#,
        )
        .unwrap();
        assert_eq!(p.architecture().as_deref(), Some("riscv64"));
        assert_eq!(p.vcpu_count.effective(), Some(4));
        assert_eq!(p.memory.effective(), None);
        assert_eq!(
            p.confidential_compute_modes(),
            vec![
                ConfidentialComputeMode::Tdx,
                ConfidentialComputeMode::Other("cca".into())
            ]
        );
        assert!(!p.secure_execution());
        let se: InstanceProfile = serde_json::from_str(
            r#"{"name":"bz2e-2x8","vcpu_architecture":{"type":"fixed","value":"s390x"}}"#,
        )
        .unwrap();
        assert!(se.secure_execution());
        let plain_z: InstanceProfile = serde_json::from_str(
            r#"{"name":"bz2-2x8","vcpu_architecture":{"type":"fixed","value":"s390x"}}"#,
        )
        .unwrap();
        assert!(!plain_z.secure_execution());
    }

    #[test]
    fn prototypes_skip_unset_fields() {
        let patch = InstancePatch {
            name: Some("n".into()),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"name":"n"}"#);
        assert!(!patch.needs_stop());
        let image = IdRef {
            id: "r006-1".into(),
            crn: Some("crn:x".into()),
            name: Some("n".into()),
        };
        assert_eq!(serde_json::to_string(&image).unwrap(), r#"{"id":"r006-1"}"#);
    }

    #[test]
    fn console_token_debug_hides_the_token() {
        let t: ConsoleAccessToken =
            serde_json::from_str(r#"{"access_token":"s3cr3t","console_type":"serial"}"#).unwrap();
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }
}
