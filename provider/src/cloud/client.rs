//! The VPC API client: settings, the request path every call takes (bearer token,
//! `version` + `generation=2`, retries, a token refresh on 401 (bounded), error decoding) and
//! paging through `next` links.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use super::backoff::PollBackoff;
use super::error::{ApiError, Error};
use super::http::into_attempt;
use super::iam::{FetchToken, IamFetcher, TokenCache};
use super::pace::Paces;
use super::retry::{with_retries, RawResponse, RetryPolicy};

/// The VPC API `version` date the client sends unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "2025-12-16";
/// IBM's public IAM endpoint.
pub const DEFAULT_IAM_ENDPOINT: &str = "https://iam.cloud.ibm.com";
/// IBM's public Global Tagging endpoint (user tags of any resource, by CRN).
pub const DEFAULT_TAGGING_ENDPOINT: &str = "https://tags.global-search-tagging.cloud.ibm.com";
/// How long a wait lasts when the caller set no deadline (the resources' default timeout).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30 * 60);

/// IBM's public VPC endpoint of a region.
pub fn public_vpc_endpoint(region: &str) -> String {
    format!("https://{region}.iaas.cloud.ibm.com")
}

/// How many new IAM tokens one call may fetch after 401 answers before it gives up.
const MAX_TOKEN_REFRESHES_PER_CALL: u32 = 3;

/// What a [`Client`] needs. `Debug` hides the API key.
#[derive(Clone)]
pub struct ClientConfig {
    pub api_key: String,
    /// IAM base (`https://iam.cloud.ibm.com`) or the full `…/identity/token` URL.
    pub iam_endpoint: String,
    /// VPC base (`https://us-south.iaas.cloud.ibm.com`), with or without `/v1`.
    pub vpc_endpoint: String,
    /// Global Tagging base (`https://tags.global-search-tagging.cloud.ibm.com`).
    pub tagging_endpoint: String,
    pub region: String,
    /// VPC `version` query parameter (`YYYY-MM-DD`).
    pub api_version: String,
    pub retry: RetryPolicy,
    pub poll: PollBackoff,
    /// Per-request timeout (one attempt).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_key", &"<sensitive>")
            .field("iam_endpoint", &self.iam_endpoint)
            .field("vpc_endpoint", &self.vpc_endpoint)
            .field("tagging_endpoint", &self.tagging_endpoint)
            .field("region", &self.region)
            .field("api_version", &self.api_version)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientConfig {
    /// Public IBM endpoints for `region`, default version and policies.
    pub fn new(api_key: impl Into<String>, region: impl Into<String>) -> ClientConfig {
        let region = region.into();
        ClientConfig {
            api_key: api_key.into(),
            iam_endpoint: DEFAULT_IAM_ENDPOINT.into(),
            vpc_endpoint: public_vpc_endpoint(&region),
            tagging_endpoint: DEFAULT_TAGGING_ENDPOINT.into(),
            region,
            api_version: DEFAULT_API_VERSION.into(),
            retry: RetryPolicy::default(),
            poll: PollBackoff::default(),
            request_timeout: Duration::from_secs(60),
        }
    }
}

fn with_scheme(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    }
}

/// `https://x` → `https://x/v1` (unchanged if it already ends in `/v1`).
pub fn vpc_base(endpoint: &str) -> String {
    let base = with_scheme(endpoint);
    if base.ends_with("/v1") {
        base
    } else {
        format!("{base}/v1")
    }
}

/// `https://iam.cloud.ibm.com` → `https://iam.cloud.ibm.com/identity/token`.
pub fn iam_token_url(endpoint: &str) -> String {
    let base = with_scheme(endpoint);
    if base.ends_with("/identity/token") {
        base
    } else {
        format!("{base}/identity/token")
    }
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    /// `…/v1`.
    pub vpc: String,
    /// The Global Tagging base, without a trailing `/`.
    pub tagging: String,
    pub region: String,
    pub version: String,
    pub retry: RetryPolicy,
    pub poll: PollBackoff,
    /// Poll timing learned by this client's waits, shared by its clones.
    pub paces: Paces,
    pub tokens: TokenCache,
}

