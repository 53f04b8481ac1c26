//! Start-up benchmark of the provider binary as Terraform launches it (AutoMTLS on): time
//! from spawn to the handshake line on stdout, and resident memory once idle after it.
//!
//! Run: `cargo bench -p terraform-provider-hyperprotect --bench startup`
//! (`BENCH_RUNS=n` changes the number of timed launches, default 200; `BENCH_BINARY=path`
//! measures another build). Results go to stdout; see `docs/bench/runtime.md`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509NameBuilder, X509};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const WARMUP: usize = 10;
const RSS_SAMPLES: usize = 20;
/// How long a launched provider sits idle before its RSS is read.
const IDLE: Duration = Duration::from_millis(200);

fn main() {
    let binary = std::env::var("BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_terraform-provider-hyperprotect").to_owned());
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let client_pem = terraform_client_cert_pem();
    let tmp = tempfile::tempdir().expect("tempdir");
    let launch = |keep_running: bool| -> (Duration, Option<u64>) {
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
        (elapsed, rss)
    };

    for _ in 0..WARMUP {
        launch(false);
    }
    let mut times: Vec<Duration> = (0..runs).map(|_| launch(false).0).collect();
    times.sort();
    let mut rss: Vec<u64> = (0..RSS_SAMPLES).filter_map(|_| launch(true).1).collect();
    rss.sort();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!("binary: {binary}");
    println!("launches: {runs} (after {WARMUP} warm-up), AutoMTLS on, unix socket");
    println!(
        "spawn -> handshake line: min {:.2} ms, median {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(times[0]),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(times[times.len() - 1]),
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
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// A client certificate of the kind Terraform sends (ECDSA P-521, ecdsa-with-SHA512,
/// O=HashiCorp CN=localhost); the provider only parses and pins it at start-up.
fn terraform_client_cert_pem() -> String {
    let group = EcGroup::from_curve_name(Nid::SECP521R1).expect("curve");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "HashiCorp")
        .expect("O");
    name.append_entry_by_nid(Nid::COMMONNAME, "localhost")
        .expect("CN");
    let name = name.build();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("v3");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(now - 30).expect("t"))
        .expect("nb");
    b.set_not_after(&Asn1Time::from_unix(now + 262_980 * 3600).expect("t"))
        .expect("na");
    b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
        .expect("bc");
    b.append_extension(
        ExtendedKeyUsage::new()
            .client_auth()
            .server_auth()
            .build()
            .expect("eku"),
    )
    .expect("eku");
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .build(&b.x509v3_context(None, None))
        .expect("san");
    b.append_extension(san).expect("san");
    b.sign(&key, MessageDigest::sha512()).expect("sign");
    String::from_utf8(b.build().to_pem().expect("pem")).expect("utf8")
}
