//! The on-premises platform examples applied as a user applies them, with the real Terraform
//! CLI and the provider built here, judged by tools that share no code with it:
//! - `examples/platforms/ccrt-kvm`: the contract (`contract-basic.` tokens), the cidata disk
//!   (read by isoinfo and pycdlib: `user-data` is exactly the contract) and the libvirt
//!   domain XML, which passes Debian's `virt-xml-validate` (libvirt's own schemas) and holds
//!   what IBM documents for Secure Execution guests, boot disk first and cidata disk second;
//!   the plan after apply is empty, and destroy deletes the disk;
//! - `examples/platforms/ccrv-icic`: `user_data` is a signed contract whose workload, opened
//!   with the platform's key, is a `play` workload.

#[path = "support/contract_fixtures.rs"]
mod fixtures;
#[path = "support/iso_judges.rs"]
mod judges;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use acceptance_tests::harness::{
    acceptance_enabled, copy_tree, ProviderUnderTest, Terraform, WorkDir,
};
use acceptance_tests::mock_cloud::pki::RsaBits;
use fixtures::Fixtures;
use hyperprotect::contract::token;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("examples/platforms")
        .join(name)
}

/// Copies the example into a fresh working directory and applies it with `vars`.
fn apply_example(name: &str, vars: &[(&str, String)]) -> (WorkDir, Vec<String>) {
    let terraform = Terraform::locate().expect("Terraform CLI");
    let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
    copy_tree(&example(name), work.path());
    let args: Vec<String> = vars.iter().map(|(k, v)| format!("-var={k}={v}")).collect();
    let mut apply = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    apply.extend(args.iter().map(String::as_str));
    work.terraform(&apply).expect_ok("terraform apply");
    (work, args)
}

fn output(work: &WorkDir, name: &str) -> String {
    work.terraform(&["output", "-raw", name])
        .expect_ok("terraform output")
        .stdout
}

fn empty_plan(work: &WorkDir, args: &[String]) {
    let mut plan = vec!["plan", "-input=false", "-no-color", "-detailed-exitcode"];
    plan.extend(args.iter().map(String::as_str));
    let run = work.terraform(&plan);
    assert_eq!(run.code, 0, "plan after apply not empty:\n{}", run.output());
}

fn destroy(work: &WorkDir, args: &[String]) {
    let mut destroy = vec!["destroy", "-auto-approve", "-input=false", "-no-color"];
    destroy.extend(args.iter().map(String::as_str));
    work.terraform(&destroy).expect_ok("terraform destroy");
}

fn virt_xml_validate_present() -> bool {
    judges::tool_present(
        "virt-xml-validate",
        Command::new("virt-xml-validate")
            .arg("--help")
            .output()
            .is_ok()
            && Command::new("xmllint").arg("--version").output().is_ok(),
        "apt-get install libvirt-clients libxml2-utils",
    )
}

/// The workload section of a rendered contract, opened with the platform's key.
fn open_workload(f: &Fixtures, contract: &str) -> (String, String) {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(contract).expect("contract YAML");
    let workload = doc["workload"]
        .as_str()
        .expect("workload token")
        .to_string();
    let plain = token::decrypt(&workload, &f.pki.encryption_key).expect("workload opens");
    (workload, String::from_utf8(plain.plaintext).unwrap())
}

/// The variables both examples take: the platform's certificate, the deployer's signing key
/// and the log API key.
fn deployer_vars(f: &Fixtures) -> Vec<(&'static str, String)> {
    vec![
        (
            "encryption_certificate_file",
            f.path("encryption.crt").display().to_string(),
        ),
        (
            "signing_key_file",
            f.path("signing.key").display().to_string(),
        ),
        ("log_api_key", "test-api-key".to_string()),
    ]
}

