//! Acceptance tests of `hyperprotect_instance` with the real Terraform CLI against
//! mock-cloud, each test on its own emulator (in this process, fresh data folder).
//! Contracts are built here with the provider's contract engine, encrypted to the
//! emulator's encryption certificate, so the emulated Hyper Protect guest really decrypts,
//! verifies and accepts (or rejects) them. Import by identity and `terraform query` (with
//! generated configuration) run on Terraform ≥ 1.12 / ≥ 1.14; older Terraform must refuse
//! those forms itself.
//!
//! One test binary; the tests live in modules by concern (this file holds what they share).

mod fidelity;
mod import;
mod lifecycle;
mod resilience;
mod tags;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use acceptance_tests::harness::{
    acceptance_enabled, signed_contract, terraform_version, CloudApi, Import, ImportId,
    ProviderUnderTest, Step, Terraform, TestCase, WorkDir,
};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::{Config, Delays, MockCloud};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;

const I: &str = "hyperprotect_instance.hp";
const HPCR_IMAGE: &str = "ibm-hyper-protect-container-runtime-1-0-s390x-29";
const UBUNTU_AMD64: &str = "ibm-ubuntu-24-04-3-minimal-amd64-2";

const ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\nenv:\n  GREETING: hello\n";

/// Emulator delays that keep each test short but every transition observable.
fn test_delays() -> Delays {
    let ms = Duration::from_millis;
    Delays {
        pending: ms(100),
        boot: ms(400),
        stop: ms(300),
        reboot: ms(300),
        delete: ms(300),
        // A rejecting guest runs long enough for the provider's first polls to see it
        // `running` and open its console (a stopped server's console is refused, as on IBM).
        reject_stop: ms(1500),
    }
}

/// One emulator for one test, with a tokio runtime serving it and a VPC API token.
struct Cloud {
    rt: tokio::runtime::Runtime,
    mock: Option<MockCloud>,
    dir: tempfile::TempDir,
    pki: Pki,
    api: CloudApi,
}

impl Cloud {
    fn start(delays: Delays) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        // RSA-2048 keys (the emulator's default RSA-4096 takes seconds to generate).
        let pki = Pki::load_or_create_with(
            dir.path(),
            &PkiOptions {
                ca_bits: RsaBits::Rsa2048,
                encryption_bits: RsaBits::Rsa2048,
                attestation_bits: RsaBits::Rsa2048,
            },
        )
        .expect("emulator PKI");
        let mut config = Config::new(dir.path());
        config.delays = delays;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mock = rt
            .block_on(MockCloud::start(config))
            .expect("start mock-cloud");
        let api = CloudApi::new(mock.url().to_string());
        Cloud {
            rt,
            mock: Some(mock),
            dir,
            pki,
            api,
        }
    }

    fn url(&self) -> String {
        self.api.base().to_string()
    }

    /// What the provider needs to reach this emulator as it would IBM Cloud.
    fn env(&self) -> Vec<(String, String)> {
        self.api.provider_env()
    }

    /// A VPC API call (the test's own view of the cloud).
    fn vpc(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.vpc(method, path, body)
    }

    fn get(&self, path: &str) -> Value {
        self.api.get(path)
    }

    /// A Global Tagging call (`/v3/tags...`, bearer token), as the test's own client.
    fn tagging(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.tagging(method, path, body)
    }

    /// The user tags the tagging service holds for `crn` (all of them when `None`).
    fn tags_on(&self, crn: Option<&str>) -> BTreeSet<String> {
        let query = match crn {
            Some(crn) => format!("?tag_type=user&attached_to={crn}"),
            None => "?tag_type=user".to_string(),
        };
        let (status, body) = self.tagging(reqwest::Method::GET, &query, None);
        assert_eq!(status, 200, "GET /v3/tags{query}: {body}");
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["name"].as_str().map(str::to_string))
            .collect()
    }

    /// A test-control call (`/_mock/...`): its status.
    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
        self.api.admin(method, path, body).0
    }

    fn image_id(&self, name: &str) -> String {
        self.api.image_id(name)
    }

    /// (vpc id, subnet id) in `zone`.
    fn network(&self, zone: &str) -> (String, String) {
        self.api.network(zone)
    }

    fn key_id(&self) -> String {
        self.get("/keys")["keys"][0]["id"]
            .as_str()
            .expect("a key")
            .to_string()
    }

    /// Every instance the emulator lists, as (id, name, status).
    fn instances(&self) -> Vec<(String, String, String)> {
        self.api.instances()
    }

    /// A signed contract with every section encrypted to this emulator's certificate
    /// (`to_other_platform`: to an unrelated certificate, which the guest cannot decrypt).
    fn contract(&self, greeting: &str, to_other_platform: bool) -> String {
        let other;
        let cert = if to_other_platform {
            other = Pki::generate_in_memory(&PkiOptions {
                ca_bits: RsaBits::Rsa2048,
                encryption_bits: RsaBits::Rsa2048,
                attestation_bits: RsaBits::Rsa2048,
            })
            .expect("other PKI");
            &other.encryption_cert
        } else {
            &self.pki.encryption_cert
        };
        signed_contract(cert, &ENV.replace("hello", greeting))
    }

    /// Creates a server through the VPC API (as a user would by hand, outside Terraform),
    /// waits until it runs and returns its id.
    fn create_outside(
        &self,
        name: &str,
        profile: &str,
        image: &str,
        zone: &str,
        ud: &str,
    ) -> String {
        let (vpc, subnet) = self.network(zone);
        let prototype = json!({
            "name": name,
            "profile": {"name": profile},
            "image": {"id": self.image_id(image)},
            "zone": {"name": zone},
            "vpc": {"id": vpc},
            "keys": [{"id": self.key_id()}],
            "primary_network_interface": {"name": "eth0", "subnet": {"id": subnet}},
            "user_data": ud,
        });
        let (status, body) = self.vpc(reqwest::Method::POST, "/instances", Some(prototype));
        assert_eq!(status, 201, "create {name}: {body}");
        let id = body["id"].as_str().expect("id").to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.get(&format!("/instances/{id}"))["status"] != "running" {
            assert!(Instant::now() < deadline, "{name} never reached running");
            std::thread::sleep(Duration::from_millis(50));
        }
        id
    }

    /// Writes a contract into this test's folder and returns its path (for `file()`).
    fn contract_file(&self, name: &str, greeting: &str, to_other_platform: bool) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, self.contract(greeting, to_other_platform)).expect("write contract");
        path
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        if let Some(mock) = self.mock.take() {
            let _ = self.rt.block_on(mock.shutdown());
        }
    }
}

