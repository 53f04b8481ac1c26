//! mock-cloud: Hyper Protect boot outcomes through the VPC API and `/_mock/`.
//!
//! They use the emulator's real platform PKI (`pki.rs`) and guest boot (`hpcr/`).

mod mock_cloud_support;

use std::time::Duration;

use acceptance_tests::mock_cloud::{MockCloud, PkiMode};
use mock_cloud_support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn with_pki() -> Mock {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    cfg.delays.reject_stop = Duration::from_millis(300);
    Mock::start_with(dir, cfg).await
}

/// A plaintext contract: a compose archive (one busybox service) and log-router logging.
fn plaintext_contract(attestation_pem: Option<&str>) -> String {
    let mut c = String::from(
        "workload: |\n  type: workload\n  compose:\n    archive: H4sIAAAAAAAAA+3SwWrDMAyA4Zz7FCLnrrWTNIWc9h5lBycxS1gyDbsdzdsvzbGF7rDCNvi/i4wksBBqtXnz4anR8UOj30zjkDycmZVFscTZdTRZvk9ssc931mTlJW/zzNpEzONHuXWKRxdEkqB6vNf3Xf2fij589o2P1Uqk88Ogl4dIP7pXX0m7XMem1+3Q18GFaVuf4lTr+Tl2LtuVlfmh5bP5+Eb33lZySH3TabqWdBklfVn99noAAAAAAAAAAAAAAAAA4M/6AnpD/50AKAAA\n"
    );
    c.push_str("env: |\n  type: env\n  logging:\n    logRouter:\n      hostname: logs.example.com\n      iamApiKey: placeholder-not-a-key\n");
    if let Some(pem) = attestation_pem {
        c.push_str("attestationPublicKey: |\n");
        for line in pem.lines() {
            c.push_str("  ");
            c.push_str(line);
            c.push('\n');
        }
    }
    c
}

async fn create_hpcr(m: &Mock, name: &str, user_data: &str) -> String {
    let mut p = m.prototype(name, "bz2e-1x4", HPCR_IMAGE).await;
    p["user_data"] = json!(user_data);
    let r = m.post("/instances", p).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]

async fn rejected_contract_runs_then_stops_with_console_reason() {
    let m = with_pki().await;
    let id = create_hpcr(&m, "hp-bad", "this is: [not a contract").await;
    let seen = m.wait_status(&id, "stopped").await;
    let run = seen.iter().position(|s| s == "running");
    let stop = seen.iter().position(|s| s == "stopped");
    assert!(
        run.is_some() && run < stop,
        "running, then stopped: {seen:?}"
    );
    let console = m
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await;
    assert_eq!(console.status, StatusCode::OK);
    assert!(
        !console.text.trim().is_empty(),
        "console explains the rejection"
    );
    let att = m
        .admin(Method::GET, &format!("/instances/{id}/attestation"), None)
        .await;
    assert_eq!(att.status, StatusCode::NOT_FOUND);

    // Console survives a restart.
    let Mock {
        cloud, dir, token, ..
    } = m;
    cloud.shutdown().await.unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.pki = PkiMode::LoadOrCreate;
    let m2 = Mock {
        cloud: MockCloud::start(cfg).await.unwrap(),
        dir,
        http: reqwest::Client::new(),
        token,
    };
    let again = m2
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await;
    assert_eq!(again.text, console.text);
    assert_eq!(m2.status(&id).await, "stopped");
}

#[tokio::test]

async fn accepted_contract_keeps_running_and_records_attestation() {
    let m = with_pki().await;
    let key = openssl::rsa::Rsa::generate(2048).unwrap();
    let pem = String::from_utf8(key.public_key_to_pem().unwrap()).unwrap();
    let id = create_hpcr(&m, "hp-good", &plaintext_contract(Some(&pem))).await;
    m.wait_status(&id, "running").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        m.status(&id).await,
        "running",
        "not stopped after the reject delay"
    );
    let att = m
        .admin(Method::GET, &format!("/instances/{id}/attestation"), None)
        .await;
    assert_eq!(att.status, StatusCode::OK, "{}", att.text);
    assert!(att.body["record"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(att.body["signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    // A reboot boots the contract again and appends to the console.
    let before = m
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await
        .text;
    m.post(
        &format!("/instances/{id}/actions"),
        json!({"type": "reboot"}),
    )
    .await;
    m.wait_status(&id, "running").await;
    let after = m
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await
        .text;
    assert!(after.len() > before.len() && after.starts_with(&before));
}
