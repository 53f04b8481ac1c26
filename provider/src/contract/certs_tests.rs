//! Unit tests of the certificate checks, chain and CRL verification, downloads and version
//! selection (kept beside `certs.rs` so that file holds only the code).

use super::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509Name};
use std::collections::BTreeMap;
use time::macros::datetime;

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().unwrap();
    n.append_entry_by_text("O", "Test Org").unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

struct Issued {
    cert: Certificate,
    key: PKey<Private>,
}

struct Spec<'a> {
    cn: &'a str,
    key: PKey<Private>,
    issuer: Option<&'a Issued>,
    ca: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    serial: u32,
    crl_url: Option<&'a str>,
}

fn spec<'a>(cn: &'a str, issuer: Option<&'a Issued>, ca: bool) -> Spec<'a> {
    let now = OffsetDateTime::now_utc();
    Spec {
        cn,
        key: rsa(2048),
        issuer,
        ca,
        not_before: now - time::Duration::days(1),
        not_after: now + time::Duration::days(365),
        serial: 1000 + cn.len() as u32,
        crl_url: None,
    }
}

fn issue(s: Spec<'_>) -> Issued {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = openssl::bn::BigNum::from_u32(s.serial)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    let subject = name(s.cn);
    b.set_subject_name(&subject).unwrap();
    match s.issuer {
        Some(i) => b.set_issuer_name(i.cert.x509().subject_name()).unwrap(),
        None => b.set_issuer_name(&subject).unwrap(),
    }
    b.set_pubkey(&s.key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(s.not_before.unix_timestamp() as _).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(s.not_after.unix_timestamp() as _).unwrap())
        .unwrap();
    if s.ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
    } else {
        b.append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
    }
    if let Some(url) = s.crl_url {
        #[allow(deprecated)]
        let ext = openssl::x509::X509Extension::new(
            None,
            None,
            "crlDistributionPoints",
            &format!("URI:{url}"),
        )
        .unwrap();
        b.append_extension(ext).unwrap();
    }
    let signer = s.issuer.map(|i| &i.key).unwrap_or(&s.key);
    b.sign(signer, MessageDigest::sha512()).unwrap();
    Issued {
        cert: Certificate::from_x509(b.build()).unwrap(),
        key: s.key,
    }
}

struct Chain {
    root: Issued,
    intermediate: Issued,
    leaf: Issued,
}

fn chain() -> Chain {
    let root = issue(spec("Test Root G4", None, true));
    let intermediate = issue(spec("Test Signing Service", Some(&root), true));
    let leaf = issue(Spec {
        serial: 0x00C7_7592,
        crl_url: Some("https://example.test/crl-1"),
        ..spec(
            "Hyper Protect Contract Encryption",
            Some(&intermediate),
            false,
        )
    });
    Chain {
        root,
        intermediate,
        leaf,
    }
}

// ------------------------------------------------------------------ parsing

#[test]
fn encryption_purpose_refuses_ca_certificates() {
    let c = chain();
    check_encryption_purpose(&c.leaf.cert).unwrap();
    for ca in [&c.root.cert, &c.intermediate.cert] {
        let err = check_encryption_purpose(ca).unwrap_err().to_string();
        assert!(err.contains("a CA certificate"), "{err}");
    }
}

#[test]
fn parses_pem_base64_der_and_escaped_pem() {
    let c = chain();
    let pem = c.leaf.cert.to_pem();
    let der = c.leaf.cert.x509().to_der().unwrap();
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    for text in [
        pem.clone(),
        b64(pem.as_bytes()),
        b64(&der),
        pem.trim().replace('\n', "\\n"),
        format!("\n  {pem}\n"),
    ] {
        let parsed = parse_encryption_cert(&text).unwrap();
        assert_eq!(parsed.x509().to_der().unwrap(), der);
    }
    assert_eq!(c.leaf.cert.serial_hex(), "C77592");
    assert_eq!(
        c.leaf.cert.subject(),
        "O=Test Org, CN=Hyper Protect Contract Encryption"
    );
    assert_eq!(c.leaf.cert.issuer(), "O=Test Org, CN=Test Signing Service");
    assert_eq!(c.leaf.cert.crl_urls(), ["https://example.test/crl-1"]);
    assert!(c.root.cert.crl_urls().is_empty());
}

