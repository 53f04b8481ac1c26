//! What a guest prints when it starts on the emulated KVM host. A guest with a `cidata`
//! disk is a CCRT/CCRV guest: the Hyper Protect boot reads `user-data` from that disk and
//! checks the contract with the platform's keys, the same boot mock-cloud runs for VPC
//! servers (`hpcr::boot`), writing its `HPL…` lines to the console and its log file. IBM's
//! k8s-operator-hpcr treats `HPL10001I` on the console as started and `HPL…E` as failed;
//! a guest that rejects its contract then powers off, as on VPC.

use std::time::Instant;

use super::host::{DiskSource, Host};
use super::iso::read_cidata;
use crate::mock_cloud::hpcr::{self, BootOutcome};

impl Host {
    /// The files of the first disk of `name` that is a `cidata` ISO, if any.
    fn cidata_of(&self, name: &str) -> Option<std::collections::BTreeMap<String, Vec<u8>>> {
        let d = self.domains.get(name)?;
        d.disks.iter().find_map(|disk| {
            let data = match disk {
                DiskSource::Volume { pool, volume } => &self.volume(pool, volume).ok()?.data,
                DiskSource::File(path) => &self.volume_by_path(path)?.1.data,
            };
            read_cidata(data).ok()
        })
    }

    /// Runs the guest's boot and prints it on its console.
    pub(super) fn boot(&mut self, name: &str) {
        let mut rejected = false;
        let lines: Vec<String> = match (self.cidata_of(name), &self.pki) {
            (None, _) => vec![
                format!("Linux version 6.8.0 (s390x) booting guest {name}"),
                format!("mock-cloud KVM host: guest {name} started"),
            ],
            (Some(_), None) => vec![format!(
                "mock-cloud KVM host: guest {name} started; the Hyper Protect boot is not evaluated (mock-cloud runs without the platform PKI)"
            )],
            (Some(files), Some(pki)) => {
                let user_data = files
                    .get("user-data")
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let report = hpcr::boot(&user_data, pki, time::OffsetDateTime::now_utc());
                rejected = matches!(report.outcome, BootOutcome::Rejected { .. });
                report.console
            }
        };
        let mut text = lines.join("\r\n");
        text.push_str("\r\n");
        self.console_write(name, text.as_bytes());
        if rejected {
            if let Some(d) = self.domains.get_mut(name) {
                d.shutdown_requested = Some(Instant::now());
            }
        }
    }
}
