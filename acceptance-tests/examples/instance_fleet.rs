//! Benchmark: 50 `hyperprotect_instance`s with `terraform apply -parallelism=10` against
//! mock-cloud at its default timeline (0.5 s pending + 1.5 s boot, a rejected contract stops
//! 2 s after `running`), `contract_check_seconds` = that rejection delay; then the destroy.
//!
//! Each instance runs its own `hyperprotect_contract`. Reports the wall time against the
//! floor (waves × the emulator's minimum per instance, plus Terraform's own time on the same
//! configuration with the 50 contracts alone), VPC API calls per instance (from mock-cloud's
//! access log), the provider's peak RSS and CPU, Terraform's CPU, and where the destroy's
//! time goes.
//!
//! Run with `scripts/bench-instances.sh` (builds the binaries, then runs this). Settings:
//! `FLEET_N` (50), `FLEET_PARALLELISM` (10), `TF_ACC_TERRAFORM_PATH` (the Terraform CLI).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acceptance_tests::harness::TEST_WORKLOAD;
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;

const ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\n";
/// mock-cloud's default timeline: 0.5 s pending + 1.5 s boot; rejection 2 s after running;
/// 1 s from `deleting` to gone.
const TO_RUNNING: f64 = 2.0;
const REJECT_DELAY: f64 = 2.0;
const DELETE_DELAY: f64 = 1.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `target/debug` or `target/release`, where the script builds the provider and mock-cloud.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    // target/<profile>/examples/instance_fleet → target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