#[test]
fn garbage_is_a_parse_error_naming_the_input() {
    for text in [
        "",
        "hello world",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        "QUJD",
    ] {
        let err = parse_encryption_cert(text).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::Parse {
                    what: "encryption certificate",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err
            .to_string()
            .starts_with("encryption certificate is not a PEM certificate"));
    }
}

// ------------------------------------------------------------------ expiry

const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

fn expiring(after: time::Duration, bits: u32) -> Certificate {
    issue(Spec {
        key: rsa(bits),
        not_before: NOW - time::Duration::days(30),
        not_after: NOW + after,
        ..spec("expiry", None, false)
    })
    .cert
}

#[test]
fn expiry_status_with_exact_days_and_ibm_wording() {
    let soon = expiring(time::Duration::days(10) + time::Duration::hours(3), 2048);
    let st = expiry_status(&soon, NOW);
    assert_eq!(
        st,
        ExpiryStatus::ExpiresSoon {
            days: 10,
            on: datetime!(2026-01-11 03:00:00 UTC)
        }
    );
    assert_eq!(
        st.to_string(),
        "Warning: Encryption certificate will expire in 10 days (on 11-01-26 03:00:00 GMT)"
    );
    assert_eq!((st.status_word(), st.days_left()), ("valid", 10));
    assert!(st.require_usable().is_ok());

    // One RSA-4096 certificate, like IBM's.
    let valid = expiring(time::Duration::days(400), 4096);
    assert_eq!(valid.x509().public_key().unwrap().bits(), 4096);
    let st = expiry_status(&valid, NOW);
    assert_eq!(
        st,
        ExpiryStatus::Valid {
            days: 400,
            until: datetime!(2027-02-05 00:00:00 UTC)
        }
    );
    assert_eq!(
        st.to_string(),
        "Encryption certificate is valid for another 400 days (until 05-02-27 00:00:00 GMT)"
    );

    let expired = expiring(-time::Duration::seconds(1), 2048);
    let st = expiry_status(&expired, NOW);
    assert_eq!(
        st,
        ExpiryStatus::Expired {
            on: datetime!(2025-12-31 23:59:59 UTC)
        }
    );
    assert_eq!(
        st.to_string(),
        "Encryption certificate has already expired on 31-12-25 23:59:59 GMT"
    );
    assert_eq!((st.status_word(), st.days_left()), ("expired", 0));
    let err = st.require_usable().unwrap_err();
    assert_eq!(
        err.to_string(),
        "Encryption certificate has already expired on 31-12-25 23:59:59 GMT"
    );
}

#[test]
fn expiry_boundaries() {
    let c = expiring(time::Duration::days(180), 2048);
    assert_eq!(
        expiry_status(&c, NOW),
        ExpiryStatus::Valid {
            days: 180,
            until: c.not_after()
        }
    );
    assert_eq!(
        expiry_status(&c, NOW + time::Duration::seconds(1)),
        ExpiryStatus::ExpiresSoon {
            days: 179,
            on: c.not_after()
        }
    );
    assert_eq!(
        expiry_status(&c, c.not_after()),
        ExpiryStatus::ExpiresSoon {
            days: 0,
            on: c.not_after()
        }
    );
    assert_eq!(
        expiry_status(&c, c.not_after() + time::Duration::seconds(1)),
        ExpiryStatus::Expired { on: c.not_after() }
    );
    assert!(c.check_validity_window(NOW).is_ok());
    let err = c
        .check_validity_window(NOW - time::Duration::days(31))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not valid at 01-12-25 00:00:00 GMT"),
        "{err}"
    );
}

// ------------------------------------------------------------------ chain

