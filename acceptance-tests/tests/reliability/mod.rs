//! Shared by the reliability suites (`faults_acc`, `kills_acc`): mock-cloud in this process
//! or as a `mock-cloud` child process that can be SIGKILLed and restarted on its data
//! folder, the test's own view of its VPC API, contracts its emulated Hyper Protect guest
//! accepts, a fleet of `hyperprotect_instance`s, and process helpers for killing Terraform
//! or its provider.

#![allow(dead_code)] // each suite uses part of this module

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use acceptance_tests::harness::{signed_contract, CloudApi, ProviderUnderTest, WorkDir};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::{Config, Delays, MockCloud};
use serde_json::Value;

pub const HPCR_IMAGE: &str = "ibm-hyper-protect-container-runtime-1-0-s390x-29";
const ENV: &str = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\n";

/// The emulator, in this process or as a child process.
enum Running {
    InProcess(Option<MockCloud>),
    Child(Option<Child>),
    Stopped,
}

/// One emulator on its own data folder, with a runtime for the test's own calls.
pub struct Cloud {
    rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pki: Pki,
    /// The test's own client (its base is the emulator's URL, kept across restarts).
    api: CloudApi,
    delays: Delays,
    running: Running,
    /// Starts of the child process so far (1 + restarts).
    pub starts: u32,
}

fn small_pki(dir: &Path) -> Pki {
    // RSA-2048 keys (the emulator's default RSA-4096 takes seconds to generate).
    Pki::load_or_create_with(
        dir,
        &PkiOptions {
            ca_bits: RsaBits::Rsa2048,
            encryption_bits: RsaBits::Rsa2048,
            attestation_bits: RsaBits::Rsa2048,
        },
    )
    .expect("emulator PKI")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

impl Cloud {
    /// mock-cloud in this process, issuing tokens that live `token_lifetime`.
    pub fn in_process(delays: Delays, token_lifetime: Duration) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = small_pki(dir.path());
        let mut config = Config::new(dir.path());
        config.delays = delays;
        config.token_lifetime = token_lifetime;
        let rt = runtime();
        let mock = rt
            .block_on(MockCloud::start(config))
            .expect("start mock-cloud");
        Cloud {
            api: CloudApi::new(mock.url().to_string()),
            rt,
            dir,
            pki,
            delays,
            running: Running::InProcess(Some(mock)),
            starts: 1,
        }
    }

    /// The `mock-cloud` binary on a free port, with its access log in `mock-cloud.log`.
    pub fn child(delays: Delays) -> Cloud {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = small_pki(dir.path());
        let mut cloud = Cloud {
            rt: runtime(),
            dir,
            pki,
            api: CloudApi::new(String::new()),
            delays,
            running: Running::Stopped,
            starts: 0,
        };
        cloud.spawn("127.0.0.1:0");
        cloud
    }

    fn spawn(&mut self, listen: &str) {
        let data = self.dir.path().to_path_buf();
        let out_path = self.dir.path().join(format!("stdout-{}", self.starts));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mock-cloud.log"))
            .expect("log file");
        let ms = |d: Duration| d.as_millis().to_string();
        let d = &self.delays;
        let child = Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
            .args(["--listen", listen, "--data-dir"])
            .arg(&data)
            .args(["--access-log", "--pending-delay-ms", &ms(d.pending)])
            .args([
                "--boot-delay-ms",
                &ms(d.boot),
                "--stop-delay-ms",
                &ms(d.stop),
            ])
            .args(["--reboot-delay-ms", &ms(d.reboot)])
            .args(["--delete-delay-ms", &ms(d.delete)])
            .args(["--reject-stop-delay-ms", &ms(d.reject_stop)])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(log)
            .spawn()
            .expect("spawn mock-cloud");
        let started = Instant::now();
        let url = loop {
            let mut text = String::new();
            if let Ok(mut f) = std::fs::File::open(&out_path) {
                let _ = f.read_to_string(&mut text);
            }
            if let Some(url) = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("listening on "))
                .filter(|_| text.contains('\n'))
            {
                break url.trim().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "mock-cloud did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        self.api = CloudApi::new(url);
        self.running = Running::Child(Some(child));
        self.starts += 1;
    }

    /// SIGKILLs the child process (no chance to finish anything).
    pub fn kill(&mut self) {
        if let Running::Child(Some(child)) = &mut self.running {
            sigkill(child.id());
            let _ = child.wait();
        }
        self.running = Running::Stopped;
    }

    /// Starts the child again on the same address and data folder.
    pub fn restart(&mut self) {
        let addr = self.url().trim_start_matches("http://").to_string();
        self.spawn(&addr);
    }

    pub fn url(&self) -> &str {
        self.api.base()
    }

    /// What the provider needs to reach this emulator as it would IBM Cloud.
    pub fn env(&self) -> Vec<(String, String)> {
        self.api.provider_env()
    }

    /// A VPC `GET` (the test's own view of the cloud; counted by mock-cloud like any).
    pub fn get(&self, path: &str) -> Value {
        self.api.get(path)
    }

    /// A test-control call (`/_mock/...`): status and JSON body.
    pub fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api.admin(method, path, body)
    }

    pub fn image_id(&self, name: &str) -> String {
        self.api.image_id(name)
    }

    /// (vpc id, subnet id) in `zone`.
    pub fn network(&self, zone: &str) -> (String, String) {
        self.api.network(zone)
    }

    /// Every instance the emulator lists, as (id, name, status), all pages.
    pub fn instances(&self) -> Vec<(String, String, String)> {
        self.api.instances()
    }

    /// Writes a signed contract, every section encrypted to this emulator's certificate, and
    /// returns its path.
    pub fn contract_file(&self) -> PathBuf {
        let yaml = signed_contract(&self.pki.encryption_cert, ENV);
        let path = self.dir.path().join("contract.yaml");
        std::fs::write(&path, yaml).expect("write contract");
        path
    }

    /// `count` Hyper Protect instances `<prefix>-<n>` in us-south-2 running `contract`.
    pub fn fleet_config(&self, prefix: &str, count: usize, contract: &Path) -> String {
        let (vpc, subnet) = self.network("us-south-2");
        format!(
            r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}

resource "hyperprotect_instance" "fleet" {{
  count     = {count}
  name      = "{prefix}-${{count.index}}"
  profile   = "bz2e-1x4"
  image     = "{image}"
  zone      = "us-south-2"
  vpc       = "{vpc}"
  subnet    = "{subnet}"
  user_data = file("{contract}")

  contract_check_seconds = 1
}}
"#,
            image = self.image_id(HPCR_IMAGE),
            contract = contract.display(),
        )
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.running, Running::Stopped) {
            Running::InProcess(Some(mock)) => {
                let _ = self.rt.block_on(mock.shutdown());
            }
            Running::Child(Some(mut child)) => {
                sigkill(child.id());
                let _ = child.wait();
            }
            _ => {}
        }
    }
}

