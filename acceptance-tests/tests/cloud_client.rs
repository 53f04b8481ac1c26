//! The provider's cloud client against mock-cloud in-process: typed instance lifecycle,
//! waits, actions and their 409s, paging, error decoding, IAM token expiry, fault
//! injection (429 with Retry-After, 5xx, 501) and the serial console WebSocket.

mod mock_cloud_support;

use std::time::Duration;

use acceptance_tests::mock_cloud::Config;
use hyperprotect::cloud::{
    ActionType, Client, ClientConfig, ConsoleLimits, Error, IdRef, InstancePatch,
    InstancePrototype, InstanceStatus, NameRef, NetworkAttachmentPrototype, PollBackoff,
    RetryPolicy, VirtualNetworkInterfacePrototype,
};
use mock_cloud_support::{fast_config, Mock, HPCR_IMAGE, UBUNTU_AMD64};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn client_for(m: &Mock, key: &str) -> Client {
    let mut c = ClientConfig::new(key, "us-south");
    c.iam_endpoint = m.url().to_string();
    c.vpc_endpoint = m.url().to_string();
    c.api_version = mock_cloud_support::VERSION.to_string();
    c.retry = RetryPolicy {
        max_retries: 10,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(200),
        retry_after_cap: Duration::from_secs(5),
    };
    c.poll = PollBackoff {
        first: Duration::from_millis(10),
        factor: 1.5,
        max: Duration::from_millis(100),
    };
    Client::new(c).expect("client")
}

fn never() -> std::future::Pending<()> {
    std::future::pending()
}

