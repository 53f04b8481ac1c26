//! The tests' own view of a cloud: a small blocking client of IAM, the VPC API, Global
//! Tagging and mock-cloud's admin routes (`/_mock/`), so tests check what the provider did
//! without going through the provider. Blocking on its own runtime, so test code reads top to
//! bottom; call it from test threads, not from async code.

use reqwest::Method;
use serde_json::Value;

/// The VPC API `version` the tests send.
pub const API_VERSION: &str = "2025-07-01";
/// The API key every test uses (mock-cloud accepts any).
pub const TEST_API_KEY: &str = "test-key";

pub struct CloudApi {
    base: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl CloudApi {
    /// A client of the cloud at `base` (`http://127.0.0.1:port`).
    pub fn new(base: impl Into<String>) -> CloudApi {
        CloudApi {
            base: base.into(),
            http: reqwest::Client::new(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for the test's cloud client"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// What the provider needs to reach this cloud as it would IBM Cloud: the API key, the
    /// region and every endpoint (IAM, VPC, Global Tagging) pointed here.
    pub fn provider_env(&self) -> Vec<(String, String)> {
        vec![
            ("IC_API_KEY".into(), TEST_API_KEY.into()),
            ("IC_REGION".into(), "us-south".into()),
            ("IBMCLOUD_IAM_API_ENDPOINT".into(), self.base.clone()),
            ("IBMCLOUD_IS_NG_API_ENDPOINT".into(), self.base.clone()),
            ("IBMCLOUD_GT_API_ENDPOINT".into(), self.base.clone()),
        ]
    }

    /// A fresh IAM token (tests expire tokens, so none is kept).
    pub fn token(&self) -> String {
        self.rt.block_on(self.fetch_token())
    }

    async fn fetch_token(&self) -> String {
        let r: Value = self
            .http
            .post(format!("{}/identity/token", self.base))
            .form(&[
                ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
                ("apikey", TEST_API_KEY),
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

    /// One call with `method` to `url`: bearer token (unless `admin`), JSON body, and the
    /// answer's status and JSON (`Null` when it has none).
    fn call(&self, method: Method, url: String, body: Option<Value>, admin: bool) -> (u16, Value) {
        self.rt.block_on(async {
            let mut req = self.http.request(method, url);
            if !admin {
                req = req.bearer_auth(self.fetch_token().await);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.expect("request to the cloud");
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    /// A VPC API call (`/v1{path}`, with `version` and `generation=2`).
    pub fn vpc(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}/v1{path}{sep}version={API_VERSION}&generation=2",
            self.base
        );
        self.call(method, url, body, false)
    }

    /// A VPC `GET` that must answer 200.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.vpc(Method::GET, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// A Global Tagging call (`/v3/tags{path}`).
    pub fn tagging(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/v3/tags{path}", self.base);
        self.call(method, url, body, false)
    }

    /// A mock-cloud test-control call (`/_mock{path}`, no token).
    pub fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/_mock{path}", self.base);
        self.call(method, url, body, true)
    }

    /// The id of the image named `name`.
    pub fn image_id(&self, name: &str) -> String {
        self.get(&format!("/images?name={name}"))["images"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("image {name}"))
            .to_string()
    }

    /// (vpc id, subnet id) of the first subnet in `zone`.
    pub fn network(&self, zone: &str) -> (String, String) {
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

    /// Every instance the cloud lists, as (id, name, status), all pages.
    pub fn instances(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut path = "/instances?limit=100".to_string();
        loop {
            let page = self.get(&path);
            for i in page["instances"].as_array().into_iter().flatten() {
                let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
                out.push((s("id"), s("name"), s("status")));
            }
            // `next.href` is absolute: keep only its `start` token.
            match page["next"]["href"]
                .as_str()
                .and_then(|h| h.split_once('?'))
            {
                Some((_, q)) => {
                    let start = q
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("start="))
                        .unwrap_or("");
                    path = format!("/instances?limit=100&start={start}");
                }
                None => return out,
            }
        }
    }
}
