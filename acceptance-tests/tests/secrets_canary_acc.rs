//! No secret anywhere it should not be: the persona flow (workload → contract → encryption
//! certificate → instance boot on mock-cloud → auditor's attestation check) and the
//! instance lifecycle run through the real Terraform CLI with `TF_LOG=TRACE` and
//! `TF_LOG_PROVIDER=TRACE`, with a distinctive canary planted in every secret input. Every
//! place a secret could leak to is then searched for every canary (and every base64 line of
//! the PEM private keys): Terraform's log, the provider's log lines, stdout and stderr of
//! every command (plan, apply, diagnostics), and mock-cloud's access log; on Terraform ≥
//! 1.11, where the write-only forms are used, also the state and the saved plan.
//!
//! The IAM tokens are the ones mock-cloud really issued during the run: the emulator runs
//! as its own process with `--issued-tokens-file`, a wiretap the test reads afterwards, so
//! the search covers exactly the tokens the provider received (the test itself asks IAM for
//! none). A failing step (an env whose volume seed breaks the schema and is itself a canary)
//! checks that the diagnostic names the problem without quoting the value.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use acceptance_tests::harness::{
    acceptance_enabled, built_binary, terraform_version, ProviderUnderTest, Run, Terraform, WorkDir,
};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;

/// A mock-cloud process with its access log on stderr (to a file) and the token wiretap.
struct MockProcess {
    child: Child,
    url: String,
    access_log: PathBuf,
    issued_tokens: PathBuf,
    pki: Pki,
}

impl MockProcess {
    fn start(dir: &Path, api_key: &str) -> MockProcess {
        // RSA-2048 platform keys, made before start (the emulator's default RSA-4096 is slow).
        let pki = Pki::load_or_create_with(
            dir,
            &PkiOptions {
                ca_bits: RsaBits::Rsa2048,
                encryption_bits: RsaBits::Rsa2048,
                attestation_bits: RsaBits::Rsa2048,
            },
        )
        .expect("emulator PKI");
        let access_log = dir.join("access.log");
        let issued_tokens = dir.join("issued-tokens.txt");
        let mut child = Command::new(built_binary("mock-cloud"))
            .arg("--data-dir")
            .arg(dir)
            .args(["--api-key", api_key, "--access-log"])
            .arg("--issued-tokens-file")
            .arg(&issued_tokens)
            .args([
                "--pending-delay-ms",
                "100",
                "--boot-delay-ms",
                "300",
                "--stop-delay-ms",
                "200",
                "--delete-delay-ms",
                "200",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&access_log).expect("access log file"))
            .spawn()
            .expect("start mock-cloud");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("mock-cloud's first line");
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_string();
        MockProcess {
            child,
            url,
            access_log,
            issued_tokens,
            pki,
        }
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A named secret value and the text forms it must never take outside its place.
struct Canary {
    name: String,
    needles: Vec<String>,
    /// False for secrets that are arguments of a data source: Terraform keeps data source
    /// arguments in state (marked sensitive), so only the logs and outputs are searched.
    out_of_state: bool,
}

/// The non-header lines of a PEM text (each a run of the key's base64 body).
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect()
}

fn rsa() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn random_tag() -> String {
    let mut b = [0u8; 6];
    openssl::rand::rand_bytes(&mut b).unwrap();
    hex::encode(b)
}

/// Every place searched: a name and its text.
#[derive(Default)]
struct Places(Vec<(String, String)>);

impl Places {
    fn add(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.0.push((name.into(), text.into()));
    }

    /// Adds stdout, stderr and the TRACE log (Terraform's lines and the provider's lines
    /// apart) of one command.
    fn add_run(&mut self, step: &str, run: &Run, log: &Path) {
        self.add(format!("{step}: stdout"), run.stdout.clone());
        self.add(format!("{step}: stderr (diagnostics)"), run.stderr.clone());
        let log = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            log.contains("[TRACE]"),
            "{step}: TF_LOG_PATH has no TRACE lines, so searching it would prove nothing"
        );
        let (provider, core): (Vec<&str>, Vec<&str>) = log
            .lines()
            .partition(|l| l.contains("terraform-provider-hyperprotect"));
        self.add(format!("{step}: Terraform log"), core.join("\n"));
        self.add(format!("{step}: provider log"), provider.join("\n"));
    }
}

struct Flow {
    work: WorkDir,
    logs: tempfile::TempDir,
    places: Places,
    step: usize,
}