async fn prototype(
    m: &Mock,
    c: &Client,
    name: &str,
    profile: &str,
    image: &str,
) -> InstancePrototype {
    let images = c.list_images(&[("name", image)]).await.expect("images");
    let subnet = c
        .list_subnets(None)
        .await
        .expect("subnets")
        .into_iter()
        .find(|s| s.zone.as_ref().is_some_and(|z| z.name == "us-south-2"))
        .expect("a subnet in us-south-2");
    let keys = m.get("/keys").await;
    InstancePrototype {
        name: name.into(),
        profile: NameRef::new(profile),
        image: IdRef::new(images[0].id.clone()),
        zone: NameRef::new("us-south-2"),
        vpc: subnet.vpc.clone().map(|v| IdRef::new(v.id)),
        primary_network_attachment: NetworkAttachmentPrototype {
            name: Some("eth0".into()),
            virtual_network_interface: VirtualNetworkInterfacePrototype {
                subnet: IdRef::new(subnet.id.clone()),
                name: None,
            },
        },
        keys: vec![IdRef::new(keys.body["keys"][0]["id"].as_str().unwrap())],
        user_data: Some("#cloud-config\n".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn instance_lifecycle_through_the_typed_client() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let proto = prototype(&m, &c, "life-1", "bx2-2x8", UBUNTU_AMD64).await;
    let created = c.create_instance(&proto).await.expect("create");
    assert_eq!(created.status, InstanceStatus::Pending);

    let running = c
        .wait_for_instance_status(&created.id, &[InstanceStatus::Running], never())
        .await
        .expect("running");
    assert_eq!(running.name, "life-1");
    assert!(running.primary_ipv4_address().is_some());
    assert_eq!(
        running.primary_subnet_id(),
        Some(
            proto
                .primary_network_attachment
                .virtual_network_interface
                .subnet
                .id
                .as_str()
        )
    );
    assert_eq!(running.vcpu.as_ref().map(|v| v.count), Some(2));
    assert_eq!(running.memory, Some(8));
    assert!(c
        .list_instances(&[])
        .await
        .unwrap()
        .iter()
        .any(|i| i.id == created.id));

    let renamed = c
        .update_instance(
            &created.id,
            &InstancePatch {
                name: Some("life-2".into()),
                ..Default::default()
            },
        )
        .await
        .expect("rename");
    assert_eq!(renamed.name, "life-2");

    // A profile change needs a stopped instance: the API says so with a 409 …
    let resize = InstancePatch {
        profile: Some(NameRef::new("bx3dc-2x10")),
        ..Default::default()
    };
    assert!(resize.needs_stop());
    let e = c.update_instance(&created.id, &resize).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    // … so stop → patch → start.
    let stopped = c
        .run_instance_action(&created.id, ActionType::Stop, false, never())
        .await
        .expect("stop");
    assert_eq!(stopped.status, InstanceStatus::Stopped);
    // Stopping a stopped instance is already done, not an `invalid_state` error.
    c.run_instance_action(&created.id, ActionType::Stop, false, never())
        .await
        .expect("stop again");
    c.update_instance(&created.id, &resize)
        .await
        .expect("resize");
    let started = c
        .run_instance_action(&created.id, ActionType::Start, false, never())
        .await
        .expect("start");
    assert_eq!(started.status, InstanceStatus::Running);
    assert_eq!(started.profile.unwrap().name, "bx3dc-2x10");

    c.delete_instance_and_wait(&created.id, never())
        .await
        .expect("delete");
    assert!(c.find_instance(&created.id).await.unwrap().is_none());
    // Deleting what is gone is success.
    c.delete_instance(&created.id)
        .await
        .expect("idempotent delete");
    c.delete_instance_and_wait(&created.id, never())
        .await
        .expect("idempotent delete and wait");
}

#[tokio::test]
async fn conflicts_wait_for_a_legal_state() {
    // `pending` long enough that the calls right after a create still find it there on a
    // busy machine (at the 30 ms of the fast delays they did not).
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.delays.pending = Duration::from_millis(1500);
    let m = Mock::start_with(dir, cfg).await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let proto = prototype(&m, &c, "conflict-1", "bx2-2x8", UBUNTU_AMD64).await;
    let id = c.create_instance(&proto).await.unwrap().id;
    // Reboot while pending is 409 `invalid_state`; the helper waits for `running`.
    let e = c
        .create_instance_action(&id, ActionType::Reboot, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("invalid_state"), "{e}");
    let rebooted = c
        .run_instance_action(&id, ActionType::Reboot, false, never())
        .await
        .expect("reboot");
    assert_eq!(rebooted.status, InstanceStatus::Running);

    // Delete while pending is 409 `instance_delete_conflict`; the helper waits and retries.
    let id2 = c
        .create_instance(&prototype(&m, &c, "conflict-2", "bx2-2x8", UBUNTU_AMD64).await)
        .await
        .unwrap()
        .id;
    let e = c.delete_instance(&id2).await.unwrap_err();
    assert_eq!(e.code(), Some("instance_delete_conflict"), "{e}");
    c.delete_instance_and_wait(&id2, never())
        .await
        .expect("delete after conflict");
    assert_eq!(m.status(&id2).await, "404");
}

#[tokio::test]
async fn waits_end_on_cancellation_and_at_the_deadline() {
    let m = Mock::start().await;
    m.admin(
        Method::PUT,
        "/faults",
        Some(json!({"hang_next_creates": 2})),
    )
    .await;
    let c = client_for(&m, "test-key");
    let id = c
        .create_instance(&prototype(&m, &c, "hang-1", "bx2-2x8", UBUNTU_AMD64).await)
        .await
        .unwrap()
        .id;
    let e = c
        .with_timeout(Duration::from_secs(60))
        .wait_for_instance_status(
            &id,
            &[InstanceStatus::Running],
            tokio::time::sleep(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e}");
    let e = c
        .with_timeout(Duration::from_millis(500))
        .wait_for_instance_status(&id, &[InstanceStatus::Running], never())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("instance {id} to be running")),
        "{e}"
    );
}

#[tokio::test]
async fn a_failed_instance_reports_its_reasons() {
    let m = Mock::start().await;
    m.admin(
        Method::PUT,
        "/faults",
        Some(json!({"fail_next_creates": 1})),
    )
    .await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let id = c
        .create_instance(&prototype(&m, &c, "fail-1", "bx2-2x8", UBUNTU_AMD64).await)
        .await
        .unwrap()
        .id;
    let e = c
        .wait_for_instance_status(&id, &[InstanceStatus::Running], never())
        .await
        .unwrap_err();
    match &e {
        Error::InstanceFailed {
            id: failed,
            reasons,
        } => {
            assert_eq!(failed, &id);
            assert!(!reasons.is_empty(), "{e}");
        }
        other => panic!("expected InstanceFailed, got {other}"),
    }
    // A reboot can never become legal on a failed instance: an error now, not a timeout.
    let e = c
        .run_instance_action(&id, ActionType::Reboot, false, never())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InstanceFailed { .. }), "{e}");
    // Deleting a failed instance is allowed.
    c.delete_instance_and_wait(&id, never())
        .await
        .expect("delete failed instance");
}

