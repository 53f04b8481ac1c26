//! Errors, expiring tokens, drift, delete conflicts and Ctrl-C: nothing is lost.

use super::*;

#[test]
fn test_acc_instance_converges_through_errors_and_an_expired_token() {
    if !acceptance_enabled("test_acc_instance_converges_through_errors_and_an_expired_token") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-storm", &contract);
    let url = cloud.url();
    let storm = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_converges_through_errors_and_an_expired_token",
        providers: provider(),
        env: cloud.env(),
        steps: vec![Step::config("create in a storm", cfg)
            .pre_config(move |_| {
                let status = storm.admin(
                    reqwest::Method::PUT,
                    "/faults",
                    Some(json!({"rate_429": 0.3, "retry_after_secs": 0, "rate_5xx": 0.2, "status_5xx": 503})),
                );
                assert_eq!(status, 200);
                // Every token issued so far stops working, again and again while Terraform
                // plans and applies.
                let addr = url.trim_start_matches("http://").to_string();
                std::thread::spawn(move || {
                    for _ in 0..8 {
                        std::thread::sleep(Duration::from_millis(700));
                        expire_tokens(&addr);
                    }
                });
            })
            .check(|s| s.expect(I, "status", json!("running")))],
        check_destroy: Some(Box::new(move |_| {
            // The storm is over; look with the test's own calls.
            assert_eq!(after.admin(reqwest::Method::DELETE, "/faults", None), 204);
            no_instance_left(&after)
        })),
    }
    .run();
}

#[test]
fn test_acc_instance_deleted_out_of_band_plans_a_create() {
    if !acceptance_enabled("test_acc_instance_deleted_out_of_band_plans_a_create") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-drift", &contract);
    let drift = cloud.clone();
    TestCase {
        name: "test_acc_instance_deleted_out_of_band_plans_a_create",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create", cfg.clone()),
            Step::config("deleted behind Terraform's back", cfg)
                .pre_config(move |dir| {
                    let id = state_instances(dir)[0]["attributes"]["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let status =
                        drift.admin(reqwest::Method::DELETE, &format!("/instances/{id}"), None);
                    assert_eq!(status, 204);
                })
                .plan_check(|p| actions_are(p, &["create"]))
                .check(|s| s.expect(I, "status", json!("running"))),
        ],
        check_destroy: None,
    }
    .run();
}

#[test]
fn test_acc_instance_delete_conflict_retries() {
    if !acceptance_enabled("test_acc_instance_delete_conflict_retries") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let mut delays = test_delays();
    // A stop long enough that the destroy starts while the server is `stopping`.
    delays.stop = Duration::from_secs(4);
    let cloud = Cloud::start(delays);
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-busy", &contract);
    let work = applied(&cloud, &terraform, &cfg);
    let id = instance_id(work.path());
    let (status, body) = cloud.vpc(
        reqwest::Method::POST,
        &format!("/instances/{id}/actions"),
        Some(json!({"type": "stop"})),
    );
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    // While stopping, the VPC API refuses a delete (409 instance_delete_conflict).
    let (refused, _) = cloud.vpc(reqwest::Method::DELETE, &format!("/instances/{id}"), None);
    assert_eq!(refused, 409);
    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "destroy ended before the stop did: it cannot have waited out the conflict"
    );
    assert!(cloud.instances().is_empty(), "{:?}", cloud.instances());
    assert!(state_instances(work.path()).is_empty());
}

/// Ctrl-C while create waits for a server that never boots: Terraform stops promptly and
/// the server's id is in the state (tainted), not lost.
#[test]
fn test_acc_instance_ctrl_c_keeps_the_id() {
    if !acceptance_enabled("test_acc_instance_ctrl_c_keeps_the_id") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-hang", &contract);
    assert_eq!(
        cloud.admin(
            reqwest::Method::PUT,
            "/faults",
            Some(json!({"hang_next_creates": 1}))
        ),
        200
    );
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let init = work.terraform(&["init", "-input=false", "-no-color"]);
    let _ = init; // dev_overrides need no init; it only warms Terraform's caches.
    let log = std::fs::File::create(work.path().join("apply.log")).unwrap();
    let mut child = work
        .command(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let id = loop {
        if let Some((id, _, _)) = cloud.instances().into_iter().next() {
            break id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "create never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Let the provider settle into its wait, then press Ctrl-C (SIGINT to the group).
    std::thread::sleep(Duration::from_millis(1500));
    let interrupted = Instant::now();
    let rc = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(rc.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if interrupted.elapsed() >= Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "Terraform did not stop within 30 s of Ctrl-C:\n{}",
                std::fs::read_to_string(work.path().join("apply.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(work.path().join("apply.log")).unwrap();
    assert!(!status.success(), "{output}");
    assert!(output.contains("Interrupted"), "{output}");
    let insts = state_instances(work.path());
    assert_eq!(insts.len(), 1, "the server must be in the state:\n{output}");
    assert_eq!(insts[0]["attributes"]["id"], json!(id));
    assert_eq!(insts[0]["status"], json!("tainted"));
    // The hung server can never be deleted through the API; clean up behind Terraform.
    assert_eq!(
        cloud.admin(reqwest::Method::DELETE, &format!("/instances/{id}"), None),
        204
    );
}
