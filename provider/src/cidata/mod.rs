//! The cloud-init NoCloud seed disk a CCRT / CCRV guest on a KVM host reads its contract
//! from: an ISO 9660 image labelled `cidata` holding `user-data` (the contract), `meta-data`
//! (`instance-id`, `local-hostname`), `vendor-data` and, for static networking,
//! `network-config` — what IBM's samples build with `genisoimage -volid cidata -joliet -rock`,
//! built here in-process and byte-identical for the same inputs.
//!
//! Knows nothing of Terraform: `hyperprotect_cidata` and the KVM instance both build their
//! disks with [`Seed::build`].

pub mod iso9660;
pub mod network_config;

use std::fmt;

use iso9660::{IsoError, IsoFile};

/// The volume id cloud-init's NoCloud data source looks for.
pub const VOLUME_ID: &str = "cidata";

/// IBM's sample `vendor-data` (the default user, nothing else).
pub const DEFAULT_VENDOR_DATA: &str = "#cloud-config\nusers:\n- default\n";

/// Longest host name (RFC 1123: 253 characters, labels of 1-63).
const MAX_HOSTNAME: usize = 253;

/// What goes on the disk.
#[derive(Debug, Clone, Copy)]
pub struct Seed<'a> {
    /// The contract, as the guest reads it from `user-data`.
    pub user_data: &'a str,
    /// `local-hostname` in `meta-data`.
    pub hostname: &'a str,
    /// `instance-id` in `meta-data`; the host name when `None`.
    pub instance_id: Option<&'a str>,
    /// `vendor-data`; [`DEFAULT_VENDOR_DATA`] when `None` (an empty text gives an empty file,
    /// as IBM's operator writes it).
    pub vendor_data: Option<&'a str>,
    /// `network-config`, checked by IBM's rules ([`network_config::check`]); no file when
    /// `None`.
    pub network_config: Option<&'a str>,
}

/// Why a disk cannot be built. The texts name the input and never quote the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedError {
    UserData(String),
    Hostname(String),
    InstanceId(String),
    NetworkConfig(network_config::Report),
    Image(IsoError),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::UserData(m) | SeedError::Hostname(m) | SeedError::InstanceId(m) => {
                f.write_str(m)
            }
            SeedError::NetworkConfig(report) => {
                let lines: Vec<String> = report
                    .errors
                    .iter()
                    .map(|e| {
                        if e.path.is_empty() {
                            e.message.clone()
                        } else {
                            format!("{}: {}", e.path, e.message)
                        }
                    })
                    .collect();
                write!(f, "network-config: {}", lines.join("; "))
            }
            SeedError::Image(e) => write!(f, "cannot build the image: {e}"),
        }
    }
}

impl std::error::Error for SeedError {}

/// A host name as cloud-init sets it: RFC 1123 labels (letters, digits, `-`, not at either
/// end of a label) joined by dots.
pub fn check_hostname(name: &str) -> Result<(), SeedError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.is_empty() && name.len() <= MAX_HOSTNAME && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(SeedError::Hostname(format!(
            "hostname must be a host name (RFC 1123): labels of 1 to 63 letters, digits or \
             '-' (not first or last) joined by '.', at most {MAX_HOSTNAME} characters"
        )))
    }
}

/// An instance id: 1-255 letters, digits, `.`, `_`, `-` (written into `meta-data` as a plain
/// YAML scalar, and used by cloud-init as a directory name).
pub fn check_instance_id(id: &str) -> Result<(), SeedError> {
    let ok = (1..=255).contains(&id.len())
        && !id.starts_with(['.', '-'])
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SeedError::InstanceId(
            "instance_id must be 1 to 255 letters, digits, '.', '_' or '-', not starting \
             with '.' or '-'"
                .to_string(),
        ))
    }
}

