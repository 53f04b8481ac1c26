//! mock-cloud: fault injection and the other `/_mock/` controls (token expiry, drift).

mod mock_cloud_support;

use std::time::{Duration, Instant};

use mock_cloud_support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn set_faults(m: &Mock, faults: serde_json::Value) {
    let r = m.admin(Method::PUT, "/faults", Some(faults)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn latency_is_added_to_api_requests_only() {
    let m = Mock::start().await;
    set_faults(&m, json!({"latency_ms": 300})).await;
    let t = Instant::now();
    assert_eq!(m.get("/regions").await.status, StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let r = m.admin(Method::GET, "/faults", None).await;
    assert_eq!(r.body["latency_ms"], 300);
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "admin is not delayed"
    );
}

#[tokio::test]
async fn rate_429_is_deterministic_with_retry_after() {
    let m = Mock::start().await;
    set_faults(&m, json!({"rate_429": 0.5, "retry_after_secs": 3})).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = m.get("/instances").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers["retry-after"], "3");
            assert_eq!(r.code(), "too_many_requests");
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [200, 429, 200, 429, 200, 429]);
    // IAM is rate-limited too.
    set_faults(&m, json!({"rate_429": 1.0})).await;
    assert_eq!(
        token(&m.http, m.url(), "k").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Clearing restores service.
    assert_eq!(
        m.admin(Method::DELETE, "/faults", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(m.get("/instances").await.status, StatusCode::OK);
}

#[tokio::test]
async fn server_errors_500_and_503() {
    let m = Mock::start().await;
    set_faults(&m, json!({"rate_5xx": 1.0, "status_5xx": 500})).await;
    let r = m.get("/instances").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
    );
    set_faults(&m, json!({"rate_5xx": 1.0, "status_5xx": 503})).await;
    let r = m.get("/instances").await;
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_service_unavailable"
        )
    );
    set_faults(&m, json!({"rate_5xx": 0.25})).await;
    let mut errors = 0;
    for _ in 0..8 {
        if m.get("/regions").await.status.is_server_error() {
            errors += 1;
        }
    }
    assert_eq!(errors, 2);
}

