//! The read-only catalog of the emulated region: zones, instance profiles, operating systems
//! and public images. It is code, not state, because the real catalog is provider-owned
//! (clients can only read it), so it never needs persisting.

use serde_json::{json, Value};

use super::ids::{crn, rfc3339, REGION};

pub const ZONES: [&str; 3] = ["us-south-1", "us-south-2", "us-south-3"];

pub const DEFAULT_RESOURCE_GROUP_ID: &str = "fee82deba12e4c0fb69c3b09d1f12345";
pub const DEFAULT_RESOURCE_GROUP_NAME: &str = "Default";

/// Fixed creation time of catalog entries (2025-01-15T00:00:00Z).
const CATALOG_CREATED_MS: i64 = 1_736_899_200_000;

pub struct Profile {
    pub name: &'static str,
    pub family: &'static str,
    pub arch: &'static str,
    pub vcpu: u32,
    pub memory_gib: u32,
    pub bandwidth_mbps: u32,
    pub manufacturer: &'static str,
    /// Modes a client may choose; empty means the field is not exposed and only
    /// `disabled` is accepted.
    pub cc_modes: &'static [&'static str],
    pub cc_default: &'static str,
    pub secure_boot_values: &'static [bool],
    pub secure_boot_default: bool,
    /// IBM Secure Execution (`*z2e-*`): only Hyper Protect images can boot on it.
    pub secure_execution: bool,
    pub deprecated: bool,
}

impl Profile {
    pub fn supports_cc_mode(&self, mode: &str) -> bool {
        if self.cc_modes.is_empty() {
            mode == "disabled"
        } else {
            self.cc_modes.contains(&mode)
        }
    }

    pub fn default_cc_mode(&self) -> &'static str {
        if self.cc_modes.is_empty() {
            "disabled"
        } else {
            self.cc_default
        }
    }

    pub fn href(&self, base: &str) -> String {
        format!("{base}/v1/instance/profiles/{}", self.name)
    }

    pub fn to_json(&self, base: &str) -> Value {
        let mut v = json!({
            "name": self.name,
            "href": self.href(base),
            "family": self.family,
            "status": if self.deprecated { "previous" } else { "current" },
            "vcpu_architecture": {"type": "fixed", "value": self.arch},
            "os_architecture": {"type": "enum", "default": self.arch, "values": [self.arch]},
            "vcpu_count": {"type": "fixed", "value": self.vcpu},
            "vcpu_manufacturer": {"type": "fixed", "value": self.manufacturer},
            "memory": {"type": "fixed", "value": self.memory_gib},
            "bandwidth": {"type": "fixed", "value": self.bandwidth_mbps},
            "disks": [],
            "secure_boot_modes": {
                "type": "enum",
                "default": self.secure_boot_default,
                "values": self.secure_boot_values,
            },
            "network_interface_count": {"type": "range", "min": 1, "max": 5},
            "network_attachment_count": {"type": "range", "min": 1, "max": 5},
            "volume_bandwidth_qos_modes": if self.secure_execution {
                json!({"type": "enum", "default": "weighted", "values": ["weighted"]})
            } else {
                json!({"type": "enum", "default": "pooled", "values": ["pooled", "weighted"]})
            },
            "gpu_count": {"type": "fixed", "value": 0},
            "resource_type": "instance_profile",
        });
        // Always present, as on IBM: `InstanceProfile.confidential_compute_modes` is not
        // optional in IBM/vpc-node-sdk `vpc/v1.ts`; a profile without confidential computing
        // offers only `disabled`.
        let modes: Vec<&str> = if self.cc_modes.is_empty() {
            vec!["disabled"]
        } else {
            self.cc_modes.to_vec()
        };
        v["confidential_compute_modes"] = json!({
            "type": "enum",
            "default": self.cc_default,
            "values": modes,
        });
        v
    }
}

