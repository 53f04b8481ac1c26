//! The two personas as separate root modules, working directories and state files: the
//! workload provider encrypts its workload and publishes the token as an output; the deployer
//! reads it through `terraform_remote_state` (local backend) and builds the contract. The
//! result is opened with mock-cloud's encryption key and checked with the openssl CLI, the
//! way IBM documents it, and the deployer's files are searched for the plaintext workload.
//!
//! On Terraform ≥ 1.11 a second test builds the contract from write-only inputs and checks
//! that neither state, nor a saved plan, nor `terraform show -json` holds the env or the key.

#[path = "support/contract_fixtures.rs"]
mod fixtures;

use acceptance_tests::harness::{
    acceptance_enabled, terraform_version, ProviderUnderTest, Terraform, WorkDir,
};
use acceptance_tests::mock_cloud::pki::RsaBits;
use fixtures::{
    decrypt_with_openssl, env_yaml, provider_block, section, sections, verify_with_openssl,
    workload_yaml, Fixtures, WORKLOAD_MARKER,
};

fn ok(work: &WorkDir, args: &[&str]) -> String {
    let run = work.terraform(args);
    assert_eq!(
        run.code,
        0,
        "terraform {}:\n{}",
        args.join(" "),
        run.output()
    );
    run.stdout
}

fn workload_module(f: &Fixtures) -> String {
    format!(
        r#"{p}
resource "hyperprotect_workload" "w" {{
  content                = <<-EOT
{w}EOT
  encryption_certificate = {cert}
}}

output "workload" {{
  value = hyperprotect_workload.w.encrypted
}}
"#,
        p = provider_block(),
        w = workload_yaml(WORKLOAD_MARKER),
        cert = f.file("encryption.crt"),
    )
}

fn deployer_module(f: &Fixtures, workload_state: &std::path::Path, env_host: &str) -> String {
    format!(
        r#"{p}
data "terraform_remote_state" "workload" {{
  backend = "local"
  config = {{
    path = "{state}"
  }}
}}

resource "hyperprotect_contract" "c" {{
  workload               = data.terraform_remote_state.workload.outputs.workload
  env                    = <<-EOT
{env}EOT
  signing_key            = {key}
  encryption_certificate = {cert}
}}

output "user_data" {{
  value = hyperprotect_contract.c.rendered
}}
"#,
        p = provider_block(),
        state = workload_state.display(),
        env = env_yaml(env_host),
        key = f.file("signing.key"),
        cert = f.file("encryption.crt"),
    )
}