#[tokio::test]
async fn invalid_fault_settings_are_refused() {
    let m = Mock::start().await;
    for bad in [
        json!({"rate_429": 2.0}),
        json!({"status_5xx": 502}),
        json!({"not_implemented": ["/v1/instances"]}),
        json!({"lateny_ms": 5}),
    ] {
        let r = m.admin(Method::PUT, "/faults", Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
}

#[tokio::test]
async fn not_implemented_on_a_route() {
    let m = Mock::start().await;
    let id = m.create_plain("ni-1").await;
    set_faults(
        &m,
        json!({"not_implemented": ["POST /v1/instances/*/actions"]}),
    )
    .await;
    let r = m
        .post(&format!("/instances/{id}/actions"), json!({"type": "stop"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        m.get(&format!("/instances/{id}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn next_creates_fail_then_hang() {
    let m = Mock::start().await;
    set_faults(&m, json!({"fail_next_creates": 1, "hang_next_creates": 1})).await;
    let failed = m.create_plain("f-1").await;
    let hung = m.create_plain("f-2").await;
    let fine = m.create_plain("f-3").await;
    m.wait_status(&failed, "failed").await;
    let r = m.get(&format!("/instances/{failed}")).await;
    assert_eq!(r.body["status_reasons"][0]["code"], "cannot_start_capacity");
    m.wait_status(&fine, "running").await;
    m.wait_status(&hung, "starting").await;
    // Well past the boot delay it is still starting.
    tokio::time::sleep(fast_delays().boot * 5).await;
    assert_eq!(m.status(&hung).await, "starting");
    // Recovery the way terraform-provider-ibm does it: stop, then start.
    let act = format!("/instances/{hung}/actions");
    assert_eq!(
        m.post(&act, json!({"type": "stop"})).await.status,
        StatusCode::CREATED
    );
    m.wait_status(&hung, "stopped").await;
    assert_eq!(
        m.post(&act, json!({"type": "start"})).await.status,
        StatusCode::CREATED
    );
    m.wait_status(&hung, "running").await;
    // The counters were consumed.
    let r = m.admin(Method::GET, "/faults", None).await;
    assert_eq!(
        (
            r.body["fail_next_creates"].as_u64(),
            r.body["hang_next_creates"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn expire_all_tokens_now() {
    let m = Mock::start().await;
    assert_eq!(m.get("/instances").await.status, StatusCode::OK);
    let r = m.admin(Method::POST, "/tokens/expire", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = m.get("/instances").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "token_invalid")
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b: serde_json::Value = token(&m.http, m.url(), "k").await.json().await.unwrap();
    let fresh = b["access_token"].as_str().unwrap();
    let r = m
        .send(m.http.get(m.v1("/instances")).bearer_auth(fresh))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn out_of_band_delete_is_drift() {
    let m = Mock::start().await;
    let id = m.create_plain("drift-1").await;
    let r = m
        .admin(Method::DELETE, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(m.get(&format!("/instances/{id}")).await.code(), "not_found");
    assert_eq!(m.get("/instances").await.body["total_count"], 0);
    let r = m
        .admin(Method::DELETE, &format!("/instances/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = m
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_from_cli_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .args([
            "--no-pki",
            "--rate-5xx",
            "1",
            "--status-5xx",
            "500",
            "--not-implemented",
            "GET /v1/keys",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first.strip_prefix("listening on ").unwrap().to_string();
    let http = reqwest::Client::new();
    assert_eq!(
        token(&http, &url, "k").await.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let faults: serde_json::Value = http
        .get(format!("{url}/_mock/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["not_implemented"], json!(["GET /v1/keys"]));
    assert_eq!(faults["status_5xx"], 500);
    child.kill().await.unwrap();

    // A bad flag value is refused before starting.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .args(["--no-pki", "--rate-429", "7", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rate"));
}

#[tokio::test]
async fn requests_are_counted_by_route_faulted_ones_included() {
    let m = Mock::start().await;
    // Start's own token request is counted too: begin from zero.
    let r = m.admin(Method::DELETE, "/requests", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let id = m.create_plain("counted").await;
    set_faults(&m, json!({"rate_429": 1.0, "retry_after_secs": 0})).await;
    assert_eq!(
        m.get(&format!("/instances/{id}")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    m.admin(Method::DELETE, "/faults", None).await;
    assert_eq!(
        m.get(&format!("/instances/{id}")).await.status,
        StatusCode::OK
    );
    let r = m.admin(Method::GET, "/requests", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let by_route = &r.body["requests"];
    assert_eq!(by_route["GET /v1/instances/{id}"], 2, "{}", r.body);
    assert_eq!(by_route["POST /v1/instances"], 1, "{}", r.body);
    // Test-control calls are not counted.
    assert!(by_route
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.contains("_mock")));
    let total: u64 = by_route
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(r.body["total"], total);
}

#[tokio::test]
async fn a_lost_create_answer_still_creates_the_instance() {
    let m = Mock::start().await;
    set_faults(&m, json!({"lose_next_create_answers": 1})).await;
    let body = m.prototype("lost-answer", "bx2-2x8", UBUNTU_AMD64).await;
    let sent = m
        .http
        .post(m.v1("/instances"))
        .bearer_auth(&m.token)
        .json(&body)
        .send()
        .await;
    // Headers may arrive; the body never completes.
    let broken = match sent {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(broken, "the answer should break");
    let listed = m.get("/instances?name=lost-answer").await;
    assert_eq!(listed.body["instances"].as_array().unwrap().len(), 1);
    // Consumed: the next create is answered.
    let r = m
        .post(
            "/instances",
            m.prototype("answered", "bx2-2x8", UBUNTU_AMD64).await,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}