#[tokio::test]
async fn paging_reads_every_page() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key");
    let before = c.list_vpcs().await.unwrap().len();
    for i in 0..105 {
        let r = m
            .post("/vpcs", json!({"name": format!("paged-{i:03}")}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let vpcs = c.list_vpcs().await.unwrap();
    assert_eq!(vpcs.len(), before + 105, "more than one page of 100");
    let mut names: Vec<&str> = vpcs
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| n.starts_with("paged-"))
        .collect();
    names.dedup();
    assert_eq!(names.len(), 105, "no item twice, none lost");
}

#[tokio::test]
async fn api_errors_carry_code_message_and_trace_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg: Config = fast_config(dir.path());
    cfg.api_key = Some("right-key".into());
    let m = Mock::start_with_key(dir, cfg, "right-key").await;
    let c = client_for(&m, "right-key");
    let e = c
        .get_instance("0717_00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("GET /instances/0717_00000000-0000-4000-8000-000000000000 answered HTTP 404"),
        "{text}"
    );
    assert!(text.contains("not_found"), "{text}");
    assert!(text.contains("trace "), "{text}");

    let wrong = client_for(&m, "wrong-key-s3cr3t");
    let e = wrong.list_vpcs().await.unwrap_err();
    assert!(matches!(e, Error::Iam(_)), "{e}");
    assert_eq!(e.code(), Some("BXNIM0415E"));
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
    assert!(!format!("{e:?}").contains("s3cr3t"), "{e:?}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_call_succeeds() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key");
    c.list_vpcs().await.unwrap();
    assert_eq!(c.token_fetches(), 1);
    assert_eq!(
        m.admin(Method::POST, "/tokens/expire", None).await.status,
        StatusCode::NO_CONTENT
    );
    // Ten concurrent calls all see a 401; one new token serves them all.
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list_zones(None).await })
        })
        .collect();
    for call in calls {
        assert!(!call.await.unwrap().expect("zones after refresh").is_empty());
    }
    assert_eq!(c.token_fetches(), 2);
}

#[tokio::test]
async fn short_lived_tokens_are_refreshed_before_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = fast_config(dir.path());
    cfg.token_lifetime = Duration::from_secs(2);
    let m = Mock::start_with(dir, cfg).await;
    let c = client_for(&m, "test-key");
    for _ in 0..12 {
        c.list_regions().await.expect("regions");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // 3 s of calls with 2 s tokens refreshed at 80 %: more than one token, never a failure.
    assert!(c.token_fetches() >= 2, "{}", c.token_fetches());
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_to_success() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(60));
    let proto = prototype(&m, &c, "storm-1", "bx2-2x8", UBUNTU_AMD64).await;
    m.admin(
        Method::PUT,
        "/faults",
        Some(json!({"rate_429": 0.5, "retry_after_secs": 1, "rate_5xx": 0.3, "status_5xx": 503})),
    )
    .await;
    let started = std::time::Instant::now();
    let id = c
        .create_instance(&proto)
        .await
        .expect("create through the storm")
        .id;
    c.wait_for_instance_status(&id, &[InstanceStatus::Running], never())
        .await
        .expect("running through the storm");
    c.delete_instance_and_wait(&id, never())
        .await
        .expect("delete through the storm");
    // Retry-After: 1 s was honoured at least once (every second request is a 429).
    assert!(started.elapsed() >= Duration::from_secs(1));
    m.admin(Method::DELETE, "/faults", None).await;
    let list = m.get("/instances").await;
    assert_eq!(
        list.body["instances"].as_array().unwrap().len(),
        0,
        "exactly one instance was created and deleted"
    );
}