#[test]
fn test_acc_workload_provider_and_deployer_as_separate_modules() {
    if !acceptance_enabled("workload_provider_and_deployer_as_separate_modules") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let f = Fixtures::new(RsaBits::Rsa4096);
    let providers = [ProviderUnderTest::hyperprotect()];

    // Workload provider.
    let wp = WorkDir::new(&terraform, &providers, &[]);
    wp.write_config(&workload_module(&f));
    ok(
        &wp,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let token = ok(&wp, &["output", "-raw", "workload"]);
    assert!(token.starts_with("hyper-protect-basic."), "{token:.40}");

    // Deployer: plans and applies from the published token only.
    let dep = WorkDir::new(&terraform, &providers, &[]);
    let state_path = wp.path().join("terraform.tfstate");
    dep.write_config(&deployer_module(&f, &state_path, "logs.example.com"));
    let plan = ok(&dep, &["plan", "-input=false", "-no-color", "-out=tfplan"]);
    let plan_json = ok(&dep, &["show", "-json", "tfplan"]);
    ok(&dep, &["apply", "-input=false", "-no-color", "tfplan"]);
    let rendered = ok(&dep, &["output", "-raw", "user_data"]);
    let empty = dep.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(empty.code, 0, "second plan not empty:\n{}", empty.output());

    // Both sections open with the platform key through the openssl CLI; the workload is
    // exactly what the workload provider wrote, and passed through untouched.
    let doc = sections(&rendered);
    let key = f.path("encryption.key");
    assert_eq!(section(&doc, "workload"), token.trim());
    assert_eq!(
        decrypt_with_openssl(section(&doc, "workload"), &key),
        workload_yaml(WORKLOAD_MARKER)
    );
    let env = decrypt_with_openssl(section(&doc, "env"), &key);
    assert!(env.contains("logs.example.com") && env.contains("signingKey"));
    let signing_key: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(&env).unwrap();
    let inserted = signing_key
        .get("signingKey")
        .and_then(|v| v.as_str())
        .unwrap();
    assert_eq!(inserted.trim(), f.read("signing.pub").trim());
    verify_with_openssl(
        section(&doc, "workload"),
        section(&doc, "env"),
        section(&doc, "envWorkloadSignature"),
        &f.path("signing.pub"),
    );

    // The deployer never held the plaintext workload.
    let state = std::fs::read_to_string(dep.path().join("terraform.tfstate")).unwrap();
    let show = ok(&dep, &["show", "-json"]);
    for (what, text) in [
        ("state", &state),
        ("plan output", &plan),
        ("plan JSON", &plan_json),
        ("show -json", &show),
    ] {
        assert!(
            !text.contains(WORKLOAD_MARKER) && !text.contains("type: workload"),
            "the deployer's {what} contains the plaintext workload"
        );
    }

    // The workload provider re-encrypts: the deployer's next plan signs the new token.
    ok(
        &dep,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    );
    ok(
        &wp,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    );
}

/// Write-only env and signing key (Terraform ≥ 1.11): nothing of either reaches state, a
/// saved plan or `show -json`; bumping `env_wo_version` plans a new contract.
#[test]
fn test_acc_write_only_secrets_stay_out_of_state() {
    if !acceptance_enabled("write_only_secrets_stay_out_of_state") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let version = terraform.version();
    if !terraform_version()
        .expect("Terraform version")
        .supports_write_only()
    {
        eprintln!(
            "write_only_secrets_stay_out_of_state: skipped, {version} has no write-only \
             attributes (set TF_ACC_TERRAFORM_PATH to Terraform ≥ 1.11)"
        );
        return;
    }
    let f = Fixtures::new(RsaBits::Rsa2048);
    let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
    let env_marker = "wo-env-host-91c2.example.com";
    // From a file: a saved plan keeps a copy of the .tf files, not of files they read.
    f.write("env.yaml", env_yaml(env_marker));
    let workload_marker = "d28td29ya2xvYWQtbWFya2Vy";
    let text_marker = "wo-text-marker-5e1d";
    f.write("workload.yaml", workload_yaml(workload_marker));
    f.write("text.txt", text_marker);
    let config = |version: u32| {
        format!(
            r#"{p}
resource "hyperprotect_contract" "c" {{
  workload               = <<-EOT
{w}EOT
  env_wo                 = {env}
  env_wo_version         = {version}
  signing_key_wo         = {key}
  signing_key_wo_version = 1
  encryption_certificate = {cert}
}}

resource "hyperprotect_workload" "w" {{
  content_wo             = {wo_workload}
  content_wo_version     = 1
  encryption_certificate = {cert}
}}

resource "hyperprotect_encrypted_text" "t" {{
  text_wo                = {wo_text}
  text_wo_version        = 1
  encryption_certificate = {cert}
}}
"#,
            p = provider_block(),
            w = workload_yaml("QUJDRA=="),
            wo_workload = f.file("workload.yaml"),
            wo_text = f.file("text.txt"),
            env = f.file("env.yaml"),
            key = f.file("signing.key"),
            cert = f.file("encryption.crt"),
        )
    };
    work.write_config(&config(1));
    ok(&work, &["plan", "-input=false", "-no-color", "-out=tfplan"]);
    let plan_file = std::fs::read(work.path().join("tfplan")).unwrap();
    let plan_json = ok(&work, &["show", "-json", "tfplan"]);
    ok(&work, &["apply", "-input=false", "-no-color", "tfplan"]);
    let state = std::fs::read_to_string(work.path().join("terraform.tfstate")).unwrap();
    let show = ok(&work, &["show", "-json"]);

    let key_lines: Vec<String> = f
        .read("signing.key")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    let plan_text = String::from_utf8_lossy(&plan_file).into_owned();
    // The saved plan is a zip: search its decompressed entries too.
    let plan_entries = unzip_text(&work.path().join("tfplan"));
    for (what, text) in [
        ("state", &state),
        ("show -json", &show),
        ("plan JSON", &plan_json),
        ("plan file", &plan_text),
        ("plan file entries", &plan_entries),
    ] {
        assert!(!text.contains(env_marker), "{what} contains the env");
        assert!(
            !text.contains(workload_marker),
            "{what} contains content_wo"
        );
        assert!(!text.contains(text_marker), "{what} contains text_wo");
        for line in &key_lines {
            assert!(
                !text.contains(line.as_str()),
                "{what} contains a line of the key"
            );
        }
    }

    let shown: serde_json::Value = serde_json::from_str(&show).unwrap();
    let value = |address: &str, name: &str| -> String {
        shown["values"]["root_module"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["address"] == address)
            .and_then(|r| r["values"][name].as_str())
            .unwrap_or_else(|| panic!("{address}.{name}"))
            .to_string()
    };
    let rendered = value("hyperprotect_contract.c", "rendered");
    let key = f.path("encryption.key");
    assert_eq!(
        decrypt_with_openssl(&value("hyperprotect_workload.w", "encrypted"), &key),
        workload_yaml(workload_marker)
    );
    assert_eq!(
        decrypt_with_openssl(&value("hyperprotect_encrypted_text.t", "encrypted"), &key),
        text_marker
    );
    let doc = sections(&rendered);
    let env = decrypt_with_openssl(section(&doc, "env"), &f.path("encryption.key"));
    assert!(env.contains(env_marker));
    verify_with_openssl(
        section(&doc, "workload"),
        section(&doc, "env"),
        section(&doc, "envWorkloadSignature"),
        &f.path("signing.pub"),
    );

    let empty = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(empty.code, 0, "plan not empty:\n{}", empty.output());
    work.write_config(&config(2));
    let bumped = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        bumped.code,
        2,
        "bumping env_wo_version must plan a change:\n{}",
        bumped.output()
    );
    assert!(bumped.stdout.contains("rendered"), "{}", bumped.stdout);
    ok(
        &work,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
    );
}

/// The text of every entry of a zip file, via `unzip -p` when available.
fn unzip_text(path: &std::path::Path) -> String {
    std::process::Command::new("unzip")
        .arg("-p")
        .arg(path)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
