//! mock-cloud: IAM, the `/v1` guard (token, version, generation), routing, the catalog,
//! VPCs/subnets/keys and pagination, over plain HTTP.

mod mock_cloud_support;

use std::time::Duration;

use mock_cloud_support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn iam_issues_bearer_tokens() {
    let m = Mock::start().await;
    let r = token(&m.http, m.url(), "anything").await;
    assert_eq!(r.status(), StatusCode::OK);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert!(b["refresh_token"].as_str().is_some_and(|t| !t.is_empty()));
    let exp = b["expiration"].as_i64().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (exp - now - 3600).abs() <= 2,
        "expiration {exp} vs now {now}"
    );
    // The issued token works on /v1.
    let t = b["access_token"].as_str().unwrap();
    let r = m.send(m.http.get(m.v1("/regions")).bearer_auth(t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn iam_rejects_bad_requests_with_iam_error_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.api_key = Some("the-right-key".into());
    let m = Mock::start_with_key(dir, cfg, "the-right-key").await;

    let r = token(&m.http, m.url(), "wrong-key").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errorCode"], "BXNIM0415E");
    assert!(b["errorMessage"].as_str().unwrap().contains("API key"));
    assert!(b["context"]["requestId"].is_string());
    assert!(!b.to_string().contains("wrong-key"), "key echoed: {b}");

    let r = token(&m.http, m.url(), "").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["errorCode"], "BXNIM0109E");

    let r = m
        .http
        .post(format!("{}/identity/token", m.url()))
        .form(&[("grant_type", "password"), ("apikey", "the-right-key")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let r = token(&m.http, m.url(), "the-right-key").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn v1_requires_a_valid_unexpired_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.token_lifetime = Duration::from_secs(1);
    let m = Mock::start_with(dir, cfg).await;

    let r = m.send(m.http.get(m.v1("/instances"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_missing");
    assert!(r.body["trace"].is_string());
    assert_eq!(r.body["status_code"], 401);

    let r = m
        .send(m.http.get(m.v1("/instances")).bearer_auth("not.a.token"))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_invalid");

    // A token with a tampered payload is refused.
    let mut parts: Vec<String> = m.token.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    let r = m
        .send(m.http.get(m.v1("/instances")).bearer_auth(parts.join(".")))
        .await;
    assert_eq!(r.code(), "token_invalid");

    assert_eq!(m.get("/instances").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = m.get("/instances").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), "token_invalid");
    assert!(r.body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn version_and_generation_are_required() {
    let m = Mock::start().await;
    let url = |q: &str| format!("{}/v1/instances{q}", m.url());
    let cases = [
        ("?generation=2", "invalid_version"),
        ("?version=2025-7-1&generation=2", "invalid_version"),
        ("?version=yesterday&generation=2", "invalid_version"),
        ("?version=2018-12-31&generation=2", "invalid_version_range"),
        ("?version=2999-01-01&generation=2", "invalid_version_range"),
        ("?version=2025-07-01", "invalid_generation_parameter"),
        (
            "?version=2025-07-01&generation=1",
            "invalid_generation_parameter",
        ),
    ];
    for (q, code) in cases {
        let r = m.send(m.http.get(url(q)).bearer_auth(&m.token)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.text);
        assert_eq!(r.code(), code, "{q}");
        assert_eq!(r.body["errors"][0]["target"]["type"], "parameter");
    }
    let r = m
        .send(
            m.http
                .get(url("?version=2019-01-01&generation=2"))
                .bearer_auth(&m.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_invalid_route() {
    let m = Mock::start().await;
    for path in ["/v1/bogus", "/v2/instances", "/nothing"] {
        let r = m
            .send(
                m.http
                    .get(format!("{}{path}", m.url()))
                    .bearer_auth(&m.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.code(), "invalid_route", "{path}");
    }
    let r = m
        .send(m.http.put(m.v1("/instances")).bearer_auth(&m.token))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.code(), "invalid_route");
}

#[cfg(unix)]
#[tokio::test]
async fn state_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let m = Mock::start().await;
    m.create_plain("perm-1").await;
    let mode = std::fs::metadata(m.dir.path().join("state.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "state.json mode {mode:o}");
}

#[tokio::test]
async fn catalog_routes() {
    let m = Mock::start().await;
    let r = m.get("/regions").await;
    assert_eq!(r.body["regions"][0]["name"], "us-south");
    let r = m.get("/regions/us-south/zones").await;
    let zones: Vec<&str> = r.body["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["name"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["us-south-1", "us-south-2", "us-south-3"]);
    assert_eq!(
        m.get("/regions/us-south/zones/us-south-2").await.status,
        StatusCode::OK
    );
    assert_eq!(m.get("/regions/eu-de").await.code(), "not_found");

    let r = m.get("/instance/profiles").await;
    assert!(r.body.get("next").is_none() && r.body.get("limit").is_none());
    let profiles = r.body["profiles"].as_array().unwrap();
    let names: Vec<&str> = profiles
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bz2e-1x4", "bz2e-2x8", "bx3dc-2x10", "bx2-2x8"]);
    let bx3dc = m.get("/instance/profiles/bx3dc-2x10").await.body;
    assert_eq!(
        bx3dc["confidential_compute_modes"],
        json!({"type": "enum", "default": "tdx", "values": ["disabled", "sgx", "tdx"]})
    );
    assert_eq!(bx3dc["vcpu_architecture"]["value"], "amd64");
    let bz = m.get("/instance/profiles/bz2e-1x4").await.body;
    assert_eq!(bz["vcpu_architecture"]["value"], "s390x");
    // Never absent (not optional in IBM's vpc/v1.ts): a profile without confidential
    // computing offers `disabled` only.
    for p in profiles {
        assert!(p["confidential_compute_modes"]["values"].is_array(), "{p}");
    }
    assert_eq!(
        bz["confidential_compute_modes"],
        json!({"type": "enum", "default": "disabled", "values": ["disabled"]})
    );
    assert_eq!(
        m.get("/instance/profiles/nope").await.status,
        StatusCode::NOT_FOUND
    );

    let r = m.get("/images?visibility=public&status=available").await;
    let imgs = r.body["images"].as_array().unwrap();
    assert_eq!(imgs.len(), 3, "deprecated image filtered out");
    let r = m.get("/images").await;
    assert_eq!(r.body["total_count"], 4);
    let hpcr: Vec<&Value> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["operating_system"]["name"] == "hyper-protect-1-0-s390x-hpcr")
        .collect();
    assert_eq!(hpcr.len(), 2);
    assert!(hpcr.iter().any(|i| i["status"] == "deprecated"));
    let img = &hpcr[1];
    assert_eq!(img["operating_system"]["architecture"], "s390x");
    assert_eq!(img["operating_system"]["family"], "Hyper Protect");
    assert_eq!(img["minimum_provisioned_size"], 100);
    assert_eq!(img["user_data_format"], "cloud_init");
    assert!(img["remote"].is_object(), "version 2025-07-01 has remote");
    let id = img["id"].as_str().unwrap();
    assert_eq!(
        m.get(&format!("/images/{id}")).await.body["name"],
        img["name"]
    );
    // Before 2025-06-30 images carry owner_type instead of remote.
    let old = m
        .send(
            m.http
                .get(format!(
                    "{}/v1/images/{id}?version=2024-01-01&generation=2",
                    m.url()
                ))
                .bearer_auth(&m.token),
        )
        .await;
    assert_eq!(old.body["owner_type"], "provider");
    assert!(old.body.get("remote").is_none());

    let os = m
        .get("/operating_systems/hyper-protect-1-0-s390x-hpcr")
        .await;
    assert_eq!(os.body["family"], "Hyper Protect");
}

#[tokio::test]
async fn vpcs_subnets_and_keys() {
    let m = Mock::start().await;
    let r = m.get("/vpcs").await;
    assert_eq!(r.body["vpcs"][0]["name"], "mock-vpc");
    let r = m.post("/vpcs", json!({"name": "vpc-two"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let vpc_id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        m.post("/vpcs", json!({"name": "vpc-two"})).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        m.post("/vpcs", json!({"name": "Bad_Name"})).await.target(),
        "name"
    );

    let r = m
        .post(
            "/subnets",
            json!({"name": "sn-a", "vpc": {"id": vpc_id}, "zone": {"name": "us-south-3"}, "total_ipv4_address_count": 256}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["total_ipv4_address_count"], 256);
    assert_eq!(r.body["vpc"]["id"], vpc_id.as_str());
    let sn = r.body["id"].as_str().unwrap().to_string();
    let r = m
        .post(
            "/subnets",
            json!({"vpc": {"id": vpc_id}, "ipv4_cidr_block": "10.9.0.1/24"}),
        )
        .await;
    assert_eq!(r.target(), "ipv4_cidr_block");
    let r = m.get(&format!("/subnets?vpc.id={vpc_id}")).await;
    assert_eq!(r.body["total_count"], 1);

    // A VPC with subnets cannot be deleted.
    assert_eq!(
        m.delete(&format!("/vpcs/{vpc_id}")).await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        m.delete(&format!("/subnets/{sn}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        m.delete(&format!("/vpcs/{vpc_id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(m.get(&format!("/vpcs/{vpc_id}")).await.code(), "not_found");

    // Keys: the seeded one, a new ed25519 key, validation.
    let seeded = m.get("/keys").await.body["keys"][0].clone();
    assert_eq!(seeded["type"], "ed25519");
    let pk = seeded["public_key"].as_str().unwrap();
    let r = m
        .post("/keys", json!({"name": "dup", "public_key": pk}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "same fingerprint");
    let r = m
        .post(
            "/keys",
            json!({"name": "bad", "public_key": "ssh-rsa Zm9v"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.target(), "public_key");
    let fresh = openssl::pkey::PKey::generate_ed25519().unwrap();
    let raw = fresh.raw_public_key().unwrap();
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], &raw[..]] {
        blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
        blob.extend_from_slice(part);
    }
    use base64::Engine;
    let line = format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    );
    let r = m
        .post("/keys", json!({"name": "mine", "public_key": line}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.body["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("SHA256:"));
    let kid = r.body["id"].as_str().unwrap();
    assert_eq!(m.get(&format!("/keys/{kid}")).await.body["name"], "mine");
    assert_eq!(
        m.delete(&format!("/keys/{kid}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        m.get(&format!("/keys/{kid}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pagination_walks_every_page() {
    let m = Mock::start().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(m.create_plain(&format!("page-{i}")).await);
    }
    // Also VPCs: 1 seeded + 4.
    for i in 0..4 {
        assert_eq!(
            m.post("/vpcs", json!({"name": format!("v{i}")}))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut path = "/instances?limit=3".to_string();
    let mut pages = 0;
    loop {
        let r = m.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["total_count"], 7);
        assert_eq!(r.body["limit"], 3);
        assert!(r.body["first"]["href"]
            .as_str()
            .unwrap()
            .ends_with("/v1/instances?limit=3"));
        pages += 1;
        for i in r.body["instances"].as_array().unwrap() {
            seen.push(i["id"].as_str().unwrap().to_string());
        }
        match r.body.get("next") {
            Some(n) => {
                let href = n["href"].as_str().unwrap();
                let start = href
                    .split("start=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap();
                path = format!("/instances?limit=3&start={start}");
            }
            None => break,
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every instance once, in creation order");

    let r = m.get("/vpcs?limit=2").await;
    assert_eq!(r.body["total_count"], 5);
    assert!(r.body["next"]["href"].is_string());
    let r = m.get("/vpcs").await;
    assert_eq!(r.body["limit"], 50, "default limit");
    assert!(r.body.get("next").is_none());

    for bad in [
        "/instances?start=abc",
        "/images?start=zz",
        "/keys?start=1",
        "/subnets?start=%20",
    ] {
        let r = m.get(bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.code(), "invalid_id_format", "{bad}");
    }
    for bad in [
        "/instances?limit=0",
        "/instances?limit=101",
        "/images?limit=x",
    ] {
        assert_eq!(m.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(m.get("/instances?limit=100").await.status, StatusCode::OK);

    let r = m.get("/instances?name=page-4").await;
    assert_eq!(r.body["total_count"], 1);
    assert_eq!(r.body["instances"][0]["id"], created[4].as_str());
    let vpc = m.get("/vpcs").await.body["vpcs"][0].clone();
    let r = m
        .get(&format!(
            "/instances?vpc.id={}",
            vpc["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.body["total_count"], 7);
    let r = m.get("/instances?vpc.name=v0").await;
    assert_eq!(r.body["total_count"], 0);
    let r = m.get("/instances?vpc.name=mock-vpc&limit=5").await;
    assert!(r.body["next"]["href"]
        .as_str()
        .unwrap()
        .contains("vpc.name=mock-vpc"));
}

#[tokio::test]
async fn binary_prints_its_address_first_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-pki",
            "--access-log",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    use tokio::io::AsyncBufReadExt;
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("first line in time")
        .unwrap()
        .unwrap();
    let url = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = reqwest::Client::new();
    let r = token(&http, &url, "k").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(dir.path().join("state.json").exists());
    let r = http
        .get(format!("{url}/v1/regions?version=2025-07-01&generation=2"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["x-request-id"], "req-123");
    child.kill().await.unwrap();
    let _ = child.wait().await;
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("POST /identity/token 200") && stderr.contains("GET /v1/regions 401"),
        "access log: {stderr}"
    );
    assert!(!stderr.contains("version="), "no query strings in the log");
}

#[tokio::test]
async fn binary_help_documents_flags() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--api-key",
        "--token-lifetime",
        "--boot-delay-ms",
        "--rate-429",
        "--rate-5xx",
        "--not-implemented",
        "--fail-next-creates",
        "--hang-next-creates",
        "--latency-ms",
        "--access-log",
        "--no-pki",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
}

async fn spawn_binary(dir: &std::path::Path) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .args([
            "--no-pki",
            "--pending-delay-ms",
            "10",
            "--boot-delay-ms",
            "10",
            "--data-dir",
        ])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    (
        child,
        first.strip_prefix("listening on ").unwrap().to_string(),
    )
}

#[tokio::test]
async fn binary_killed_hard_keeps_every_answered_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = spawn_binary(dir.path()).await;
    let http = reqwest::Client::new();
    let b: Value = token(&http, &url, "k").await.json().await.unwrap();
    let tok = b["access_token"].as_str().unwrap().to_string();
    let q = "version=2025-07-01&generation=2";
    let r = http
        .post(format!("{url}/v1/vpcs?{q}"))
        .bearer_auth(&tok)
        .json(&json!({"name": "survivor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // SIGKILL right after the answer: no graceful shutdown, no flush.
    child.start_kill().unwrap();
    let _ = child.wait().await;
    assert!(!dir.path().join("state.json.tmp").exists());

    let (mut child, url) = spawn_binary(dir.path()).await;
    let r = http
        .get(format!("{url}/v1/vpcs?{q}"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "old token still valid");
    let b: Value = r.json().await.unwrap();
    let names: Vec<&str> = b["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mock-vpc", "survivor"]);
    child.kill().await.unwrap();
}