#[tokio::test]
async fn not_implemented_and_retry_exhaustion_are_errors() {
    let m = Mock::start().await;
    m.admin(
        Method::PUT,
        "/faults",
        Some(json!({"not_implemented": ["GET /v1/vpcs"]})),
    )
    .await;
    let c = client_for(&m, "test-key");
    let e = c.list_vpcs().await.unwrap_err();
    assert_eq!(e.status(), Some(501), "{e}");
    m.admin(
        Method::PUT,
        "/faults",
        Some(json!({"rate_5xx": 1.0, "status_5xx": 500})),
    )
    .await;
    let mut cfg = ClientConfig::new("test-key", "us-south");
    cfg.iam_endpoint = m.url().into();
    cfg.vpc_endpoint = m.url().into();
    cfg.api_version = mock_cloud_support::VERSION.into();
    cfg.retry = RetryPolicy {
        max_retries: 2,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        ..Default::default()
    };
    let e = Client::new(cfg).unwrap().list_regions().await.unwrap_err();
    // The IAM call itself is faulted too: the error says which call failed and how.
    assert_eq!(e.status(), Some(500), "{e}");
}

#[tokio::test]
async fn the_serial_console_is_read_over_the_vpc_websocket() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let proto = prototype(&m, &c, "console-1", "bz2e-1x4", HPCR_IMAGE).await;
    let id = c.create_instance(&proto).await.unwrap().id;
    c.wait_for_instance_status(&id, &[InstanceStatus::Running], never())
        .await
        .unwrap();
    let limits = ConsoleLimits {
        idle: Duration::from_millis(500),
        ..Default::default()
    };
    let text = c.read_serial_console(&id, &limits).await.expect("console");
    let admin = m
        .admin(Method::GET, &format!("/instances/{id}/console"), None)
        .await;
    assert!(!admin.text.is_empty());
    assert_eq!(text, admin.text, "the websocket serves the guest's console");

    // The size bound keeps the newest bytes.
    let tail = c
        .read_serial_console(
            &id,
            &ConsoleLimits {
                max_bytes: 10,
                idle: Duration::from_millis(300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, admin.text[admin.text.len() - 10..]);

    // Tokens are single-use and bound to their instance.
    let token = c
        .create_console_access_token(&id, hyperprotect::cloud::ConsoleType::Serial, true)
        .await
        .unwrap();
    let url = c.console_url(&id, &token.access_token).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("first use");
    ws.close(None).await.ok();
    let second = tokio_tungstenite::connect_async(url.as_str()).await;
    match second {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401)
        }
        other => panic!("a used token must be refused, got {:?}", other.map(|_| ())),
    }
    let bogus = c.console_url(&id, "not-a-token").unwrap();
    match tokio_tungstenite::connect_async(bogus.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401)
        }
        other => panic!("a bogus token must be refused, got {:?}", other.map(|_| ())),
    }
    // The console read error never shows the token.
    let gone = c
        .read_serial_console("0717_00000000-0000-4000-8000-000000000000", &limits)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn a_taken_name_is_refused_with_the_instance_that_holds_it() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let p = prototype(&m, &c, "twice", "bx2-2x8", UBUNTU_AMD64).await;
    let first = c.create_instance(&p).await.expect("first create");
    let e = c.create_instance(&p).await.expect_err("same name again");
    assert!(e.is_name_taken(), "{e:?}");
    // IBM answers a taken name with 400 `validation_unique_failed` (target `name`).
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.code(), Some("validation_unique_failed"));
    match &e {
        Error::NameTaken { name, holder, .. } => {
            assert_eq!(name, "twice");
            let holder = holder.as_ref().expect("the holder is found by name");
            assert_eq!(holder.id, first.id);
        }
        other => panic!("expected NameTaken, got {other:?}"),
    }
    let text = e.to_string();
    assert!(text.contains("validation_unique_failed"), "{text}");
    assert!(
        text.contains(&format!("held by instance {}", first.id)),
        "{text}"
    );
    // Still exactly one server of that name.
    let listed = c.list_instances(&[("name", "twice")]).await.expect("list");
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_finds_the_instance_it_made() {
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(30));
    let p = prototype(&m, &c, "answer-lost", "bx2-2x8", UBUNTU_AMD64).await;
    let r = m
        .admin(
            Method::PUT,
            "/faults",
            Some(json!({"lose_next_create_answers": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let made = c.create_instance(&p).await.expect("found by name");
    assert_eq!(made.name, "answer-lost");
    let listed = c
        .list_instances(&[("name", "answer-lost")])
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "no second server");
    assert_eq!(listed[0].id, made.id);
    // The one POST sent was the one whose answer was lost.
    let faults = m.admin(Method::GET, "/faults", None).await;
    assert_eq!(
        faults.body["lose_next_create_answers"], 0,
        "{}",
        faults.text
    );
    let requests = m.admin(Method::GET, "/requests", None).await;
    assert_eq!(
        requests.body["requests"]["POST /v1/instances"], 1,
        "{}",
        requests.text
    );
}

/// IBM's docs: "The console disconnects if the instance is powered off. You can't
/// reestablish the connection until the instance starts again." The emulator closes an open
/// console at power-off and refuses a stopped server's console; the live capture keeps what
/// the guest printed while it ran.
#[tokio::test]
async fn the_console_is_live_only_while_the_server_runs() {
    use tokio_stream::StreamExt;
    let m = Mock::start().await;
    let c = client_for(&m, "test-key").with_timeout(Duration::from_secs(60));
    let proto = prototype(&m, &c, "console-live", "bz2e-1x4", HPCR_IMAGE).await;
    let id = c.create_instance(&proto).await.unwrap().id;
    c.wait_for_instance_status(&id, &[InstanceStatus::Running], never())
        .await
        .unwrap();
    let capture = c.capture_serial_console(&id, 64 * 1024);

    // An open console gets the current boot's output, then is closed when the server stops.
    let token = c
        .create_console_access_token(&id, hyperprotect::cloud::ConsoleType::Serial, false)
        .await
        .unwrap();
    let url = c.console_socket_url(&id, &token).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        token.href.as_deref().and_then(|h| h.split('?').next()),
        "the socket is the token's href"
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("a running server's console opens");
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("the boot's output so far")
        .expect("a frame")
        .expect("no error");
    assert!(
        String::from_utf8_lossy(&first.into_data()).contains("not evaluated"),
        "the emulator without PKI says so on the console"
    );
    c.create_instance_action(&id, ActionType::Stop, false)
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(m)) if m.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the console closes when the server powers off"
    );
    c.wait_for_instance_status(&id, &[InstanceStatus::Stopped], never())
        .await
        .unwrap();

    // A stopped server's console is refused.
    let refused = c
        .read_serial_console(&id, &ConsoleLimits::default())
        .await
        .expect_err("a stopped server has no console");
    assert_eq!(refused.status(), Some(409), "{refused}");

    // What the live capture read while the server ran is kept.
    let captured = capture.finish().await;
    assert!(
        captured.text.contains("not evaluated"),
        "captured: {:?} ({:?})",
        captured.text,
        captured.error
    );
    assert_eq!(
        captured.text.matches("not evaluated").count(),
        1,
        "a replayed boot is not repeated: {:?}",
        captured.text
    );
}