impl Flow {
    fn run(&mut self, name: &str, args: &[&str], expect_ok: bool) -> Run {
        self.step += 1;
        let log = self
            .logs
            .path()
            .join(format!("{:02}-{name}.log", self.step));
        let mut cmd = self.work.command(args);
        cmd.env("TF_LOG", "TRACE")
            .env("TF_LOG_PROVIDER", "TRACE")
            .env("TF_LOG_PATH", &log);
        let out_path = self.logs.path().join("stdout");
        let err_path = self.logs.path().join("stderr");
        let status = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("run terraform");
        let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: read(&out_path),
            stderr: read(&err_path),
        };
        if expect_ok {
            assert_eq!(run.code, 0, "terraform {name}:\n{}", run.output());
        }
        self.places
            .add_run(&format!("terraform {name} (#{})", self.step), &run, &log);
        run
    }
}

#[test]
fn test_acc_no_canary_in_any_log_output_or_diagnostic() {
    if !acceptance_enabled("no_canary_in_any_log_output_or_diagnostic") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let version = terraform.version();
    let write_only = terraform_version()
        .expect("Terraform version")
        .supports_write_only();
    let tag = random_tag();
    let secret = |what: &str| format!("cnry{what}{tag}");

    let api_key = secret("ApiKey");
    let env_value = secret("EnvValue");
    let log_key = secret("LogIamKey");
    let registry_password = secret("RegistryPw");
    let workload_seed = secret("WorkloadSeed");
    let env_seed = secret("EnvSeed");
    let signing_passphrase = secret("SigningPass");
    let auditor_passphrase = secret("AuditorPass");
    let bad_seed = format!("cnryB{}", &tag[..8]); // 13 characters: breaks the seed rule

    let mock_dir = tempfile::tempdir().unwrap();
    let mock = MockProcess::start(mock_dir.path(), &api_key);
    let files = tempfile::tempdir().unwrap();
    let put = |name: &str, content: &str| -> String {
        let p = files.path().join(name);
        std::fs::write(&p, content).unwrap();
        format!("file(\"{}\")", p.display())
    };

    let signing = rsa();
    let signing_pem = String::from_utf8(
        signing
            .private_key_to_pem_pkcs8_passphrase(
                Cipher::aes_256_cbc(),
                signing_passphrase.as_bytes(),
            )
            .unwrap(),
    )
    .unwrap();
    let auditor = rsa();
    let auditor_pem = String::from_utf8(
        auditor
            .private_key_to_pem_pkcs8_passphrase(
                Cipher::aes_256_cbc(),
                auditor_passphrase.as_bytes(),
            )
            .unwrap(),
    )
    .unwrap();
    let auditor_pub = String::from_utf8(auditor.public_key_to_pem().unwrap()).unwrap();

    let compose = tempfile::tempdir().unwrap();
    std::fs::write(
        compose.path().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n",
    )
    .unwrap();
    let archive = hyperprotect::contract::archive::tgz_base64(compose.path()).unwrap();
    let workload = format!(
        "type: workload\nauths:\n  registry.example.com:\n    username: deployer\n    password: {registry_password}\ncompose:\n  archive: {}\nvolumes:\n  data:\n    seed: {workload_seed}\n",
        archive.base64
    );
    let env = |seed: &str| {
        format!(
            "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: {log_key}\nvolumes:\n  data:\n    seed: {seed}\nenv:\n  GREETING: {env_value}\n"
        )
    };

    let workload_file = put("workload.yaml", &workload);
    let env_file = put("env.yaml", &env(&env_seed));
    let bad_env_file = put("bad-env.yaml", &env(&bad_seed));
    let signing_file = put("signing.key", &signing_pem);
    let signing_pass_file = put("signing.pass", &signing_passphrase);
    let auditor_file = put("auditor.key", &auditor_pem);
    let auditor_pass_file = put("auditor.pass", &auditor_passphrase);
    let auditor_pub_file = put("auditor.pub", &auditor_pub);
    let cert_file = put(
        "encryption.crt",
        std::str::from_utf8(&mock.pki.encryption_cert.to_pem().unwrap()).unwrap(),
    );
    let pem = |x: &openssl::x509::X509| String::from_utf8(x.to_pem().unwrap()).unwrap();
    let attestation_cert_file = put("attestation.crt", &pem(&mock.pki.attestation_cert));
    let bundle_file = put(
        "bundle.pem",
        &format!("{}{}", pem(&mock.pki.intermediate), pem(&mock.pki.root)),
    );
    let record_file = files.path().join("record");
    let signature_file = files.path().join("signature");

    let (workload_attrs, contract_secrets) = if write_only {
        (
            format!("content_wo = {workload_file}\n  content_wo_version = 1"),
            format!(
                "env_wo = {env_file}\n  env_wo_version = 1\n  signing_key_wo = {signing_file}\n  signing_key_passphrase_wo = {signing_pass_file}\n  signing_key_wo_version = 1"
            ),
        )
    } else {
        (
            format!("content = {workload_file}"),
            format!(
                "env = {env_file}\n  signing_key = {signing_file}\n  signing_key_passphrase = {signing_pass_file}"
            ),
        )
    };
    let config = |auditor_block: bool| {
        let audit = if auditor_block {
            format!(
                r#"
data "hyperprotect_attestation" "a" {{
  record                 = file("{record}")
  signature              = file("{signature}")
  attestation_certificate = {attestation_cert_file}
  ca_certificate         = {bundle_file}
  private_key            = {auditor_file}
  private_key_passphrase = {auditor_pass_file}
  contract               = hyperprotect_contract.c.rendered
}}

output "verified" {{
  value = data.hyperprotect_attestation.a.verified
}}
"#,
                record = record_file.display(),
                signature = signature_file.display(),
            )
        } else {
            String::new()
        };
        format!(
            r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}

provider "hyperprotect" {{
  region       = "us-south"
  iam_endpoint = "{url}"
  vpc_endpoint = "{url}"
}}

data "hyperprotect_encryption_certificate" "platform" {{
  certificate = {cert_file}
}}

resource "hyperprotect_workload" "w" {{
  {workload_attrs}
  encryption_certificate = data.hyperprotect_encryption_certificate.platform.certificate
}}

resource "hyperprotect_contract" "c" {{
  workload               = hyperprotect_workload.w.encrypted
  {contract_secrets}
  attestation_public_key = {auditor_pub_file}
  encryption_certificate = data.hyperprotect_encryption_certificate.platform.certificate
}}

data "hyperprotect_image" "hpcr" {{
  version      = ">= 1.0.20, < 1.1"
  architecture = "s390x"
}}

data "hyperprotect_vpc" "main" {{
  name = "mock-vpc"
}}

data "hyperprotect_subnet" "s" {{
  name = "mock-subnet-1"
  vpc  = data.hyperprotect_vpc.main.id
}}

resource "hyperprotect_instance" "hp" {{
  name      = "canary-{tag}"
  profile   = "bz2e-1x4"
  image     = data.hyperprotect_image.hpcr.id
  zone      = data.hyperprotect_subnet.s.zone
  vpc       = data.hyperprotect_vpc.main.id
  subnet    = data.hyperprotect_subnet.s.id
  user_data = hyperprotect_contract.c.rendered

  contract_check_seconds = 1
}}

output "id" {{
  value = hyperprotect_instance.hp.id
}}
{audit}"#,
            url = mock.url,
        )
    };

    let env_vars = vec![("IC_API_KEY".to_string(), api_key.clone())];
    let mut flow = Flow {
        work: WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &env_vars),
        logs: tempfile::tempdir().unwrap(),
        places: Places::default(),
        step: 0,
    };
    let plain = ["-input=false", "-no-color"];
    let with = |cmd: &[&'static str]| -> Vec<&'static str> {
        // Flags before positional arguments (a plan file must come last).
        let (sub, rest) = cmd.split_first().expect("a subcommand");
        std::iter::once(sub)
            .chain(plain.iter())
            .chain(rest.iter())
            .copied()
            .collect()
    };

    // Deploy: plan to a file, apply it.
    flow.work.write_config(&config(false));
    flow.run("plan -out", &with(&["plan", "-out=tfplan"]), true);
    let mut saved_plans = vec![(
        "saved plan 1 (zip entries)".to_string(),
        unzip_text(&flow.work.path().join("tfplan")),
    )];
    let show_plan = flow.run("show -json tfplan", &["show", "-json", "tfplan"], true);
    saved_plans.push(("saved plan 1 (show -json)".into(), show_plan.stdout.clone()));
    flow.run("apply tfplan", &with(&["apply", "tfplan"]), true);
    let id = flow
        .run("output id", &["output", "-raw", "id"], true)
        .stdout;

    // The auditor: the guest's attestation record (test-control route, no token needed).
    let att: serde_json::Value = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::get(format!("{}/_mock/instances/{id}/attestation", mock.url))
                .await
                .expect("attestation")
                .json()
                .await
                .expect("attestation JSON")
        });
    std::fs::write(&record_file, att["record"].as_str().expect("record")).unwrap();
    std::fs::write(
        &signature_file,
        att["signature"].as_str().expect("signature"),
    )
    .unwrap();

    flow.work.write_config(&config(true));
    flow.run(
        "plan -out (auditor)",
        &with(&["plan", "-out=tfplan2"]),
        true,
    );
    saved_plans.push((
        "saved plan 2 (zip entries)".into(),
        unzip_text(&flow.work.path().join("tfplan2")),
    ));
    flow.run("apply tfplan2", &with(&["apply", "tfplan2"]), true);
    let verified = flow
        .run("output verified", &["output", "-raw", "verified"], true)
        .stdout;
    assert_eq!(verified.trim(), "true", "the auditor's check failed");
    let empty = flow.run(
        "plan (empty)",
        &with(&["plan", "-detailed-exitcode"]),
        false,
    );
    assert_eq!(empty.code, 0, "plan not empty:\n{}", empty.output());
    flow.run("refresh", &with(&["refresh"]), true);
    let shown = flow.run("show -json", &["show", "-json"], true);
    let state_text =
        std::fs::read_to_string(flow.work.path().join("terraform.tfstate")).unwrap_or_default();

    // A failing step: the env's seed breaks the schema; the diagnostic must not quote it.
    let failing = config(true).replace(&env_file, &bad_env_file);
    flow.work.write_config(&failing);
    let bad = flow.run("plan (bad env seed)", &with(&["plan"]), false);
    assert_ne!(bad.code, 0, "a too-short seed must fail the plan");
    assert!(
        bad.stderr.contains("env.volumes.data.seed"),
        "the diagnostic should name the seed:\n{}",
        bad.stderr
    );

    // Lifecycle end.
    flow.work.write_config(&config(true));
    flow.run("destroy", &with(&["destroy", "-auto-approve"]), true);

    // Places outside Terraform.
    let access_log = std::fs::read_to_string(&mock.access_log).unwrap_or_default();
    assert!(
        access_log.contains("POST /identity/token") && access_log.contains("/v1/instances"),
        "mock-cloud's access log does not show the run:\n{access_log}"
    );
    flow.places.add("mock-cloud access log", access_log);
    let issued: Vec<String> = std::fs::read_to_string(&mock.issued_tokens)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert!(!issued.is_empty(), "mock-cloud issued no IAM token");

    // The canaries.
    let mut canaries: Vec<Canary> = Vec::new();
    let mut plant = |name: &str, needles: Vec<String>, out_of_state: bool| {
        canaries.push(Canary {
            name: name.to_string(),
            needles,
            out_of_state,
        })
    };
    plant("API key", vec![api_key.clone()], true);
    plant("env value", vec![env_value.clone()], true);
    plant("env logging iamApiKey", vec![log_key.clone()], true);
    plant("registry password", vec![registry_password.clone()], true);
    plant("workload volume seed", vec![workload_seed.clone()], true);
    plant("env volume seed", vec![env_seed.clone()], true);
    plant(
        "invalid env seed (failing step)",
        vec![bad_seed.clone()],
        true,
    );
    plant("signing key (PEM body)", pem_body_lines(&signing_pem), true);
    plant(
        "signing key passphrase",
        vec![signing_passphrase.clone()],
        true,
    );
    plant(
        "auditor private key (PEM body)",
        pem_body_lines(&auditor_pem),
        false,
    );
    plant(
        "auditor key passphrase",
        vec![auditor_passphrase.clone()],
        false,
    );
    for (i, token) in issued.iter().enumerate() {
        let mut needles = vec![token.clone()];
        // A JWT's payload and signature are each unique: a log that cuts the token up or
        // prints only a part still leaks it.
        needles.extend(
            token
                .split('.')
                .skip(1)
                .filter(|p| p.len() >= 16)
                .map(str::to_string),
        );
        plant(&format!("IAM token #{}", i + 1), needles, true);
    }

    if write_only {
        flow.places.add("state file", state_text);
        flow.places.add("state (show -json)", shown.stdout.clone());
        for (name, text) in saved_plans {
            flow.places.add(name, text);
        }
    }

    // `show -json` prints state or a saved plan: searched for secrets that must stay out of
    // state, on Terraform with write-only attributes only (before 1.11 stored secrets are in
    // state by design, marked sensitive).
    let is_state_view = |place: &str| {
        place.starts_with("state")
            || place.starts_with("saved plan")
            || (place.contains("show -json") && place.ends_with("stdout"))
    };
    let mut leaks = Vec::new();
    let mut skipped = 0;
    for (place, text) in &flow.places.0 {
        let in_state = is_state_view(place);
        if in_state && !write_only {
            skipped += 1;
            continue;
        }
        for c in &canaries {
            if in_state && !(write_only && c.out_of_state) {
                continue;
            }
            if c.needles.iter().any(|n| text.contains(n.as_str())) {
                leaks.push(format!("{} in {place}", c.name));
            }
        }
    }
    println!(
        "secrets canary ({version}, write-only forms: {write_only}): {} canaries ({} needles), \
         {} places searched ({skipped} state/plan views not searched without write-only forms):",
        canaries.len(),
        canaries.iter().map(|c| c.needles.len()).sum::<usize>(),
        flow.places.0.len() - skipped
    );
    for (place, text) in &flow.places.0 {
        let note = if is_state_view(place) && !write_only {
            ", not searched"
        } else {
            ""
        };
        println!("  {place} ({} bytes{note})", text.len());
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

/// The text of every entry of a zip file (`unzip -p`); fails when unzip is missing, since a
/// saved plan that was never opened would be searched in vain.
fn unzip_text(path: &Path) -> String {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(path)
        .output()
        .expect("unzip (to open the saved plan)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
