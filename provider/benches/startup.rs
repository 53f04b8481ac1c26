//! Start-up benchmark of the provider binary as Terraform launches it (AutoMTLS on): time
//! from spawn to the handshake line on stdout, and resident memory once idle after it.
//!
//! Run: `cargo bench -p terraform-provider-hyperprotect --bench startup`
//! (`BENCH_RUNS=n` changes the number of timed launches, default 200; `BENCH_BINARY=path`
//! measures another build). Results go to stdout; see `docs/bench/runtime.md`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/runtime_support/mod.rs"]
mod runtime_support;

use runtime_support::{tls_channel, ClientIdentity, Plugin};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const WARMUP: usize = 10;
const RSS_SAMPLES: usize = 20;
/// Launches timed up to the first answered RPC (each also builds a tonic client).
const RPC_RUNS: usize = 50;
/// How long a launched provider sits idle before its RSS is read.
const IDLE: Duration = Duration::from_millis(200);

fn main() {
    let binary = std::env::var("BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_terraform-provider-hyperprotect").to_owned());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let client = ClientIdentity::go_plugin();
    let client_pem = client.pem();
    let tmp = tempfile::tempdir().expect("tempdir");
    let launch = |keep_running: bool| -> (Duration, Option<u64>, Option<(u64, u64)>) {
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .env_clear()
            .env("TMPDIR", tmp.path())
            .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
            .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env("PLUGIN_CLIENT_CERT", &client_pem)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn provider");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read handshake");
        let elapsed = started.elapsed();
        let sched = schedstat_ns(child.id());
        assert!(
            line.starts_with("1|6|unix|") && line.trim_end().len() > 300,
            "unexpected handshake {line:?}"
        );
        let rss = keep_running.then(|| {
            std::thread::sleep(IDLE);
            vm_rss_kib(child.id())
        });
        // SIGTERM, not SIGKILL, so each run removes its socket like a real exit would.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
        (elapsed, rss, sched)
    };

    for _ in 0..WARMUP {
        launch(false);
    }
    let mut times = Vec::with_capacity(runs);
    let mut on_cpu = Vec::with_capacity(runs);
    let mut waiting = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (elapsed, _, sched) = launch(false);
        times.push(elapsed);
        if let Some((cpu, wait)) = sched {
            on_cpu.push(Duration::from_nanos(cpu));
            waiting.push(Duration::from_nanos(wait));
        }
    }
    times.sort();
    on_cpu.sort();
    waiting.sort();
    let mut rss: Vec<u64> = (0..RSS_SAMPLES).filter_map(|_| launch(true).1).collect();
    rss.sort();

    let (mut first_rpc, mut served_rss) = first_rpc_runs(&client);
    first_rpc.sort();
    served_rss.sort();

    println!("binary: {binary}");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("launches: {runs} (after {WARMUP} warm-up), AutoMTLS on, unix socket");
    println!("spawn -> handshake line: {}", summary(&times));
    if !on_cpu.is_empty() {
        println!(
            "  CPU time of the provider when the line arrives (all threads, schedstat): {}",
            summary(&on_cpu)
        );
        println!(
            "  time it spent runnable but waiting for a CPU: {}",
            summary(&waiting)
        );
    }
    println!(
        "spawn -> first RPC answered over mTLS ({RPC_RUNS} launches; Terraform-like client: \
         P-521 cert, pinned server cert, ALPN h2, health Check): {}",
        summary(&first_rpc)
    );
    if !rss.is_empty() {
        println!(
            "idle VmRSS {} ms after handshake ({} samples): min {:.1} MiB, median {:.1} MiB, max {:.1} MiB",
            IDLE.as_millis(),
            rss.len(),
            rss[0] as f64 / 1024.0,
            rss[rss.len() / 2] as f64 / 1024.0,
            rss[rss.len() - 1] as f64 / 1024.0,
        );
    }
    if !served_rss.is_empty() {
        println!(
            "VmRSS after serving that RPC, connection open ({} samples): median {:.1} MiB, max {:.1} MiB",
            served_rss.len(),
            served_rss[served_rss.len() / 2] as f64 / 1024.0,
            served_rss[served_rss.len() - 1] as f64 / 1024.0,
        );
    }
}

fn summary(sorted: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "min {:.2} ms, median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(sorted[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(sorted[sorted.len() - 1]),
    )
}

/// What Terraform actually waits for before its first call: handshake, TLS, HTTP/2, one RPC.
fn first_rpc_runs(client: &ClientIdentity) -> (Vec<Duration>, Vec<u64>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut times = Vec::with_capacity(RPC_RUNS);
    let mut rss = Vec::with_capacity(RPC_RUNS);
    for _ in 0..RPC_RUNS {
        let started = Instant::now();
        let mut plugin = Plugin::terraform(Some(client), &[]);
        let handshake = plugin.handshake();
        runtime.block_on(async {
            let channel = tls_channel(&handshake, client).await;
            let mut health = HealthClient::new(channel);
            health
                .check(HealthCheckRequest {
                    service: "plugin".into(),
                })
                .await
                .expect("health check");
            times.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
            rss.push(vm_rss_kib(plugin.pid()));
            plugin.signal("TERM");
            plugin.wait_exit_async(Duration::from_secs(2)).await;
        });
    }
    (times, rss)
}

/// Nanoseconds on a CPU and waiting in a run queue, summed over the process's threads
/// (`/proc/<pid>/task/*/schedstat`); `None` where the kernel does not provide it.
fn schedstat_ns(pid: u32) -> Option<(u64, u64)> {
    let mut total = (0, 0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        total.0 += fields.next()??;
        total.1 += fields.next()??;
    }
    Some(total)
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}
