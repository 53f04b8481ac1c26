//! Serving a provider the way Terraform expects a go-plugin plugin to behave: launch checks,
//! a unix socket (or TCP), AutoMTLS, the one-line handshake on stdout, the gRPC services, and
//! the shutdown paths (`GRPCController.Shutdown`, SIGTERM; SIGINT is ignored because Terraform
//! sends `StopProvider` for Ctrl-C). `--debug` serves plaintext for `TF_REATTACH_PROVIDERS`.
//!
//! [`serve`] is the whole process in one call. Underneath, [`prepare`] does everything the
//! handshake line needs (synchronously, before any async runtime exists, which keeps start-up
//! short), [`Prepared::announce`] writes the line, and [`Prepared::serve`] runs gRPC until
//! shutdown. [`run`] chains those three without process concerns (arguments, signals,
//! runtime, exit code), for in-process use.

mod launch;
mod listener;
mod services;
mod shutdown;
mod tls;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt as _;
use tonic::transport::Server;

pub use launch::{
    parse as parse_launch, usage, Command, Launch, LaunchError, ListenConfig, Mode, Security,
    CORE_PROTOCOL_VERSION, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, PROTOCOL_VERSION,
};
pub use shutdown::{Reason, Shutdown};
pub use tls::TlsError;

use crate::runtime::logging;
use crate::runtime::proto::plugin::{
    grpc_broker_server::GrpcBrokerServer, grpc_controller_server::GrpcControllerServer,
    grpc_stdio_server::GrpcStdioServer,
};
use crate::runtime::proto::tfplugin6::provider_server::{Provider, ProviderServer};
use listener::{accept_loop, Conn};

/// terraform-plugin-go's limit both ways; tonic's 4 MiB default fails on large states.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Connections waiting for tonic after accept (and TLS); accept pauses beyond this.
const READY_QUEUE: usize = 16;

/// What the embedding binary tells the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Provider source address for `TF_REATTACH_PROVIDERS`, e.g.
    /// `registry.terraform.io/hyperprotect/hyperprotect`.
    pub provider_address: String,
    /// After shutdown starts, how long in-flight calls may finish before the process exits.
    /// Terraform kills the process 2 s after `Shutdown`, so keep this well under that.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    /// Defaults for everything but the provider address.
    pub fn new(provider_address: impl Into<String>) -> Self {
        Self {
            provider_address: provider_address.into(),
            shutdown_grace: Duration::from_millis(400),
        }
    }
}

