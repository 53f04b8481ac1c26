//! Acceptance tests of `hyperprotect_workload`, `hyperprotect_encrypted_text` and
//! `hyperprotect_contract` with the real Terraform CLI: create, empty plans before and after
//! refresh, updates that plan exactly the changing outputs unknown, errors at plan time for
//! each kind of bad input, contract-expiry renewal, and a plan of 100 unchanged contracts that
//! encrypts nothing. Tokens are opened with mock-cloud's encryption key.

#[path = "support/contract_fixtures.rs"]
mod fixtures;

use std::sync::Arc;

use acceptance_tests::harness::{
    acceptance_enabled, terraform_version, Import, ImportId, PlanJson, ProviderUnderTest,
    StateJson, Step, Terraform, TestCase, WorkDir,
};
use acceptance_tests::mock_cloud::pki::RsaBits;
use fixtures::{env_yaml, provider_block, workload_yaml, Fixtures, PASSPHRASE};
use hyperprotect::contract::document::{sha256_hex, Contract};
use hyperprotect::contract::{keys, token};

fn case(name: &'static str, steps: Vec<Step>) -> TestCase {
    TestCase {
        name,
        providers: vec![ProviderUnderTest::hyperprotect()],
        steps,
        env: vec![],
        check_destroy: None,
    }
}