pub static PROFILES: [Profile; 4] = [
    Profile {
        name: "bz2e-1x4",
        family: "balanced",
        arch: "s390x",
        vcpu: 1,
        memory_gib: 4,
        bandwidth_mbps: 2000,
        manufacturer: "ibm",
        cc_modes: &[],
        cc_default: "disabled",
        secure_boot_values: &[false],
        secure_boot_default: false,
        secure_execution: true,
        deprecated: true,
    },
    Profile {
        name: "bz2e-2x8",
        family: "balanced",
        arch: "s390x",
        vcpu: 2,
        memory_gib: 8,
        bandwidth_mbps: 4000,
        manufacturer: "ibm",
        cc_modes: &[],
        cc_default: "disabled",
        secure_boot_values: &[false],
        secure_boot_default: false,
        secure_execution: true,
        deprecated: true,
    },
    Profile {
        name: "bx3dc-2x10",
        family: "balanced",
        arch: "amd64",
        vcpu: 2,
        memory_gib: 10,
        bandwidth_mbps: 4000,
        manufacturer: "intel",
        cc_modes: &["disabled", "sgx", "tdx"],
        cc_default: "tdx",
        secure_boot_values: &[false, true],
        secure_boot_default: false,
        secure_execution: false,
        deprecated: false,
    },
    Profile {
        name: "bx2-2x8",
        family: "balanced",
        arch: "amd64",
        vcpu: 2,
        memory_gib: 8,
        bandwidth_mbps: 4000,
        manufacturer: "intel",
        cc_modes: &[],
        cc_default: "disabled",
        secure_boot_values: &[false, true],
        secure_boot_default: false,
        secure_execution: false,
        deprecated: false,
    },
];

pub fn profile(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

pub struct OperatingSystem {
    pub name: &'static str,
    pub arch: &'static str,
    pub display_name: &'static str,
    pub family: &'static str,
    pub vendor: &'static str,
    pub version: &'static str,
}

impl OperatingSystem {
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "name": self.name,
            "href": format!("{base}/v1/operating_systems/{}", self.name),
            "architecture": self.arch,
            "display_name": self.display_name,
            "family": self.family,
            "vendor": self.vendor,
            "version": self.version,
            "dedicated_host_only": false,
            "allow_user_image_creation": !self.name.ends_with("-hpcr"),
            "user_data_format": "cloud_init",
        })
    }

    /// A Hyper Protect Container Runtime OS (`^hyper-protect-[\w-]+-s390x-hpcr$`).
    pub fn is_hpcr(&self) -> bool {
        self.name.starts_with("hyper-protect-") && self.name.ends_with("-s390x-hpcr")
    }
}

pub static OPERATING_SYSTEMS: [OperatingSystem; 3] = [
    OperatingSystem {
        name: "hyper-protect-1-0-s390x-hpcr",
        arch: "s390x",
        display_name: "IBM Hyper Protect Container Runtime 1.0 with Secure Execution (s390x)",
        family: "Hyper Protect",
        vendor: "IBM",
        version: "1.0",
    },
    OperatingSystem {
        name: "ubuntu-22-04-s390x",
        arch: "s390x",
        display_name: "Ubuntu Linux 22.04 LTS Jammy Jellyfish Minimal Install (s390x)",
        family: "Ubuntu Linux",
        vendor: "Canonical",
        version: "22.04 LTS Jammy Jellyfish Minimal Install",
    },
    OperatingSystem {
        name: "ubuntu-24-04-amd64",
        arch: "amd64",
        display_name: "Ubuntu Linux 24.04 LTS Noble Numbat Minimal Install (amd64)",
        family: "Ubuntu Linux",
        vendor: "Canonical",
        version: "24.04 LTS Noble Numbat Minimal Install",
    },
];

pub fn operating_system(name: &str) -> Option<&'static OperatingSystem> {
    OPERATING_SYSTEMS.iter().find(|o| o.name == name)
}

pub struct Image {
    /// Position in listings (catalog entries sort before anything created at run time).
    pub seq: u64,
    pub id: &'static str,
    pub name: &'static str,
    pub os: &'static str,
    pub status: &'static str,
    pub size_bytes: u64,
    pub sha256: &'static str,
    pub minimum_provisioned_size: u32,
}

impl Image {
    pub fn os(&self) -> &'static OperatingSystem {
        // Every catalog image names a catalog OS; tested in `catalog_is_consistent`.
        operating_system(self.os).unwrap_or(&OPERATING_SYSTEMS[0])
    }

    pub fn is_hpcr(&self) -> bool {
        self.os().is_hpcr()
    }

    pub fn href(&self, base: &str) -> String {
        format!("{base}/v1/images/{}", self.id)
    }

    pub fn crn(&self) -> String {
        crn("image", None, self.id)
    }

    pub fn reference(&self, base: &str) -> Value {
        json!({"id": self.id, "crn": self.crn(), "href": self.href(base), "name": self.name, "resource_type": "image"})
    }

    /// The image as listed; `owner_type` became `remote` in API version 2025-06-30.
    pub fn to_json(&self, base: &str, version: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "crn": self.crn(),
            "href": self.href(base),
            "name": self.name,
            "created_at": rfc3339(CATALOG_CREATED_MS),
            "status": self.status,
            "status_reasons": [],
            "visibility": "public",
            "encryption": "none",
            "operating_system": self.os().to_json(base),
            "user_data_format": "cloud_init",
            "file": {"checksums": {"sha256": self.sha256}, "size": self.size_bytes / (1 << 30) + 1},
            "minimum_provisioned_size": self.minimum_provisioned_size,
            "catalog_offering": {"managed": false},
            "resource_group": resource_group_ref(base),
            "resource_type": "image",
        });
        if self.status == "deprecated" {
            v["deprecation_at"] = json!(rfc3339(CATALOG_CREATED_MS + 86_400_000 * 30));
        }
        if version >= "2025-06-30" {
            v["remote"] = json!({"account": {"id": "provider", "resource_type": "account"}});
        } else {
            v["owner_type"] = json!("provider");
        }
        v
    }
}

