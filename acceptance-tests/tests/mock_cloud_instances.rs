//! mock-cloud: the instance routes: create validation, response shape, status walks,
//! PATCH/DELETE/action rules, If-Match, initialization, and persistence across restarts.

mod mock_cloud_support;

use acceptance_tests::mock_cloud::MockCloud;
use mock_cloud_support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn create_walks_to_running_and_hides_secrets() {
    // Delays long enough that a 5 ms poll sees every status even on a busy machine.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.delays.pending = std::time::Duration::from_millis(300);
    cfg.delays.boot = std::time::Duration::from_millis(300);
    let m = Mock::start_with(dir, cfg).await;
    let mut proto = m.prototype("web-1", "bx2-2x8", UBUNTU_AMD64).await;
    proto["user_data"] = json!("#cloud-config\nsecret: hunter2\n");
    let r = m.post("/instances", proto).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let b = &r.body;
    let id = b["id"].as_str().unwrap();
    assert!(id.starts_with("0717_"), "{id}");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["lifecycle_state"], "pending");
    assert_eq!(b["resource_type"], "instance");
    assert_eq!(b["profile"]["name"], "bx2-2x8");
    assert_eq!(b["vcpu"]["architecture"], "amd64");
    assert_eq!(b["memory"], 8);
    assert_eq!(b["zone"]["name"], "us-south-2");
    assert_eq!(b["confidential_compute_mode"], "disabled");
    // Unnamed, the boot volume gets IBM's "hyphenated list of randomly-selected words".
    let boot_name = b["boot_volume_attachment"]["volume"]["name"]
        .as_str()
        .unwrap();
    assert_ne!(boot_name, "web-1-boot");
    assert_eq!(boot_name.split('-').count(), 4, "{boot_name}");
    assert!(
        boot_name
            .split('-')
            .all(|w| !w.is_empty() && w.bytes().all(|c| c.is_ascii_lowercase())),
        "{boot_name}"
    );
    assert!(b["primary_network_interface"]["primary_ip"]["address"]
        .as_str()
        .unwrap()
        .starts_with("10."));
    assert!(b["crn"]
        .as_str()
        .unwrap()
        .starts_with("crn:v1:bluemix:public:is:us-south-2:"));
    assert!(r.headers.get("etag").is_some());
    assert!(b.get("user_data").is_none() && b.get("keys").is_none());
    assert!(!r.text.contains("hunter2"));

    let mut seen = m.wait_status(id, "running").await;
    if seen[0] != "pending" {
        seen.insert(0, "pending".into());
    }
    assert_eq!(seen, ["pending", "starting", "running"], "status walk");
    let g = m.get(&format!("/instances/{id}")).await;
    assert_eq!(g.body["lifecycle_state"], "stable");
    assert_eq!(g.body["health_state"], "ok");
    assert_eq!(g.body["numa_count"], 1);
    assert!(!g.text.contains("hunter2"));

    let init = m.get(&format!("/instances/{id}/initialization")).await;
    assert_eq!(init.status, StatusCode::OK);
    let key = &init.body["keys"][0];
    assert!(key["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    assert!(key["id"].is_string() && key["href"].is_string() && key["crn"].is_string());
}

#[tokio::test]
async fn create_with_network_attachment() {
    let m = Mock::start().await;
    let mut proto = m.prototype("att-1", "bx3dc-2x10", UBUNTU_AMD64).await;
    let subnet = proto["primary_network_interface"]["subnet"].clone();
    proto
        .as_object_mut()
        .unwrap()
        .remove("primary_network_interface");
    proto["primary_network_attachment"] = json!({"name": "eth0", "virtual_network_interface": {"subnet": subnet, "primary_ip": {"address": "10.241.0.77"}}});
    let r = m.post("/instances", proto.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.body["confidential_compute_mode"], "tdx",
        "profile default"
    );
    assert_eq!(
        r.body["primary_network_attachment"]["primary_ip"]["address"],
        "10.241.0.77"
    );
    assert!(r.body["network_interfaces"].as_array().unwrap().is_empty());

    // The same fixed address cannot be taken twice.
    proto["name"] = json!("att-2");
    let r = m.post("/instances", proto).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.target(), "primary_ip.address");
}

