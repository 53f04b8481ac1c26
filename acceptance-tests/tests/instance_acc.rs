//! Acceptance tests of `hyperprotect_instance` with the real Terraform CLI against
//! mock-cloud, each test on its own emulator (in this process, fresh data folder).
//! Contracts are built here with the provider's contract engine, encrypted to the
//! emulator's encryption certificate, so the emulated Hyper Protect guest really decrypts,
//! verifies and accepts (or rejects) them. Import by identity and `terraform query` (with
//! generated configuration) run on Terraform ≥ 1.12 / ≥ 1.14; older Terraform must refuse
//! those forms itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use acceptance_tests::harness::{
    acceptance_enabled, terraform_version, Import, ImportId, ProviderUnderTest, Step, Terraform,
    TestCase, WorkDir,
};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::{Config, Delays, MockCloud};
use hyperprotect::contract::document::{
    self, ContractInput, Encryption, SigningInput, WorkloadInput,
};
use hyperprotect::contract::keys;
use hyperprotect::contract::token::Platform;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;

const I: &str = "hyperprotect_instance.hp";
const HPCR_IMAGE: &str = "ibm-hyper-protect-container-runtime-1-0-s390x-29";
const UBUNTU_AMD64: &str = "ibm-ubuntu-24-04-3-minimal-amd64-2";
const API_VERSION: &str = "2025-07-01";

const WORKLOAD: &str = "type: workload\ncompose:\n  archive: H4sIAAAAAAAAA+3OMQ6CQBCF4T3KnkBmYWfX81gQG0MIgfvL2liZWEAs/L/mFfNeMuu8jEt/b+dxexqnvrMvmpltWXK2V74lt5IsVLXal1xMzaUk0RCP+OXTMs7t4X3Yr/Lq5fwfp/x1+xH7trzDfmvO87Lrzt/78TR3tgEAAAAAAAAAAADgvAfHYa7bACgAAA==\n";
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
        reject_stop: ms(500),
    }
}