fn attr(state: &StateJson, address: &str, name: &str) -> Result<String, String> {
    state
        .attr(address, name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{address}.{name} missing"))
}

fn decrypt(f: &Fixtures, token_text: &str) -> String {
    let plain = token::decrypt(token_text, &f.pki.encryption_key).expect("token opens");
    String::from_utf8(plain.plaintext).unwrap()
}

/// Exactly these attributes are "known after apply"; the others listed keep their value.
fn unknown_exactly(
    plan: &PlanJson,
    address: &str,
    unknown: &[&str],
    known: &[&str],
) -> Result<(), String> {
    for a in unknown {
        if !plan.is_unknown_after(address, a) {
            return Err(format!("{address}.{a} should be planned unknown"));
        }
    }
    for a in known {
        if plan.is_unknown_after(address, a) {
            return Err(format!("{address}.{a} should stay known"));
        }
    }
    Ok(())
}

fn workload_config(f: &Fixtures, content: &str, platform: &str, cert: &str) -> String {
    format!(
        r#"{p}
resource "hyperprotect_workload" "w" {{
  content                = <<-EOT
{content}EOT
  encryption_certificate = {cert}
  {platform}
}}
"#,
        p = provider_block(),
        cert = f.file(cert),
    )
}

#[test]
fn test_acc_workload_lifecycle_and_plan_time_errors() {
    if !acceptance_enabled("workload_lifecycle_and_plan_time_errors") {
        return;
    }
    let f = Arc::new(Fixtures::new(RsaBits::Rsa2048));
    let w1 = workload_yaml("QUJDRA==");
    let w2 = workload_yaml("RUZHSA==");
    let addr = "hyperprotect_workload.w";
    let (fa, fb, w1c, w2c) = (f.clone(), f.clone(), w1.clone(), w2.clone());
    let bad_schema =
        "type: workload\ncompose:\n  archive: QUJDRA==\n  unknownKey: secret-value-xyz\n";
    case(
        "workload_lifecycle_and_plan_time_errors",
        vec![
            Step::config("create", workload_config(&f, &w1, "", "encryption.crt")).check(
                move |s| {
                    let enc = attr(s, addr, "encrypted")?;
                    if !enc.starts_with("hyper-protect-basic.") {
                        return Err(format!("prefix: {enc:.30}"));
                    }
                    if decrypt(&fa, &enc) != w1c {
                        return Err("token does not open to the content".into());
                    }
                    s.expect(addr, "sha256", sha256_hex(w1c.as_bytes()).into())
                },
            ),
            Step::config(
                "platform ccrt: new token, same sha256",
                workload_config(&f, &w1, "platform = \"ccrt\"", "encryption.crt"),
            )
            .plan_check(|p| {
                if p.actions(addr) != ["update"] {
                    return Err(format!("actions {:?}", p.actions(addr)));
                }
                unknown_exactly(p, addr, &["encrypted", "id"], &["sha256"])
            })
            .check(|s| {
                let enc = attr(s, addr, "encrypted")?;
                enc.starts_with("contract-basic.")
                    .then_some(())
                    .ok_or(format!("prefix: {enc:.30}"))
            }),
            Step::config(
                "content change: sha256 known in the plan",
                workload_config(&f, &w2, "platform = \"ccrt\"", "encryption.crt"),
            )
            .plan_check(move |p| {
                unknown_exactly(p, addr, &["encrypted"], &["sha256"])?;
                let want = sha256_hex(w2c.as_bytes());
                match p.after(addr, "sha256").and_then(|v| v.as_str()) {
                    Some(got) if got == want => Ok(()),
                    got => Err(format!("planned sha256 {got:?}, want {want}")),
                }
            })
            .check(move |s| {
                (decrypt(&fb, &attr(s, addr, "encrypted")?) == workload_yaml("RUZHSA=="))
                    .then_some(())
                    .ok_or("new content not in the token".into())
            }),
            Step::config(
                "schema violation names the YAML path, not the value",
                workload_config(&f, bad_schema, "", "encryption.crt"),
            )
            .expect_error(r"(?s)Invalid workload section.*workload\.compose"),
            Step::config(
                "malformed certificate",
                workload_config(&f, &w2, "", "signing.pub"),
            )
            .expect_error(r"(?s)Unusable encryption certificate.*not a PEM certificate"),
            Step::config(
                "expired certificate",
                workload_config(&f, &w2, "", "expired.crt"),
            )
            .expect_error(r"(?s)Unusable encryption certificate.*expired"),
            Step::config(
                "CA certificate instead of the encryption certificate",
                workload_config(&f, &w2, "", "intermediate.crt"),
            )
            .expect_error(r"(?s)Unusable encryption certificate.*CA\s+certificate"),
            Step::config(
                "unknown platform",
                workload_config(&f, &w2, "platform = \"hpcs\"", "encryption.crt"),
            )
            .expect_error(r"(?s)Invalid platform.*hpcs"),
        ],
    )
    .run();
    // The schema error must never quote the value.
}

#[test]
fn test_acc_schema_errors_never_quote_section_values() {
    if !acceptance_enabled("schema_errors_never_quote_section_values") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let f = Fixtures::new(RsaBits::Rsa2048);
    let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
    // From a file, so Terraform's own source snippet cannot show the value either.
    f.write(
        "bad-workload.yaml",
        "type: workload\ncompose:\n  archive: QUJDRA==\n  unknownKey: secret-value-xyz\n",
    );
    let config = format!(
        "{}\nresource \"hyperprotect_workload\" \"w\" {{\n  content = {}\n  encryption_certificate = {}\n}}\n",
        provider_block(),
        f.file("bad-workload.yaml"),
        f.file("encryption.crt")
    );
    work.write_config(&config);
    let run = work.terraform(&["plan", "-input=false", "-no-color"]);
    assert_ne!(run.code, 0);
    assert!(
        run.output().contains("workload.compose"),
        "{}",
        run.output()
    );
    assert!(
        !run.output().contains("secret-value-xyz"),
        "{}",
        run.output()
    );
}

fn text_config(f: &Fixtures, text: &str) -> String {
    format!(
        r#"{p}
resource "hyperprotect_encrypted_text" "t" {{
  text                   = "{text}"
  encryption_certificate = {cert}
}}
"#,
        p = provider_block(),
        cert = f.file("encryption.crt"),
    )
}

#[test]
fn test_acc_encrypted_text_lifecycle() {
    let f = Arc::new(Fixtures::new(RsaBits::Rsa2048));
    let addr = "hyperprotect_encrypted_text.t";
    let (fa, fb) = (f.clone(), f.clone());
    case(
        "encrypted_text_lifecycle",
        vec![
            Step::config("create", text_config(&f, "s3cr3t")).check(move |s| {
                let enc = attr(s, addr, "encrypted")?;
                (decrypt(&fa, &enc) == "s3cr3t")
                    .then_some(())
                    .ok_or("token does not open to the text".into())
            }),
            Step::config("text change", text_config(&f, "other"))
                .plan_check(|p| unknown_exactly(p, addr, &["encrypted", "id"], &["sha256"]))
                .check(move |s| {
                    s.expect(addr, "sha256", sha256_hex(b"other").into())?;
                    (decrypt(&fb, &attr(s, addr, "encrypted")?) == "other")
                        .then_some(())
                        .ok_or("new text not in the token".into())
                }),
            Step::import(
                "import is refused: ciphertext cannot be read back into inputs",
                text_config(&f, "other"),
                Import {
                    address: addr.to_string(),
                    id: ImportId::Literal("anything".into()),
                    verify: false,
                    verify_ignore: vec![],
                },
            )
            .expect_error(r"(?s)hyperprotect_encrypted_text cannot be imported"),
            Step::config(
                "text and text_wo are exclusive",
                text_config(&f, "x").replace("  text  ", "  text_wo = \"y\"\n  text  "),
            )
            .expect_error(r"(?s)(Conflicting attributes|Write-only attribute)"),
        ],
    )
    .run();
}

/// A deployer configuration; `extra` goes inside the resource block.
fn contract_config(f: &Fixtures, workload: &str, env: &str, extra: &str) -> String {
    format!(
        r#"{p}
resource "hyperprotect_contract" "c" {{
  workload               = <<-EOT
{workload}EOT
  env                    = <<-EOT
{env}EOT
  signing_key            = {key}
  encryption_certificate = {cert}
{extra}
}}
"#,
        p = provider_block(),
        key = f.file("signing.key"),
        cert = f.file("encryption.crt"),
    )
}

const C: &str = "hyperprotect_contract.c";

/// Opens and verifies a rendered contract in-process; returns the env plaintext.
fn open_contract(f: &Fixtures, rendered: &str) -> Result<(String, String), String> {
    let contract = Contract::parse(rendered).map_err(|e| e.to_string())?;
    let public = keys::load_public_key(&f.read("signing.pub")).unwrap();
    contract
        .verify_signature(&public)
        .map_err(|e| format!("signature: {e}"))?;
    Ok((decrypt(f, &contract.workload), decrypt(f, &contract.env)))
}

#[test]
fn test_acc_contract_lifecycle() {
    let f = Arc::new(Fixtures::new(RsaBits::Rsa2048));
    let w = workload_yaml("QUJDRA==");
    let (e1, e2) = (env_yaml("logs.example.com"), env_yaml("other.example.com"));
    let (fa, fb, fc) = (f.clone(), f.clone(), f.clone());
    let w_check = w.clone();
    let attest = format!("  attestation_public_key = {}\n", f.file("attestation.pub"));
    let whole = format!(
        r#"{p}
resource "hyperprotect_contract" "c" {{
  contract               = yamlencode({{ workload = yamldecode(<<-EOT
{w}EOT
), env = yamldecode(<<-EOT
{e2}EOT
) }})
  signing_key            = {key}
  encryption_certificate = {cert}
}}
"#,
        p = provider_block(),
        key = f.file("signing.key"),
        cert = f.file("encryption.crt"),
    );
    case(
        "contract_lifecycle",
        vec![
            Step::config("create", contract_config(&f, &w, &e1, "")).check(move |s| {
                let rendered = attr(s, C, "rendered")?;
                let (workload, env) = open_contract(&fa, &rendered)?;
                if workload != w_check {
                    return Err("workload does not round-trip".into());
                }
                if !env.contains("signingKey") || !env.contains("logs.example.com") {
                    return Err("env lacks signingKey or the user's settings".into());
                }
                s.expect(C, "sha256", sha256_hex(rendered.as_bytes()).into())?;
                s.expect(C, "expires_at", serde_json::Value::Null)
            }),
            Step::config(
                "env change keeps the workload token",
                contract_config(&f, &w, &e2, ""),
            )
            .plan_check(|p| {
                if p.actions(C) != ["update"] {
                    return Err(format!("actions {:?}", p.actions(C)));
                }
                unknown_exactly(
                    p,
                    C,
                    &["rendered", "sha256", "env_sha256", "id"],
                    &["workload_sha256", "expires_at"],
                )
            })
            .check(move |s| {
                let (_, env) = open_contract(&fb, &attr(s, C, "rendered")?)?;
                env.contains("other.example.com")
                    .then_some(())
                    .ok_or("env not updated".into())
            }),
            Step::config(
                "attestation key added, encrypted",
                contract_config(&f, &w, &e2, &attest),
            )
            .plan_check(|p| unknown_exactly(p, C, &["rendered", "sha256"], &["workload_sha256"]))
            .check(move |s| {
                let rendered = attr(s, C, "rendered")?;
                let c = Contract::parse(&rendered).map_err(|e| e.to_string())?;
                let key = c.attestation_public_key.ok_or("no attestationPublicKey")?;
                (decrypt(&fc, &key).contains("PUBLIC KEY"))
                    .then_some(())
                    .ok_or("attestation key not encrypted to the platform".into())
            }),
            Step::config(
                "attestation key in plaintext",
                contract_config(
                    &f,
                    &w,
                    &e2,
                    &format!("{attest}  attestation_public_key_plaintext = true\n"),
                ),
            )
            .check(|s| {
                let c = Contract::parse(&attr(s, C, "rendered")?).map_err(|e| e.to_string())?;
                c.attestation_public_key
                    .filter(|k| k.contains("BEGIN PUBLIC KEY"))
                    .map(|_| ())
                    .ok_or("attestation key should be plaintext PEM".into())
            }),
            Step::config("migration: the whole-contract input of hpcr", whole).check(|s| {
                attr(s, C, "rendered").map(|r| assert!(r.contains("envWorkloadSignature")))
            }),
        ],
    )
    .run();
}

#[test]
fn test_acc_contract_plan_time_errors() {
    let f = Arc::new(Fixtures::new(RsaBits::Rsa2048));
    let w = workload_yaml("QUJDRA==");
    let e = env_yaml("logs.example.com");
    let ccrt_token = token::encrypt(
        w.as_bytes(),
        &keys::to_public(&f.pki.encryption_key).unwrap(),
        token::Platform::Ccrt,
    )
    .unwrap();
    let big_env = format!("{e}env:\n  BIG: \"{}\"\n", "x".repeat(70_000));
    let with_key = |key: &str, extra: &str| {
        contract_config(&f, &w, &e, extra).replace(&f.file("signing.key"), &f.file(key))
    };
    case(
        "contract_plan_time_errors",
        vec![
            Step::config(
                "env schema violation",
                contract_config(&f, &w, "type: env\nlogging: 5\n", ""),
            )
            .expect_error(r"(?s)Invalid env section.*env\.logging"),
            Step::config("not a private key", with_key("signing.pub", ""))
                .expect_error(r"(?s)Unusable signing key.*private key"),
            Step::config("passphrase missing", with_key("signing-encrypted.key", ""))
                .expect_error(r"(?s)Unusable signing key.*passphrase-protected but no passphrase"),
            Step::config(
                "wrong passphrase",
                with_key(
                    "signing-encrypted.key",
                    "  signing_key_passphrase = \"nope\"\n",
                ),
            )
            .expect_error(r"(?s)Unusable signing key.*wrong passphrase"),
            Step::config(
                "right passphrase works",
                with_key(
                    "signing-encrypted.key",
                    &format!("  signing_key_passphrase = \"{PASSPHRASE}\"\n"),
                ),
            ),
            Step::config(
                "workload token for another platform",
                contract_config(&f, &format!("{ccrt_token}\n"), &e, ""),
            )
            .expect_error(r"(?s)does not fit the platform.*contract-basic.*hpvs"),
            Step::config(
                "contract over 64 KiB",
                contract_config(&f, &w, &big_env, ""),
            )
            .expect_error(r"(?s)Contract too large.*is \d+ bytes, over the 65536-byte"),
            Step::config(
                "expired encryption certificate",
                contract_config(&f, &w, &e, "")
                    .replace(&f.file("encryption.crt"), &f.file("expired.crt")),
            )
            .expect_error(r"(?s)Unusable encryption certificate.*expired"),
            Step::config(
                "contract and workload are exclusive",
                contract_config(&f, &w, &e, "  contract = \"x: y\"\n"),
            )
            .expect_error(r"(?s)Conflicting attributes.*contract and workload"),
        ],
    )
    .run();
}

#[test]
fn test_acc_contract_expiry_and_renewal() {
    let f = Arc::new(Fixtures::new(RsaBits::Rsa2048));
    let w = workload_yaml("QUJDRA==");
    let e = env_yaml("logs.example.com");
    let expiry = |renew: u32| {
        format!(
            r#"  expiry {{
    days              = 30
    ca_certificate    = {ca}
    ca_key            = {ca_key}
    common_name       = "deployer"
    organization      = "Example"
    renew_before_days = {renew}
  }}
"#,
            ca = f.file("ca.crt"),
            ca_key = f.file("ca.key"),
        )
    };
    let fa = f.clone();
    case(
        "contract_expiry_and_renewal",
        vec![
            Step::config(
                "create with expiry",
                contract_config(&f, &w, &e, &expiry(7)),
            )
            .check(move |s| {
                let at = attr(s, C, "expires_at")?;
                let when = time::OffsetDateTime::parse(
                    &at,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| e.to_string())?;
                let days = (when - time::OffsetDateTime::now_utc()).whole_days();
                if !(29..=30).contains(&days) {
                    return Err(format!("expires in {days} days"));
                }
                let (_, env) = open_contract(&fa, &attr(s, C, "rendered")?)?;
                env.contains("BEGIN CERTIFICATE")
                    .then_some(())
                    .ok_or("signingKey should be the issued certificate".into())
            }),
            // 30-day contract, renew 60 days ahead: the renewal is due at once, so every plan
            // replaces it (the replacement is then due again, hence the non-empty plan).
            Step::config(
                "renewal due: replace",
                contract_config(&f, &w, &e, &expiry(60)),
            )
            .expect_non_empty_plan(),
            Step::config(
                "renewal still due",
                contract_config(&f, &w, &e, &expiry(60)),
            )
            .plan_only()
            .plan_check(|p| {
                if p.actions(C) != ["delete", "create"] {
                    return Err(format!("actions {:?}", p.actions(C)));
                }
                let paths = p.replace_paths(C);
                (paths == [serde_json::json!(["expires_at"])])
                    .then_some(())
                    .ok_or(format!("replace paths {paths:?}"))
            }),
            Step::config(
                "back to renew 7 days ahead",
                contract_config(&f, &w, &e, &expiry(7)),
            ),
        ],
    )
    .run();
}

