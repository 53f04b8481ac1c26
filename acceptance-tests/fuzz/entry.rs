//! The body of mock-cloud's fuzz target, shared by the cargo-fuzz binary
//! (`fuzz_targets/mock_cloud_request.rs`) and `acceptance-tests/tests/fuzz_seeds.rs`, which
//! replays the committed seeds in the ordinary `cargo test` run without libFuzzer.
//!
//! One emulator (state and a 2048-bit PKI in a temporary folder, tmpfs when there is one) serves every
//! input in-process through its axum router, one request at a time. Input layout:
//!
//! ```text
//! <flags byte><METHOD> <request target>\n<body>
//! ```
//!
//! Flags: bit 0 attaches a valid IAM bearer token (issued by the emulator itself at start);
//! bits 1–2 pick the content type (JSON, form, none, text). The method, path, query and body
//! are arbitrary. Oracles: no panic; never a 5xx; a JSON response body parses. Inputs for
//! the two control routes that change the emulator itself (`/_mock/faults`, which injects
//! 5xx by design, and `/_mock/tokens/expire`, which would revoke the fuzzer's token) are
//! skipped; every other route, including the rest of `/_mock/`, is fuzzed.
#![allow(dead_code)] // the fuzz binary and the seed test each use part of it

use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::{self, Config, PkiMode};
use axum::body::Body;
use axum::http::{header, Method, Request, Uri};
use axum::Router;
use std::time::Duration;
use tower::ServiceExt;

/// Largest response body read back (mock-cloud pages are far smaller).
const MAX_RESPONSE: usize = 64 << 20;

/// Content types bits 1–2 of the flags byte choose from (`None`: no header).
const CONTENT_TYPES: [Option<&str>; 4] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    None,
    Some("text/plain"),
];

/// An in-process emulator with a token of its own.
pub struct Emulator {
    runtime: tokio::runtime::Runtime,
    router: Router,
    bearer: String,
    _dir: tempfile::TempDir,
}

impl Emulator {
    /// Seeds a fresh emulator (state + PKI) and obtains an IAM token from it.
    pub fn new() -> Emulator {
        let dir = tempfile::Builder::new()
            .prefix("mock-cloud-fuzz-")
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary folder");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        // Generated up front with 2048-bit keys (the emulator's default, 4096, takes most of a
        // minute in a debug build); `in_process` then loads it.
        let small = PkiOptions {
            ca_bits: RsaBits::Rsa2048,
            encryption_bits: RsaBits::Rsa2048,
            attestation_bits: RsaBits::Rsa2048,
        };
        Pki::load_or_create_with(dir.path(), &small).expect("a PKI for the emulator");
        let mut config = Config::new(dir.path());
        config.pki = PkiMode::LoadOrCreate;
        config.token_lifetime = Duration::from_secs(10 * 365 * 86_400);
        let router = runtime
            .block_on(mock_cloud::in_process(config))
            .expect("mock-cloud starts");
        let mut emulator = Emulator {
            runtime,
            router,
            bearer: String::new(),
            _dir: dir,
        };
        let grant = b"\x02POST /identity/token\ngrant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=fuzz";
        let (status, body) = emulator.send(grant).expect("a well-formed token request");
        assert!(status.is_success(), "IAM token request: {status}");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("IAM answers JSON");
        let token = json["access_token"].as_str().expect("an access token");
        emulator.bearer = format!("Bearer {token}");
        emulator
    }

    /// The fuzz target body: sends one request and checks the response. Returns whether it
    /// succeeded (2xx); `false` also for inputs that are not a request or are skipped.
    pub fn request(&self, data: &[u8]) -> bool {
        let Some((status, body)) = self.send(data) else {
            return false;
        };
        assert!(
            !status.is_server_error(),
            "{status} for {:?}: {}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&body)
        );
        status.is_success()
    }

    /// Builds the request `data` describes and returns the response status and body; `None`
    /// when `data` is not a request the HTTP layer would deliver, or is skipped.
    fn send(&self, data: &[u8]) -> Option<(axum::http::StatusCode, Vec<u8>)> {
        let (&flags, rest) = data.split_first()?;
        let (line, body) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        let (method, target) = std::str::from_utf8(line).ok()?.split_once(' ')?;
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        let uri: Uri = target.parse().ok()?;
        if ["/_mock/faults", "/_mock/tokens"]
            .iter()
            .any(|p| uri.path().starts_with(p))
        {
            return None;
        }
        let mut request = Request::builder().method(method).uri(uri);
        if flags & 1 != 0 {
            request = request.header(header::AUTHORIZATION, &self.bearer);
        }
        if let Some(ct) = CONTENT_TYPES[usize::from(flags >> 1) & 3] {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let request = request.body(Body::from(body.to_vec())).ok()?;

        let (status, content_type, bytes) = self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = axum::body::to_bytes(response.into_body(), MAX_RESPONSE)
                .await
                .expect("the response body is readable");
            (status, content_type, bytes)
        });
        if content_type.is_some_and(|ct| ct.starts_with("application/json")) {
            assert!(
                serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
                "{status} with a JSON content type but no JSON body for {:?}",
                String::from_utf8_lossy(data)
            );
        }
        Some((status, bytes.to_vec()))
    }
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}
