//! Fidelity to IBM's platform (issue 16 items 1–9), each against the emulator behaving as
//! IBM documents it: the rejection reason read from the console while the guest runs (a
//! stopped server's console is refused), a refused console token naming the IAM roles,
//! case-insensitive tags, tags visible only after a lag, a fleet's refresh under a tagging
//! rate limit, a taken name answered 400 `validation_unique_failed`, and the end-of-marketing
//! warning for new Hyper Protect servers on VPC.

use super::*;

/// Opens the serial console of `id` the way IBM's docs say (token, then its `href`):
/// the HTTP status of the WebSocket handshake (101 when it opened).
fn console_handshake(cloud: &Cloud, id: &str) -> u16 {
    let (status, token) = cloud.vpc(
        reqwest::Method::POST,
        &format!("/instances/{id}/console_access_token"),
        Some(json!({"console_type": "serial", "force": true})),
    );
    assert_eq!(status, 200, "console token: {token}");
    let href = token["href"].as_str().expect("href").to_string();
    let url = format!("{href}&version={}&generation=2", mock_version());
    cloud.rt.block_on(async move {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((mut ws, resp)) => {
                let _ = ws.close(None).await;
                resp.status().as_u16()
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("console handshake failed: {e}"),
        }
    })
}

/// The VPC API version the emulator accepts (the one the test client sends).
fn mock_version() -> &'static str {
    hyperprotect::cloud::DEFAULT_API_VERSION
}

/// Request counts by route since the last reset (`GET /_mock/requests`).
fn requests(cloud: &Cloud) -> Value {
    let (status, body) = cloud.api.admin(reqwest::Method::GET, "/requests", None);
    assert_eq!(status, 200, "{body}");
    body["requests"].clone()
}

fn count(requests: &Value, route: &str) -> u64 {
    requests[route].as_u64().unwrap_or(0)
}

#[test]
fn test_acc_instance_rejection_reason_is_read_live() {
    if !acceptance_enabled("test_acc_instance_rejection_reason_is_read_live") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let bad = cloud.contract_file("bad.yaml", "hello", true);
    let cfg = hpcr_config(&cloud, "hp-live-console", &bad);
    let refused = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_rejection_reason_is_read_live",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            // The emulator refuses a stopped server's console, so the HPL line in the error
            // can only have been read while the guest ran.
            Step::config("a contract for another platform", cfg.clone())
                .expect_error(r"(?s)rejected its contract.*read\s+while\s+it\s+ran.*HPL11001E"),
            Step::config("the stopped server's console is refused", cfg)
                .pre_config(move |dir| {
                    let id = instance_id(dir);
                    assert_eq!(
                        refused.get(&format!("/instances/{id}"))["status"],
                        json!("stopped")
                    );
                    assert_eq!(
                        console_handshake(&refused, &id),
                        409,
                        "IBM: the console of a powered-off instance cannot be reestablished"
                    );
                })
                .expect_error(r"(?s)rejected its contract.*HPL11001E"),
        ],
        check_destroy: Some(Box::new(move |_| no_instance_left(&after))),
    }
    .run();
}

#[test]
fn test_acc_instance_console_refused_names_the_iam_roles() {
    if !acceptance_enabled("test_acc_instance_console_refused_names_the_iam_roles") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let bad = cloud.contract_file("bad.yaml", "hello", true);
    let cfg = hpcr_config(&cloud, "hp-no-console-role", &bad);
    let deny = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_console_refused_names_the_iam_roles",
        providers: provider(),
        env: cloud.env(),
        steps: vec![Step::config("no Console Administrator role", cfg)
            .pre_config(move |_| {
                let status = deny.admin(
                    reqwest::Method::PUT,
                    "/faults",
                    Some(json!({"forbidden": ["POST /v1/instances/*/console_access_token"]})),
                );
                assert_eq!(status, 200);
            })
            // The roles are named; the advice starts the server before opening its console.
            .expect_error(
                r"(?s)rejected its contract.*HTTP\s+403.*Operator.*Console\s+Administrator.*instance-start",
            )],
        check_destroy: Some(Box::new(move |_| no_instance_left(&after))),
    }
    .run();
}