/// A VPC API client. Cheap to clone; clones share the HTTP connection pool and the IAM
/// token. [`Client::with_timeout`] gives a clone whose calls, retries and waits end at a
/// deadline (an operation's Terraform timeout).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) deadline: Option<Instant>,
}

/// A request body.
pub(crate) enum Body {
    None,
    Json(Vec<u8>),
    MergePatch(Vec<u8>),
}

/// Which IBM Cloud API a request goes to: the base URL and the query every call carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// `…/v1`, with `version` and `generation=2`.
    Vpc,
    /// The Global Tagging API (paths start with `/v3`), no extra query.
    Tagging,
}

impl Client {
    /// Builds a client (no network access until the first call).
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        if config.api_key.trim().is_empty() {
            return Err(Error::Config("the IBM Cloud API key is empty".into()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "terraform-provider-hyperprotect/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        let parts = config_parts(&config);
        let fetcher = IamFetcher {
            http: http.clone(),
            url: iam_token_url(&config.iam_endpoint),
            api_key: config.api_key,
            retry: config.retry.clone(),
        };
        Ok(Client::with_token_source(parts, http, Box::new(fetcher)))
    }

    fn with_token_source(
        parts: Parts,
        http: reqwest::Client,
        fetcher: Box<dyn FetchToken>,
    ) -> Client {
        Client {
            inner: Arc::new(Inner {
                http,
                vpc: parts.vpc,
                tagging: parts.tagging,
                region: parts.region,
                version: parts.version,
                retry: parts.retry,
                poll: parts.poll,
                paces: Paces::default(),
                tokens: TokenCache::new(fetcher),
            }),
            deadline: None,
        }
    }

    /// A clone whose calls and waits end `timeout` from now.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        self.with_deadline(Instant::now() + timeout)
    }

    /// A clone whose calls and waits end at `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Client {
        Client {
            inner: self.inner.clone(),
            deadline: Some(deadline),
        }
    }

    /// The deadline of this clone, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The configured region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The VPC `version` date sent with every call.
    pub fn api_version(&self) -> &str {
        &self.inner.version
    }

    /// `…/v1`, the VPC base URL.
    pub fn vpc_base(&self) -> &str {
        &self.inner.vpc
    }

    /// IAM tokens fetched so far by this client and its clones.
    pub fn token_fetches(&self) -> u64 {
        self.inner.tokens.fetch_count()
    }

    pub(crate) fn wait_deadline(&self) -> Instant {
        self.deadline
            .unwrap_or_else(|| Instant::now() + DEFAULT_WAIT)
    }

    /// One VPC call: `path` is below `/v1` (e.g. `/instances`). Returns status and body of
    /// a 2xx answer; any other final answer is an [`Error::Api`].
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<RawResponse, Error> {
        self.call_service(Service::Vpc, method, path, query, body)
            .await
    }