/// One emulator for one test, with a tokio runtime serving it and a VPC API token.
struct Cloud {
    rt: tokio::runtime::Runtime,
    mock: Option<MockCloud>,
    dir: tempfile::TempDir,
    pki: Pki,
    http: reqwest::Client,
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
        let http = reqwest::Client::new();
        Cloud {
            rt,
            mock: Some(mock),
            dir,
            pki,
            http,
        }
    }

    fn url(&self) -> String {
        self.mock.as_ref().expect("running").url().to_string()
    }

    /// What the provider needs to reach this emulator as it would IBM Cloud.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("IC_API_KEY".into(), "test-key".into()),
            ("IC_REGION".into(), "us-south".into()),
            ("IBMCLOUD_IAM_API_ENDPOINT".into(), self.url()),
            ("IBMCLOUD_IS_NG_API_ENDPOINT".into(), self.url()),
            ("IBMCLOUD_GT_API_ENDPOINT".into(), self.url()),
        ]
    }

    /// A fresh IAM token (tests expire tokens, so none is kept).
    async fn token(&self) -> String {
        let r: Value = self
            .http
            .post(format!("{}/identity/token", self.url()))
            .form(&[
                ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
                ("apikey", "test-key"),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        r["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// A VPC API call (the test's own view of the cloud).
    fn vpc(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}/v1{path}{sep}version={API_VERSION}&generation=2",
            self.url()
        );
        self.rt.block_on(async {
            let token = self.token().await;
            let mut req = self.http.request(method, url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.expect("VPC request");
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    fn get(&self, path: &str) -> Value {
        let (status, body) = self.vpc(reqwest::Method::GET, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// A Global Tagging call (`/v3/tags...`, bearer token), as the test's own client.
    fn tagging(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v3/tags{path}", self.url());
        self.rt.block_on(async {
            let token = self.token().await;
            let mut req = self.http.request(method, url).bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.expect("tagging request");
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
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

    /// A test-control call (`/_mock/...`).
    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
        let url = format!("{}/_mock{path}", self.url());
        self.rt.block_on(async {
            let mut req = self.http.request(method, url);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send().await.expect("admin request").status().as_u16()
        })
    }

    fn image_id(&self, name: &str) -> String {
        self.get(&format!("/images?name={name}"))["images"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("image {name}"))
            .to_string()
    }

    /// (vpc id, subnet id) in `zone`.
    fn network(&self, zone: &str) -> (String, String) {
        let subnets = self.get("/subnets");
        let s = subnets["subnets"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["zone"]["name"] == zone))
            .unwrap_or_else(|| panic!("no subnet in {zone}: {subnets}"))
            .clone();
        (
            s["vpc"]["id"].as_str().unwrap().to_string(),
            s["id"].as_str().unwrap().to_string(),
        )
    }

    fn key_id(&self) -> String {
        self.get("/keys")["keys"][0]["id"]
            .as_str()
            .expect("a key")
            .to_string()
    }

    /// Every instance the emulator lists, as (id, name, status).
    fn instances(&self) -> Vec<(String, String, String)> {
        self.get("/instances")["instances"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        (
                            i["id"].as_str().unwrap_or("").to_string(),
                            i["name"].as_str().unwrap_or("").to_string(),
                            i["status"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
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
        let pem = cert.to_pem().expect("cert PEM");
        let recipient = keys::load_public_key(std::str::from_utf8(&pem).unwrap()).expect("key");
        let signing: PKey<Private> = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let env = ENV.replace("hello", greeting);
        document::build(&ContractInput {
            workload: WorkloadInput::Plaintext(WORKLOAD.into()),
            env: &env,
            signing: Some(SigningInput {
                key: &signing,
                certificate: None,
            }),
            attestation_public_key: None,
            encryption: Encryption::to(&recipient, Platform::Hpvs),
        })
        .expect("contract")
        .yaml
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

fn config(cloud: &Cloud, s: &Spec<'_>) -> String {
    let (vpc, subnet) = cloud.network("us-south-2");
    format!(
        r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}

resource "hyperprotect_instance" "hp" {{
  name      = "{name}"
  profile   = "{profile}"
  image     = "{image}"
  zone      = "us-south-2"
  vpc       = "{vpc}"
  subnet    = "{subnet}"
  keys      = ["{key}"]
  user_data = file("{contract}")

  contract_check_seconds = 1
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

#[test]
fn test_acc_instance_lifecycle() {
    if !acceptance_enabled("test_acc_instance_lifecycle") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let first = cloud.contract_file("first.yaml", "hello", false);
    let second = cloud.contract_file("second.yaml", "bonjour", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |name: &str, profile: &str, contract: &Path| {
        config(
            &cloud,
            &Spec {
                name,
                profile,
                image: hpcr.clone(),
                contract,
                extra: "",
            },
        )
    };
    let first_id = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let (id_w, id_r) = (first_id.clone(), first_id.clone());
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_lifecycle",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create", cfg("hp-one", "bz2e-1x4", &first))
                .plan_check(|p| {
                    actions_are(p, &["create"])?;
                    if !p.is_unknown_after(I, "id") {
                        return Err("id should be unknown before create".into());
                    }
                    Ok(())
                })
                .check(move |s| {
                    s.expect(I, "status", json!("running"))?;
                    s.expect(I, "secure_execution", json!(true))?;
                    s.expect(I, "vcpu", json!(1))?;
                    s.expect(I, "memory", json!(4))?;
                    s.expect(I, "confidential_compute_mode", json!("disabled"))?;
                    let ip = s.attr(I, "primary_ipv4_address").and_then(Value::as_str);
                    if !ip.is_some_and(|a| a.starts_with("10.")) {
                        return Err(format!("primary_ipv4_address {ip:?}"));
                    }
                    *id_w.borrow_mut() =
                        s.attr(I, "id").and_then(Value::as_str).unwrap_or("").into();
                    Ok(())
                }),
            Step::config("rename in place", cfg("hp-renamed", "bz2e-1x4", &first))
                .plan_check(|p| actions_are(p, &["update"]))
                .check(move |s| {
                    s.expect(I, "name", json!("hp-renamed"))?;
                    s.expect(I, "id", json!(*id_r.borrow()))
                }),
            Step::config(
                "resize by stop, update, start",
                cfg("hp-renamed", "bz2e-2x8", &first),
            )
            .plan_check(|p| actions_are(p, &["update"]))
            .check(|s| {
                s.expect(I, "profile", json!("bz2e-2x8"))?;
                s.expect(I, "vcpu", json!(2))?;
                s.expect(I, "memory", json!(8))?;
                s.expect(I, "status", json!("running"))
            }),
            Step::config(
                "a new contract replaces the server",
                cfg("hp-renamed", "bz2e-2x8", &second),
            )
            .plan_check(|p| {
                actions_are(p, &["delete", "create"])?;
                if p.replace_paths(I) != vec![json!(["user_data"])] {
                    return Err(format!("replace paths {:?}", p.replace_paths(I)));
                }
                Ok(())
            })
            .check(|s| s.expect(I, "status", json!("running"))),
            Step::import(
                "import by id",
                cfg("hp-renamed", "bz2e-2x8", &second),
                Import {
                    address: I.into(),
                    id: ImportId::FromState("id"),
                    verify: true,
                    verify_ignore: vec!["user_data", "keys", "contract_check_seconds", "timeouts"],
                },
            ),
        ],
        check_destroy: Some(Box::new(move |_| {
            let left = after.instances();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("mock-cloud still lists {left:?}"))
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_instance_rejected_contract_is_tainted_not_lost() {
    if !acceptance_enabled("test_acc_instance_rejected_contract_is_tainted_not_lost") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let bad = cloud.contract_file("bad.yaml", "hello", true);
    let good = cloud.contract_file("good.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |contract: &Path| {
        config(
            &cloud,
            &Spec {
                name: "hp-rejected",
                profile: "bz2e-1x4",
                image: hpcr.clone(),
                contract,
                extra: "",
            },
        )
    };
    let seen = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_rejected_contract_is_tainted_not_lost",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("a contract for another platform", cfg(&bad))
                .expect_error(r"(?s)rejected its contract.*HPL11001E"),
            Step::config("the tainted server is replaced", cfg(&good))
                .pre_config(move |dir| {
                    let insts = state_instances(dir);
                    assert_eq!(insts.len(), 1, "the rejected server must stay in the state");
                    assert_eq!(insts[0]["status"], json!("tainted"), "{}", insts[0]);
                    let id = insts[0]["attributes"]["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let listed = seen.instances();
                    assert!(
                        listed
                            .iter()
                            .any(|(i, _, status)| *i == id && status == "stopped"),
                        "the stopped server {id} is not the one in the state: {listed:?}"
                    );
                })
                .plan_check(|p| actions_are(p, &["delete", "create"]))
                .check(|s| s.expect(I, "status", json!("running"))),
        ],
        check_destroy: Some(Box::new(move |_| {
            let left = after.instances();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("mock-cloud still lists {left:?}"))
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_instance_profile_image_mismatch_fails_at_plan() {
    if !acceptance_enabled("test_acc_instance_profile_image_mismatch_fails_at_plan") {
        return;
    }
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let ubuntu = cloud.image_id(UBUNTU_AMD64);
    let spec = |profile, image: &String, extra| Spec {
        name: "mismatch",
        profile,
        image: image.clone(),
        contract: &contract,
        extra,
    };
    TestCase {
        name: "test_acc_instance_profile_image_mismatch_fails_at_plan",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config(
                "Hyper Protect image on an x86 profile",
                config(&cloud, &spec("bx2-2x8", &hpcr, "")),
            )
            .expect_error(r"(?s)Hyper Protect image needs a Secure Execution profile.*profile"),
            Step::config(
                "plain image on a Secure Execution profile",
                config(&cloud, &spec("bz2e-1x4", &ubuntu, "")),
            )
            .expect_error(r"(?s)Secure Execution profile needs a Hyper Protect image"),
            Step::config(
                "a mode the profile lacks",
                config(
                    &cloud,
                    &spec(
                        "bx2-2x8",
                        &ubuntu,
                        "  confidential_compute_mode = \"tdx\"\n",
                    ),
                ),
            )
            .expect_error(r"(?s)does not support confidential_compute_mode"),
            Step::config(
                "a zone of another region",
                config(&cloud, &spec("bz2e-1x4", &hpcr, ""))
                    .replace("\"us-south-2\"", "\"eu-de-1\""),
            )
            .expect_error(r"(?s)Zone not in the provider's region"),
        ],
        check_destroy: None,
    }
    .run();
    assert!(
        cloud.instances().is_empty(),
        "a failed plan created something"
    );
}

#[test]
fn test_acc_instance_converges_through_errors_and_an_expired_token() {
    if !acceptance_enabled("test_acc_instance_converges_through_errors_and_an_expired_token") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = config(
        &cloud,
        &Spec {
            name: "hp-storm",
            profile: "bz2e-1x4",
            image: hpcr,
            contract: &contract,
            extra: "",
        },
    );
    let url = cloud.url();
    let storm = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_converges_through_errors_and_an_expired_token",
        providers: provider(),
        env: cloud.env(),
        steps: vec![Step::config("create in a storm", cfg)
            .pre_config(move |_| {
                let status = storm.admin(
                    reqwest::Method::PUT,
                    "/faults",
                    Some(json!({"rate_429": 0.3, "retry_after_secs": 0, "rate_5xx": 0.2, "status_5xx": 503})),
                );
                assert_eq!(status, 200);
                // Every token issued so far stops working, again and again while Terraform
                // plans and applies.
                let addr = url.trim_start_matches("http://").to_string();
                std::thread::spawn(move || {
                    for _ in 0..8 {
                        std::thread::sleep(Duration::from_millis(700));
                        expire_tokens(&addr);
                    }
                });
            })
            .check(|s| s.expect(I, "status", json!("running")))],
        check_destroy: Some(Box::new(move |_| {
            // The storm is over; look with the test's own calls.
            assert_eq!(after.admin(reqwest::Method::DELETE, "/faults", None), 204);
            let left = after.instances();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("mock-cloud still lists {left:?}"))
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_instance_deleted_out_of_band_plans_a_create() {
    if !acceptance_enabled("test_acc_instance_deleted_out_of_band_plans_a_create") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = config(
        &cloud,
        &Spec {
            name: "hp-drift",
            profile: "bz2e-1x4",
            image: hpcr,
            contract: &contract,
            extra: "",
        },
    );
    let drift = cloud.clone();
    TestCase {
        name: "test_acc_instance_deleted_out_of_band_plans_a_create",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create", cfg.clone()),
            Step::config("deleted behind Terraform's back", cfg)
                .pre_config(move |dir| {
                    let id = state_instances(dir)[0]["attributes"]["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let status =
                        drift.admin(reqwest::Method::DELETE, &format!("/instances/{id}"), None);
                    assert_eq!(status, 204);
                })
                .plan_check(|p| actions_are(p, &["create"]))
                .check(|s| s.expect(I, "status", json!("running"))),
        ],
        check_destroy: None,
    }
    .run();
}

fn tag_set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The instance's CRN and `tags` in a state (tags as a set).
fn crn_and_tags(
    s: &acceptance_tests::harness::StateJson,
) -> Result<(String, BTreeSet<String>), String> {
    let crn = s
        .attr(I, "crn")
        .and_then(Value::as_str)
        .ok_or("no crn in the state")?
        .to_string();
    let tags = s
        .attr(I, "tags")
        .and_then(Value::as_array)
        .ok_or("no tags in the state")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    Ok((crn, tags))
}

/// Tags in the state and on the CRN in the tagging service are both `want`.
fn tags_are(
    cloud: &Cloud,
    s: &acceptance_tests::harness::StateJson,
    want: &[&str],
) -> Result<(), String> {
    let (crn, in_state) = crn_and_tags(s)?;
    let on_cloud = cloud.tags_on(Some(&crn));
    let want = tag_set(want);
    if in_state == want && on_cloud == want {
        Ok(())
    } else {
        Err(format!(
            "want tags {want:?}; state has {in_state:?}, the tagging service has {on_cloud:?}"
        ))
    }
}

#[test]
fn test_acc_instance_tags() {
    if !acceptance_enabled("test_acc_instance_tags") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |tags: &str| {
        config(
            &cloud,
            &Spec {
                name: "hp-tags",
                profile: "bz2e-1x4",
                image: hpcr.clone(),
                contract: &contract,
                extra: &format!("  tags = {tags}\n"),
            },
        )
    };
    let first = cfg(r#"["env:test", "team:a"]"#);
    let second = cfg(r#"["env:test", "team:b", "tier:web"]"#);
    let (c1, c2, c4, drift, gone) = (
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
    );
    TestCase {
        name: "test_acc_instance_tags",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create with tags", first)
                .check(move |s| tags_are(&c1, s, &["env:test", "team:a"])),
            Step::config("change tags in place", second.clone())
                .plan_check(|p| actions_are(p, &["update"]))
                .check(move |s| tags_are(&c2, s, &["env:test", "team:b", "tier:web"])),
            Step::config("a tag removed out of band", second)
                .pre_config(move |dir| {
                    let crn = state_instances(dir)[0]["attributes"]["crn"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let (status, body) = drift.tagging(
                        reqwest::Method::POST,
                        "/detach?tag_type=user",
                        Some(json!({"resources": [{"resource_id": crn}], "tag_names": ["team:b"]})),
                    );
                    assert_eq!(status, 200, "detach: {body}");
                    assert_eq!(
                        drift.tags_on(Some(&crn)),
                        tag_set(&["env:test", "tier:web"])
                    );
                })
                .plan_check(move |p| {
                    actions_are(p, &["update"])?;
                    // The refresh saw the removal: the plan puts `team:b` back.
                    let before = p
                        .change(I)
                        .and_then(|c| c.get("before"))
                        .and_then(|b| b.get("tags"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let after = p.after(I, "tags").cloned().unwrap_or(Value::Null);
                    let names = |v: &Value| -> BTreeSet<String> {
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    };
                    if names(&before) == tag_set(&["env:test", "tier:web"])
                        && names(&after) == tag_set(&["env:test", "team:b", "tier:web"])
                    {
                        Ok(())
                    } else {
                        Err(format!("planned tags {before} -> {after}"))
                    }
                })
                .check(move |s| tags_are(&c4, s, &["env:test", "team:b", "tier:web"])),
        ],
        check_destroy: Some(Box::new(move |_| {
            let left = gone.tags_on(None);
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("tags outlived the instance: {left:?}"))
            }
        })),
    }
    .run();
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

#[test]
fn test_acc_instance_delete_conflict_retries() {
    if !acceptance_enabled("test_acc_instance_delete_conflict_retries") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let mut delays = test_delays();
    // A stop long enough that the destroy starts while the server is `stopping`.
    delays.stop = Duration::from_secs(4);
    let cloud = Cloud::start(delays);
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = config(
        &cloud,
        &Spec {
            name: "hp-busy",
            profile: "bz2e-1x4",
            image: cloud.image_id(HPCR_IMAGE),
            contract: &contract,
            extra: "",
        },
    );
    let work = applied(&cloud, &terraform, &cfg);
    let id = state_instances(work.path())[0]["attributes"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = cloud.vpc(
        reqwest::Method::POST,
        &format!("/instances/{id}/actions"),
        Some(json!({"type": "stop"})),
    );
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    // While stopping, the VPC API refuses a delete (409 instance_delete_conflict).
    let (refused, _) = cloud.vpc(reqwest::Method::DELETE, &format!("/instances/{id}"), None);
    assert_eq!(refused, 409);
    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "destroy ended before the stop did: it cannot have waited out the conflict"
    );
    assert!(cloud.instances().is_empty(), "{:?}", cloud.instances());
    assert!(state_instances(work.path()).is_empty());
}

#[test]
fn test_acc_instance_import_takes_user_data_from_config() {
    if !acceptance_enabled("test_acc_instance_import_takes_user_data_from_config") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = config(
        &cloud,
        &Spec {
            name: "hp-import",
            profile: "bz2e-1x4",
            image: cloud.image_id(HPCR_IMAGE),
            contract: &contract,
            extra: "",
        },
    );
    let work = applied(&cloud, &terraform, &cfg);
    let id = state_instances(work.path())[0]["attributes"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = WorkDir::new(&terraform, &provider(), &cloud.env());
    fresh.write_config(&cfg);
    let import = fresh.terraform(&["import", "-input=false", "-no-color", I, &id]);
    assert_eq!(import.code, 0, "{}", import.output());
    let plan = fresh.terraform(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        !plan.stdout.contains("must be replaced") && !plan.stdout.contains("forces replacement"),
        "an import must not plan a replacement for unreadable user_data:\n{}",
        plan.stdout
    );
    let apply = fresh.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(apply.code, 0, "{}", apply.output());
    let again = fresh.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        again.code,
        0,
        "plan after adopting the config is not empty:\n{}",
        again.output()
    );
    assert_eq!(
        cloud.instances().len(),
        1,
        "the import must keep the same server"
    );
    let destroy = fresh.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert!(cloud.instances().is_empty());
}

/// Ctrl-C while create waits for a server that never boots: Terraform stops promptly and
/// the server's id is in the state (tainted), not lost.
#[test]
fn test_acc_instance_ctrl_c_keeps_the_id() {
    if !acceptance_enabled("test_acc_instance_ctrl_c_keeps_the_id") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = config(
        &cloud,
        &Spec {
            name: "hp-hang",
            profile: "bz2e-1x4",
            image: cloud.image_id(HPCR_IMAGE),
            contract: &contract,
            extra: "",
        },
    );
    assert_eq!(
        cloud.admin(
            reqwest::Method::PUT,
            "/faults",
            Some(json!({"hang_next_creates": 1}))
        ),
        200
    );
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let init = work.terraform(&["init", "-input=false", "-no-color"]);
    let _ = init; // dev_overrides need no init; it only warms Terraform's caches.
    let log = std::fs::File::create(work.path().join("apply.log")).unwrap();
    let mut child = work
        .command(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let id = loop {
        if let Some((id, _, _)) = cloud.instances().into_iter().next() {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "create never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Let the provider settle into its wait, then press Ctrl-C (SIGINT to the group).
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    let rc = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(rc.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if interrupted.elapsed() >= Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "Terraform did not stop within 30 s of Ctrl-C:\n{}",
                std::fs::read_to_string(work.path().join("apply.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(work.path().join("apply.log")).unwrap();
    assert!(!status.success(), "{output}");
    assert!(output.contains("Interrupted"), "{output}");
    let insts = state_instances(work.path());
    assert_eq!(insts.len(), 1, "the server must be in the state:\n{output}");
    assert_eq!(insts[0]["attributes"]["id"], json!(id));
    assert_eq!(insts[0]["status"], json!("tainted"));
    // The hung server can never be deleted through the API; clean up behind Terraform.
    assert_eq!(
        cloud.admin(reqwest::Method::DELETE, &format!("/instances/{id}"), None),
        204
    );
}

/// The raw state file's entry of `hyperprotect_instance.<name>` (identity included, which
/// `show -json` leaves out).
fn stored_instance(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap_or_default();
    let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "hyperprotect_instance" && r["name"] == name)
        .map(|r| r["instances"][0].clone())
        .unwrap_or_else(|| panic!("hyperprotect_instance.{name} not in state: {text}"))
}

fn assert_identity(dir: &Path, name: &str, id: &str) {
    let stored = stored_instance(dir, name);
    assert_eq!(
        stored["identity"],
        json!({"id": id, "region": "us-south"}),
        "{stored}"
    );
    assert_eq!(stored["identity_schema_version"], 0, "{stored}");
}

/// A server made through the VPC API is imported by identity (`import { identity = { id } }`):
/// the plan imports it without replacing it, the state holds its identity (`id`, `region`),
/// as it does for a server Terraform creates beside it; later plans are empty. Terraform
/// before 1.12 refuses the form itself.
#[test]
fn test_acc_instance_import_by_identity() {
    const NAME: &str = "test_acc_instance_import_by_identity";
    if !acceptance_enabled(NAME) {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let ud = std::fs::read_to_string(&contract).unwrap();
    let spec = Spec {
        name: "hp-by-identity",
        profile: "bz2e-1x4",
        image: cloud.image_id(HPCR_IMAGE),
        contract: &contract,
        extra: "",
    };
    let id = if version.supports_identity() {
        cloud.create_outside(spec.name, spec.profile, HPCR_IMAGE, "us-south-2", &ud)
    } else {
        "0717-not-created".to_string()
    };
    let cfg = format!(
        "{}\nimport {{\n  to       = {I}\n  identity = {{ id = \"{id}\" }}\n}}\n",
        config(&cloud, &spec)
    );
    if !version.supports_identity() {
        TestCase {
            name: NAME,
            providers: provider(),
            env: cloud.env(),
            check_destroy: None,
            steps: vec![Step::config("import by identity", cfg).expect_error(
                r#"(?s)(Blocks of type "import" are not expected here|Unsupported argument.*identity)"#,
            )],
        }
        .run();
        return;
    }
    let made = config(
        &cloud,
        &Spec {
            name: "hp-made-beside",
            ..spec
        },
    )
    .replace("\"hp\"", "\"made\"");
    // Only the resource block of the second configuration (its terraform block repeats).
    let made = &made[made.find("resource ").unwrap()..];
    let with_made = format!("{cfg}\n{made}");
    let imported_id = id.clone();
    let created_id = id.clone();
    TestCase {
        name: NAME,
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("import by identity", cfg)
                .expect_non_empty_plan()
                .plan_check(move |plan| {
                    let change = plan.change(I).ok_or("no change for the instance")?;
                    if change["importing"]["identity"]["id"] != imported_id.as_str() {
                        return Err(format!("not imported by identity: {change:?}"));
                    }
                    // user_data and keys are not read back: taken from the configuration.
                    let actions = plan.actions(I);
                    if actions.iter().any(|a| a == "create" || a == "delete") {
                        return Err(format!("the import replaces the server: {actions:?}"));
                    }
                    Ok(())
                })
                .check(|s| s.expect(I, "secure_execution", json!(true))),
            Step::config("create beside the import", with_made.clone())
                .pre_config(move |dir| assert_identity(dir, "hp", &created_id)),
            Step::config("identity of the created server", with_made).pre_config(|dir| {
                let made = stored_instance(dir, "made");
                let id = made["attributes"]["id"].as_str().expect("id");
                assert_identity(dir, "made", id);
            }),
        ],
        check_destroy: None,
    }
    .run();
    assert!(cloud.instances().is_empty(), "{:?}", cloud.instances());
}

fn query_file(body: &str) -> String {
    format!("list \"hyperprotect_instance\" \"found\" {{\n  provider = hyperprotect\n  config {{\n{body}  }}\n}}\n")
}

/// `terraform query` lists the servers made through the VPC API, filtered by name prefix,
/// zone, VPC, image family and Hyper Protect only; `-generate-config-out` writes
/// configuration and import blocks that apply as a pure import. The contract (`user_data`)
/// is not readable, so the generated configuration lacks it; adding it afterwards changes
/// the server in place, never replacing it. Terraform before 1.14 has no `query` command.
#[test]
fn test_acc_instance_query_and_generated_config() {
    const NAME: &str = "test_acc_instance_query_and_generated_config";
    if !acceptance_enabled(NAME) {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    let header = r#"terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
"#;
    work.write_config(header);
    let query = |body: &str| {
        std::fs::write(work.path().join("search.tfquery.hcl"), query_file(body)).unwrap();
        work.terraform(&["query", "-no-color"])
    };
    if !version.supports_query() {
        let run = query("    name_prefix = \"q-\"\n");
        assert_ne!(run.code, 0, "{}", run.output());
        return;
    }
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let ud = std::fs::read_to_string(&contract).unwrap();
    let one = cloud.create_outside("q-hp-one", "bz2e-1x4", HPCR_IMAGE, "us-south-2", &ud);
    let two = cloud.create_outside("q-hp-two", "bz2e-1x4", HPCR_IMAGE, "us-south-1", &ud);
    let x86 = cloud.create_outside(
        "q-x86",
        "bx2-2x8",
        UBUNTU_AMD64,
        "us-south-2",
        "#cloud-config\n",
    );
    let other = cloud.create_outside(
        "other",
        "bx2-2x8",
        UBUNTU_AMD64,
        "us-south-2",
        "#cloud-config\n",
    );
    let (vpc, _) = cloud.network("us-south-2");

    let found = |body: &str, want: &[&str]| {
        let run = query(body).expect_ok("terraform query");
        for id in [&one, &two, &x86, &other] {
            assert_eq!(
                run.stdout.contains(id.as_str()),
                want.contains(&id.as_str()),
                "{id} with filters\n{body}\n{}",
                run.output()
            );
        }
        run
    };
    let all = found("", &[&one, &two, &x86, &other]);
    assert!(all.stdout.contains("q-hp-one"), "{}", all.stdout);
    found("    name_prefix = \"q-\"\n", &[&one, &two, &x86]);
    found(
        "    name_prefix = \"q-\"\n    hyper_protect_only = true\n",
        &[&one, &two],
    );
    found(
        "    zone = \"us-south-2\"\n    hyper_protect_only = true\n",
        &[&one],
    );
    found("    image_family = \"Ubuntu Linux\"\n", &[&x86, &other]);
    found(
        "    image_family = \"hyper-protect-1-0-s390x-hpcr\"\n",
        &[&one, &two],
    );
    found(
        &format!("    vpc = \"{vpc}\"\n    name_prefix = \"q-hp\"\n"),
        &[&one, &two],
    );
    let empty = query("    name_prefix = \"\"\n");
    assert_ne!(empty.code, 0, "{}", empty.output());
    assert!(
        empty.output().contains("Empty name_prefix"),
        "{}",
        empty.output()
    );

    // Generated configuration for the two Hyper Protect servers.
    std::fs::write(
        work.path().join("search.tfquery.hcl"),
        query_file("    name_prefix = \"q-hp-\"\n"),
    )
    .unwrap();
    work.terraform(&["query", "-no-color", "-generate-config-out=generated.tf"])
        .expect_ok("terraform query -generate-config-out");
    let generated = std::fs::read_to_string(work.path().join("generated.tf")).unwrap();
    assert!(generated.contains("import {"), "{generated}");
    assert!(
        generated.contains(&one) && generated.contains(&two),
        "{generated}"
    );
    assert!(
        !generated.contains(&x86) && !generated.contains(&other),
        "{generated}"
    );
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    assert_eq!(plan.code, 0, "{}\n{generated}", plan.output());
    assert!(
        plan.stdout
            .contains("2 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}\n{generated}",
        plan.output()
    );
    work.terraform(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "tfplan",
    ])
    .expect_ok("apply of the generated configuration");
    let empty = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        empty.code,
        0,
        "plan after the import not empty:\n{}",
        empty.output()
    );

    // What the user adds: the contract. It updates the state in place; no replacement.
    // (user_data is the only sensitive argument: Terraform writes it as `null # sensitive`.)
    let with_contract = generated.replace(
        "= null # sensitive",
        &format!("= file(\"{}\")", contract.display()),
    );
    assert_ne!(
        with_contract, generated,
        "no user_data line in:\n{generated}"
    );
    std::fs::write(work.path().join("generated.tf"), &with_contract).unwrap();
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        plan.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}\n{with_contract}",
        plan.output()
    );
    work.apply_then_empty_plan_then_destroy("tfplan", || {});
    let left: Vec<String> = cloud.instances().into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&x86) && left.contains(&other),
        "unmanaged servers destroyed: {left:?}"
    );
}