/// Terraform before 1.11 cannot keep write-only values out of state: the provider refuses
/// them at validate with the minimum version.
#[test]
fn test_acc_write_only_inputs_need_terraform_1_11() {
    if !acceptance_enabled("write_only_inputs_need_terraform_1_11") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let version = terraform.version();
    if terraform_version()
        .expect("Terraform version")
        .supports_write_only()
    {
        eprintln!("write_only_inputs_need_terraform_1_11: skipped on {version}");
        return;
    }
    let f = Fixtures::new(RsaBits::Rsa2048);
    let work = WorkDir::new(&terraform, &[ProviderUnderTest::hyperprotect()], &[]);
    let cert = f.file("encryption.crt");
    let configs = [
        format!(
            r#"{p}
resource "hyperprotect_contract" "c" {{
  workload               = "type: workload"
  env_wo                 = "type: env"
  env_wo_version         = 1
  signing_key_wo         = {key}
  signing_key_wo_version = 1
  encryption_certificate = {cert}
}}
"#,
            p = provider_block(),
            key = f.file("signing.key"),
        ),
        format!(
            r#"{p}
resource "hyperprotect_workload" "w" {{
  content_wo             = "type: workload"
  content_wo_version     = 1
  encryption_certificate = {cert}
}}
"#,
            p = provider_block(),
        ),
        format!(
            r#"{p}
resource "hyperprotect_encrypted_text" "t" {{
  text_wo                = "x"
  encryption_certificate = {cert}
}}
"#,
            p = provider_block(),
        ),
    ];
    for config in configs {
        work.write_config(&config);
        let run = work.terraform(&["validate", "-no-color"]);
        assert_ne!(run.code, 0, "{config}\n{}", run.output());
        assert!(
            run.output().contains("Terraform 1.11 or") && run.output().contains("_wo"),
            "{}",
            run.output()
        );
    }
}

