//! `mock-cloud`: serves the IBM Cloud IAM + VPC emulator until interrupted.
//! The first stdout line is `listening on http://<addr>` so a parent process can find it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use acceptance_tests::mock_cloud::faults::{Rate, RoutePattern, ServerErrorStatus};
use acceptance_tests::mock_cloud::libvirt::LibvirtHost;
use acceptance_tests::mock_cloud::pki::Pki;
use acceptance_tests::mock_cloud::{Config, Delays, Faults, MockCloud, PkiMode};
use clap::Parser;

/// IBM Cloud IAM + VPC API + Hyper Protect boot emulator for tests.
///
/// IAM: POST /identity/token. VPC: /v1/... (version and generation=2 required).
/// Test control: /_mock/instances/{id}/console, /_mock/instances/{id}/attestation,
/// DELETE /_mock/instances/{id} (drift), POST /_mock/tokens/expire,
/// GET/PUT/DELETE /_mock/faults (JSON with the same fields as the fault flags below).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// State directory: state.json and pki/. Reuse it to keep every resource across restarts.
    #[arg(long)]
    data_dir: PathBuf,
    /// Accept only this IAM API key (default: any non-empty key).
    #[arg(long)]
    api_key: Option<String>,
    /// Lifetime of issued IAM access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Do not load the Hyper Protect platform PKI: HPCR guests then boot without
    /// evaluating their contract.
    #[arg(long)]
    no_pki: bool,
    /// Also emulate a KVM host (IBM Z with Secure Execution) speaking libvirt's remote
    /// protocol on this address (port 0 picks one); prints a second stdout line
    /// `libvirt listening on qemu+tcp://ADDR/system`. Its state is kept in
    /// DATA_DIR/libvirt/.
    #[arg(long)]
    libvirt_listen: Option<SocketAddr>,
    /// Write one stderr line per request: method, path, status, duration.
    #[arg(long)]
    access_log: bool,
    /// Append every access and refresh token IAM issues to this file (for tests that
    /// search logs for them).
    #[arg(long)]
    issued_tokens_file: Option<PathBuf>,

    /// Milliseconds an instance stays `pending` after create.
    #[arg(long, default_value_t = 500)]
    pending_delay_ms: u64,
    /// Milliseconds from `starting` to `running` (or `failed`).
    #[arg(long, default_value_t = 1500)]
    boot_delay_ms: u64,
    /// Milliseconds from `stopping` to `stopped`.
    #[arg(long, default_value_t = 1000)]
    stop_delay_ms: u64,
    /// Milliseconds from `restarting` to `running`.
    #[arg(long, default_value_t = 1000)]
    reboot_delay_ms: u64,
    /// Milliseconds from `deleting` to gone (404).
    #[arg(long, default_value_t = 1000)]
    delete_delay_ms: u64,
    /// Milliseconds a Hyper Protect guest that rejected its contract stays `running`
    /// before it powers off.
    #[arg(long, default_value_t = 2000)]
    reject_stop_delay_ms: u64,

    /// Fault: milliseconds added to every IAM/VPC request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fault: share (0..1) of IAM/VPC requests answered 429 (0.5 = every second request).
    #[arg(long, default_value = "0")]
    rate_429: Rate,
    /// Fault: `Retry-After` seconds on injected 429s.
    #[arg(long, default_value_t = 1)]
    retry_after_secs: u64,
    /// Fault: share (0..1) of IAM/VPC requests answered with --status-5xx.
    #[arg(long, default_value = "0")]
    rate_5xx: Rate,
    /// Fault: status of injected server errors, 500 or 503.
    #[arg(long, default_value = "503")]
    status_5xx: ServerErrorStatus,
    /// Fault: answer 501 on this route, e.g. "POST /v1/instances/*/actions" (repeatable).
    #[arg(long)]
    not_implemented: Vec<RoutePattern>,
    /// Fault: the next N instance creates are accepted and then go `failed`.
    #[arg(long, default_value_t = 0)]
    fail_next_creates: u32,
    /// Fault: the next N instance creates are accepted and then hang in `starting`.
    #[arg(long, default_value_t = 0)]
    hang_next_creates: u32,
    /// Fault: the next N successful instance creates lose their answer (the connection
    /// breaks mid-answer after the instance was created).
    #[arg(long, default_value_t = 0)]
    lose_next_create_answers: u32,
    /// Fault: answer 403 `forbidden` on this route (an IAM policy without the role), e.g.
    /// "POST /v1/instances/*/console_access_token" (repeatable).
    #[arg(long)]
    forbidden: Vec<RoutePattern>,
    /// Knob: attached tags show in tag reads only this many ms later (IBM's tags are
    /// eventually consistent).
    #[arg(long, default_value_t = 0)]
    tag_visibility_lag_ms: u64,
    /// Knob: Global Tagging calls allowed per second (more are answered 429); 0 = no limit.
    #[arg(long, default_value_t = 0)]
    tagging_calls_per_second: u32,
}

