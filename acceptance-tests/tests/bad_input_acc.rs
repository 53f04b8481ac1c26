//! Bad input never panics: a table of malformed values for every resource and data source
//! (wrong PEM types, truncated tokens, 1 MiB strings, YAML that control characters or a bad
//! `!!binary` break, NUL bytes, negative and huge numbers, unknown values where they are
//! allowed) goes through the real Terraform CLI. Each case must end in an error diagnostic
//! at its object and attribute (Terraform prints `with <address>` and the attribute's
//! configuration line), and no run may show a crash.
//!
//! The cases are independent, so they share one configuration and one `terraform plan`
//! (plus a `terraform validate`): one Terraform run checks them all.

use acceptance_tests::harness::{acceptance_enabled, ProviderUnderTest, Terraform, WorkDir};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::{Config, MockCloud};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;

/// One malformed input: the object it goes to, the attribute the diagnostic must point at
/// and the object's configuration body.
struct Case {
    what: &'static str,
    address: String,
    attribute: &'static str,
    hcl: String,
}

/// What Terraform prints when a provider crashes or misbehaves.
const CRASH_MARKERS: [&str; 6] = [
    "plugin crashed",
    "panic",
    "Provider produced inconsistent result",
    "Plugin did not respond",
    "rpc error",
    "stack backtrace",
];

/// The error blocks of Terraform's (no-color) output.
fn error_blocks(output: &str) -> Vec<&str> {
    output.split("Error: ").skip(1).collect()
}

/// True when some error block is at `address` and points at a configuration line that sets
/// `attribute` (Terraform 1.0 quotes the line only for some diagnostics, but always gives
/// its number, so the line is looked up in the configuration itself).
fn diagnosed_at(blocks: &[&str], config: &str, address: &str, attribute: &str) -> bool {
    let lines: Vec<&str> = config.lines().collect();
    let at = regex::Regex::new(r"on main\.tf line (\d+),").expect("regex");
    blocks.iter().any(|b| {
        b.contains(&format!("with {address},"))
            && at.captures(b).is_some_and(|c| {
                let n: usize = c[1].parse().unwrap_or(0);
                n > 0
                    && lines.get(n - 1).is_some_and(|l| {
                        l.trim_start()
                            .strip_prefix(attribute)
                            .is_some_and(|rest| rest.trim_start().starts_with('='))
                    })
            })
    })
}

