//! `hyperprotect_cidata` and the cloud-init disk engine, judged by readers that share no code
//! with it (Debian's `isoinfo`, PyPI's `pycdlib`; see `support/iso_judges.rs`):
//! - images the engine builds are read back with the exact file contents and the `cidata`
//!   label, by Rock Ridge and by Joliet names;
//! - with the real Terraform CLI: create (sha256 and size known at plan) → empty plan →
//!   refresh → empty plan; the file deleted, then changed, behind Terraform's back is planned
//!   for re-creation and re-written byte for byte; a new host name and network config update
//!   the file in place; a new path replaces it (the old file removed); destroy deletes it;
//! - the network-config accepted / refused table at plan, each refusal naming the attribute
//!   and the YAML path.

#[path = "support/iso_judges.rs"]
mod judges;

use std::path::{Path, PathBuf};

use acceptance_tests::harness::{ProviderUnderTest, Step, TestCase};
use hyperprotect::cidata::{Seed, DEFAULT_VENDOR_DATA};
use hyperprotect::contract::document::sha256_hex;

const CONTRACT: &str = "env: hyper-protect-basic.ZW52.ZW52\nworkload: hyper-protect-basic.d29y.d29y\nenvWorkloadSignature: c2ln\n";
const STATIC_NET: &str = "network:\n  version: 2\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses:\n        - 192.168.122.110/24\n      gateway4: 192.168.122.1\n      nameservers:\n        addresses:\n          - 8.8.8.8\n";

#[test]
fn engine_images_are_read_by_isoinfo_and_pycdlib() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!("workload: {}\n", "A".repeat(70_000));
    let cases: Vec<(&str, Seed)> = vec![
        (
            "defaults",
            Seed {
                user_data: CONTRACT,
                hostname: "guest-1",
                instance_id: None,
                vendor_data: None,
                network_config: None,
            },
        ),
        (
            "static network, empty vendor-data, own instance id",
            Seed {
                user_data: CONTRACT,
                hostname: "lpar1-guest.example.com",
                instance_id: Some("i-0042"),
                vendor_data: Some(""),
                network_config: Some(STATIC_NET),
            },
        ),
        (
            "a contract over many sectors",
            Seed {
                user_data: &big,
                hostname: "big",
                instance_id: None,
                vendor_data: Some("#cloud-config\n"),
                network_config: None,
            },
        ),
    ];
    for (name, seed) in cases {
        let image = seed.build().expect(name);
        let path = dir.path().join("disk.iso");
        std::fs::write(&path, &image).unwrap();
        let meta = seed.meta_data();
        let mut want: Vec<(&str, &[u8])> = vec![
            ("user-data", seed.user_data.as_bytes()),
            ("meta-data", meta.as_bytes()),
            (
                "vendor-data",
                seed.vendor_data.unwrap_or(DEFAULT_VENDOR_DATA).as_bytes(),
            ),
        ];
        if let Some(net) = seed.network_config {
            want.push(("network-config", net.as_bytes()));
        }
        judges::judge(&path, "cidata", &want).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image, seed.build().unwrap(), "{name}: byte-identical");
    }
}

fn hcl_heredoc(text: &str) -> String {
    format!("<<-EOT\n{text}EOT")
}

fn config(path: &Path, hostname: &str, network_config: Option<&str>) -> String {
    let net = network_config
        .map(|n| format!("  network_config = {}\n", hcl_heredoc(n)))
        .unwrap_or_default();
    format!(
        r#"terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}

resource "hyperprotect_cidata" "disk" {{
  user_data = {user_data}
  hostname  = "{hostname}"
{net}  path      = "{path}"
}}
"#,
        user_data = hcl_heredoc(CONTRACT),
        path = path.display(),
    )
}

const ADDR: &str = "hyperprotect_cidata.disk";

/// The state and the file on disk hold exactly the engine's image for these inputs, and the
/// judges read the expected files from it.
fn check_disk(
    s: &acceptance_tests::harness::StateJson,
    path: &Path,
    seed: Seed,
) -> Result<(), String> {
    let image = seed.build().map_err(|e| e.to_string())?;
    let sha = sha256_hex(&image);
    s.expect(ADDR, "sha256", sha.clone().into())?;
    s.expect(ADDR, "id", sha.clone().into())?;
    s.expect(ADDR, "size", (image.len() as u64).into())?;
    let on_disk = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if sha256_hex(&on_disk) != sha {
        return Err("the file differs from the image for these inputs".into());
    }
    let meta = seed.meta_data();
    let mut want: Vec<(&str, &[u8])> = vec![
        ("user-data", seed.user_data.as_bytes()),
        ("meta-data", meta.as_bytes()),
        ("vendor-data", DEFAULT_VENDOR_DATA.as_bytes()),
    ];
    if let Some(net) = seed.network_config {
        want.push(("network-config", net.as_bytes()));
    }
    judges::judge(path, "cidata", &want)
}

fn seed<'a>(hostname: &'a str, network_config: Option<&'a str>) -> Seed<'a> {
    Seed {
        user_data: CONTRACT,
        hostname,
        instance_id: None,
        vendor_data: None,
        network_config,
    }
}

fn planned_sha(p: &acceptance_tests::harness::PlanJson, want: Seed) -> Result<(), String> {
    let sha = sha256_hex(&want.build().map_err(|e| e.to_string())?);
    match p.after(ADDR, "sha256").and_then(|v| v.as_str()) {
        Some(s) if s == sha => Ok(()),
        other => Err(format!(
            "planned sha256 {other:?}, want {sha} (known at plan)"
        )),
    }
}