    /// One call to `service` (same token, retries, 401 refresh and error decoding as
    /// every VPC call).
    pub(crate) async fn call_service(
        &self,
        service: Service,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
    ) -> Result<RawResponse, Error> {
        let label = format!("{method} {path}");
        let (base, fixed): (&str, &[(&str, &str)]) = match service {
            Service::Vpc => (
                &self.inner.vpc,
                &[
                    ("version", self.inner.version.as_str()),
                    ("generation", "2"),
                ],
            ),
            Service::Tagging => (&self.inner.tagging, &[]),
        };
        let url = format!("{base}{path}");
        // Safe to repeat after a lost answer: everything but POST (creates and actions).
        let idempotent = method != reqwest::Method::POST;
        // A 401 means the token was revoked or expired early: fetch a new one and try again.
        // More than once, because a call that spends seconds retrying 429s can outlive a new
        // token too; bounded, because a token the API never accepts must end the call.
        let mut refreshes = 0;
        loop {
            let token = self.inner.tokens.bearer(self.deadline).await?;
            let resp = with_retries(&self.inner.retry, self.deadline, &label, || {
                let mut req = self
                    .inner
                    .http
                    .request(method.clone(), &url)
                    .query(fixed)
                    .query(query)
                    .bearer_auth(&*token)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header("X-Request-Id", request_id());
                req = match &body {
                    Body::None => req,
                    Body::Json(b) => req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone()),
                    Body::MergePatch(b) => req
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/merge-patch+json",
                        )
                        .body(b.clone()),
                };
                async move { into_attempt(req.send().await, idempotent).await }
            })
            .await
            .map_err(|message| Error::Transport {
                request: label.clone(),
                message,
            })?;
            match resp.status {
                200..=299 => return Ok(resp),
                401 if refreshes < MAX_TOKEN_REFRESHES_PER_CALL => {
                    tracing::debug!(request = %label, "401: refreshing the IAM token");
                    self.inner.tokens.invalidate(&token);
                    refreshes += 1;
                }
                status => {
                    let e = ApiError::from_body(label, status, &resp.body);
                    tracing::debug!(error = %e, "VPC API error");
                    return Err(Error::Api(e));
                }
            }
        }
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, Error> {
        let resp = self
            .call(reqwest::Method::GET, path, query, Body::None)
            .await?;
        decode(&format!("GET {path}"), &resp.body)
    }

    pub(crate) async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let label = format!("{method} {path}");
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Decode {
            request: label.clone(),
            message: format!("encoding the request: {e}"),
        })?;
        let body = if method == reqwest::Method::PATCH {
            Body::MergePatch(bytes)
        } else {
            Body::Json(bytes)
        };
        let resp = self.call(method, path, &[], body).await?;
        decode(&label, &resp.body)
    }

    /// Every item of a paginated collection (`key` is e.g. `instances`), following `next`
    /// to the end, 100 per page.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, Error> {
        collect_pages(&format!("GET {path}"), key, |start| async move {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", "100"));
            if let Some(s) = &start {
                q.push(("start", s.as_str()));
            }
            let resp = self
                .call(reqwest::Method::GET, path, &q, Body::None)
                .await?;
            decode::<serde_json::Value>(&format!("GET {path}"), &resp.body)
        })
        .await
    }
}

struct Parts {
    vpc: String,
    tagging: String,
    region: String,
    version: String,
    retry: RetryPolicy,
    poll: PollBackoff,
}

fn config_parts(c: &ClientConfig) -> Parts {
    Parts {
        vpc: vpc_base(&c.vpc_endpoint),
        tagging: with_scheme(&c.tagging_endpoint),
        region: c.region.clone(),
        version: c.api_version.clone(),
        retry: c.retry.clone(),
        poll: c.poll.clone(),
    }
}

fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = openssl::rand::rand_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn decode<T: DeserializeOwned>(label: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        request: label.to_string(),
        message: e.to_string(),
    })
}

/// Pages through a collection: `fetch(start)` returns one page as JSON; items are under
/// `key`; the `start` of the next page is taken from `next.href` until there is none.
pub(crate) async fn collect_pages<T, F, Fut>(
    label: &str,
    key: &str,
    mut fetch: F,
) -> Result<Vec<T>, Error>
where
    T: DeserializeOwned,
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, Error>>,
{
    let mut items = Vec::new();
    let mut start: Option<String> = None;
    // A server that keeps answering the same `next` would otherwise loop forever.
    let mut seen = std::collections::HashSet::new();
    loop {
        let mut page = fetch(start.take()).await?;
        let batch: Vec<T> = take_items(&mut page, key, label)?;
        items.extend(batch);
        let next = page
            .get("next")
            .and_then(|n| n.get("href"))
            .and_then(serde_json::Value::as_str);
        let Some(href) = next else {
            return Ok(items);
        };
        let token = start_param(href).ok_or_else(|| Error::Decode {
            request: label.to_string(),
            message: format!("`next.href` has no `start` parameter: {href}"),
        })?;
        if !seen.insert(token.clone()) {
            return Err(Error::Decode {
                request: label.to_string(),
                message: format!("`next.href` repeats the start token {token}"),
            });
        }
        start = Some(token);
    }
}

