//! mock-cloud: an emulator of IBM Cloud IAM (`/identity/token`), the VPC API (`/v1/...`)
//! and a Hyper Protect guest boot, serving all of them on one local address so the
//! provider and its acceptance tests run without a cloud account.
//!
//! Start it in-process with [`MockCloud::start`] or as the `mock-cloud` binary.
//!
//! Served routes (all on one address):
//! - IAM: `POST /identity/token` (API-key grant).
//! - VPC (bearer token, `version`, `generation=2`): `/v1/regions[/{r}[/zones[/{z}]]]`,
//!   `/v1/instance/profiles[/{name}]`, `/v1/operating_systems[/{name}]`,
//!   `/v1/images[/{id}]`, `/v1/vpcs[/{id}]`, `/v1/subnets[/{id}]`, `/v1/keys[/{id}]`
//!   (GET, POST, DELETE), `/v1/instances[/{id}]` (GET, POST, PATCH, DELETE),
//!   `POST /v1/instances/{id}/actions`, `GET /v1/instances/{id}/initialization`,
//!   `POST /v1/instances/{id}/console_access_token`, and the serial console WebSocket
//!   `GET /v1/instances/{id}/console?access_token=…` (see `console.rs`).
//! - Global Tagging v3 (bearer token; see `tagging.rs`): `GET /v3/tags?attached_to=CRN`,
//!   `POST /v3/tags/attach`, `POST /v3/tags/detach` (`tag_type=user`), tags kept per CRN.
//! - Published platform certificates (no auth, never faulted; see [`published`]):
//!   `GET /s390x-{patch}/ibm-hyper-protect-container-runtime-{major}-{minor}-s390x-{patch}-{kind}.crt`.
//! - Test control (no auth, never faulted): `GET /_mock/instances/{id}/console` (text),
//!   `GET /_mock/instances/{id}/attestation` (`{"record","signature"}`, 404 if none),
//!   `DELETE /_mock/instances/{id}` (out-of-band delete), `POST /_mock/tokens/expire`,
//!   `GET|PUT|DELETE /_mock/faults` (JSON [`Faults`]; PUT replaces all),
//!   `GET|DELETE /_mock/requests` (IAM and VPC requests served, by route; see [`counters`]).
//!
//! - KVM host (separate listener, `--libvirt-listen`; see [`libvirt`]): libvirt's remote
//!   RPC protocol at `qemu+tcp://ADDR/system`, an IBM Z host with Secure Execution.
//!
//! State lives in `data_dir/state.json` (see [`state`]); statuses follow timelines computed
//! from the clock (see [`lifecycle`]).

pub mod catalog;
pub mod counters;
pub mod error;
pub mod faults;
pub mod hpcr;
pub mod ids;
pub mod libvirt;
pub mod lifecycle;
pub mod pki;
pub mod published;
pub mod state;

mod admin;
mod console;
mod http;
mod iam;
mod instances;
mod tagging;
mod vpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use openssl::pkey::{PKey, Private};

pub use faults::Faults;
pub use lifecycle::Delays;

use faults::FaultState;
use pki::Pki;
use state::{State, Store, StoreError};

/// Whether the Hyper Protect platform PKI is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkiMode {
    /// `Pki::load_or_create(data_dir)`; failing to load it fails the start.
    LoadOrCreate,
    /// No PKI: Hyper Protect guests boot without evaluating their contract (the console
    /// says so). For tests of the plain IaaS routes.
    Disabled,
}

/// How to run the emulator.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// State directory (`state.json`, `pki/`); reused across restarts.
    pub data_dir: PathBuf,
    /// Only this API key is accepted when set; otherwise any non-empty key is.
    pub api_key: Option<String>,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    pub delays: Delays,
    /// Faults active from the start.
    pub faults: Faults,
    pub pki: PkiMode,
    /// One stderr line per request (method, path, status, duration).
    pub access_log: bool,
    /// Test wiretap: every access and refresh token IAM issues is appended here, one per
    /// line, so a test can search logs for the exact tokens its provider received.
    pub issued_tokens_file: Option<PathBuf>,
}

