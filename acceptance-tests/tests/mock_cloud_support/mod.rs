//! Shared helpers for the mock-cloud integration tests: start an in-process emulator with
//! millisecond delays, get a token, and call routes with a plain reqwest client.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use acceptance_tests::mock_cloud::{Config, Delays, MockCloud, PkiMode};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub const VERSION: &str = "2025-07-01";
pub const HPCR_IMAGE: &str = "ibm-hyper-protect-container-runtime-1-0-s390x-29";
pub const UBUNTU_S390X: &str = "ibm-ubuntu-22-04-5-minimal-s390x-5";
pub const UBUNTU_AMD64: &str = "ibm-ubuntu-24-04-3-minimal-amd64-2";

pub fn fast_delays() -> Delays {
    let ms = Duration::from_millis;
    Delays {
        pending: ms(30),
        boot: ms(60),
        stop: ms(40),
        reboot: ms(40),
        delete: ms(40),
        reject_stop: ms(60),
    }
}

pub fn fast_config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir);
    c.delays = fast_delays();
    c.pki = PkiMode::Disabled;
    c
}

pub struct Mock {
    pub cloud: MockCloud,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub token: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// `errors[0].code` of a VPC error body.
    pub fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }

    pub fn target(&self) -> &str {
        self.body["errors"][0]["target"]["name"]
            .as_str()
            .unwrap_or("")
    }
}

pub async fn token(http: &reqwest::Client, url: &str, key: &str) -> reqwest::Response {
    http.post(format!("{url}/identity/token"))
        .form(&[
            ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
            ("apikey", key),
        ])
        .send()
        .await
        .expect("token request")
}

impl Mock {
    pub async fn start() -> Mock {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = fast_config(dir.path());
        Self::start_with(dir, cfg).await
    }

    pub async fn start_with(dir: tempfile::TempDir, cfg: Config) -> Mock {
        Self::start_with_key(dir, cfg, "test-key").await
    }

    /// Starts with `cfg` and gets a token for API key `key`.
    pub async fn start_with_key(dir: tempfile::TempDir, cfg: Config, key: &str) -> Mock {
        let cloud = MockCloud::start(cfg).await.expect("start mock-cloud");
        let http = reqwest::Client::new();
        let body: Value = token(&http, cloud.url(), key)
            .await
            .json()
            .await
            .expect("token json");
        let token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        Mock {
            cloud,
            dir,
            http,
            token,
        }
    }

    pub fn url(&self) -> &str {
        self.cloud.url()
    }

    /// `path` with `version`/`generation` appended.
    pub fn v1(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}/v1{path}{sep}version={VERSION}&generation=2", self.url())
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method.clone(), self.v1(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            let ct = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            req = req
                .header("content-type", ct)
                .body(serde_json::to_vec(&b).expect("json"));
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}/_mock{path}", self.url()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn image_id(&self, name: &str) -> String {
        let r = self.get(&format!("/images?name={name}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["images"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("image {name} not listed: {}", r.text))
            .to_string()
    }

    pub async fn subnet(&self, zone: &str) -> Value {
        let r = self.get(&format!("/subnets?zone.name={zone}")).await;
        r.body["subnets"][0].clone()
    }

    /// A valid InstancePrototype for `profile` + `image` in us-south-2.
    pub async fn prototype(&self, name: &str, profile: &str, image: &str) -> Value {
        let image_id = self.image_id(image).await;
        let subnet = self.subnet("us-south-2").await;
        let keys = self.get("/keys").await;
        json!({
            "name": name,
            "profile": {"name": profile},
            "image": {"id": image_id},
            "zone": {"name": "us-south-2"},
            "vpc": {"id": subnet["vpc"]["id"]},
            "keys": [{"id": keys.body["keys"][0]["id"]}],
            "primary_network_interface": {"name": "eth0", "subnet": {"id": subnet["id"]}},
            "boot_volume_attachment": {
                "delete_volume_on_instance_delete": true,
                "volume": {"profile": {"name": "general-purpose"}, "capacity": 100}
            },
            "user_data": "#cloud-config\n",
        })
    }

    /// Creates a plain amd64 instance and returns its id.
    pub async fn create_plain(&self, name: &str) -> String {
        let proto = self.prototype(name, "bx2-2x8", UBUNTU_AMD64).await;
        let r = self.post("/instances", proto).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().expect("id").to_string()
    }

    pub async fn status(&self, id: &str) -> String {
        let r = self.get(&format!("/instances/{id}")).await;
        if r.status == StatusCode::NOT_FOUND {
            return "404".into();
        }
        r.body["status"].as_str().unwrap_or("?").to_string()
    }

    /// Polls (bounded) until the instance has `want` (or "404"); returns the statuses seen.
    pub async fn wait_status(&self, id: &str, want: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut seen: Vec<String> = Vec::new();
        loop {
            let s = self.status(id).await;
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == want {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "instance {id} never reached {want}; saw {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A mock-cloud with a small (RSA-2048) platform PKI and millisecond delays, served by its
/// own runtime so synchronous tests (driving Terraform) can use it while they block. Keep
/// the runtime alive as long as the mock is needed.
pub fn start_blocking_with_small_pki() -> (
    tokio::runtime::Runtime,
    Mock,
    acceptance_tests::mock_cloud::pki::Pki,
) {
    use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let small = PkiOptions {
        ca_bits: RsaBits::Rsa2048,
        encryption_bits: RsaBits::Rsa2048,
        attestation_bits: RsaBits::Rsa2048,
    };
    let pki = Pki::load_or_create_with(dir.path(), &small).expect("small PKI");
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    let mock = rt.block_on(Mock::start_with(dir, cfg));
    (rt, mock, pki)
}