/// Lines of the provider's debug log that record a section encryption.
fn encryptions_logged(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("section token encrypted"))
        .count()
}

#[test]
fn test_acc_plan_of_100_unchanged_contracts_encrypts_nothing() {
    if !acceptance_enabled("plan_of_100_unchanged_contracts_encrypts_nothing") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let f = Fixtures::new(RsaBits::Rsa4096);
    let log = f.path("provider.log");
    let work = WorkDir::new(
        &terraform,
        &[ProviderUnderTest::hyperprotect()],
        &[
            ("TF_LOG_PROVIDER".into(), "DEBUG".into()),
            ("TF_LOG_PATH".into(), log.display().to_string()),
        ],
    );
    let config = contract_config(
        &f,
        &workload_yaml("QUJDRA=="),
        &env_yaml("logs.example.com"),
        "  count = 100\n",
    );
    work.write_config(&config);
    let apply = work.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(apply.code, 0, "{}", apply.output());
    // Each contract: workload and env, once, at apply (plans only compute sizes).
    let at_apply = encryptions_logged(&log);
    assert!(
        at_apply >= 200,
        "only {at_apply} encryptions logged at create"
    );

    std::fs::write(&log, "").unwrap();
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(plan.code, 0, "plan not empty:\n{}", plan.output());
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("serving provider schema"),
        "the provider's debug log was not written during the plan:\n{log_text:.2000}"
    );
    assert_eq!(encryptions_logged(&log), 0, "the plan encrypted sections");

    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
}