/// The parts of an instance configuration a test varies.
struct Spec<'a> {
    name: &'a str,
    profile: &'a str,
    image: String,
    contract: &'a Path,
    extra: &'a str,
}

/// The `terraform` block every configuration here starts with.
const REQUIRED_PROVIDERS: &str = r#"
terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
"#;

fn config(cloud: &Cloud, s: &Spec<'_>) -> String {
    let (vpc, subnet) = cloud.network("us-south-2");
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "hyperprotect_instance" "hp" {{
  name      = "{name}"
  profile   = "{profile}"
  image     = "{image}"
  zone      = "us-south-2"
  vpc       = "{vpc}"
  subnet    = "{subnet}"
  keys      = ["{key}"]
  user_data = file("{contract}")

  contract_check_seconds = 3
{extra}
}}
"#,
        name = s.name,
        profile = s.profile,
        image = s.image,
        key = cloud.key_id(),
        contract = s.contract.display(),
        extra = s.extra,
    )
}

/// The configuration of one Hyper Protect server named `name` (smallest Secure Execution
/// profile, the Hyper Protect image, no extra arguments) running `contract`.
fn hpcr_config(cloud: &Cloud, name: &str, contract: &Path) -> String {
    config(
        cloud,
        &Spec {
            name,
            profile: "bz2e-1x4",
            image: cloud.image_id(HPCR_IMAGE),
            contract,
            extra: "",
        },
    )
}

/// The id of the (one) instance in the state of `dir`.
fn instance_id(dir: &Path) -> String {
    state_instances(dir)[0]["attributes"]["id"]
        .as_str()
        .expect("an instance id in the state")
        .to_string()
}

/// A `check_destroy`: no user tag outlived its instance.
fn no_tags_left(cloud: &Cloud) -> Result<(), String> {
    let left = cloud.tags_on(None);
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("tags outlived the instance: {left:?}"))
    }
}

/// A `check_destroy`: mock-cloud lists no instance any more.
fn no_instance_left(cloud: &Cloud) -> Result<(), String> {
    let left = cloud.instances();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("mock-cloud still lists {left:?}"))
    }
}

fn provider() -> Vec<ProviderUnderTest> {
    vec![ProviderUnderTest::hyperprotect()]
}

fn actions_are(plan: &acceptance_tests::harness::PlanJson, want: &[&str]) -> Result<(), String> {
    let got = plan.actions(I);
    if got == want {
        Ok(())
    } else {
        Err(format!("expected {want:?}, got {got:?}"))
    }
}

/// The raw state file's instance entries (`status` is "tainted" for a tainted one).
fn state_instances(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap_or_default();
    let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == "hyperprotect_instance")
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// `POST /_mock/tokens/expire` from a plain thread (no runtime needed).
fn expire_tokens(addr: &str) {
    use std::io::{Read, Write};
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.write_all(
            format!(
                "POST /_mock/tokens/expire HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        let _ = s.read_to_end(&mut Vec::new());
    }
}

/// A Terraform working directory on `cloud` with `main.tf` applied.
fn applied(cloud: &Cloud, terraform: &Terraform, cfg: &str) -> WorkDir {
    let work = WorkDir::new(terraform, &provider(), &cloud.env());
    work.write_config(cfg);
    let run = work.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(run.code, 0, "{}", run.output());
    work
}