#[test]
fn test_acc_instance_tags_with_capitals_settle_after_a_lag() {
    if !acceptance_enabled("test_acc_instance_tags_with_capitals_settle_after_a_lag") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    // Attached tags show in reads only 3 s later (IBM's tags are eventually consistent).
    assert_eq!(
        cloud.admin(
            reqwest::Method::PUT,
            "/faults",
            Some(json!({"tag_visibility_lag_ms": 3000}))
        ),
        200
    );
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = |tags: &str| {
        config(
            &cloud,
            &Spec {
                name: "hp-capitals",
                profile: "bz2e-1x4",
                image: cloud.image_id(HPCR_IMAGE),
                contract: &contract,
                extra: &format!("  tags = {tags}\n"),
            },
        )
    };
    let first = cfg(r#"["Env:Prod", "Team:Blue"]"#);
    let second = cfg(r#"["Env:Prod", "Tier:Web"]"#);
    let (c1, c2, gone) = (cloud.clone(), cloud.clone(), cloud.clone());
    let held = |cloud: &Cloud, s: &acceptance_tests::harness::StateJson, want: &[&str]| {
        let crn = s.attr(I, "crn").and_then(Value::as_str).unwrap_or("");
        let on_cloud = cloud.tags_on(Some(crn));
        let want: BTreeSet<String> = want.iter().map(|t| t.to_string()).collect();
        if on_cloud == want {
            Ok(())
        } else {
            Err(format!(
                "the tagging service holds {on_cloud:?}, want {want:?}"
            ))
        }
    };
    TestCase {
        name: "test_acc_instance_tags_with_capitals_settle_after_a_lag",
        providers: provider(),
        env: cloud.env(),
        // Each step's apply is followed by an empty plan and a refresh + empty plan: the
        // capitals settle although the service answers in lower case, and the refresh right
        // after the apply sees the tags despite the lag.
        steps: vec![
            Step::config("create with capitals", first).check(move |s| {
                s.expect(I, "tags", json!(["Env:Prod", "Team:Blue"]))?;
                held(&c1, s, &["env:prod", "team:blue"])
            }),
            Step::config("change one tag", second)
                .plan_check(|p| actions_are(p, &["update"]))
                .check(move |s| {
                    s.expect(I, "tags", json!(["Env:Prod", "Tier:Web"]))?;
                    held(&c2, s, &["env:prod", "tier:web"])
                }),
        ],
        check_destroy: Some(Box::new(move |_| no_tags_left(&gone))),
    }
    .run();
}

/// `n` tagged servers (not Hyper Protect: no contract check, so the fleet comes up fast).
fn fleet_config(cloud: &Cloud, n: usize) -> String {
    let (vpc, subnet) = cloud.network("us-south-2");
    format!(
        r#"{REQUIRED_PROVIDERS}
resource "hyperprotect_instance" "fleet" {{
  count   = {n}
  name    = "fleet-${{count.index}}"
  profile = "bx2-2x8"
  image   = "{image}"
  zone    = "us-south-2"
  vpc     = "{vpc}"
  subnet  = "{subnet}"
  keys    = ["{key}"]
  tags    = ["Fleet:A", "member:${{count.index}}"]
}}
"#,
        image = cloud.image_id(UBUNTU_AMD64),
        key = cloud.key_id(),
    )
}

#[test]
fn test_acc_instance_fleet_refresh_under_a_tagging_rate_limit() {
    if !acceptance_enabled("test_acc_instance_fleet_refresh_under_a_tagging_rate_limit") {
        return;
    }
    const SERVERS: usize = 6;
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let work = applied(&cloud, &terraform, &fleet_config(&cloud, SERVERS));
    // Global Tagging now allows one call a second (more are answered 429).
    assert_eq!(
        cloud.admin(
            reqwest::Method::PUT,
            "/faults",
            Some(json!({"tagging_calls_per_second": 1}))
        ),
        200
    );
    assert_eq!(cloud.admin(reqwest::Method::DELETE, "/requests", None), 204);
    let refresh = work.terraform(&["refresh", "-input=false", "-no-color"]);
    assert_eq!(refresh.code, 0, "{}", refresh.output());
    let seen = requests(&cloud);
    let servers = count(&seen, "GET /v1/instances/{id}");
    let per_server_tag_reads = count(&seen, "GET /v3/tags");
    let searches = count(&seen, "POST /v3/resources/search");
    assert_eq!(servers, SERVERS as u64, "one read per server: {seen}");
    assert_eq!(
        per_server_tag_reads, 0,
        "no Global Tagging call per server on refresh: {seen}"
    );
    assert!(
        (1..=2).contains(&searches),
        "the fleet's tags come from one or two Global Search calls, not {searches}: {seen}"
    );
    // And the refreshed state still matches: an empty plan.
    let plan = work.terraform(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert!(cloud.instances().is_empty());
}

#[test]
fn test_acc_instance_taken_name_is_a_400_with_the_import_command() {
    if !acceptance_enabled("test_acc_instance_taken_name_is_a_400_with_the_import_command") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let ud = std::fs::read_to_string(&contract).unwrap();
    let holder = cloud.create_outside("hp-taken", "bz2e-1x4", HPCR_IMAGE, "us-south-2", &ud);
    let cfg = hpcr_config(&cloud, "hp-taken", &contract);
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_taken_name_is_a_400_with_the_import_command",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("the name is held by a server made outside", cfg).expect_error(
                &format!(
                    r"(?s)already exists.*HTTP\s+400\s+`validation_unique_failed`.*terraform import '<address>' {holder}"
                ),
            ),
        ],
        // Nothing was created, and the holder is untouched.
        check_destroy: Some(Box::new(move |_| {
            let left = after.instances();
            if left.len() == 1 && left[0].0 == holder && left[0].2 == "running" {
                Ok(())
            } else {
                Err(format!("want only the running holder {holder}, got {left:?}"))
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_instance_new_hyper_protect_server_warns_at_plan() {
    if !acceptance_enabled("test_acc_instance_new_hyper_protect_server_warns_at_plan") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-closed", &contract);
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    work.write_config(&cfg);
    let plan = work.terraform(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    let out = plan.output().replace('\n', " ");
    let squeezed: String = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "Warning: Hyper Protect Virtual Servers for VPC are closed to new servers",
        "2026-02-28",
        "2027-02-20",
        "CCRT",
        "CCRV",
        "CCCO",
        "terraform import",
    ] {
        assert!(
            squeezed.contains(needle),
            "plan lacks {needle:?}:\n{}",
            plan.output()
        );
    }
    // A server that exists is managed as today: no warning on its plans.
    let apply = work.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(apply.code, 0, "{}", apply.output());
    let again = work.terraform(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    assert_eq!(again.code, 0, "{}", again.output());
    assert!(
        !again.output().contains("closed to new servers"),
        "{}",
        again.output()
    );
    // Not for other images either.
    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    let fleet = WorkDir::new(&terraform, &provider(), &cloud.env());
    fleet.write_config(&fleet_config(&cloud, 1));
    let plan = fleet.terraform(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        !plan.output().contains("closed to new servers"),
        "{}",
        plan.output()
    );
}