#[test]
fn test_acc_ccrt_kvm_example() {
    if !acceptance_enabled("test_acc_ccrt_kvm_example") {
        return;
    }
    let f = Fixtures::new(RsaBits::Rsa2048);
    let images = tempfile::tempdir().unwrap();
    let mut vars = deployer_vars(&f);
    vars.push(("image_folder", images.path().display().to_string()));
    let (work, args) = apply_example("ccrt-kvm", &vars);

    let state = work.state().expect("state");
    let contract = state
        .attr("hyperprotect_contract.guest", "rendered")
        .and_then(|v| v.as_str())
        .expect("rendered contract")
        .to_string();
    let (token_text, workload) = open_workload(&f, &contract);
    assert!(
        token_text.starts_with("contract-basic."),
        "ccrt token prefix"
    );
    let workload: serde_yaml_ng::Value = serde_yaml_ng::from_str(&workload).unwrap();
    assert!(
        workload["compose"]["archive"].as_str().is_some(),
        "{workload:?}"
    );

    let disk = PathBuf::from(output(&work, "cidata_path"));
    assert_eq!(disk, images.path().join("ccrt-guest-1-cidata.iso"));
    let meta = "instance-id: ccrt-guest-1\nlocal-hostname: ccrt-guest-1\n";
    judges::judge(
        &disk,
        "cidata",
        &[
            ("user-data", contract.as_bytes()),
            ("meta-data", meta.as_bytes()),
            (
                "vendor-data",
                hyperprotect::cidata::DEFAULT_VENDOR_DATA.as_bytes(),
            ),
        ],
    )
    .unwrap();

    let xml = output(&work, "domain_xml");
    for part in [
        "machine='s390-ccw-virtio'",
        "<launchSecurity type='s390-pv'/>",
        "<memballoon model='none'/>",
        "<target type='sclp' port='0'/>",
        "<log file='/var/log/libvirt/qemu/ccrt-guest-1-console.log'",
    ] {
        assert!(xml.contains(part), "domain XML lacks {part}:\n{xml}");
    }
    let boot = xml.find("ccrt-guest-1.qcow2").expect("boot disk");
    let cidata = xml.find(&disk.display().to_string()).expect("cidata disk");
    assert!(boot < cidata, "the boot disk comes first");
    let virtio = xml.matches("bus='virtio'").count() + xml.matches("model type='virtio'").count();
    assert_eq!(
        xml.matches("iommu='on'").count(),
        virtio,
        "iommu on every virtio device"
    );
    if virt_xml_validate_present() {
        let file = work.path().join("domain.xml");
        fs::write(&file, &xml).unwrap();
        let run = Command::new("virt-xml-validate")
            .arg(&file)
            .arg("domain")
            .output()
            .expect("run virt-xml-validate");
        assert!(
            run.status.success(),
            "virt-xml-validate refused the domain:\n{}{}\n{xml}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }

    empty_plan(&work, &args);
    destroy(&work, &args);
    assert!(!disk.exists(), "destroy deletes the cidata disk");
}

#[test]
fn test_acc_ccrv_icic_example() {
    if !acceptance_enabled("test_acc_ccrv_icic_example") {
        return;
    }
    let f = Fixtures::new(RsaBits::Rsa2048);
    let vars = deployer_vars(&f);
    let (work, args) = apply_example("ccrv-icic", &vars);
    let user_data = output(&work, "user_data");
    let (token_text, workload) = open_workload(&f, &user_data);
    assert!(
        token_text.starts_with("contract-basic."),
        "ccrv token prefix"
    );
    let workload: serde_yaml_ng::Value = serde_yaml_ng::from_str(&workload).unwrap();
    assert!(workload.get("compose").is_none(), "CCRV runs play only");
    assert_eq!(
        workload["play"]["resources"][0]["kind"].as_str(),
        Some("Pod"),
        "{workload:?}"
    );
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&user_data).unwrap();
    assert!(doc["envWorkloadSignature"].as_str().is_some(), "signed");
    empty_plan(&work, &args);
    destroy(&work, &args);
}