impl Config {
    /// Defaults: 127.0.0.1, free port, any API key, 1 h tokens, default delays, no faults,
    /// PKI loaded from `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            api_key: None,
            token_lifetime: Duration::from_secs(3600),
            delays: Delays::default(),
            faults: Faults::default(),
            pki: PkiMode::LoadOrCreate,
            access_log: false,
            issued_tokens_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("loading the platform PKI from {dir}: {source}")]
    Pki {
        dir: PathBuf,
        #[source]
        source: pki::PkiError,
    },
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("token signing key from state: {0}")]
    TokenKey(String),
    #[error("generating a random secret: {0}")]
    Random(#[source] openssl::error::ErrorStack),
}

/// Shared by all handlers.
pub(crate) struct App {
    pub store: Store,
    pub delays: Delays,
    pub api_key: Option<String>,
    pub token_lifetime: Duration,
    pub faults: Mutex<FaultState>,
    pub pki: Option<Pki>,
    /// Certificates served for download in IBM's layout.
    pub published: published::Published,
    /// `http://<addr>`: the base of every `href`.
    pub base: String,
    pub token_key: PKey<Private>,
    pub access_log: bool,
    pub issued_tokens_file: Option<PathBuf>,
    pub consoles: console::ConsoleTokens,
    pub requests: counters::RequestCounters,
    pub tag_visibility: tagging::TagVisibility,
}