/// Why serving failed after a valid launch.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("could not listen for Terraform: {0}")]
    Listen(#[source] io::Error),
    #[error("could not write the plugin handshake to stdout: {0}")]
    Announce(#[source] io::Error),
    #[error("installing signal handlers failed: {0}")]
    Signals(#[source] io::Error),
    #[error("starting the async runtime failed: {0}")]
    Runtime(#[source] io::Error),
    #[error("the gRPC server failed: {0}")]
    Serve(#[source] tonic::transport::Error),
}

/// Runs the provider as a Terraform plugin process and returns its exit code: reads the
/// arguments and environment, serves until shut down, cleans up.
pub fn serve<P: Provider>(provider: P, config: ServeConfig) -> ExitCode {
    let command = launch::parse(std::env::args_os().skip(1), |name| std::env::var_os(name));
    // Writes to stdout/stderr below ignore failures: with nowhere to report them, the exit
    // code is all that is left (and `print!`/`eprintln!` would panic instead).
    let launch = match command {
        Ok(Command::Help) => {
            let program = std::env::args_os()
                .next()
                .map(|arg| arg.to_string_lossy().into_owned())
                .unwrap_or_else(|| "terraform-provider-hyperprotect".into());
            drop(io::stdout().write_all(usage(&program).as_bytes()));
            return ExitCode::SUCCESS;
        }
        Ok(Command::Serve(launch)) => launch,
        Err(error) => {
            drop(writeln!(io::stderr(), "{error}"));
            return ExitCode::FAILURE;
        }
    };
    let log_guard = logging::init();
    let outcome = serve_process(provider, &config, launch);
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "provider stopped with an error");
            // Also as plain text: with logging off this is the only trace Terraform shows.
            drop(writeln!(io::stderr(), "Error: {error}"));
            ExitCode::FAILURE
        }
    };
    drop(log_guard);
    code
}

fn serve_process<P: Provider>(
    provider: P,
    config: &ServeConfig,
    launch: Launch,
) -> Result<(), ServeError> {
    // Only what the handshake line needs happens before it; the async runtime (thread start-up)
    // is built afterwards, while Terraform is busy parsing the line and dialling.
    let prepared = prepare(config, launch)?;
    prepared.announce(io::stdout())?;
    // Two workers: Terraform runs few concurrent RPCs per process, and a handler doing CPU work
    // (contract encryption) must not stall StopProvider or Shutdown, as it would on one thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let shutdown = Shutdown::new();
    let debug = prepared.debug;
    let result = runtime.block_on(async {
        spawn_signal_handlers(debug, shutdown.clone())?;
        if !debug {
            spawn_parent_watch(shutdown.clone());
        }
        prepared.serve(provider, config, shutdown).await
    });
    // Anything still running (idle streams, a stuck handshake) is abandoned, not awaited.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// SIGTERM stops the server. SIGINT reaches every process in Terraform's process group when
/// the user presses Ctrl-C; Terraform then sends `StopProvider`, so a managed plugin must
/// survive it. In debug mode the developer's Ctrl-C is meant for us and stops the server.
fn spawn_signal_handlers(debug: bool, shutdown: Shutdown) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = interrupt.recv() => {
                    if debug {
                        tracing::info!("received interrupt, stopping");
                        shutdown.trigger(Reason::Interrupt);
                    } else {
                        tracing::debug!("received interrupt, ignoring");
                    }
                }
                Some(()) = terminate.recv() => {
                    tracing::debug!("received SIGTERM, stopping");
                    shutdown.trigger(Reason::Terminate);
                }
                else => return,
            }
        }
    });
    Ok(())
}

/// How often a managed provider checks that Terraform is still its parent.
const PARENT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Stops the server once the process that launched it is gone. A SIGKILLed Terraform sends
/// no `Shutdown` and no SIGTERM, and its plugins are not told: the kernel gives them a new
/// parent (init or a subreaper), which is how we notice. Polling `getppid` is the portable
/// way; `PR_SET_PDEATHSIG` would fire when the launching *thread* ends, which in Go's runtime
/// need not mean Terraform ended.
fn spawn_parent_watch(shutdown: Shutdown) {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PARENT_CHECK_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.wait() => return,
            }
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!(
                    parent,
                    "the Terraform process that started this provider is gone; stopping"
                );
                shutdown.trigger(Reason::ParentGone);
                return;
            }
        }
    });
}

/// The server identity and the certificate to pin; the OpenSSL acceptor is built from them
/// after the handshake line (about 0.3 ms that then overlaps Terraform's dialling).
struct PendingTls {
    identity: tls::ServerIdentity,
    client_cert: openssl::x509::X509,
}

/// Everything before the handshake: the server identity, the bound socket, and the text to
/// announce. Synchronous, so it runs before any async runtime exists.
pub struct Prepared {
    bound: listener::Bound,
    tls: Option<PendingTls>,
    announcement: String,
    debug: bool,
}

/// Generates the per-launch identity (with AutoMTLS), binds the socket and composes the
/// handshake line (or, with `--debug`, the reattach instructions).
pub fn prepare(config: &ServeConfig, launch: Launch) -> Result<Prepared, ServeError> {
    let debug = matches!(launch.mode, Mode::Debug);
    let (bound, tls, cert) = match launch.mode {
        Mode::Managed(Security::MutualTls { client_cert }) => {
            let identity = tls::ServerIdentity::generate()?;
            let cert =
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(identity.cert_der()?);
            let bound = listener::Bound::bind(&launch.listen).map_err(ServeError::Listen)?;
            let pending = PendingTls {
                identity,
                client_cert,
            };
            (bound, Some(pending), cert)
        }
        Mode::Managed(Security::Plaintext) => {
            let bound = listener::Bound::bind(&launch.listen).map_err(ServeError::Listen)?;
            (bound, None, String::new())
        }
        Mode::Debug => {
            let bound = listener::Bound::bind_unix(&launch.listen.socket_dir)
                .map_err(ServeError::Listen)?;
            (bound, None, String::new())
        }
    };
    let network = bound.network();
    let address = bound.address().map_err(ServeError::Listen)?;
    let announcement = if debug {
        reattach_instructions(&config.provider_address, network, &address)
    } else {
        handshake_line(network, &address, &cert)
    };
    tracing::info!(network, address = %address, tls = tls.is_some(), "plugin server listening");
    Ok(Prepared {
        bound,
        tls,
        announcement,
        debug,
    })
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("bound", &self.bound)
            .field("tls", &self.tls.is_some())
            .field("announcement", &self.announcement)
            .finish()
    }
}