impl Seed<'_> {
    /// `meta-data`: `instance-id` then `local-hostname`.
    pub fn meta_data(&self) -> String {
        format!(
            "instance-id: {}\nlocal-hostname: {}\n",
            self.instance_id.unwrap_or(self.hostname),
            self.hostname
        )
    }

    /// Checks every input: the same checks [`Seed::build`] makes, for plan time.
    pub fn check(&self) -> Result<(), SeedError> {
        if self.user_data.trim().is_empty() {
            return Err(SeedError::UserData(
                "user_data is empty: set it to the contract (e.g. hyperprotect_contract's \
                 rendered)"
                    .to_string(),
            ));
        }
        check_hostname(self.hostname)?;
        if let Some(id) = self.instance_id {
            check_instance_id(id)?;
        }
        if let Some(text) = self.network_config {
            let report = network_config::check(text);
            if !report.is_ok() {
                return Err(SeedError::NetworkConfig(report));
            }
        }
        Ok(())
    }

    /// The files of the disk, by the names cloud-init reads.
    pub fn files(&self) -> Vec<IsoFile> {
        let mut files = vec![
            IsoFile {
                name: "user-data".into(),
                data: self.user_data.as_bytes().to_vec(),
            },
            IsoFile {
                name: "meta-data".into(),
                data: self.meta_data().into_bytes(),
            },
            IsoFile {
                name: "vendor-data".into(),
                data: self
                    .vendor_data
                    .unwrap_or(DEFAULT_VENDOR_DATA)
                    .as_bytes()
                    .to_vec(),
            },
        ];
        if let Some(text) = self.network_config {
            files.push(IsoFile {
                name: "network-config".into(),
                data: text.as_bytes().to_vec(),
            });
        }
        files
    }

    /// The disk image, after [`Seed::check`].
    pub fn build(&self) -> Result<Vec<u8>, SeedError> {
        self.check()?;
        iso9660::build(VOLUME_ID, &self.files()).map_err(SeedError::Image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Seed<'static> {
        Seed {
            user_data: "workload: hyper-protect-basic.x\nenv: hyper-protect-basic.y\n",
            hostname: "guest-1",
            instance_id: None,
            vendor_data: None,
            network_config: None,
        }
    }

    #[test]
    fn meta_data_defaults_the_instance_id_to_the_hostname() {
        assert_eq!(
            seed().meta_data(),
            "instance-id: guest-1\nlocal-hostname: guest-1\n"
        );
        let s = Seed {
            instance_id: Some("i-42"),
            ..seed()
        };
        assert_eq!(
            s.meta_data(),
            "instance-id: i-42\nlocal-hostname: guest-1\n"
        );
    }

    #[test]
    fn files_are_the_four_cloud_init_reads() {
        let names =
            |s: Seed<'_>| -> Vec<String> { s.files().into_iter().map(|f| f.name).collect() };
        assert_eq!(names(seed()), ["user-data", "meta-data", "vendor-data"]);
        let with_net = Seed {
            network_config: Some("network:\n  ethernets:\n    enc1:\n      dhcp4: true\n"),
            ..seed()
        };
        assert_eq!(
            names(with_net),
            ["user-data", "meta-data", "vendor-data", "network-config"]
        );
        assert_eq!(seed().files()[2].data, DEFAULT_VENDOR_DATA.as_bytes());
        let empty_vendor = Seed {
            vendor_data: Some(""),
            ..seed()
        };
        assert!(empty_vendor.files()[2].data.is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_image() {
        let a = seed().build().unwrap();
        assert_eq!(a, seed().build().unwrap());
        assert_eq!(&a[16 * 2048 + 40..16 * 2048 + 46], b"cidata");
        let other = Seed {
            hostname: "guest-2",
            ..seed()
        };
        assert_ne!(a, other.build().unwrap());
    }

    #[test]
    fn bad_inputs_are_refused_by_name() {
        for bad in ["", "-a", "a-", "a..b", "a_b", "a b", &"x".repeat(64)] {
            let s = Seed {
                hostname: bad,
                ..seed()
            };
            assert!(matches!(s.build(), Err(SeedError::Hostname(_))), "{bad:?}");
        }
        for good in ["a", "guest-1.example.com", &"x".repeat(63)] {
            check_hostname(good).unwrap();
        }
        let s = Seed {
            instance_id: Some("a: b"),
            ..seed()
        };
        assert!(matches!(s.build(), Err(SeedError::InstanceId(_))));
        let s = Seed {
            user_data: " \n",
            ..seed()
        };
        assert!(matches!(s.build(), Err(SeedError::UserData(_))));
        let s = Seed {
            network_config: Some("network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"),
            ..seed()
        };
        let err = s.build().unwrap_err();
        assert!(
            err.to_string()
                .contains("network.ethernets.eth0: interfaces must be named enc<N>"),
            "{err}"
        );
    }
}