#[test]
fn good_chain_verifies() {
    let c = chain();
    verify_chain(&c.leaf.cert, &c.intermediate.cert, &c.root.cert).unwrap();
    // Four levels, like IBM's (leaf ← IBM intermediate ← DigiCert CA ← DigiCert root).
    let root = issue(spec("Root", None, true));
    let ca1 = issue(spec("Code Signing CA1", Some(&root), true));
    let ibm = issue(spec("IBM Signing Service", Some(&ca1), true));
    let leaf = issue(spec("Encryption", Some(&ibm), false));
    verify_chain_at(
        &leaf.cert,
        &[&ibm.cert, &ca1.cert],
        &root.cert,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let err = verify_chain_at(
        &leaf.cert,
        &[&ibm.cert],
        &root.cert,
        OffsetDateTime::now_utc(),
    )
    .unwrap_err();
    assert!(matches!(err, CertError::IssuerMismatch { .. }), "{err}");
}

#[test]
fn wrong_intermediate_is_rejected() {
    let c = chain();
    // Same subject name, different key: names match, signature does not.
    let impostor = issue(spec("Test Signing Service", Some(&c.root), true));
    let err = verify_chain(&c.leaf.cert, &impostor.cert, &c.root.cert).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::BadSignature {
                what: "encryption certificate",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.to_string(), "signature of the encryption certificate does not verify with the public key of the intermediate certificate");

    // Different intermediate altogether.
    let other = issue(spec("Other Signing Service", Some(&c.root), true));
    let err = verify_chain(&c.leaf.cert, &other.cert, &c.root.cert).unwrap_err();
    assert_eq!(
        err.to_string(),
        "issuer of the encryption certificate (O=Test Org, CN=Test Signing Service) is not the subject of the intermediate certificate (O=Test Org, CN=Other Signing Service)"
    );

    // Right intermediate, wrong root.
    let other_root = issue(spec("Test Root G4", None, true));
    let err = verify_chain(&c.leaf.cert, &c.intermediate.cert, &other_root.cert).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::BadSignature {
                what: "intermediate certificate",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn store_verification_checks_the_intermediate_up_to_the_root() {
    // IBM-style: the intermediate is an end-entity code-signing certificate (CA:FALSE) that
    // signs the encryption certificate; accepted, as in IBM's documented procedure.
    let root = issue(spec("Root", None, true));
    let code_signing = issue(spec("IBM Code Signing", Some(&root), false));
    let leaf = issue(spec("Leaf", Some(&code_signing), false));
    verify_chain(&leaf.cert, &code_signing.cert, &root.cert).unwrap();

    // But a non-CA above the intermediate breaks the X509 store verification.
    let not_ca = issue(spec("Not A CA", Some(&root), false));
    let ibm = issue(spec("IBM Signing Service", Some(&not_ca), false));
    let leaf = issue(spec("Leaf", Some(&ibm), false));
    let now = OffsetDateTime::now_utc();
    let err = verify_chain_at(&leaf.cert, &[&ibm.cert, &not_ca.cert], &root.cert, now).unwrap_err();
    match err {
        CertError::ChainInvalid { reason, depth } => {
            assert_eq!(depth, 2);
            assert!(reason.contains("CA"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn chain_checks_validity_windows_at_the_given_time() {
    let c = chain();
    let later = OffsetDateTime::now_utc() + time::Duration::days(400);
    let err =
        verify_chain_at(&c.leaf.cert, &[&c.intermediate.cert], &c.root.cert, later).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::OutsideValidity {
                what: "encryption certificate",
                ..
            }
        ),
        "{err}"
    );
}

// ------------------------------------------------------------------ CRL

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn utc_time(t: OffsetDateTime) -> Vec<u8> {
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    der(0x17, s.as_bytes())
}

/// A v2 CRL (DER) signed with SHA-256/RSA, built by hand because the openssl crate has
/// no CRL builder.
fn make_crl(
    issuer: &Certificate,
    signer: &PKey<Private>,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: &[&Certificate],
) -> Vec<u8> {
    let alg = der(
        0x30,
        &[
            &[
                0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B,
            ][..],
            &[0x05, 0x00],
        ]
        .concat(),
    );
    let mut tbs = der(0x02, &[1]);
    tbs.extend(&alg);
    tbs.extend(issuer.x509().subject_name().to_der().unwrap());
    tbs.extend(utc_time(this_update));
    tbs.extend(utc_time(next_update));
    if !revoked.is_empty() {
        let mut entries = Vec::new();
        for r in revoked {
            let mut serial = r.x509().serial_number().to_bn().unwrap().to_vec();
            if serial[0] & 0x80 != 0 {
                serial.insert(0, 0);
            }
            let mut entry = der(0x02, &serial);
            entry.extend(utc_time(this_update - time::Duration::days(1)));
            entries.extend(der(0x30, &entry));
        }
        tbs.extend(der(0x30, &entries));
    }
    let tbs = der(0x30, &tbs);
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), signer).unwrap();
    let sig = signer.sign_oneshot_to_vec(&tbs).unwrap();
    let mut body = tbs;
    body.extend(&alg);
    body.extend(der(0x03, &[&[0u8][..], &sig].concat()));
    der(0x30, &body)
}

fn crl_pem(der: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        lines.join("\n")
    )
    .into_bytes()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn day() -> time::Duration {
    time::Duration::days(1)
}

#[test]
fn crl_without_the_serial_passes_in_pem_and_der() {
    let c = chain();
    let other = issue(spec("Someone else", Some(&c.intermediate), false));
    let crl = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() - day(),
        now() + day() * 7,
        &[&other.cert],
    );
    let check = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap();
    assert!(check.next_update > now() + day() * 6);
    check_crl(&c.leaf.cert, &crl_pem(&crl), &c.intermediate.cert, now()).unwrap();
    // And the other certificate is the revoked one.
    assert!(matches!(
        check_crl(&other.cert, &crl, &c.intermediate.cert, now()),
        Err(CertError::Revoked { .. })
    ));
}

#[test]
fn revoked_serial_is_an_error_naming_the_serial() {
    let c = chain();
    let crl = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() - day(),
        now() + day(),
        &[&c.leaf.cert],
    );
    let err = check_crl(&c.leaf.cert, &crl_pem(&crl), &c.intermediate.cert, now()).unwrap_err();
    assert!(
        matches!(err, CertError::Revoked { ref serial, .. } if serial == "C77592"),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("certificate serial C77592 is revoked (since "),
        "{err}"
    );
}

#[test]
fn crl_signed_by_the_wrong_key_is_rejected() {
    let c = chain();
    let crl = make_crl(
        &c.intermediate.cert,
        &rsa(2048),
        now() - day(),
        now() + day(),
        &[],
    );
    let err = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap_err();
    assert!(matches!(err, CertError::CrlSignature), "{err}");
    // A CRL from a different issuer name.
    let crl = make_crl(&c.root.cert, &c.root.key, now() - day(), now() + day(), &[]);
    let err = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap_err();
    assert!(matches!(err, CertError::CrlIssuerMismatch { .. }), "{err}");
}

#[test]
fn crl_update_window_is_checked() {
    let c = chain();
    let stale = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() - day() * 10,
        now() - day(),
        &[],
    );
    let err = check_crl(&c.leaf.cert, &stale, &c.intermediate.cert, now()).unwrap_err();
    assert!(matches!(err, CertError::CrlStale { .. }), "{err}");
    let future = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() + day(),
        now() + day() * 10,
        &[],
    );
    let err = check_crl(&c.leaf.cert, &future, &c.intermediate.cert, now()).unwrap_err();
    assert!(matches!(err, CertError::CrlNotYetValid { .. }), "{err}");
    let err = check_crl(&c.leaf.cert, b"not a crl", &c.intermediate.cert, now()).unwrap_err();
    assert!(matches!(err, CertError::CrlParse { .. }), "{err}");
}