fn actions_are(p: &acceptance_tests::harness::PlanJson, want: &[&str]) -> Result<(), String> {
    let got = p.actions(ADDR);
    if got == want {
        Ok(())
    } else {
        Err(format!("actions {got:?}, want {want:?}"))
    }
}

#[test]
fn test_acc_cidata_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let first: PathBuf = dir.path().join("seed/cidata.iso");
    let second: PathBuf = dir.path().join("other/guest-2.iso");
    let (f1, f2, f3, f4) = (first.clone(), first.clone(), first.clone(), first.clone());
    let (s1, s2) = (second.clone(), second.clone());
    TestCase {
        name: "cidata_lifecycle",
        providers: vec![ProviderUnderTest::hyperprotect()],
        steps: vec![
            Step::config("create", config(&first, "guest-1", None))
                .plan_check(|p| {
                    actions_are(p, &["create"])?;
                    planned_sha(p, seed("guest-1", None))
                })
                .check(move |s| check_disk(s, &f1, seed("guest-1", None))),
            Step::config("file deleted: re-created", config(&first, "guest-1", None))
                .pre_config({
                    let p = first.clone();
                    move |_| std::fs::remove_file(&p).expect("remove the image")
                })
                .plan_check(|p| actions_are(p, &["create"]))
                .check(move |s| check_disk(s, &f2, seed("guest-1", None))),
            Step::config("file changed: re-created", config(&first, "guest-1", None))
                .pre_config({
                    let p = first.clone();
                    move |_| std::fs::write(&p, b"not the image").expect("overwrite the image")
                })
                .plan_check(|p| actions_are(p, &["create"]))
                .check(move |s| check_disk(s, &f3, seed("guest-1", None))),
            Step::config(
                "new hostname and network config: updated in place",
                config(&first, "guest-2", Some(STATIC_NET)),
            )
            .plan_check(|p| {
                actions_are(p, &["update"])?;
                planned_sha(p, seed("guest-2", Some(STATIC_NET)))
            })
            .check(move |s| check_disk(s, &f4, seed("guest-2", Some(STATIC_NET)))),
            Step::config(
                "new path: replaced, old file removed",
                config(&second, "guest-2", Some(STATIC_NET)),
            )
            .plan_check(|p| actions_are(p, &["delete", "create"]))
            .check({
                let old = first.clone();
                move |s| {
                    if old.exists() {
                        return Err(format!("{} still exists", old.display()));
                    }
                    check_disk(s, &s1, seed("guest-2", Some(STATIC_NET)))
                }
            }),
        ],
        env: vec![],
        check_destroy: Some(Box::new(move |_| {
            if s2.exists() {
                Err(format!("{} left after destroy", s2.display()))
            } else {
                Ok(())
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_cidata_plan_time_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cidata.iso");
    let net = |text: &str| config(&path, "guest-1", Some(text));
    let accepted = [
        "network:\n  ethernets:\n    enc1:\n      dhcp4: true\n",
        STATIC_NET,
        "network:\n  version: 2\n  ethernets:\n    enc1:\n      dhcp4: true\n    enc2:\n      dhcp4: false\n      addresses: [10.0.0.5/8]\n      routes:\n        - to: 0.0.0.0/0\n          via: 10.0.0.1\n      nameservers:\n        addresses: [10.0.0.2]\n        search: [example.com]\n",
    ];
    let mut steps: Vec<Step> = accepted
        .iter()
        .map(|text| Step::config("accepted network_config", net(text)).plan_only())
        .collect();
    let refused: [(&str, &str); 6] = [
        (
            "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n",
            r"network\.ethernets\.eth0: interfaces must be named\s+enc<N>",
        ),
        (
            "network:\n  ethernets:\n    enc1:\n      addresses: [1.2.3.4/24]\n",
            r"network\.ethernets\.enc1: `dhcp4` is required",
        ),
        (
            "network:\n  ethernets:\n    enc1:\n      dhcp4: true\n      gateway4: 1.2.3.1\n",
            r"network\.ethernets\.enc1\.gateway4: not allowed with dhcp4:\s+true",
        ),
        (
            "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n",
            r"network\.ethernets\.enc1: `addresses` is required with\s+dhcp4: false",
        ),
        (
            "network:\n  ethernets:\n    enc1:\n      dhcp4: false\n      addresses: [192.168.1.2]\n",
            r"network\.ethernets\.enc1\.addresses\[0\]: must be an IPv4\s+address with a\s+prefix length",
        ),
        (
            "{\"network\": {\"ethernets\": {\"enc1\": {\"dhcp4\": true}}}}\n",
            r"must be YAML, not\s+JSON",
        ),
    ];
    for (text, detail) in refused {
        steps.push(
            Step::config("refused network_config", net(text))
                .plan_only()
                .expect_error_at(
                    "network_config",
                    "Invalid network_config",
                    &detail.replace(' ', r"\s+"),
                ),
        );
    }
    steps.push(
        Step::config("refused hostname", config(&path, "bad_host", None))
            .plan_only()
            .expect_error_at("hostname", "Invalid hostname", r"RFC\s+1123"),
    );
    TestCase {
        name: "cidata_plan_time_table",
        providers: vec![ProviderUnderTest::hyperprotect()],
        steps,
        env: vec![],
        check_destroy: None,
    }
    .run();
    assert!(!path.exists(), "a plan never writes the image");
}