pub static IMAGES: [Image; 4] = [
    Image {
        seq: 1,
        id: "r006-3f0c1a2b-8d4e-4b6f-9a1c-2e5d7f9b0c28",
        name: "ibm-hyper-protect-container-runtime-1-0-s390x-28",
        os: "hyper-protect-1-0-s390x-hpcr",
        status: "deprecated",
        size_bytes: 1_288_490_189,
        sha256: "5b9f2a0c6de5e9d3b0b1e4c7a4e8f1d2c3b4a5968778695a4b3c2d1e0f9e8d7c",
        minimum_provisioned_size: 100,
    },
    Image {
        seq: 2,
        id: "r006-7a9e4c3d-2b1f-4e8a-b6c5-1d0f3e2a9b29",
        name: "ibm-hyper-protect-container-runtime-1-0-s390x-29",
        os: "hyper-protect-1-0-s390x-hpcr",
        status: "available",
        size_bytes: 1_310_720_000,
        sha256: "e1d2c3b4a5968778695a4b3c2d1e0f9e8d7c5b9f2a0c6de5e9d3b0b1e4c7a4e8",
        minimum_provisioned_size: 100,
    },
    Image {
        seq: 3,
        id: "r006-1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e05",
        name: "ibm-ubuntu-22-04-5-minimal-s390x-5",
        os: "ubuntu-22-04-s390x",
        status: "available",
        size_bytes: 2_147_483_648,
        sha256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        minimum_provisioned_size: 100,
    },
    Image {
        seq: 4,
        id: "r006-9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c02",
        name: "ibm-ubuntu-24-04-3-minimal-amd64-2",
        os: "ubuntu-24-04-amd64",
        status: "available",
        size_bytes: 2_684_354_560,
        sha256: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
        minimum_provisioned_size: 100,
    },
];

pub fn image(id: &str) -> Option<&'static Image> {
    IMAGES.iter().find(|i| i.id == id)
}

pub fn resource_group_ref(base: &str) -> Value {
    json!({
        "id": DEFAULT_RESOURCE_GROUP_ID,
        "href": format!("{base}/v2/resource_groups/{DEFAULT_RESOURCE_GROUP_ID}"),
        "name": DEFAULT_RESOURCE_GROUP_NAME,
    })
}

pub fn zone_ref(base: &str, zone: &str) -> Value {
    json!({"name": zone, "href": format!("{base}/v1/regions/{REGION}/zones/{zone}")})
}

pub fn region_json(base: &str) -> Value {
    json!({
        "name": REGION,
        "href": format!("{base}/v1/regions/{REGION}"),
        "endpoint": base,
        "status": "available",
    })
}

pub fn zone_json(base: &str, zone: &str) -> Value {
    json!({
        "name": zone,
        "href": format!("{base}/v1/regions/{REGION}/zones/{zone}"),
        "region": {"name": REGION, "href": format!("{base}/v1/regions/{REGION}")},
        "status": "available",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_consistent() {
        for img in &IMAGES {
            assert!(
                operating_system(img.os).is_some(),
                "{} names unknown OS",
                img.name
            );
        }
        let hpcr: Vec<_> = IMAGES.iter().filter(|i| i.is_hpcr()).collect();
        assert_eq!(hpcr.len(), 2);
        assert_eq!(hpcr.iter().filter(|i| i.status == "deprecated").count(), 1);
        assert!(profile("bz2e-1x4").is_some_and(|p| p.secure_execution));
        assert!(profile("bx3dc-2x10").is_some_and(|p| p.supports_cc_mode("sgx")));
        assert!(profile("bx2-2x8").is_some_and(|p| !p.supports_cc_mode("tdx")));
    }
}