// ------------------------------------------------------------------ HTTP

/// A tiny HTTP/1.1 server on 127.0.0.1: path → (status, body). Returns the base URL.
async fn serve(routes: Vec<(String, u16, Vec<u8>)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = std::sync::Arc::new(routes);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16384 {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map(|(_, s, b)| (*s, b.clone()))
                    .unwrap_or((404, b"not found".to_vec()));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn download_highest_skips_unpublished_versions_and_stops_on_other_errors() {
    let c = chain();
    let pem = c.leaf.cert.to_pem();
    let base = serve(vec![
        ("/v/1.0.22.crt".into(), 200, pem.clone().into_bytes()),
        ("/v/1.0.27.crt".into(), 500, Vec::new()),
    ])
    .await;
    let template = format!("{base}/v/{{major}}.{{minor}}.{{patch}}.crt");
    let candidates: Vec<String> = ["1.0.21", "1.0.22", "1.0.23", "1.0.24", "2.0.0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // 1.0.24 and 1.0.23 answer 404: the highest published match wins.
    let got = download_highest(&template, &candidates, "~> 1.0.0")
        .await
        .unwrap();
    assert_eq!(got.version, semver::Version::new(1, 0, 22));
    assert_eq!(got.pem, pem);
    // Nothing published in range: every tried version is named.
    let err = download_highest(&template, &candidates, ">= 1.0.23, < 2")
        .await
        .unwrap_err();
    assert!(matches!(err, CertError::NoneDownloadable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("1.0.24: GET") && text.contains("1.0.23: GET"),
        "{text}"
    );
    // No candidate matches at all.
    let err = download_highest(&template, &candidates, "~> 3.0")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no certificate version matches `~> 3.0`; available: 1.0.21, 1.0.22, 1.0.23, 1.0.24, 2.0.0"
    );
    // A server error is not skipped over.
    let more: Vec<String> = vec!["1.0.22".into(), "1.0.27".into()];
    let err = download_highest(&template, &more, "*").await.unwrap_err();
    assert!(
        matches!(err, CertError::HttpStatus { status: 500, .. }),
        "{err}"
    );
    // Unreachable server.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = download_highest(&format!("http://{closed}/{{patch}}"), &more, "*")
        .await
        .unwrap_err();
    assert!(matches!(err, CertError::Fetch { .. }), "{err}");
}

#[test]
fn encryption_purpose_rejects_cas_signing_only_and_non_rsa_keys() {
    let c = chain();
    // The leaf (no key usage, like IBM's certificates) is fine.
    check_encryption_purpose(&c.leaf.cert).unwrap();
    let err = check_encryption_purpose(&c.intermediate.cert).unwrap_err();
    assert!(err.to_string().contains("is a CA certificate"), "{err}");

    let build = |key: &PKey<Private>, usage: Option<KeyUsage>| {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name("purpose")).unwrap();
        b.set_issuer_name(&name("purpose")).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        if let Some(u) = usage {
            b.append_extension(u.build().unwrap()).unwrap();
        }
        b.sign(key, MessageDigest::sha256()).unwrap();
        Certificate::from_x509(b.build()).unwrap()
    };
    let key = rsa(2048);
    let mut signing_only = KeyUsage::new();
    signing_only.digital_signature();
    let err = check_encryption_purpose(&build(&key, Some(signing_only))).unwrap_err();
    assert!(
        err.to_string()
            .contains("key usage (digitalSignature) allows neither keyEncipherment"),
        "{err}"
    );
    let mut enc = KeyUsage::new();
    enc.key_encipherment();
    check_encryption_purpose(&build(&key, Some(enc))).unwrap();

    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let ec = PKey::from_ec_key(ec).unwrap();
    let err = check_encryption_purpose(&build(&ec, None)).unwrap_err();
    assert!(err.to_string().contains("its key is EC"), "{err}");
}

#[test]
fn chain_from_bundle_orders_any_bundle_and_needs_a_root() {
    let c = chain();
    let at = OffsetDateTime::now_utc();
    // Root first, intermediate second: ordered by names, not by position.
    let bundle = format!("{}{}", c.root.cert.to_pem(), c.intermediate.cert.to_pem());
    let got = chain_from_bundle(&c.leaf.cert, &bundle).unwrap();
    assert_eq!(got.intermediates.len(), 1);
    assert_eq!(
        got.intermediates[0].subject(),
        c.intermediate.cert.subject()
    );
    assert_eq!(got.root.subject(), c.root.cert.subject());
    let refs: Vec<&Certificate> = got.intermediates.iter().collect();
    verify_chain_at(&c.leaf.cert, &refs, &got.root, at).unwrap();

    // Only the intermediate: no self-signed root reached.
    let err = chain_from_bundle(&c.leaf.cert, &c.intermediate.cert.to_pem()).unwrap_err();
    assert!(
        err.to_string().contains("must reach a self-signed root"),
        "{err}"
    );
    // Unrelated CA.
    let other = issue(spec("Other Root", None, true));
    let err = chain_from_bundle(&c.leaf.cert, &other.cert.to_pem()).unwrap_err();
    assert!(
        err.to_string().contains("has no certificate whose subject"),
        "{err}"
    );
    // Not PEM.
    let err = chain_from_bundle(&c.leaf.cert, "nonsense").unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
    // A root that directly issued the certificate.
    let direct = issue(spec("Direct leaf", Some(&c.root), false));
    let got = chain_from_bundle(&direct.cert, &c.root.cert.to_pem()).unwrap();
    let refs: Vec<&Certificate> = got.intermediates.iter().collect();
    verify_chain_at(&direct.cert, &refs, &got.root, at).unwrap();
}

#[test]
fn default_template_is_ibms_location() {
    let v = semver::Version::new(1, 0, 29);
    assert_eq!(
        cert_url(DEFAULT_CERT_URL_TEMPLATE, &v),
        "https://hpvsvpcubuntu.s3.us.cloud-object-storage.appdomain.cloud/s390x-29/ibm-hyper-protect-container-runtime-1-0-s390x-29-encrypt.crt"
    );
    assert_eq!(
        cert_url("x/{{.Major}}.{{.Minor}}.{{.Patch}}/{patch}", &v),
        "x/1.0.29/29"
    );
}

#[tokio::test]
async fn download_by_version_from_a_local_server() {
    let c = chain();
    let pem = c.leaf.cert.to_pem();
    let base = serve(vec![
        (
            "/s390x-22/hpcr-1-0-s390x-22-encrypt.crt".into(),
            200,
            pem.clone().into_bytes(),
        ),
        (
            "/s390x-24/hpcr-1-0-s390x-24-encrypt.crt".into(),
            200,
            b"<html>maintenance</html>".to_vec(),
        ),
        (
            "/s390x-25/hpcr-1-0-s390x-25-encrypt.crt".into(),
            200,
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        ),
        (
            "/s390x-26/hpcr-1-0-s390x-26-encrypt.crt".into(),
            500,
            Vec::new(),
        ),
    ])
    .await;
    let template =
        format!("{base}/s390x-{{patch}}/hpcr-{{major}}-{{minor}}-s390x-{{patch}}-encrypt.crt");

    let got = download_by_version(&template, "1.0.22").await.unwrap();
    assert_eq!(got.version, semver::Version::new(1, 0, 22));
    assert_eq!(
        got.url,
        format!("{base}/s390x-22/hpcr-1-0-s390x-22-encrypt.crt")
    );
    assert_eq!(got.pem, pem);
    assert_eq!(got.cert.serial_hex(), "C77592");

    let err = download_by_version(&template, "1.0.23").await.unwrap_err();
    assert!(
        matches!(err, CertError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("GET {base}/s390x-23/hpcr-1-0-s390x-23-encrypt.crt returned HTTP 404")
    );

    let err = download_by_version(&template, "1.0.24").await.unwrap_err();
    assert!(matches!(err, CertError::NotPem { .. }), "{err}");
    assert!(
        err.to_string().contains("did not return a PEM certificate"),
        "{err}"
    );
    let err = download_by_version(&template, "1.0.25").await.unwrap_err();
    assert!(matches!(err, CertError::NotPem { .. }), "{err}");
    let err = download_by_version(&template, "1.0.26").await.unwrap_err();
    assert!(
        matches!(err, CertError::HttpStatus { status: 500, .. }),
        "{err}"
    );
    let err = download_by_version(&template, "one").await.unwrap_err();
    assert!(matches!(err, CertError::Version { .. }), "{err}");

    // Nothing listening.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/{{patch}}", dead.local_addr().unwrap());
    drop(dead);
    let err = download_by_version(&dead_url, "1.0.1").await.unwrap_err();
    assert!(matches!(err, CertError::Fetch { .. }), "{err}");
}

#[tokio::test]
async fn crl_from_http_file_url_and_path() {
    let c = chain();
    let crl = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() - day(),
        now() + day(),
        &[&c.leaf.cert],
    );
    let good = make_crl(
        &c.intermediate.cert,
        &c.intermediate.key,
        now() - day(),
        now() + day(),
        &[],
    );
    let base = serve(vec![
        ("/crl".into(), 200, crl.clone()),
        ("/good.crl".into(), 200, crl_pem(&good)),
    ])
    .await;

    let err = check_crl_at_location(
        &c.leaf.cert,
        &format!("{base}/crl"),
        &c.intermediate.cert,
        now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CertError::Revoked { .. }), "{err}");
    check_crl_at_location(
        &c.leaf.cert,
        &format!("{base}/good.crl"),
        &c.intermediate.cert,
        now(),
    )
    .await
    .unwrap();
    let err = check_crl_at_location(
        &c.leaf.cert,
        &format!("{base}/missing"),
        &c.intermediate.cert,
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, CertError::HttpStatus { status: 404, .. }),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.crl");
    std::fs::write(&path, &good).unwrap();
    let p = path.to_str().unwrap();
    check_crl_at_location(&c.leaf.cert, p, &c.intermediate.cert, now())
        .await
        .unwrap();
    check_crl_at_location(
        &c.leaf.cert,
        &format!("file://{p}"),
        &c.intermediate.cert,
        now(),
    )
    .await
    .unwrap();
    let err = check_crl_at_location(
        &c.leaf.cert,
        "/nonexistent/x.crl",
        &c.intermediate.cert,
        now(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/x.crl"),
        "{err}"
    );
}

#[tokio::test]
async fn crl_from_the_certificates_distribution_point() {
    let root = issue(spec("Root", None, true));
    let int = issue(spec("Int", Some(&root), true));
    let crl = make_crl(&int.cert, &int.key, now() - day(), now() + day(), &[]);
    let base = serve(vec![("/int.crl".into(), 200, crl)]).await;
    let url = format!("{base}/int.crl");
    let leaf = issue(Spec {
        crl_url: Some(&url),
        ..spec("Leaf", Some(&int), false)
    });
    let check = check_crl_from_distribution_point(&leaf.cert, &int.cert, now())
        .await
        .unwrap();
    assert!(check.last_update < now());

    let missing = format!("{base}/gone.crl");
    let leaf = issue(Spec {
        crl_url: Some(&missing),
        ..spec("Leaf", Some(&int), false)
    });
    let err = check_crl_from_distribution_point(&leaf.cert, &int.cert, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CertError::HttpStatus { status: 404, .. }),
        "{err}"
    );

    let err = check_crl_from_distribution_point(&int.cert, &root.cert, now())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("names no CRL distribution point"),
        "{err}"
    );
}

