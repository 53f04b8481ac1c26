//! The lifecycle of one server (create, rename, resize, replace, import, destroy), a
//! contract the guest rejects, and what fails at plan.

use super::*;

#[test]
fn test_acc_instance_lifecycle() {
    if !acceptance_enabled("test_acc_instance_lifecycle") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let first = cloud.contract_file("first.yaml", "hello", false);
    let second = cloud.contract_file("second.yaml", "bonjour", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |name: &str, profile: &str, contract: &Path| {
        config(
            &cloud,
            &Spec {
                name,
                profile,
                image: hpcr.clone(),
                contract,
                extra: "",
            },
        )
    };
    let first_id = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    let (id_w, id_r) = (first_id.clone(), first_id.clone());
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_lifecycle",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create", cfg("hp-one", "bz2e-1x4", &first))
                .plan_check(|p| {
                    actions_are(p, &["create"])?;
                    if !p.is_unknown_after(I, "id") {
                        return Err("id should be unknown before create".into());
                    }
                    Ok(())
                })
                .check(move |s| {
                    s.expect(I, "status", json!("running"))?;
                    s.expect(I, "secure_execution", json!(true))?;
                    s.expect(I, "vcpu", json!(1))?;
                    s.expect(I, "memory", json!(4))?;
                    s.expect(I, "confidential_compute_mode", json!("disabled"))?;
                    let ip = s.attr(I, "primary_ipv4_address").and_then(Value::as_str);
                    if !ip.is_some_and(|a| a.starts_with("10.")) {
                        return Err(format!("primary_ipv4_address {ip:?}"));
                    }
                    *id_w.borrow_mut() =
                        s.attr(I, "id").and_then(Value::as_str).unwrap_or("").into();
                    Ok(())
                }),
            Step::config("rename in place", cfg("hp-renamed", "bz2e-1x4", &first))
                .plan_check(|p| actions_are(p, &["update"]))
                .check(move |s| {
                    s.expect(I, "name", json!("hp-renamed"))?;
                    s.expect(I, "id", json!(*id_r.borrow()))
                }),
            Step::config(
                "resize by stop, update, start",
                cfg("hp-renamed", "bz2e-2x8", &first),
            )
            .plan_check(|p| actions_are(p, &["update"]))
            .check(|s| {
                s.expect(I, "profile", json!("bz2e-2x8"))?;
                s.expect(I, "vcpu", json!(2))?;
                s.expect(I, "memory", json!(8))?;
                s.expect(I, "status", json!("running"))
            }),
            Step::config(
                "a new contract replaces the server",
                cfg("hp-renamed", "bz2e-2x8", &second),
            )
            .plan_check(|p| {
                actions_are(p, &["delete", "create"])?;
                if p.replace_paths(I) != vec![json!(["user_data"])] {
                    return Err(format!("replace paths {:?}", p.replace_paths(I)));
                }
                Ok(())
            })
            .check(|s| s.expect(I, "status", json!("running"))),
            Step::import(
                "import by id",
                cfg("hp-renamed", "bz2e-2x8", &second),
                Import {
                    address: I.into(),
                    id: ImportId::FromState("id"),
                    verify: true,
                    // `keys` are read back (from the initialization): verified.
                    verify_ignore: vec!["user_data", "contract_check_seconds", "timeouts"],
                },
            ),
        ],
        check_destroy: Some(Box::new(move |_| no_instance_left(&after))),
    }
    .run();
}

#[test]
fn test_acc_instance_rejected_contract_is_tainted_not_lost() {
    if !acceptance_enabled("test_acc_instance_rejected_contract_is_tainted_not_lost") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let bad = cloud.contract_file("bad.yaml", "hello", true);
    let good = cloud.contract_file("good.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |contract: &Path| {
        config(
            &cloud,
            &Spec {
                name: "hp-rejected",
                profile: "bz2e-1x4",
                image: hpcr.clone(),
                contract,
                extra: "",
            },
        )
    };
    let seen = cloud.clone();
    let after = cloud.clone();
    TestCase {
        name: "test_acc_instance_rejected_contract_is_tainted_not_lost",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("a contract for another platform", cfg(&bad))
                .expect_error(r"(?s)rejected its contract.*HPL11001E"),
            Step::config("the tainted server is replaced", cfg(&good))
                .pre_config(move |dir| {
                    let insts = state_instances(dir);
                    assert_eq!(insts.len(), 1, "the rejected server must stay in the state");
                    assert_eq!(insts[0]["status"], json!("tainted"), "{}", insts[0]);
                    let id = insts[0]["attributes"]["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let listed = seen.instances();
                    assert!(
                        listed
                            .iter()
                            .any(|(i, _, status)| *i == id && status == "stopped"),
                        "the stopped server {id} is not the one in the state: {listed:?}"
                    );
                })
                .plan_check(|p| actions_are(p, &["delete", "create"]))
                .check(|s| s.expect(I, "status", json!("running"))),
        ],
        check_destroy: Some(Box::new(move |_| no_instance_left(&after))),
    }
    .run();
}

#[test]
fn test_acc_instance_profile_image_mismatch_fails_at_plan() {
    if !acceptance_enabled("test_acc_instance_profile_image_mismatch_fails_at_plan") {
        return;
    }
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let ubuntu = cloud.image_id(UBUNTU_AMD64);
    let spec = |profile, image: &String, extra| Spec {
        name: "mismatch",
        profile,
        image: image.clone(),
        contract: &contract,
        extra,
    };
    TestCase {
        name: "test_acc_instance_profile_image_mismatch_fails_at_plan",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config(
                "Hyper Protect image on an x86 profile",
                config(&cloud, &spec("bx2-2x8", &hpcr, "")),
            )
            .expect_error(r"(?s)Hyper Protect image needs a Secure Execution profile.*profile"),
            Step::config(
                "plain image on a Secure Execution profile",
                config(&cloud, &spec("bz2e-1x4", &ubuntu, "")),
            )
            .expect_error(r"(?s)Secure Execution profile needs a Hyper Protect image"),
            Step::config(
                "a mode the profile lacks",
                config(
                    &cloud,
                    &spec(
                        "bx2-2x8",
                        &ubuntu,
                        "  confidential_compute_mode = \"tdx\"\n",
                    ),
                ),
            )
            .expect_error(r"(?s)does not support confidential_compute_mode"),
            Step::config(
                "a zone of another region",
                config(&cloud, &spec("bz2e-1x4", &hpcr, ""))
                    .replace("\"us-south-2\"", "\"eu-de-1\""),
            )
            .expect_error(r"(?s)Zone not in the provider's region"),
        ],
        check_destroy: None,
    }
    .run();
    assert!(
        cloud.instances().is_empty(),
        "a failed plan created something"
    );
}