#[tokio::test]
async fn create_validation_rules() {
    let m = Mock::start().await;
    let base = m.prototype("val-1", "bx2-2x8", UBUNTU_AMD64).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = base.clone();
        f(&mut p);
        p
    };
    struct Case {
        what: &'static str,
        body: Value,
        status: StatusCode,
        code: &'static str,
        target: &'static str,
    }
    let big = "a".repeat(65_537);
    let cases = vec![
        Case {
            what: "invalid hostname",
            body: with(&|p| p["name"] = json!("Web_1")),
            status: StatusCode::BAD_REQUEST,
            code: "instance_invalid_hostname",
            target: "name",
        },
        Case {
            what: "user_data over 64 KiB",
            body: with(&|p| p["user_data"] = json!(big)),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "user_data",
        },
        Case {
            what: "cc mode unsupported by profile",
            body: with(&|p| p["confidential_compute_mode"] = json!("tdx")),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "confidential_compute_mode",
        },
        Case {
            what: "cc mode not an enum value",
            body: with(&|p| p["confidential_compute_mode"] = json!("sev")),
            status: StatusCode::BAD_REQUEST,
            code: "validation_enum",
            target: "confidential_compute_mode",
        },
        Case {
            what: "both network kinds",
            body: with(
                &|p| p["primary_network_attachment"] = json!({"virtual_network_interface": {"subnet": p["primary_network_interface"]["subnet"].clone()}}),
            ),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "primary_network_interface",
        },
        Case {
            what: "no network",
            body: with(&|p| {
                p.as_object_mut()
                    .unwrap()
                    .remove("primary_network_interface");
            }),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "primary_network_interface",
        },
        Case {
            what: "unknown profile",
            body: with(&|p| p["profile"] = json!({"name": "bxf-2x8"})),
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            target: "profile",
        },
        Case {
            what: "unknown image",
            body: with(&|p| p["image"] = json!({"id": "r006-nope"})),
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            target: "image",
        },
        Case {
            what: "x86 image on s390x profile is refused up front",
            body: with(&|p| p["profile"] = json!({"name": "bx2-2x8"})).pipe(|mut p| {
                p["image"] = json!({"name": UBUNTU_S390X});
                p
            }),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "image",
        },
        Case {
            what: "subnet in another zone",
            body: with(&|p| p["zone"] = json!({"name": "us-south-1"})),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "zone",
        },
        Case {
            what: "boot volume below image minimum",
            body: with(&|p| p["boot_volume_attachment"]["volume"]["capacity"] = json!(50)),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "boot_volume_attachment.volume.capacity",
        },
        Case {
            what: "unknown key",
            body: with(&|p| p["keys"] = json!([{"id": "r006-nokey"}])),
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            target: "keys[0]",
        },
        Case {
            what: "hop limit out of range",
            body: with(&|p| {
                p["metadata_service"] = json!({"enabled": true, "response_hop_limit": 65})
            }),
            status: StatusCode::BAD_REQUEST,
            code: "validation_failure",
            target: "metadata_service.response_hop_limit",
        },
        Case {
            what: "missing image",
            body: with(&|p| {
                p.as_object_mut().unwrap().remove("image");
            }),
            status: StatusCode::BAD_REQUEST,
            code: "missing_field",
            target: "image",
        },
    ];
    for c in cases {
        let r = m.post("/instances", c.body).await;
        assert_eq!(r.status, c.status, "{}: {}", c.what, r.text);
        assert_eq!(r.code(), c.code, "{}: {}", c.what, r.text);
        assert_eq!(r.target(), c.target, "{}: {}", c.what, r.text);
    }
    // Exactly at the limit is fine.
    let ok = with(&|p| p["user_data"] = json!("a".repeat(65_536)));
    assert_eq!(m.post("/instances", ok).await.status, StatusCode::CREATED);
    // A taken name, as IBM answers it: 400 `validation_unique_failed` about the field `name`.
    let r = m.post("/instances", base.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "validation_unique_failed");
    assert_eq!(r.target(), "name", "{}", r.text);
    assert_eq!(r.body["errors"][0]["target"]["type"], "field", "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["target"]["value"], base["name"],
        "{}",
        r.text
    );
    // Wrong content type / malformed JSON.
    let r = m
        .send(
            m.http
                .post(m.v1("/instances"))
                .bearer_auth(&m.token)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = m
        .send(
            m.http
                .post(m.v1("/instances"))
                .bearer_auth(&m.token)
                .header("content-type", "application/json")
                .body("{\"name\": 5"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl Pipe for Value {}

#[tokio::test]
async fn cc_modes_on_confidential_profile() {
    let m = Mock::start().await;
    let mut p = m.prototype("tdx-1", "bx3dc-2x10", UBUNTU_AMD64).await;
    p["confidential_compute_mode"] = json!("sgx");
    p["enable_secure_boot"] = json!(true);
    let r = m.post("/instances", p).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["confidential_compute_mode"], "sgx");
    assert_eq!(r.body["enable_secure_boot"], true);
    // Secure boot is not available on Secure Execution profiles.
    let mut p = m.prototype("se-1", "bz2e-1x4", HPCR_IMAGE).await;
    p["enable_secure_boot"] = json!(true);
    let r = m.post("/instances", p).await;
    assert_eq!(r.target(), "enable_secure_boot");
}

#[tokio::test]
async fn hpcr_image_on_non_secure_execution_profile_fails() {
    let m = Mock::start().await;
    let p = m.prototype("hp-wrong", "bx2-2x8", HPCR_IMAGE).await;
    let r = m.post("/instances", p).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap();
    let seen = m.wait_status(id, "failed").await;
    assert!(!seen.contains(&"running".to_string()), "{seen:?}");
    let g = m.get(&format!("/instances/{id}")).await;
    let reason = &g.body["status_reasons"][0];
    assert_eq!(reason["code"], "cannot_start_compute");
    assert!(
        reason["message"].as_str().unwrap().contains("z2e"),
        "{reason}"
    );
    assert_eq!(g.body["lifecycle_state"], "failed");
    assert_eq!(g.body["health_state"], "inapplicable");

    // And a plain image on a Secure Execution profile.
    let p = m.prototype("se-plain", "bz2e-2x8", UBUNTU_S390X).await;
    let r = m.post("/instances", p).await;
    let id = r.body["id"].as_str().unwrap();
    m.wait_status(id, "failed").await;
    // A failed instance can be deleted.
    assert_eq!(
        m.delete(&format!("/instances/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    m.wait_status(id, "404").await;
}

#[tokio::test]
async fn hpcr_without_pki_runs_and_says_so_on_console() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.delays.pending = std::time::Duration::from_millis(800);
    let m = Mock::start_with(dir, cfg).await;
    let p = m.prototype("hp-ok", "bz2e-1x4", HPCR_IMAGE).await;
    let r = m.post("/instances", p).await;
    let id = r.body["id"].as_str().unwrap();
    let console = m
        .admin(
            reqwest::Method::GET,
            &format!("/instances/{id}/console"),
            None,
        )
        .await;
    assert_eq!(console.status, StatusCode::OK);
    assert_eq!(console.text, "", "nothing before the guest boots");
    m.wait_status(id, "running").await;
    let console = m
        .admin(
            reqwest::Method::GET,
            &format!("/instances/{id}/console"),
            None,
        )
        .await;
    assert!(console.text.contains("not evaluated"), "{}", console.text);
    let att = m
        .admin(
            reqwest::Method::GET,
            &format!("/instances/{id}/attestation"),
            None,
        )
        .await;
    assert_eq!(att.status, StatusCode::NOT_FOUND);
}

/// Stop and delete last long enough (1 s) to observe `stopping`/`deleting` reliably.
async fn slow_stop_mock() -> Mock {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.delays.stop = std::time::Duration::from_millis(1000);
    cfg.delays.delete = std::time::Duration::from_millis(1000);
    cfg.delays.reboot = std::time::Duration::from_millis(1000);
    Mock::start_with(dir, cfg).await
}

#[tokio::test]
async fn pending_refuses_update_delete_and_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.delays.pending = std::time::Duration::from_secs(30);
    let m = Mock::start_with(dir, cfg).await;
    let id = m.create_plain("pend-1").await;
    let ipath = format!("/instances/{id}");
    assert_eq!(m.status(&id).await, "pending");
    let r = m.patch(&ipath, json!({"name": "pend-x"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_state"),
        "{}",
        r.text
    );
    let r = m.delete(&ipath).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "instance_delete_conflict")
    );
    for t in ["reboot", "start"] {
        let r = m
            .post(&format!("{ipath}/actions"), json!({"type": t}))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "invalid_state"),
            "{t}"
        );
    }
    // Stop is allowed (it is how a stuck create is recovered).
    let r = m
        .post(&format!("{ipath}/actions"), json!({"type": "stop"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    m.wait_status(&id, "stopped").await;
}

#[tokio::test]
async fn actions_follow_status_rules() {
    let m = slow_stop_mock().await;
    let id = m.create_plain("act-1").await;
    let act = |t: &str| json!({"type": t});
    let path = format!("/instances/{id}/actions");

    m.wait_status(&id, "running").await;
    let r = m.post(&path, act("start")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_state"),
        "start while running"
    );
    let r = m.post(&path, act("jump")).await;
    assert_eq!(r.code(), "validation_enum");

    let r = m
        .post(&path, json!({"type": "reboot", "force": true}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["type"], "reboot");
    assert_eq!(r.body["force"], true);
    assert_eq!(r.body["status"], "pending");
    let seen = m.wait_status(&id, "running").await;
    assert_eq!(seen.first().map(String::as_str), Some("restarting"));

    assert_eq!(m.post(&path, act("stop")).await.status, StatusCode::CREATED);
    let seen = m.wait_status(&id, "stopped").await;
    assert_eq!(seen.first().map(String::as_str), Some("stopping"));
    for t in ["stop", "reboot"] {
        let r = m.post(&path, act(t)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "invalid_state"),
            "{t} while stopped"
        );
    }
    let g = m.get(&format!("/instances/{id}")).await;
    assert_eq!(g.body["startable"], true);
    assert!(g.body.get("numa_count").is_none());

    assert_eq!(
        m.post(&path, act("start")).await.status,
        StatusCode::CREATED
    );
    let seen = m.wait_status(&id, "running").await;
    assert_eq!(seen.first().map(String::as_str), Some("starting"));

    // Start while stopping is queued behind the stop.
    m.post(&path, act("stop")).await;
    assert_eq!(m.status(&id).await, "stopping");
    assert_eq!(
        m.post(&path, act("start")).await.status,
        StatusCode::CREATED
    );
    assert_eq!(m.status(&id).await, "stopping");
    let seen = m.wait_status(&id, "running").await;
    assert!(seen.contains(&"starting".to_string()), "{seen:?}");

    let r = m.post("/instances/0717_nope/actions", act("stop")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_rules_and_etags() {
    let m = Mock::start().await;
    let id = m.create_plain("pt-1").await;
    let other = m.create_plain("pt-2").await;
    let ipath = format!("/instances/{id}");

    m.wait_status(&id, "running").await;

    // Merge-patch content type is required.
    let r = m
        .send(
            m.http
                .patch(m.v1(&ipath))
                .bearer_auth(&m.token)
                .json(&json!({"name": "pt-x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let before = m.get(&ipath).await.headers["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let r = m.patch(&ipath, json!({"name": "pt-renamed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "pt-renamed");
    let after = r.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(before, after);

    // Stale If-Match: 412 on PATCH and DELETE; current one works.
    let stale =
        |req: reqwest::RequestBuilder| req.bearer_auth(&m.token).header("if-match", &before);
    let r = m
        .send(
            stale(m.http.patch(m.v1(&ipath)))
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"name":"pt-again"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text);
    let r = m.send(stale(m.http.delete(m.v1(&ipath)))).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = m
        .send(
            m.http
                .patch(m.v1(&ipath))
                .bearer_auth(&m.token)
                .header("if-match", &after)
                .header("content-type", "application/merge-patch+json")
                .body(r#"{"name":"pt-again"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Name conflict with the other instance.
    let r = m.patch(&ipath, json!({"name": "pt-2"})).await;
    assert_eq!(
        (r.status, r.code(), r.target()),
        (StatusCode::BAD_REQUEST, "validation_unique_failed", "name"),
        "{}",
        r.text
    );
    let _ = other;

    // Profile / secure boot / cc mode only when stopped.
    for body in [
        json!({"profile": {"name": "bx3dc-2x10"}}),
        json!({"enable_secure_boot": true}),
        json!({"confidential_compute_mode": "disabled"}),
    ] {
        let r = m.patch(&ipath, body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "invalid_state"),
            "{body}"
        );
    }
    let r = m.patch(&ipath, json!({"user_data": "x"})).await;
    assert_eq!(
        (r.status, r.target()),
        (StatusCode::BAD_REQUEST, "user_data")
    );

    m.post(&format!("{ipath}/actions"), json!({"type": "stop"}))
        .await;
    m.wait_status(&id, "stopped").await;
    let r = m
        .patch(&ipath, json!({"profile": {"name": "bz2e-1x4"}}))
        .await;
    assert_eq!(
        (r.status, r.target()),
        (StatusCode::BAD_REQUEST, "profile"),
        "arch change"
    );
    let r = m
        .patch(&ipath, json!({"profile": {"name": "bx3dc-2x10"}, "confidential_compute_mode": "sgx", "enable_secure_boot": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["profile"]["name"], "bx3dc-2x10");
    assert_eq!(r.body["confidential_compute_mode"], "sgx");
    assert_eq!(r.body["enable_secure_boot"], true);
    assert_eq!(r.body["memory"], 10);
    let r = m
        .patch(&ipath, json!({"profile": {"name": "bx2-2x8"}}))
        .await;
    assert_eq!(
        r.target(),
        "confidential_compute_mode",
        "sgx unsupported on bx2: {}",
        r.text
    );
}

#[tokio::test]
async fn delete_rules() {
    let m = slow_stop_mock().await;
    let id = m.create_plain("del-1").await;
    let ipath = format!("/instances/{id}");
    m.wait_status(&id, "running").await;
    m.post(&format!("{ipath}/actions"), json!({"type": "stop"}))
        .await;
    let r = m.delete(&ipath).await;
    assert_eq!(r.code(), "instance_delete_conflict", "stopping");
    m.wait_status(&id, "stopped").await;
    assert_eq!(m.delete(&ipath).await.status, StatusCode::NO_CONTENT);
    assert_eq!(m.status(&id).await, "deleting");
    assert_eq!(
        m.delete(&ipath).await.code(),
        "instance_delete_conflict",
        "deleting"
    );
    let r = m
        .post(&format!("{ipath}/actions"), json!({"type": "start"}))
        .await;
    assert_eq!(r.code(), "invalid_state");
    let seen = m.wait_status(&id, "404").await;
    assert_eq!(seen.last().map(String::as_str), Some("404"));
    assert_eq!(m.get(&ipath).await.code(), "not_found");
    assert_eq!(m.delete(&ipath).await.status, StatusCode::NOT_FOUND);
    // The name is free again.
    m.create_plain("del-1").await;
}

#[tokio::test]
async fn restart_with_same_dir_keeps_everything() {
    let m = Mock::start().await;
    let running = m.create_plain("keep-run").await;
    let stopped = m.create_plain("keep-stop").await;
    let failed = {
        let p = m.prototype("keep-fail", "bx2-2x8", HPCR_IMAGE).await;
        m.post("/instances", p).await.body["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let vpc = m.post("/vpcs", json!({"name": "keep-vpc"})).await.body["id"].clone();
    m.wait_status(&stopped, "running").await;
    m.post(
        &format!("/instances/{stopped}/actions"),
        json!({"type": "stop"}),
    )
    .await;
    m.wait_status(&stopped, "stopped").await;
    m.wait_status(&running, "running").await;
    m.wait_status(&failed, "failed").await;
    let before_list = m.get("/instances").await.body;
    let token = m.token.clone();

    let Mock { cloud, dir, .. } = m;
    cloud.shutdown().await.unwrap();
    let cloud = MockCloud::start(fast_config(dir.path())).await.unwrap();
    let m2 = Mock {
        cloud,
        dir,
        http: reqwest::Client::new(),
        token,
    };
    // The old token is still valid (signed with the persisted secret).
    let after_list = m2.get("/instances").await;
    assert_eq!(after_list.status, StatusCode::OK, "{}", after_list.text);
    let strip = |v: &Value| {
        v["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].clone(),
                    i["name"].clone(),
                    i["status"].clone(),
                    i["status_reasons"].clone(),
                    i["primary_network_interface"]["primary_ip"]["address"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&before_list), strip(&after_list.body));
    assert_eq!(m2.status(&running).await, "running");
    assert_eq!(m2.status(&stopped).await, "stopped");
    assert_eq!(m2.status(&failed).await, "failed");
    assert_eq!(
        m2.get(&format!("/vpcs/{}", vpc.as_str().unwrap()))
            .await
            .body["name"],
        "keep-vpc"
    );
    // Seq numbers continue: a new instance lists after the old ones.
    let new = m2.create_plain("keep-new").await;
    let ids: Vec<Value> = m2.get("/instances").await.body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids.last().and_then(Value::as_str), Some(new.as_str()));
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn two_hundred_concurrent_creates() {
    let m = std::sync::Arc::new(Mock::start().await);
    let proto = m.prototype("x", "bx2-2x8", UBUNTU_AMD64).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let m = m.clone();
        let mut p = proto.clone();
        p["name"] = json!(format!("load-{i}"));
        tasks.push(tokio::spawn(
            async move { m.post("/instances", p).await.status },
        ));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let r = m.get("/instances?limit=100").await;
    assert_eq!(r.body["total_count"], 200);
    let addrs: std::collections::HashSet<String> = {
        let mut all = Vec::new();
        let mut path = "/instances?limit=100".to_string();
        loop {
            let r = m.get(&path).await;
            for i in r.body["instances"].as_array().unwrap() {
                all.push(
                    i["primary_network_interface"]["primary_ip"]["address"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
            }
            match r.body["next"]["href"].as_str() {
                Some(h) => path = format!("/instances?{}", h.split_once('?').unwrap().1),
                None => break,
            }
        }
        assert_eq!(all.len(), 200);
        all.into_iter().collect()
    };
    assert_eq!(addrs.len(), 200, "every instance has its own address");
}