fn config(a: Args) -> Config {
    let ms = Duration::from_millis;
    let mut c = Config::new(a.data_dir);
    c.listen = a.listen;
    c.api_key = a.api_key;
    c.token_lifetime = Duration::from_secs(a.token_lifetime);
    c.access_log = a.access_log;
    c.issued_tokens_file = a.issued_tokens_file;
    c.pki = if a.no_pki {
        PkiMode::Disabled
    } else {
        PkiMode::LoadOrCreate
    };
    c.delays = Delays {
        pending: ms(a.pending_delay_ms),
        boot: ms(a.boot_delay_ms),
        stop: ms(a.stop_delay_ms),
        reboot: ms(a.reboot_delay_ms),
        delete: ms(a.delete_delay_ms),
        reject_stop: ms(a.reject_stop_delay_ms),
    };
    c.faults = Faults {
        latency_ms: a.latency_ms,
        rate_429: a.rate_429,
        retry_after_secs: a.retry_after_secs,
        rate_5xx: a.rate_5xx,
        status_5xx: a.status_5xx,
        not_implemented: a.not_implemented,
        fail_next_creates: a.fail_next_creates,
        hang_next_creates: a.hang_next_creates,
        lose_next_create_answers: a.lose_next_create_answers,
        forbidden: a.forbidden,
        tag_visibility_lag_ms: a.tag_visibility_lag_ms,
        tagging_calls_per_second: a.tagging_calls_per_second,
    };
    c
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let libvirt_listen = args.libvirt_listen;
    let access_log = args.access_log;
    let libvirt_state = args.data_dir.join("libvirt");
    let no_pki = args.no_pki;
    let pki_dir = args.data_dir.clone();
    let cloud = match MockCloud::start(config(args)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-cloud: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "listening on {}", cloud.url())
            .and_then(|_| out.flush())
            .is_err()
        {
            eprintln!("mock-cloud: cannot write to stdout");
            return ExitCode::FAILURE;
        }
    }
    // The KVM host boots guests with the same platform keys (MockCloud created them).
    let kvm_pki = if no_pki || libvirt_listen.is_none() {
        None
    } else {
        match Pki::load_or_create(&pki_dir) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("mock-cloud: loading the platform PKI for the KVM host: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    // Kept alive until shutdown.
    let _kvm_host = match libvirt_listen {
        None => None,
        Some(addr) => {
            match LibvirtHost::start(addr, access_log, Some(libvirt_state), kvm_pki).await {
                Ok(h) => {
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "libvirt listening on {}", h.uri())
                        .and_then(|_| out.flush())
                        .is_err()
                    {
                        eprintln!("mock-cloud: cannot write to stdout");
                        return ExitCode::FAILURE;
                    }
                    Some(h)
                }
                Err(e) => {
                    eprintln!("mock-cloud: libvirt listener on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    shutdown_signal().await;
    match cloud.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-cloud: server error: {e}");
            ExitCode::FAILURE
        }
    }
}
