//! The quick start and the examples as a user meets them:
//! - `scripts/quickstart.sh` end to end on a fresh working folder (its own mock-cloud, keys,
//!   the three persona modules, the attestation verdict), run twice (the second run changes
//!   nothing), then `scripts/quickstart.sh destroy`, after which mock-cloud is stopped and,
//!   started again on the same data folder, lists no instance;
//! - every example directory passes `terraform validate` with the provider built here, and
//!   `terraform fmt -check`.
//!
//! The script gets the binaries this `cargo test` already built through `QUICKSTART_BIN_DIR`
//! (no second build) and the Terraform under test through `TF_ACC_TERRAFORM_PATH`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acceptance_tests::harness::{
    acceptance_enabled, copy_tree, terraform_version, ProviderUnderTest, Terraform, WorkDir,
};
use acceptance_tests::mock_cloud::{Config, MockCloud};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Folder of the provider and mock-cloud binaries of this build.
fn bin_dir() -> PathBuf {
    ProviderUnderTest::hyperprotect()
        .binary
        .parent()
        .expect("binary folder")
        .to_path_buf()
}

struct ScriptRun {
    code: i32,
    output: String,
}

/// Runs `scripts/quickstart.sh [action]` on `work`; output goes to a file (not a pipe: the
/// mock-cloud it leaves running must not hold the test's pipes open).
fn quickstart(work: &Path, terraform: &Terraform, action: &str) -> ScriptRun {
    let log = work.join(format!("script-{action}.log"));
    let out = fs::File::create(&log).expect("script log");
    let status = Command::new(repo_root().join("scripts/quickstart.sh"))
        .arg(action)
        .env("QUICKSTART_DIR", work)
        .env("QUICKSTART_BIN_DIR", bin_dir())
        .env("TF_ACC_TERRAFORM_PATH", &terraform.binary)
        .env_remove("TF_LOG")
        .env_remove("TF_CLI_CONFIG_FILE")
        .env_remove("TF_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .status()
        .expect("run scripts/quickstart.sh");
    ScriptRun {
        code: status.code().unwrap_or(-1),
        output: fs::read_to_string(&log).unwrap_or_default(),
    }
}

/// The outputs in the quick start's state file.
fn outputs(work: &Path) -> Value {
    let text = fs::read_to_string(work.join("terraform.tfstate")).expect("quick start state");
    let state: Value = serde_json::from_str(&text).expect("state JSON");
    state["outputs"].clone()
}

/// `module.x.type.name` addresses of everything in the quick start's state.
fn state_addresses(work: &Path) -> Vec<String> {
    let text = fs::read_to_string(work.join("terraform.tfstate")).unwrap_or_default();
    let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let prefix = if r["mode"] == "data" { "data." } else { "" };
            format!(
                "{}.{prefix}{}.{}",
                r["module"].as_str().unwrap_or("root"),
                r["type"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops the mock-cloud the script started if the test ends early (by its pid only).
struct MockGuard(PathBuf);

impl Drop for MockGuard {
    fn drop(&mut self) {
        if let Some(pid) = fs::read_to_string(self.0.join("mock-cloud.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The instances mock-cloud lists through its VPC API, started again on the data folder.
fn instances_after_restart(data_dir: &Path) -> Vec<Value> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let cloud = MockCloud::start(Config::new(data_dir))
            .await
            .expect("restart mock-cloud on the quick start's data");
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{}/identity/token", cloud.url()))
            .form(&[
                ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
                ("apikey", "quickstart"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let list: Value = http
            .get(format!(
                "{}/v1/instances?version=2025-12-16&generation=2",
                cloud.url()
            ))
            .bearer_auth(token["access_token"].as_str().expect("access_token"))
            .send()
            .await
            .expect("list instances")
            .json()
            .await
            .expect("instances JSON");
        cloud.shutdown().await.expect("stop mock-cloud");
        list["instances"].as_array().cloned().expect("instances")
    })
}

#[test]
fn test_acc_quickstart_script_end_to_end() {
    if !acceptance_enabled("test_acc_quickstart_script_end_to_end") {
        return;
    }
    let terraform = Terraform::locate().expect("Terraform CLI");
    let dir = tempfile::Builder::new()
        .prefix("quickstart-")
        .tempdir()
        .expect("working folder");
    let work = dir.path();
    let _guard = MockGuard(work.to_path_buf());

    let first = quickstart(work, &terraform, "apply");
    assert_eq!(first.code, 0, "quick start failed:\n{}", first.output);
    let out = outputs(work);
    assert_eq!(out["instance_status"]["value"], "running", "{out:#}");
    assert_eq!(out["attestation_verified"]["value"], true, "{out:#}");
    let id = out["instance_id"]["value"].as_str().expect("instance_id");
    let sha = out["contract_sha256"]["value"].as_str().expect("sha256");
    assert_eq!(sha.len(), 64, "contract_sha256 {sha}");
    assert!(
        first.output.contains("Attestation verified: true"),
        "verdict not printed:\n{}",
        first.output
    );
    // Each persona module was applied.
    let addresses = state_addresses(work);
    for want in [
        "module.workload_provider.hyperprotect_workload.this",
        "module.deployer.hyperprotect_contract.this",
        "module.deployer.hyperprotect_instance.this",
        "module.auditor[0].data.hyperprotect_attestation.record",
    ] {
        assert!(
            addresses.iter().any(|a| a == want),
            "{want} in {addresses:?}"
        );
    }
    // Secrets stay out of the output.
    let seeds: Value =
        serde_json::from_str(&fs::read_to_string(work.join("secrets.tfvars.json")).unwrap())
            .unwrap();
    for secret in [
        "workload_volume_seed",
        "deployer_volume_seed",
        "log_api_key",
    ] {
        let value = seeds[secret].as_str().unwrap();
        assert!(!first.output.contains(value), "{secret} printed");
    }

    // Again: the same mock-cloud, nothing to change, the same server.
    let pid: u32 = fs::read_to_string(work.join("mock-cloud.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let second = quickstart(work, &terraform, "apply");
    assert_eq!(second.code, 0, "second run failed:\n{}", second.output);
    assert!(second
        .output
        .contains(&format!("already running (pid {pid})")));
    assert_eq!(
        second.output.matches("No changes.").count(),
        2,
        "the second run should change nothing:\n{}",
        second.output
    );
    let again = outputs(work);
    assert_eq!(again["instance_id"]["value"], id);
    assert_eq!(again["attestation_verified"]["value"], true);

    let destroy = quickstart(work, &terraform, "destroy");
    assert_eq!(destroy.code, 0, "destroy failed:\n{}", destroy.output);
    assert!(!pid_alive(pid), "mock-cloud (pid {pid}) still runs");
    assert!(!work.join("mock-cloud.pid").exists());
    let left = instances_after_restart(&work.join("mock-cloud"));
    assert!(left.is_empty(), "instances left: {left:#?}");
}

/// Every folder under `examples/` holding `.tf` files.
fn example_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("examples folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "tf"))
    {
        out.push(dir.to_path_buf());
    }
    for p in entries.into_iter().filter(|p| p.is_dir()) {
        example_dirs(&p, out);
    }
}

#[test]
fn test_acc_every_example_validates() {
    if !acceptance_enabled("test_acc_every_example_validates") {
        return;
    }
    let terraform = Terraform::locate().expect("Terraform CLI");
    let examples = repo_root().join("examples");
    let mut dirs = Vec::new();
    example_dirs(&examples, &mut dirs);
    assert!(dirs.len() >= 15, "examples found: {dirs:?}");
    let mut failures = Vec::new();
    let version = terraform_version().expect("Terraform version");
    for dir in &dirs {
        let rel = dir.strip_prefix(&examples).unwrap();
        // Ephemeral resources need Terraform 1.10 and list resources 1.14: an older Terraform
        // rejects those blocks itself (tested in their own suites), so their snippets are
        // validated only where the feature exists.
        let kind = rel.components().next().and_then(|c| c.as_os_str().to_str());
        let needs_newer = match kind {
            Some("ephemeral-resources") => !version.supports_ephemeral(),
            Some("list-resources") => !version.supports_query(),
            _ => false,
        };
        if needs_newer {
            eprintln!("{}: skipped on Terraform {version}", rel.display());
            continue;
        }
        let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
        // The whole tree, so modules find `../modules/...` as in the repository.
        copy_tree(&examples, &work.path().join("examples"));
        let here = work.path().join("examples").join(rel);
        let has_requirement = fs::read_dir(&here).unwrap().any(|e| {
            let p = e.unwrap().path();
            p.extension().is_some_and(|x| x == "tf")
                && fs::read_to_string(&p)
                    .unwrap()
                    .contains("required_providers")
        });
        if !has_requirement {
            // Registry snippets leave the provider requirement to the page's header.
            fs::write(
                here.join("_provider.tf"),
                "terraform {\n  required_providers {\n    hyperprotect = { source = \"hyperprotect/hyperprotect\" }\n  }\n}\n",
            )
            .unwrap();
        }
        let chdir = format!("-chdir={}", here.display());
        // dev_overrides serve the provider; `get` installs local modules without the registry.
        let get = work.terraform(&[&chdir, "get", "-no-color"]);
        if get.code != 0 {
            failures.push(format!(
                "{}: terraform get: {}",
                rel.display(),
                get.output()
            ));
            continue;
        }
        let v = work.terraform(&[&chdir, "validate", "-json", "-no-color"]);
        let verdict: Value = serde_json::from_str(&v.stdout).unwrap_or(Value::Null);
        if v.code != 0 || verdict["valid"] != true {
            failures.push(format!("{}: {}", rel.display(), v.output()));
        }
    }
    // And they are written as `terraform fmt` writes them (users copy them).
    let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
    let chdir = format!("-chdir={}", examples.display());
    let fmt = work.terraform(&[&chdir, "fmt", "-check", "-recursive", "-no-color"]);
    if fmt.code != 0 {
        failures.push(format!("terraform fmt -check: {}", fmt.output()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
