//! mock-cloud publishes its encryption certificates (three versions, one key) in IBM's
//! download layout, with the intermediate and attestation certificates beside them.

mod mock_cloud_support;

use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use acceptance_tests::mock_cloud::published::{EXPIRED_DAYS_AGO, SOON_DAYS};
use acceptance_tests::mock_cloud::{MockCloud, PkiMode};
use mock_cloud_support::*;
use openssl::x509::X509;
use reqwest::StatusCode;

fn small() -> PkiOptions {
    PkiOptions {
        ca_bits: RsaBits::Rsa2048,
        encryption_bits: RsaBits::Rsa2048,
        attestation_bits: RsaBits::Rsa2048,
    }
}

fn path(patch: u64, kind: &str) -> String {
    format!("/s390x-{patch}/ibm-hyper-protect-container-runtime-1-0-s390x-{patch}-{kind}.crt")
}

async fn get(m: &Mock, p: &str) -> (StatusCode, String) {
    let r = m.http.get(format!("{}{p}", m.url())).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn days_left(cert: &X509) -> i64 {
    let now = openssl::asn1::Asn1Time::days_from_now(0).unwrap();
    now.diff(cert.not_after()).unwrap().days as i64
}

#[tokio::test]
async fn three_versions_for_one_key_in_ibms_layout_stable_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create_with(dir.path(), &small()).unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    let m = Mock::start_with(dir, cfg).await;

    let mut served = Vec::new();
    for patch in [27, 28, 29] {
        let (status, text) = get(&m, &path(patch, "encrypt")).await;
        assert_eq!(status, StatusCode::OK, "{patch}: {text}");
        let cert = X509::from_pem(text.as_bytes()).unwrap();
        // Same key as the platform decrypts with, issued by the intermediate CA.
        assert!(cert.public_key().unwrap().public_eq(&pki.encryption_key));
        assert!(cert
            .verify(&pki.intermediate.public_key().unwrap())
            .unwrap());
        assert_eq!(
            cert.issuer_name().to_der().unwrap(),
            pki.intermediate.subject_name().to_der().unwrap()
        );
        served.push((cert, text));
    }
    assert!(
        days_left(&served[0].0) <= -EXPIRED_DAYS_AGO + 1,
        "1.0.27 expired"
    );
    let soon = days_left(&served[1].0);
    assert!(
        (SOON_DAYS - 1..=SOON_DAYS).contains(&soon),
        "1.0.28: {soon} days"
    );
    assert_eq!(
        served[2].0.to_der().unwrap(),
        pki.encryption_cert.to_der().unwrap(),
        "1.0.29 is the PKI's own certificate"
    );

    let (status, text) = get(&m, &path(29, "intermediate")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.as_bytes(), pki.intermediate.to_pem().unwrap());
    let (status, text) = get(&m, &path(28, "attestation")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.as_bytes(), pki.attestation_cert.to_pem().unwrap());

    // HEAD works (what IBM's tooling asks first); unknown versions and mismatched paths are
    // S3's 404.
    let head = m
        .http
        .head(format!("{}{}", m.url(), path(29, "encrypt")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    for p in [
        path(30, "encrypt"),
        path(29, "decrypt"),
        "/s390x-28/ibm-hyper-protect-container-runtime-1-0-s390x-29-encrypt.crt".into(),
        "/s390x-29/ibm-hyper-protect-container-runtime-2-0-s390x-29-encrypt.crt".into(),
    ] {
        let (status, text) = get(&m, &p).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{p}");
        assert!(text.contains("NoSuchKey"), "{p}: {text}");
    }
    // The VPC API's own 404 is untouched by the download route.
    let r = m.get("/no_such_collection").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("NoSuchKey"), "{}", r.text);

    // A restart serves the same bytes.
    let Mock { cloud, dir, .. } = m;
    cloud.shutdown().await.unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    let again = MockCloud::start(cfg).await.unwrap();
    for (patch, (_, text)) in [27, 28, 29].into_iter().zip(&served) {
        let body = reqwest::get(format!("{}{}", again.url(), path(patch, "encrypt")))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(&body, text, "{patch}");
    }

    // A new encryption key gets new published certificates for it.
    again.shutdown().await.unwrap();
    let pki_dir = dir.path().join("pki");
    std::fs::remove_file(pki_dir.join("encryption.crt")).unwrap();
    std::fs::remove_file(pki_dir.join("encryption.key")).unwrap();
    let replaced = Pki::load_or_create_with(dir.path(), &small()).unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    let third = MockCloud::start(cfg).await.unwrap();
    let body = reqwest::get(format!("{}{}", third.url(), path(28, "encrypt")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cert = X509::from_pem(body.as_bytes()).unwrap();
    assert!(cert
        .public_key()
        .unwrap()
        .public_eq(&replaced.encryption_key));
    assert!(!cert.public_key().unwrap().public_eq(&pki.encryption_key));
}

#[tokio::test]
async fn without_a_pki_nothing_is_published() {
    let m = Mock::start().await;
    let (status, _) = get(&m, &path(29, "encrypt")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