#[test]
fn test_acc_malformed_values_get_a_diagnostic_at_their_attribute_and_never_a_crash() {
    if !acceptance_enabled("malformed_values_get_a_diagnostic_at_their_attribute") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create_with(
        dir.path(),
        &PkiOptions {
            ca_bits: RsaBits::Rsa2048,
            encryption_bits: RsaBits::Rsa2048,
            attestation_bits: RsaBits::Rsa2048,
        },
    )
    .expect("emulator PKI");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mock = rt
        .block_on(MockCloud::start(Config::new(dir.path())))
        .expect("mock-cloud");
    let url = mock.url().to_string();

    let files = tempfile::tempdir().unwrap();
    let put = |name: &str, content: &[u8]| -> String {
        let p = files.path().join(name);
        std::fs::write(&p, content).unwrap();
        format!("file(\"{}\")", p.display())
    };
    let pem = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let cert_pem = pem(pki.encryption_cert.to_pem().unwrap());
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let key_pem = pem(key.private_key_to_pem_pkcs8().unwrap());
    let pub_pem = pem(key.public_key_to_pem().unwrap());
    let cert = put("enc.crt", cert_pem.as_bytes());
    let key_file = put("key.pem", key_pem.as_bytes());
    let cert_as_key = put("cert-as-key.pem", cert_pem.as_bytes());
    let truncated_cert = put("truncated.crt", &cert_pem.as_bytes()[..cert_pem.len() / 2]);
    let pub_as_cert = put("pub.pem", pub_pem.as_bytes());
    let huge = put("huge.txt", &vec![b'x'; 1 << 20]);
    let nul_workload = put(
        "nul.yaml",
        b"type: workload\ncompose:\n  archive: H4sI\x00AAAA\n",
    );
    let nul_env = put("nul-env.yaml", b"type: env\nenv:\n  A: \"x\x00y\"\n");
    let folder_with_nul = "/tmp/a\\u0000b";

    let mut cases: Vec<Case> = Vec::new();
    let mut case = |what: &'static str, kind: &str, name: &str, attribute, body: String| {
        let (block, ty) = kind
            .split_once(' ')
            .expect("kind is `resource TYPE` or `data TYPE`");
        let address = if block == "data" {
            format!("data.{ty}.{name}")
        } else {
            format!("{ty}.{name}")
        };
        cases.push(Case {
            what,
            address,
            attribute,
            hcl: format!("{block} \"{ty}\" \"{name}\" {{\n{body}\n}}\n"),
        });
    };
    let w = "resource hyperprotect_workload";
    let c = "resource hyperprotect_contract";
    let t = "resource hyperprotect_encrypted_text";
    let i = "resource hyperprotect_instance";
    let ok_env = "\"type: env\\nenv:\\n  A: b\\n\"";
    let ok_workload = "\"type: workload\\ncompose:\\n  archive: H4sIAAAA\\n\"";

    // hyperprotect_workload
    case(
        "1 MiB content",
        w,
        "huge",
        "content",
        format!("  content = {huge}\n  encryption_certificate = {cert}"),
    );
    case(
        "NUL byte in YAML",
        w,
        "nul",
        "content",
        format!("  content = {nul_workload}\n  encryption_certificate = {cert}"),
    );
    case("control character in YAML", w, "ctrl", "content", format!("  content = \"type: workload\\ncompose:\\n  archive: \\u0007\\u0001\\n\"\n  encryption_certificate = {cert}"));
    case("bad !!binary in YAML", w, "binary", "content", format!("  content = \"type: workload\\ncompose:\\n  archive: !!binary '%%%%'\\n\"\n  encryption_certificate = {cert}"));
    case(
        "private key as certificate",
        w,
        "keycert",
        "encryption_certificate",
        format!("  content = {ok_workload}\n  encryption_certificate = {key_file}"),
    );
    case(
        "truncated certificate",
        w,
        "trunc",
        "encryption_certificate",
        format!("  content = {ok_workload}\n  encryption_certificate = {truncated_cert}"),
    );
    case(
        "public key as certificate",
        w,
        "pubcert",
        "encryption_certificate",
        format!("  content = {ok_workload}\n  encryption_certificate = {pub_as_cert}"),
    );

    // hyperprotect_contract
    case("truncated token", c, "token", "workload", format!("  workload = \"hyper-protect-basic.AAAA\"\n  env = {ok_env}\n  signing_key = {key_file}\n  encryption_certificate = {cert}"));
    case("certificate as signing key", c, "certkey", "signing_key", format!("  workload = {ok_workload}\n  env = {ok_env}\n  signing_key = {cert_as_key}\n  encryption_certificate = {cert}"));
    case("NUL byte in env", c, "nulenv", "env", format!("  workload = {ok_workload}\n  env = {nul_env}\n  signing_key = {key_file}\n  encryption_certificate = {cert}"));
    case("1 MiB env", c, "hugeenv", "env", format!("  workload = {ok_workload}\n  env = {huge}\n  signing_key = {key_file}\n  encryption_certificate = {cert}"));
    case("garbage attestation key", c, "attkey", "attestation_public_key", format!("  workload = {ok_workload}\n  env = {ok_env}\n  signing_key = {key_file}\n  attestation_public_key = \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"\n  encryption_certificate = {cert}"));
    case("negative expiry days", c, "negdays", "days", format!("  workload = {ok_workload}\n  env = {ok_env}\n  signing_key = {key_file}\n  encryption_certificate = {cert}\n  expiry {{\n    days = -5\n    ca_certificate = {cert}\n    ca_key = {key_file}\n  }}"));
    case("huge expiry days", c, "hugedays", "days", format!("  workload = {ok_workload}\n  env = {ok_env}\n  signing_key = {key_file}\n  encryption_certificate = {cert}\n  expiry {{\n    days = 1e300\n    ca_certificate = {cert}\n    ca_key = {key_file}\n  }}"));
    case("unknown workload, certificate as signing key", c, "unknown", "signing_key", format!("  workload = hyperprotect_workload.good.encrypted\n  env = {ok_env}\n  signing_key = {cert_as_key}\n  encryption_certificate = {cert}"));

    // hyperprotect_encrypted_text
    case(
        "NUL byte in text, truncated certificate",
        t,
        "trunc",
        "encryption_certificate",
        format!("  text = \"a\\u0000b\"\n  encryption_certificate = {truncated_cert}"),
    );
    case(
        "private key as certificate",
        t,
        "keycert",
        "encryption_certificate",
        format!("  text = \"x\"\n  encryption_certificate = {key_file}"),
    );

    // hyperprotect_instance
    let inst = |extra: &str| {
        format!("  name = \"bad\"\n  profile = \"bz2e-1x4\"\n  image = \"r006-img\"\n  zone = \"us-south-1\"\n  vpc = \"r006-vpc\"\n  subnet = \"0717-subnet\"\n{extra}")
    };
    case(
        "negative contract_check_seconds",
        i,
        "neg",
        "contract_check_seconds",
        inst("  contract_check_seconds = -1"),
    );
    case(
        "huge contract_check_seconds",
        i,
        "huge",
        "contract_check_seconds",
        inst("  contract_check_seconds = 1e30"),
    );
    case(
        "NUL byte in name",
        i,
        "nulname",
        "name",
        inst("").replace("\"bad\"", "\"a\\u0000b\""),
    );
    case(
        "unknown user_data, negative check seconds",
        i,
        "unknown",
        "contract_check_seconds",
        inst("  user_data = hyperprotect_workload.good.encrypted\n  contract_check_seconds = -7"),
    );

    // data sources
    let a = "data hyperprotect_attestation";
    case(
        "truncated record",
        a,
        "trunc",
        "record",
        format!("  record = \"hyper-protect-basic.AAAA\"\n  private_key = {key_file}"),
    );
    case(
        "certificate as private key",
        a,
        "certkey",
        "private_key",
        format!("  record = \"hyper-protect-basic.AAAA.BBBB\"\n  private_key = {cert_as_key}"),
    );
    case(
        "1 MiB record",
        a,
        "huge",
        "record",
        format!("  record = {huge}\n  private_key = {key_file}"),
    );
    let e = "data hyperprotect_encryption_certificate";
    case(
        "private key as certificate",
        e,
        "keycert",
        "certificate",
        format!("  certificate = {key_file}"),
    );
    case(
        "1 MiB certificate",
        e,
        "huge",
        "certificate",
        format!("  certificate = {huge}"),
    );
    case(
        "bad version constraint",
        e,
        "version",
        "version",
        "  version = \"not a version\\u0000\"".to_string(),
    );
    case(
        "NUL byte in folder",
        "data hyperprotect_archive",
        "nul",
        "folder",
        format!("  folder = \"{folder_with_nul}\""),
    );
    case(
        "bad image constraint",
        "data hyperprotect_image",
        "bad",
        "version",
        "  version = \">= -1.x\"".to_string(),
    );
    case(
        "1 MiB vpc name",
        "data hyperprotect_vpc",
        "huge",
        "name",
        format!("  name = {huge}"),
    );
    case(
        "NUL byte in subnet name",
        "data hyperprotect_subnet",
        "nul",
        "name",
        "  name = \"a\\u0000b\"".to_string(),
    );

    let header = format!(
        r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}

provider "hyperprotect" {{
  api_key      = "test-key"
  region       = "us-south"
  iam_endpoint = "{url}"
  vpc_endpoint = "{url}"
}}

# A valid object whose `encrypted` is unknown at plan time, for the unknown-value cases.
resource "hyperprotect_workload" "good" {{
  content                = {ok_workload}
  encryption_certificate = {cert}
}}
"#
    );
    // Two batches: Terraform stops a plan after validation errors, before reading data
    // sources, so the data sources checked when read get a plan of their own (version
    // constraints are checked in validation).
    let (data, resources): (Vec<&Case>, Vec<&Case>) = cases
        .iter()
        .partition(|c| c.address.starts_with("data.") && c.attribute != "version");
    let mut diagnostics = 0;
    for batch in [resources, data] {
        let mut config = header.clone();
        for c in &batch {
            config.push_str(&c.hcl);
        }
        let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
        work.write_config(&config);
        let validate = work.terraform(&["validate", "-no-color"]);
        let plan = work.terraform(&["plan", "-input=false", "-no-color"]);
        assert_ne!(plan.code, 0, "the plan of malformed values succeeded");
        for (what, run) in [("validate", &validate), ("plan", &plan)] {
            let out = run.output();
            for marker in CRASH_MARKERS {
                assert!(
                    !out.contains(marker),
                    "terraform {what} shows `{marker}`:\n{out}"
                );
            }
        }
        let out = plan.output();
        let blocks = error_blocks(&out);
        diagnostics += blocks.len();
        let missing: Vec<String> = batch
            .iter()
            .filter(|c| !diagnosed_at(&blocks, &config, &c.address, c.attribute))
            .map(|c| format!("{} ({}.{})", c.what, c.address, c.attribute))
            .collect();
        assert!(
            missing.is_empty(),
            "no diagnostic at the attribute for:\n{}\n\nTerraform said:\n{out}",
            missing.join("\n")
        );
    }
    println!(
        "bad input ({}): {} cases in 2 plans (+2 validates), {diagnostics} error diagnostics, no crash",
        terraform.version(),
        cases.len(),
    );
    drop(mock);
}