/// Takes the array under `key` of a collection answer (absent or null: empty).
pub(crate) fn take_items<T: DeserializeOwned>(
    page: &mut serde_json::Value,
    key: &str,
    label: &str,
) -> Result<Vec<T>, Error> {
    match page.get_mut(key).map(serde_json::Value::take) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(list) => serde_json::from_value(list).map_err(|e| Error::Decode {
            request: label.to_string(),
            message: format!("`{key}`: {e}"),
        }),
    }
}

/// The `start` query value of a `next.href`, percent-decoded.
fn start_param(href: &str) -> Option<String> {
    let query = href.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "start")
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;

    #[test]
    fn endpoints_normalise() {
        assert_eq!(
            vpc_base("us-south.iaas.cloud.ibm.com"),
            "https://us-south.iaas.cloud.ibm.com/v1"
        );
        assert_eq!(
            vpc_base("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(vpc_base("https://x/v1"), "https://x/v1");
        assert_eq!(
            iam_token_url("https://iam.cloud.ibm.com"),
            "https://iam.cloud.ibm.com/identity/token"
        );
        assert_eq!(
            iam_token_url("http://h:1/identity/token"),
            "http://h:1/identity/token"
        );
    }

    #[test]
    fn start_tokens_come_from_next_hrefs() {
        assert_eq!(
            start_param("https://x/v1/instances?limit=50&start=abc%2Fd&version=1").as_deref(),
            Some("abc/d")
        );
        assert_eq!(start_param("https://x/v1/instances?limit=50"), None);
    }

    #[tokio::test]
    async fn paging_follows_next_to_the_end() {
        let asked = Mutex::new(Vec::new());
        let pages = |start: Option<String>| {
            asked.lock().unwrap().push(start.clone());
            let page = match start.as_deref() {
                None => {
                    json!({"limit": 2, "total_count": 5, "vpcs": [1, 2], "next": {"href": "http://h/v1/vpcs?start=p2&limit=2"}})
                }
                Some("p2") => {
                    json!({"limit": 2, "vpcs": [3, 4], "next": {"href": "http://h/v1/vpcs?limit=2&start=p3"}})
                }
                Some("p3") => {
                    json!({"limit": 2, "vpcs": [5], "first": {"href": "http://h/v1/vpcs?limit=2"}})
                }
                Some(other) => panic!("unexpected start {other}"),
            };
            async move { Ok(page) }
        };
        let all: Vec<u32> = collect_pages("GET /vpcs", "vpcs", pages).await.unwrap();
        assert_eq!(all, [1, 2, 3, 4, 5]);
        assert_eq!(
            *asked.lock().unwrap(),
            [None, Some("p2".to_string()), Some("p3".to_string())]
        );
    }

    #[tokio::test]
    async fn paging_refuses_a_loop_and_a_bad_next() {
        let looping = |_start: Option<String>| async {
            Ok(json!({"vpcs": [1], "next": {"href": "http://h/v1/vpcs?start=same"}}))
        };
        let e = collect_pages::<u32, _, _>("GET /vpcs", "vpcs", looping)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("repeats the start token"), "{e}");
        let no_start = |_start: Option<String>| async {
            Ok(json!({"vpcs": [], "next": {"href": "http://h/v1/vpcs?limit=1"}}))
        };
        let e = collect_pages::<u32, _, _>("GET /vpcs", "vpcs", no_start)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no `start` parameter"), "{e}");
    }
}
