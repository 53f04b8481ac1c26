//! The auditor persona with the real Terraform CLI: contracts with an
//! `attestationPublicKey` (built with the contract engine) are booted on mock-cloud through
//! its VPC API; their attestation records, read from `/_mock/instances/{id}/attestation`,
//! are verified by `hyperprotect_attestation` against the contracts. A tampered record, a
//! record of a different contract, a foreign signature and wrong keys all fail, and with
//! `fail_on_mismatch = false` give `verified = false` instead.

mod mock_cloud_support;

use std::fs;
use std::path::Path;

use acceptance_tests::harness::{ProviderUnderTest, StateJson, Step, TestCase};
use hyperprotect::contract::attestation;
use hyperprotect::contract::document::{
    self, ContractInput, Encryption, SigningInput, WorkloadInput,
};
use hyperprotect::contract::keys;
use hyperprotect::contract::token::Platform;
use mock_cloud_support::*;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DS: &str = "data.hyperprotect_attestation.a";
const PASSPHRASE: &str = "auditor passphrase 7";

fn rsa() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A signed contract with every section encrypted to the platform, whose attestation
/// records are to be encrypted to `auditor`.
fn contract(pki_cert: &openssl::x509::X509, auditor: &PKey<Private>, hostname: &str) -> String {
    let compose = tempfile::tempdir().unwrap();
    fs::write(
        compose.path().join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n",
    )
    .unwrap();
    let archive = hyperprotect::contract::archive::tgz_base64(compose.path()).unwrap();
    let workload = format!("type: workload\ncompose:\n  archive: {}\n", archive.base64);
    let env = format!(
        "type: env\nlogging:\n  logRouter:\n    hostname: {hostname}\n    iamApiKey: placeholder\n"
    );
    let recipient = pki_cert.public_key().unwrap();
    let signing = rsa();
    let attestation_pem = keys::public_key_pem(auditor).unwrap();
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(workload),
        env: &env,
        signing: Some(SigningInput {
            key: &signing,
            certificate: None,
        }),
        attestation_public_key: Some(&attestation_pem),
        encryption: Encryption::to(&recipient, Platform::Hpvs),
    })
    .unwrap();
    built.yaml
}

/// Boots `user_data` on a Hyper Protect profile through the VPC API and returns the
/// attestation record and signature the guest wrote.
async fn boot(m: &Mock, name: &str, user_data: &str) -> (String, String) {
    let mut p = m.prototype(name, "bz2e-1x4", HPCR_IMAGE).await;
    p["user_data"] = json!(user_data);
    let r = m.post("/instances", p).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    m.wait_status(&id, "running").await;
    let att = m
        .admin(Method::GET, &format!("/instances/{id}/attestation"), None)
        .await;
    assert_eq!(att.status, StatusCode::OK, "{}", att.text);
    (
        att.body["record"].as_str().unwrap().to_string(),
        att.body["signature"].as_str().unwrap().to_string(),
    )
}

struct Files<'a>(&'a Path);