impl App {
    /// Loads or seeds the state and the PKI in `config.data_dir`; `base` prefixes every `href`.
    async fn open(config: Config, base: String) -> Result<Arc<App>, StartError> {
        let mut secret = [0u8; 32];
        openssl::rand::rand_bytes(&mut secret).map_err(StartError::Random)?;
        let data_dir = config.data_dir.clone();
        let store = tokio::task::spawn_blocking(move || {
            Store::open(&data_dir, || vpc::seed(State::empty(hex::encode(secret))))
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))??;

        let pki = match config.pki {
            PkiMode::Disabled => None,
            PkiMode::LoadOrCreate => {
                let dir = config.data_dir.clone();
                let loaded = tokio::task::spawn_blocking(move || Pki::load_or_create(&dir))
                    .await
                    .map_err(|e| StoreError::Join(e.to_string()))?;
                Some(loaded.map_err(|source| StartError::Pki {
                    dir: config.data_dir.clone(),
                    source,
                })?)
            }
        };

        let published = {
            let dir = config.data_dir.clone();
            let for_pki = pki.clone();
            tokio::task::spawn_blocking(move || {
                published::Published::load_or_create(&dir, for_pki.as_ref())
            })
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
            .map_err(|source| StartError::Pki {
                dir: config.data_dir.clone(),
                source,
            })?
        };

        let token_key = {
            let st = store.read();
            let raw = hex::decode(&st.token_secret)
                .map_err(|e| StartError::TokenKey(format!("token_secret is not hex: {e}")))?;
            PKey::hmac(&raw).map_err(|e| StartError::TokenKey(e.to_string()))?
        };

        Ok(Arc::new(App {
            store,
            delays: config.delays,
            api_key: config.api_key,
            token_lifetime: config.token_lifetime,
            faults: Mutex::new(FaultState::new(config.faults)),
            pki,
            published,
            base,
            token_key,
            access_log: config.access_log,
            issued_tokens_file: config.issued_tokens_file,
            consoles: console::ConsoleTokens::default(),
            requests: counters::RequestCounters::default(),
            tag_visibility: tagging::TagVisibility::default(),
        }))
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running emulator. Dropping it stops the server (without waiting).
pub struct MockCloud {
    url: String,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl MockCloud {
    /// Loads or seeds the state in `config.data_dir`, binds, and serves in the background.
    pub async fn start(config: Config) -> Result<MockCloud, StartError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let base = format!("http://{addr}");
        let app = App::open(config, base.clone()).await?;
        let router = router(app);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "mock-cloud listening");
        Ok(MockCloud {
            url: base,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`: IAM is at `<url>/identity/token`, VPC at `<url>/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, finishes in-flight requests and waits for the server.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

/// The emulator's routes without a listener, for driving it in-process one request at a time
/// (`tower::ServiceExt::oneshot`), as its fuzz target does. Hrefs start with
/// `http://mock-cloud.invalid`; `config.listen` is not used.
pub async fn in_process(config: Config) -> Result<Router, StartError> {
    Ok(router(
        App::open(config, "http://mock-cloud.invalid".into()).await?,
    ))
}

impl Drop for MockCloud {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(app: Arc<App>) -> Router {
    use axum::middleware::from_fn_with_state;

    let v1 = Router::new()
        .route("/regions", get(vpc::list_regions))
        .route("/regions/{region}", get(vpc::get_region))
        .route("/regions/{region}/zones", get(vpc::list_zones))
        .route("/regions/{region}/zones/{zone}", get(vpc::get_zone))
        .route("/instance/profiles", get(vpc::list_profiles))
        .route("/instance/profiles/{name}", get(vpc::get_profile))
        .route("/operating_systems", get(vpc::list_operating_systems))
        .route("/operating_systems/{name}", get(vpc::get_operating_system))
        .route("/images", get(vpc::list_images))
        .route("/images/{id}", get(vpc::get_image))
        .route("/vpcs", get(vpc::list_vpcs).post(vpc::create_vpc))
        .route("/vpcs/{id}", get(vpc::get_vpc).delete(vpc::delete_vpc))
        .route("/subnets", get(vpc::list_subnets).post(vpc::create_subnet))
        .route(
            "/subnets/{id}",
            get(vpc::get_subnet).delete(vpc::delete_subnet),
        )
        .route("/keys", get(vpc::list_keys).post(vpc::create_key))
        .route("/keys/{id}", get(vpc::get_key).delete(vpc::delete_key))
        .route("/instances", get(instances::list).post(instances::create))
        .route(
            "/instances/{id}",
            get(instances::get)
                .patch(instances::update)
                .delete(instances::delete),
        )
        .route("/instances/{id}/actions", post(instances::action))
        .route(
            "/instances/{id}/initialization",
            get(instances::initialization),
        )
        .route(
            "/instances/{id}/console_access_token",
            post(console::create_token),
        )
        .route_layer(from_fn_with_state(app.clone(), http::v1_guard));

    let api = Router::new()
        .nest("/v1", v1)
        .route("/identity/token", post(iam::token))
        .route("/v3/tags", get(tagging::list))
        .route("/v3/tags/attach", post(tagging::attach))
        .route("/v3/tags/detach", post(tagging::detach))
        .route("/v3/resources/search", post(tagging::search))
        // Authenticated by its access_token, not a bearer token, so outside the `/v1` guard.
        .route("/v1/instances/{id}/console", get(console::open))
        .layer(from_fn_with_state(app.clone(), http::fault_layer));

    let admin = Router::new()
        .route(
            "/_mock/instances/{id}",
            axum::routing::delete(admin::drift_delete),
        )
        .route("/_mock/instances/{id}/console", get(admin::console))
        .route("/_mock/instances/{id}/attestation", get(admin::attestation))
        .route("/_mock/tokens/expire", post(admin::expire_tokens))
        .route(
            "/_mock/requests",
            get(admin::get_requests).delete(admin::clear_requests),
        )
        .route(
            "/_mock/faults",
            get(admin::get_faults)
                .put(admin::put_faults)
                .delete(admin::clear_faults),
        );

    let downloads = Router::new().route("/s390x-{patch}/{file}", get(published::certificate));

    Router::new()
        .merge(api)
        .merge(admin)
        .merge(downloads)
        .method_not_allowed_fallback(http::method_not_allowed)
        .fallback(http::invalid_route)
        .layer(from_fn_with_state(app.clone(), http::request_meta))
        .with_state(app)
}