impl Prepared {
    /// The handshake line or debug instructions.
    pub fn announcement(&self) -> &str {
        &self.announcement
    }

    /// Writes the announcement and flushes: for go-plugin it must be the first stdout line.
    pub fn announce(&self, mut out: impl Write) -> Result<(), ServeError> {
        out.write_all(self.announcement.as_bytes())
            .and_then(|()| out.flush())
            .map_err(ServeError::Announce)
    }

    /// Serves `provider` until `shutdown` fires (from `GRPCController.Shutdown` or the caller).
    /// Returns after the grace period at the latest; the socket is removed by then.
    pub async fn serve<P: Provider>(
        self,
        provider: P,
        config: &ServeConfig,
        shutdown: Shutdown,
    ) -> Result<(), ServeError> {
        let acceptor = match &self.tls {
            Some(pending) => Some(pending.identity.acceptor(&pending.client_cert)?),
            None => None,
        };
        let listener = Arc::new(self.bound.activate().map_err(ServeError::Listen)?);
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status("plugin", tonic_health::ServingStatus::Serving)
            .await;
        let router = Server::builder()
            .add_service(health_service)
            .add_service(
                ProviderServer::new(provider)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(GrpcControllerServer::new(services::Controller {
                shutdown: shutdown.clone(),
            }))
            .add_service(GrpcStdioServer::new(services::Stdio {
                shutdown: shutdown.clone(),
            }))
            .add_service(GrpcBrokerServer::new(services::Broker {
                shutdown: shutdown.clone(),
            }));

        let (ready_tx, ready_rx) = mpsc::channel::<Conn>(READY_QUEUE);
        let accepting = tokio::spawn(accept_loop(
            Arc::clone(&listener),
            acceptor,
            ready_tx,
            shutdown.clone(),
        ));

        let stop = {
            let shutdown = shutdown.clone();
            async move { shutdown.wait().await }
        };
        let incoming = ReceiverStream::new(ready_rx).map(Ok::<Conn, io::Error>);
        let serving = router.serve_with_incoming_shutdown(incoming, stop);
        tokio::pin!(serving);
        let deadline = async {
            shutdown.wait().await;
            tracing::debug!(reason = ?shutdown.reason(), "shutting down");
            tokio::time::sleep(config.shutdown_grace).await;
        };
        let outcome = tokio::select! {
            served = &mut serving => served.map_err(ServeError::Serve),
            () = deadline => {
                tracing::debug!("grace period over; abandoning open connections");
                Ok(())
            }
        };
        // The accept loop has seen the signal (or the server failed); either way it must end
        // so the last reference to the listener goes, and the socket file with it.
        shutdown.trigger(Reason::Terminate);
        drop(accepting.await);
        drop(listener);
        outcome
    }
}

/// [`prepare`], announce to `announce`, then [`Prepared::serve`]: the whole server minus
/// process concerns (arguments, signals, runtime, exit code), for in-process use.
pub async fn run<P: Provider>(
    provider: P,
    config: &ServeConfig,
    launch: Launch,
    shutdown: Shutdown,
    announce: impl Write,
) -> Result<(), ServeError> {
    let prepared = prepare(config, launch)?;
    prepared.announce(announce)?;
    prepared.serve(provider, config, shutdown).await
}

/// go-plugin's handshake: `CORE|APP|NETWORK|ADDRESS|PROTOCOL|SERVERCERT`. The certificate is
/// unpadded standard base64 of its DER; Terraform 1.0.3 rejects padding. No 7th field, which
/// old go-plugin would glue onto the certificate.
pub fn handshake_line(network: &str, address: &str, cert_base64: &str) -> String {
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|{network}|{address}|grpc|{cert_base64}\n")
}

/// What `--debug` prints: terraform-plugin-go's wording, then the reattach variable. `Test`
/// must be true, or go-plugin ignores `ProtocolVersion` and Terraform falls back to 5.
pub fn reattach_instructions(provider_address: &str, network: &str, address: &str) -> String {
    let config = serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": network, "String": address },
        }
    });
    // Single-quoted for POSIX shells; a quote inside becomes '\''.
    let quoted = config.to_string().replace('\'', r"'\''");
    format!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{quoted}'\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_line_has_six_fields() {
        let line = handshake_line("unix", "/tmp/x/plugin.sock", "MIIB");
        assert_eq!(line, "1|6|unix|/tmp/x/plugin.sock|grpc|MIIB\n");
        assert_eq!(
            handshake_line("tcp", "127.0.0.1:10000", ""),
            "1|6|tcp|127.0.0.1:10000|grpc|\n"
        );
    }

    #[test]
    fn reattach_json_parses_and_requests_protocol_six() {
        let text = reattach_instructions(
            "registry.terraform.io/hyperprotect/hyperprotect",
            "unix",
            "/tmp/it's/plugin.sock",
        );
        assert!(text.starts_with("Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:\n"));
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("TF_REATTACH_PROVIDERS='"))
            .and_then(|l| l.strip_suffix('\''))
            .expect("variable line");
        let json: serde_json::Value =
            serde_json::from_str(&line.replace(r"'\''", "'")).expect("json");
        let entry = &json["registry.terraform.io/hyperprotect/hyperprotect"];
        assert_eq!(entry["ProtocolVersion"], 6);
        assert_eq!(entry["Test"], true);
        assert_eq!(entry["Protocol"], "grpc");
        assert_eq!(entry["Pid"], std::process::id());
        assert_eq!(entry["Addr"]["Network"], "unix");
        assert_eq!(entry["Addr"]["String"], "/tmp/it's/plugin.sock");
    }

    /// Hands what `run` announces to the test.
    struct Announce(Option<std::sync::mpsc::Sender<String>>);

    impl Write for Announce {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(tx) = self.0.take() {
                drop(tx.send(String::from_utf8_lossy(buf).into_owned()));
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_process_until_shutdown_and_cleans_up() {
        use crate::runtime::proto::plugin::grpc_controller_client::GrpcControllerClient;
        use crate::runtime::proto::plugin::Empty;

        struct Nothing;
        impl Provider for Nothing {}

        let tmp = tempfile::tempdir().expect("tempdir");
        let launch = Launch {
            mode: Mode::Managed(Security::Plaintext),
            listen: ListenConfig {
                socket_dir: tmp.path().to_owned(),
                ports: 10000..=25000,
            },
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let shutdown = Shutdown::new();
        let config = ServeConfig::new("registry.terraform.io/hyperprotect/hyperprotect");
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { run(Nothing, &config, launch, shutdown, Announce(Some(tx))).await }
        });
        let line = rx.recv_timeout(Duration::from_secs(10)).expect("announced");
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        assert_eq!(fields[..3], ["1", "6", "unix"], "{line}");
        assert_eq!(fields[4..], ["grpc", ""], "{line}");
        let socket = std::path::PathBuf::from(fields[3]);
        assert!(socket.starts_with(tmp.path()));

        let path = socket.clone();
        let channel = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    Ok::<_, io::Error>(hyper_util::rt::TokioIo::new(
                        tokio::net::UnixStream::connect(path).await?,
                    ))
                }
            }))
            .await
            .expect("connect");
        GrpcControllerClient::new(channel)
            .shutdown(Empty {})
            .await
            .expect("shutdown answered");
        let served = tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .expect("run returns within 1 s of Shutdown")
            .expect("task");
        assert!(served.is_ok(), "{served:?}");
        assert_eq!(shutdown.reason(), Some(Reason::Controller));
        assert!(!socket.exists());
    }
}