impl Files<'_> {
    fn put(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

fn config(attrs: &[(&str, String)]) -> String {
    let mut body = String::new();
    for (k, v) in attrs {
        body.push_str(&format!("  {k} = {v}\n"));
    }
    format!(
        r#"
terraform {{
  required_providers {{
    hyperprotect = {{ source = "hyperprotect/hyperprotect" }}
  }}
}}
data "hyperprotect_attestation" "a" {{
{body}}}
output "out" {{
  value = data.hyperprotect_attestation.a.checksums
}}
"#
    )
}

fn file(path: &str) -> String {
    format!("file(\"{path}\")")
}

fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

fn expect_verified(want: bool, contract: String) -> impl Fn(&StateJson) -> Result<(), String> {
    move |s| {
        s.expect(DS, "verified", json!(want))?;
        // Checksum names contain `/`, which the harness's attribute paths split on.
        let checksum = |name: &str| {
            s.attr(DS, "checksums")
                .and_then(|c| c.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let whole = checksum("cidata/user-data");
        if whole != json!(document::document_sha256(&contract)) {
            return Err(format!("cidata/user-data checksum {whole}"));
        }
        let parsed = document::Contract::parse(&contract).map_err(|e| e.to_string())?;
        let workload = checksum("contract:workload");
        if workload != json!(parsed.section_sha256(document::Section::Workload).unwrap()) {
            return Err(format!("contract:workload checksum {workload}"));
        }
        let findings = s
            .attr(DS, "findings")
            .and_then(Value::as_array)
            .map(|a| a.len())
            .unwrap_or(usize::MAX);
        if want != (findings == 0) {
            return Err(format!("{findings} findings with verified = {want}"));
        }
        Ok(())
    }
}

#[test]
fn test_acc_auditor_verifies_attestation_records_against_contracts() {
    if !acceptance_tests::harness::acceptance_enabled("test_acc_auditor") {
        return;
    }
    let (rt, mock, pki) = start_blocking_with_small_pki();
    let auditor = rsa();
    let first = contract(&pki.encryption_cert, &auditor, "logs-one.example.com");
    let second = contract(&pki.encryption_cert, &auditor, "logs-two.example.com");
    let (record1, sig1) = rt.block_on(boot(&mock, "audited-one", &first));
    let (record2, sig2) = rt.block_on(boot(&mock, "audited-two", &second));

    // A tampered record: decrypted, one checksum digit changed.
    let plain1 =
        String::from_utf8(attestation::decrypt_record(record1.as_bytes(), Some(&auditor)).unwrap())
            .unwrap();
    let line = plain1
        .lines()
        .find(|l| l.ends_with("contract:env"))
        .expect("env checksum line");
    let flipped = format!(
        "{}{}",
        if line.starts_with('0') { '1' } else { '0' },
        &line[1..]
    );
    let tampered = plain1.replace(line, &flipped);

    let dir = tempfile::tempdir().unwrap();
    let f = Files(dir.path());
    let pem = |x: &openssl::x509::X509| String::from_utf8(x.to_pem().unwrap()).unwrap();
    let key_pem = String::from_utf8(
        auditor
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), PASSPHRASE.as_bytes())
            .unwrap(),
    )
    .unwrap();
    let key = f.put("auditor.key", &key_pem);
    let other_key = f.put(
        "other.key",
        &String::from_utf8(rsa().private_key_to_pem_pkcs8().unwrap()).unwrap(),
    );
    let (rec1, rec2) = (f.put("one.enc", &record1), f.put("two.enc", &record2));
    let (s1, s2) = (f.put("one.sig", &sig1), f.put("two.sig", &sig2));
    let (c1, c2) = (f.put("one.yaml", &first), f.put("two.yaml", &second));
    let tampered_path = f.put("tampered.txt", &tampered);
    let att_cert = f.put("attestation.crt", &pem(&pki.attestation_cert));
    let bundle = f.put(
        "bundle.pem",
        &format!("{}{}", pem(&pki.intermediate), pem(&pki.root)),
    );
    let other_root = {
        let k = rsa();
        let mut b = openssl::x509::X509::builder().unwrap();
        let mut n = openssl::x509::X509Name::builder().unwrap();
        n.append_entry_by_text("CN", "Unrelated root").unwrap();
        let n = n.build();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&k).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(&k, openssl::hash::MessageDigest::sha256()).unwrap();
        f.put("other-root.pem", &pem(&b.build()))
    };

    // The full set of inputs for record `rec`, signature `sig`, contract `con`.
    let full = |rec: &str, sig: &str, con: &str, extra: &[(&str, String)]| {
        let mut attrs = vec![
            ("record", file(rec)),
            ("private_key", file(&key)),
            ("private_key_passphrase", quoted(PASSPHRASE)),
            ("signature", file(sig)),
            ("attestation_certificate", file(&att_cert)),
            ("ca_certificate", file(&bundle)),
            ("contract", file(con)),
        ];
        for (k, v) in extra {
            attrs.retain(|(name, _)| name != k);
            attrs.push((k, v.clone()));
        }
        config(&attrs)
    };
    let lenient = || ("fail_on_mismatch", "false".to_string());

    TestCase {
        name: "test_acc_auditor",
        providers: vec![ProviderUnderTest::hyperprotect()],
        env: vec![],
        check_destroy: None,
        steps: vec![
            Step::config(
                "verify the first server's record",
                full(&rec1, &s1, &c1, &[]),
            )
            .check(expect_verified(true, first.clone())),
            Step::config("the second server's record", full(&rec2, &s2, &c2, &[]))
                .plan_check(|plan| {
                    let actions = plan.0.pointer("/output_changes/out/actions").cloned();
                    if actions == Some(json!(["update"])) {
                        Ok(())
                    } else {
                        Err(format!("checksums output planned {actions:?}"))
                    }
                })
                .check(expect_verified(true, second.clone())),
            Step::config(
                "a record of a different contract",
                full(&rec2, &s2, &c1, &[]),
            )
            .expect_error_at(
                "contract",
                "Attestation record does not match the contract",
                "contract:env.*cidata/user-data",
            ),
            Step::config("a tampered record", full(&tampered_path, &s1, &c1, &[])).expect_error_at(
                "signature",
                "Attestation signature does not verify",
                r"the record was\s+altered",
            ),
            Step::config("another record's signature", full(&rec1, &s2, &c1, &[])).expect_error_at(
                "signature",
                "Attestation signature does not verify",
                "se-signature",
            ),
            Step::config(
                "the wrong auditor key",
                full(
                    &rec1,
                    &s1,
                    &c1,
                    &[
                        ("private_key", file(&other_key)),
                        ("private_key_passphrase", "null".to_string()),
                    ],
                ),
            )
            .expect_error_at(
                "private_key",
                "Cannot read the attestation record",
                r"wrong\s+key",
            ),
            Step::config(
                "a wrong passphrase",
                full(
                    &rec1,
                    &s1,
                    &c1,
                    &[("private_key_passphrase", quoted("nope"))],
                ),
            )
            .expect_error_at(
                "private_key_passphrase",
                "Invalid auditor private key",
                r"wrong\s+passphrase",
            ),
            Step::config(
                "not a private key",
                full(&rec1, &s1, &c1, &[("private_key", file(&att_cert))]),
            )
            .expect_error_at(
                "private_key",
                "Invalid auditor private key",
                r"expected a PEM\s+private\s+key",
            ),
            Step::config(
                "an attestation certificate from another root",
                full(&rec1, &s1, &c1, &[("ca_certificate", file(&other_root))]),
            )
            .expect_error_at(
                "ca_certificate",
                "Invalid CA certificate bundle",
                "has no",
            ),
            Step::config(
                "a different contract, reported",
                full(&rec2, &s2, &c1, &[lenient()]),
            )
            .check(|s| {
                s.expect(DS, "verified", json!(false))?;
                let findings = s.attr(DS, "findings").cloned().unwrap_or(Value::Null);
                let text = findings.to_string();
                if text.contains("contract:env") && text.contains("cidata/user-data") {
                    Ok(())
                } else {
                    Err(format!("findings {text}"))
                }
            }),
            Step::config(
                "a tampered record, reported",
                full(&tampered_path, &s1, &c1, &[lenient()]),
            )
            .check(|s| {
                s.expect(DS, "verified", json!(false))?;
                let text = s
                    .attr(DS, "findings")
                    .cloned()
                    .unwrap_or(Value::Null)
                    .to_string();
                if text.contains("signature") && text.contains("contract:env") {
                    Ok(())
                } else {
                    Err(format!("findings {text}"))
                }
            }),
        ],
    }
    .run();
    drop(mock);
}