// ------------------------------------------------------------------ selection

#[test]
fn select_version_picks_the_highest_match() {
    let certs: BTreeMap<String, &str> = [
        ("1.0.20", "a"),
        ("1.0.22", "b"),
        ("1.0.23", "c"),
        ("1.1.0", "d"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let pick = |c: &str| select_version(certs.iter().map(|(k, v)| (k, *v)), c);
    assert_eq!(pick("*").unwrap(), (semver::Version::new(1, 1, 0), "d"));
    assert_eq!(pick("").unwrap().1, "d");
    assert_eq!(pick(">=1.0.20, <1.1").unwrap().1, "c");
    assert_eq!(pick("~1.0").unwrap().1, "c");
    assert_eq!(pick("1.0.22").unwrap().1, "b");
    assert_eq!(pick(">=1.0.21, <1.0.23").unwrap().1, "b");
    assert_eq!(pick("<1.0.21 || =1.0.22").unwrap().1, "b");
    let err = pick(">=2").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no certificate version matches `>=2`; available: 1.0.20, 1.0.22, 1.0.23, 1.1.0"
    );
    let err = select_version(Vec::<(&str, ())>::new(), "*").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no certificate version matches `*`; available: none"
    );
    assert!(matches!(pick("bogus"), Err(CertError::Constraint(_))));
    assert!(matches!(
        select_version([("x.y", 1)], "*"),
        Err(CertError::Version { .. })
    ));
}