struct Mock {
    child: std::process::Child,
    url: String,
    log: PathBuf,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_mock(data: &Path, extra: &[&str]) -> Mock {
    let log = data.join("access.log");
    let mut child = Command::new(bin_dir().join("mock-cloud"))
        .args(["--data-dir", &data.display().to_string(), "--access-log"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("access log"))
        .spawn()
        .expect("run mock-cloud (run scripts/bench-instances.sh, which builds it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("mock-cloud first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected mock-cloud output {line:?}"))
        .to_string();
    Mock { child, url, log }
}

fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// One access-log line: (method, path, status, arrival in Unix ms, time to answer in ms).
fn parse_access(line: &str) -> Option<(&str, &str, u16, f64, f64)> {
    let rest = line.strip_prefix("mock-cloud: ")?;
    let mut f = rest.split(' ');
    let (method, path, status) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
    let took = f.next()?.strip_suffix("ms")?.parse().ok()?;
    let at = f.find_map(|w| w.strip_prefix("at="))?.parse().ok()?;
    Some((method, path, status, at, took))
}

/// Where a destroy's time goes, from its access-log lines: Terraform's start to the first
/// DELETE (start-up and refresh), each instance's DELETE to the GET that saw it gone (the
/// deletion itself takes `DELETE_DELAY`: the rest is how late the wait noticed), and the
/// last of those to Terraform's exit.
fn destroy_timeline(log: &Path, from: usize, run: &Run) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<_> = text[from.min(text.len())..]
        .lines()
        .filter_map(parse_access)
        .collect();
    let rel = |at: f64| (at - run.started_unix_ms) / 1000.0;
    let Some(first_delete) = lines.iter().find(|l| l.0 == "DELETE").map(|l| rel(l.3)) else {
        return;
    };
    let before: Vec<(f64, f64)> = lines
        .iter()
        .map(|l| (rel(l.3), l.4))
        .filter(|(t, _)| *t < first_delete)
        .collect();
    if let (Some(a), Some(b)) = (before.first(), before.last()) {
        let answering = before.iter().map(|c| c.1).sum::<f64>() / before.len() as f64;
        println!(
            "destroy start-up: {} calls before the first DELETE, from {:.2} s to {:.2} s, mock-cloud answered each in {answering:.1} ms on average",
            before.len(),
            a.0,
            b.0
        );
    }
    let mut seen_gone = Vec::new();
    let mut last_gone = 0.0f64;
    for (_, path, status, at, _) in lines.iter().filter(|l| l.0 == "DELETE") {
        let deleted = rel(*at);
        if *status >= 300 {
            continue;
        }
        if let Some(gone) = lines
            .iter()
            .filter(|l| l.0 == "GET" && l.1 == *path && l.2 == 404 && rel(l.3) > deleted)
            .map(|l| rel(l.3))
            .next()
        {
            seen_gone.push(gone - deleted);
            last_gone = last_gone.max(gone);
        }
    }
    let mean = seen_gone.iter().sum::<f64>() / seen_gone.len().max(1) as f64;
    let max = seen_gone.iter().cloned().fold(0.0, f64::max);
    println!(
        "destroy timeline: first DELETE at {first_delete:.2} s (start-up + refresh); DELETE → seen gone: mean {mean:.3} s, max {max:.3} s over {} (deletion takes {DELETE_DELAY} s); last seen gone at {last_gone:.2} s; Terraform exited at {:.2} s",
        seen_gone.len(),
        run.secs
    );
}

/// (VPC API calls, IAM token calls) in the access log from byte `from` on.
fn count_calls(log: &Path, from: usize) -> (usize, usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail = &text[from.min(text.len())..];
    let vpc = tail.lines().filter(|l| l.contains(" /v1/")).count();
    let iam = tail
        .lines()
        .filter(|l| l.contains("/identity/token"))
        .count();
    (vpc, iam, text.len())
}

/// What the provider processes of one Terraform run used, sampled every 100 ms.
#[derive(Default)]
struct ProviderUsage {
    /// Peak RSS (KiB) of any one process.
    peak_rss_kib: u64,
    /// CPU time (user + system, clock ticks) per provider process, as last sampled.
    cpu_ticks: std::collections::HashMap<u32, u64>,
    /// The same for Terraform's own processes.
    terraform_cpu_ticks: std::collections::HashMap<u32, u64>,
}

impl ProviderUsage {
    /// CPU seconds over all processes (at 100 ticks a second; the last < 100 ms of each
    /// process are not seen).
    fn cpu_secs(&self) -> f64 {
        self.cpu_ticks.values().sum::<u64>() as f64 / 100.0
    }

    fn terraform_cpu_secs(&self) -> f64 {
        self.terraform_cpu_ticks.values().sum::<u64>() as f64 / 100.0
    }
}

/// Samples every `terraform-provider-hyperprotect` (and `terraform`) process while `running`
/// is set.
fn watch_provider(running: Arc<AtomicBool>) -> std::thread::JoinHandle<ProviderUsage> {
    std::thread::spawn(move || {
        let mut usage = ProviderUsage::default();
        while running.load(Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let status =
                    std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
                let name = status.lines().next().unwrap_or_default();
                let is_provider = name.contains("terraform-provi");
                // `terraform`, or the 1.15.5 shim (`terraform-1.15.5`, a Python script).
                let is_terraform = !is_provider && name.starts_with("Name:\tterraform");
                if !is_terraform && !is_provider {
                    continue;
                }
                let rss = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0);
                if !is_terraform {
                    usage.peak_rss_kib = usage.peak_rss_kib.max(rss);
                }
                // /proc/PID/stat: utime and stime are fields 14 and 15, i.e. the 12th and
                // 13th after the ")" that ends the command name.
                let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
                let ticks: u64 = stat
                    .rsplit_once(')')
                    .map(|(_, rest)| {
                        rest.split_whitespace()
                            .skip(11)
                            .take(2)
                            .filter_map(|f| f.parse::<u64>().ok())
                            .sum()
                    })
                    .unwrap_or(0);
                let pid = entry.file_name().to_str().and_then(|p| p.parse().ok());
                if let Some(pid) = pid {
                    if is_terraform {
                        usage.terraform_cpu_ticks.insert(pid, ticks);
                    } else {
                        usage.cpu_ticks.insert(pid, ticks);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        usage
    })
}

/// `GET /v1{path}` with a fresh token.
fn fetch(url: &str, path: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let t: serde_json::Value = http
            .post(format!("{url}/identity/token"))
            .form(&[
                ("grant_type", "urn:ibm:params:oauth:grant-type:apikey"),
                ("apikey", "bench"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        http.get(format!("{url}/v1{path}?version=2025-07-01&generation=2"))
            .bearer_auth(t["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

struct Run {
    /// Unix time (ms) when Terraform was started, to place access-log lines on its timeline.
    started_unix_ms: f64,
    secs: f64,
    provider: ProviderUsage,
    code: i32,
    output: String,
}

fn terraform(dir: &Path, env: &[(String, String)], args: &[&str]) -> Run {
    let tf = std::env::var("TF_ACC_TERRAFORM_PATH").expect("TF_ACC_TERRAFORM_PATH");
    let running = Arc::new(AtomicBool::new(true));
    let watcher = watch_provider(running.clone());
    let started = Instant::now();
    let started_unix_ms = unix_ms();
    let out = Command::new(tf)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_CLI_CONFIG_FILE", dir.join(".terraformrc"))
        .output()
        .expect("run terraform");
    let secs = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let provider = watcher.join().unwrap_or_default();
    Run {
        started_unix_ms,
        secs,
        provider,
        code: out.status.code().unwrap_or(-1),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn main() {
    let n = env_usize("FLEET_N", 50);
    let parallelism = env_usize("FLEET_PARALLELISM", 10);
    let work = tempfile::Builder::new()
        .prefix("fleet-")
        .tempdir()
        .expect("tempdir");
    let data = work.path().join("mock");
    std::fs::create_dir_all(&data).unwrap();
    // The platform PKI first, at RSA-2048, so mock-cloud does not spend seconds on RSA-4096.
    let bits = RsaBits::Rsa2048;
    let pki = Pki::load_or_create_with(
        &data,
        &PkiOptions {
            ca_bits: bits,
            encryption_bits: bits,
            attestation_bits: bits,
        },
    )
    .expect("PKI");
    let mock = start_mock(&data, &[]);

    // One hyperprotect_contract per instance (as a user would write it), each encrypted to
    // the emulator's certificate and signed with one deployer key.
    let keys_dir = work.path().join("keys");
    std::fs::create_dir_all(&keys_dir).unwrap();
    std::fs::write(
        keys_dir.join("enc.crt"),
        pki.encryption_cert.to_pem().unwrap(),
    )
    .unwrap();
    let signing = Rsa::generate(2048).unwrap();
    std::fs::write(
        keys_dir.join("signing.key"),
        PKey::from_rsa(signing)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap(),
    )
    .unwrap();

    // Network and image ids, read the way a user's data sources would.
    let api = |path: &str| fetch(&mock.url, path);
    let subnet = api("/subnets")["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["zone"]["name"] == "us-south-2")
        .cloned()
        .unwrap();
    let image = api("/images")["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "ibm-hyper-protect-container-runtime-1-0-s390x-29")
        .cloned()
        .unwrap();

    let tf_dir = work.path().join("tf");
    let base_dir = work.path().join("baseline");
    let instant_dir = work.path().join("instant");
    for d in [&tf_dir, &base_dir, &instant_dir] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(
            d.join(".terraformrc"),
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/hyperprotect/hyperprotect\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                bin_dir().display()
            ),
        )
        .unwrap();
    }
    let header = "terraform {\n  required_providers {\n    hyperprotect = { source = \"hyperprotect/hyperprotect\" }\n  }\n}\n";
    // The env differs per instance (its index), so every contract is a document of its own.
    let env_json = serde_json::to_string(ENV).unwrap();
    let contracts_hcl = format!(
        r#"
resource "hyperprotect_contract" "c" {{
  count                  = {n}
  workload               = {workload}
  env                    = {env_open}env:\n  INDEX: \"${{count.index}}\"\n"
  signing_key            = file("{keys}/signing.key")
  encryption_certificate = file("{keys}/enc.crt")
}}
"#,
        workload = serde_json::to_string(TEST_WORKLOAD).unwrap(),
        env_open = &env_json[..env_json.len() - 1],
        keys = keys_dir.display(),
    );
    let fleet = |check: f64| {
        format!(
            r#"{header}{contracts_hcl}
resource "hyperprotect_instance" "fleet" {{
  count     = {n}
  name      = "fleet-${{count.index}}"
  profile   = "bz2e-1x4"
  image     = "{image}"
  zone      = "us-south-2"
  vpc       = "{vpc}"
  subnet    = "{subnet}"
  user_data = hyperprotect_contract.c[count.index].rendered

  contract_check_seconds = {check}
}}
"#,
            image = image["id"].as_str().unwrap(),
            vpc = subnet["vpc"]["id"].as_str().unwrap(),
            subnet = subnet["id"].as_str().unwrap(),
        )
    };
    std::fs::write(tf_dir.join("main.tf"), fleet(REJECT_DELAY)).unwrap();
    // Terraform's own time on the same configuration with the 50 contracts alone (the
    // issue's floor): the contracts made and destroyed, the provider started, the state
    // written.
    std::fs::write(base_dir.join("main.tf"), format!("{header}{contracts_hcl}")).unwrap();

    std::fs::write(instant_dir.join("main.tf"), fleet(0.0)).unwrap();
    let env_for = |url: &str| {
        vec![
            ("IC_API_KEY".to_string(), "bench".to_string()),
            ("IC_REGION".to_string(), "us-south".to_string()),
            ("IBMCLOUD_IAM_API_ENDPOINT".to_string(), url.to_string()),
            ("IBMCLOUD_IS_NG_API_ENDPOINT".to_string(), url.to_string()),
        ]
    };
    let env = env_for(&mock.url);
    let par = format!("-parallelism={parallelism}");
    let apply_args = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        par.as_str(),
    ];
    let destroy_args = [
        "destroy",
        "-auto-approve",
        "-input=false",
        "-no-color",
        par.as_str(),
    ];

    let base_apply = terraform(&base_dir, &env, &apply_args);
    assert_eq!(base_apply.code, 0, "{}", base_apply.output);
    let base_destroy = terraform(&base_dir, &env, &destroy_args);
    assert_eq!(base_destroy.code, 0, "{}", base_destroy.output);

    // The same 50 instances on an emulator whose every transition is instant (and no
    // contract check): Terraform's own time plus the provider's, with nothing to wait for.
    let instant_data = work.path().join("instant-mock");
    std::fs::create_dir_all(&instant_data).unwrap();
    std::fs::create_dir_all(instant_data.join("pki")).unwrap();
    // The keys only: the emulator derives everything else (published certificates) from them.
    for f in std::fs::read_dir(data.join("pki")).unwrap().flatten() {
        if f.path().is_file() {
            std::fs::copy(f.path(), instant_data.join("pki").join(f.file_name())).unwrap();
        }
    }
    let instant = start_mock(
        &instant_data,
        &[
            "--pending-delay-ms",
            "0",
            "--boot-delay-ms",
            "0",
            "--delete-delay-ms",
            "0",
        ],
    );
    // Same network ids: the instant emulator seeds its own VPC, so rewrite them.
    let instant_env = env_for(&instant.url);
    let seeded = |url: &str, path: &str| -> serde_json::Value { fetch(url, path) };
    let s2 = seeded(&instant.url, "/subnets")["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["zone"]["name"] == "us-south-2")
        .cloned()
        .unwrap();
    let instant_tf = fleet(0.0)
        .replace(subnet["id"].as_str().unwrap(), s2["id"].as_str().unwrap())
        .replace(
            subnet["vpc"]["id"].as_str().unwrap(),
            s2["vpc"]["id"].as_str().unwrap(),
        );
    std::fs::write(instant_dir.join("main.tf"), instant_tf).unwrap();
    let instant_apply = terraform(&instant_dir, &instant_env, &apply_args);
    assert_eq!(instant_apply.code, 0, "{}", instant_apply.output);
    let instant_destroy = terraform(&instant_dir, &instant_env, &destroy_args);
    assert_eq!(instant_destroy.code, 0, "{}", instant_destroy.output);
    drop(instant);

    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (_, _, offset) = count_calls(&mock.log, 0);
    let apply = terraform(&tf_dir, &env, &apply_args);
    assert_eq!(apply.code, 0, "{}", apply.output);
    let (apply_vpc, apply_iam, offset) = count_calls(&mock.log, offset);
    let destroy = terraform(&tf_dir, &env, &destroy_args);
    assert_eq!(destroy.code, 0, "{}", destroy.output);
    let (destroy_vpc, destroy_iam, _) = count_calls(&mock.log, offset);
    destroy_timeline(&mock.log, offset, &destroy);
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let waves = n.div_ceil(parallelism) as f64;
    let apply_floor = waves * (TO_RUNNING + REJECT_DELAY) + base_apply.secs;
    let destroy_floor = waves * DELETE_DELAY + base_destroy.secs;
    println!("instances: {n}, parallelism: {parallelism}, waves: {waves}");
    println!("load average before: {}", load_before.trim());
    println!("load average after:  {}", load_after.trim());
    println!(
        "baseline (no instances): apply {:.2} s, destroy {:.2} s",
        base_apply.secs, base_destroy.secs
    );
    println!(
        "baseline (same {n} instances, instant emulator, no check): apply {:.2} s, destroy {:.2} s",
        instant_apply.secs, instant_destroy.secs
    );
    let apply_floor2 = waves * (TO_RUNNING + REJECT_DELAY) + instant_apply.secs;
    let destroy_floor2 = waves * DELETE_DELAY + instant_destroy.secs;
    println!(
        "against the instant-emulator baseline: apply floor {:.2} s ratio {:.3}; destroy floor {:.2} s ratio {:.3}",
        apply_floor2,
        apply.secs / apply_floor2,
        destroy_floor2,
        destroy.secs / destroy_floor2
    );
    for (what, run, floor, vpc, iam) in [
        ("apply", &apply, apply_floor, apply_vpc, apply_iam),
        ("destroy", &destroy, destroy_floor, destroy_vpc, destroy_iam),
    ] {
        println!(
            "{what}: {:.2} s, floor {:.2} s, ratio {:.3}; VPC calls {vpc} ({:.2} per instance), IAM token calls {iam}; provider peak RSS {:.1} MiB, CPU: provider {:.2} s, Terraform {:.2} s",
            run.secs,
            floor,
            run.secs / floor,
            vpc as f64 / n as f64,
            run.provider.peak_rss_kib as f64 / 1024.0,
            run.provider.cpu_secs(),
            run.provider.terraform_cpu_secs()
        );
    }
}