pub fn provider() -> Vec<ProviderUnderTest> {
    vec![ProviderUnderTest::hyperprotect()]
}

/// `kill -KILL pid` (the test crate has no signal binding; `kill` is POSIX).
pub fn sigkill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// Whether process `pid` still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Children of `parent` running the executable `name`.
pub fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        // `comm` is the executable's name cut to 15 bytes.
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim_end();
        let named = comm == &name[..name.len().min(15)];
        if ppid == Some(parent) && named {
            out.push(pid);
        }
    }
    out
}

/// `terraform apply` started in the background, output to files in the working dir.
pub struct Background {
    pub child: Child,
    out: PathBuf,
}

impl Background {
    pub fn apply(work: &WorkDir, extra: &[&str]) -> Background {
        let out = work.path().join(".background-output");
        let file = std::fs::File::create(&out).expect("output file");
        let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
        args.extend_from_slice(extra);
        let child = work
            .command(&args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("start terraform apply");
        Background { child, out }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `limit` for the exit code (None if killed by a signal).
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if started.elapsed() > limit {
                sigkill(self.child.id());
                let _ = self.child.wait();
                panic!(
                    "terraform did not finish within {limit:?}:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

/// Polls `cond` every 100 ms for at most `limit`; panics with `what` when it never holds.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The instance ids recorded in a working directory's state file.
pub fn state_ids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap_or_default();
    let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["type"] == "hyperprotect_instance")
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["attributes"]["id"].as_str().map(str::to_string))
        .collect()
}
