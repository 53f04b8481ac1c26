//! Import by id and by identity, and `terraform query` with generated configuration.

use super::*;

#[test]
fn test_acc_instance_import_takes_user_data_from_config() {
    if !acceptance_enabled("test_acc_instance_import_takes_user_data_from_config") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let cfg = hpcr_config(&cloud, "hp-import", &contract);
    let work = applied(&cloud, &terraform, &cfg);
    let id = instance_id(work.path());
    let fresh = WorkDir::new(&terraform, &provider(), &cloud.env());
    fresh.write_config(&cfg);
    let import = fresh.terraform(&["import", "-input=false", "-no-color", I, &id]);
    assert_eq!(import.code, 0, "{}", import.output());
    // The keys are read back at import: a configuration without them is a different server.
    let key_line = format!("  keys      = [\"{}\"]\n", cloud.key_id());
    assert!(cfg.contains(&key_line), "the test configuration sets keys");
    fresh.write_config(&cfg.replace(&key_line, ""));
    let keyless = fresh.terraform(&["plan", "-input=false", "-no-color"]);
    assert_eq!(keyless.code, 0, "{}", keyless.output());
    let keys_line = keyless
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("- keys"));
    assert!(
        keys_line.is_some() && keyless.stdout.contains("# forces replacement"),
        "an imported server's keys must be read back, so dropping them replaces it:\n{}",
        keyless.stdout
    );
    fresh.write_config(&cfg);
    let plan = fresh.terraform(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        !plan.stdout.contains("must be replaced") && !plan.stdout.contains("forces replacement"),
        "an import must not plan a replacement for unreadable user_data:\n{}",
        plan.stdout
    );
    let apply = fresh.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(apply.code, 0, "{}", apply.output());
    let again = fresh.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        again.code,
        0,
        "plan after adopting the config is not empty:\n{}",
        again.output()
    );
    assert_eq!(
        cloud.instances().len(),
        1,
        "the import must keep the same server"
    );
    let destroy = fresh.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert!(cloud.instances().is_empty());
}

/// The raw state file's entry of `hyperprotect_instance.<name>` (identity included, which
/// `show -json` leaves out).
fn stored_instance(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap_or_default();
    let state: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == "hyperprotect_instance" && r["name"] == name)
        .map(|r| r["instances"][0].clone())
        .unwrap_or_else(|| panic!("hyperprotect_instance.{name} not in state: {text}"))
}

fn assert_identity(dir: &Path, name: &str, id: &str) {
    let stored = stored_instance(dir, name);
    assert_eq!(
        stored["identity"],
        json!({"id": id, "region": "us-south"}),
        "{stored}"
    );
    assert_eq!(stored["identity_schema_version"], 0, "{stored}");
}

/// A server made through the VPC API is imported by identity (`import { identity = { id } }`):
/// the plan imports it without replacing it, the state holds its identity (`id`, `region`),
/// as it does for a server Terraform creates beside it; later plans are empty. Terraform
/// before 1.12 refuses the form itself.
#[test]
fn test_acc_instance_import_by_identity() {
    const NAME: &str = "test_acc_instance_import_by_identity";
    if !acceptance_enabled(NAME) {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let cloud = Cloud::start(test_delays());
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let ud = std::fs::read_to_string(&contract).unwrap();
    let spec = Spec {
        name: "hp-by-identity",
        profile: "bz2e-1x4",
        image: cloud.image_id(HPCR_IMAGE),
        contract: &contract,
        extra: "",
    };
    let id = if version.supports_identity() {
        cloud.create_outside(spec.name, spec.profile, HPCR_IMAGE, "us-south-2", &ud)
    } else {
        "0717-not-created".to_string()
    };
    let cfg = format!(
        "{}\nimport {{\n  to       = {I}\n  identity = {{ id = \"{id}\" }}\n}}\n",
        config(&cloud, &spec)
    );
    if !version.supports_identity() {
        TestCase {
            name: NAME,
            providers: provider(),
            env: cloud.env(),
            check_destroy: None,
            steps: vec![Step::config("import by identity", cfg).expect_error(
                r#"(?s)(Blocks of type "import" are not expected here|Unsupported argument.*identity)"#,
            )],
        }
        .run();
        return;
    }
    let made = config(
        &cloud,
        &Spec {
            name: "hp-made-beside",
            ..spec
        },
    )
    .replace("\"hp\"", "\"made\"");
    // Only the resource block of the second configuration (its terraform block repeats).
    let made = &made[made.find("resource ").unwrap()..];
    let with_made = format!("{cfg}\n{made}");
    let imported_id = id.clone();
    let created_id = id.clone();
    TestCase {
        name: NAME,
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("import by identity", cfg)
                .expect_non_empty_plan()
                .plan_check(move |plan| {
                    let change = plan.change(I).ok_or("no change for the instance")?;
                    if change["importing"]["identity"]["id"] != imported_id.as_str() {
                        return Err(format!("not imported by identity: {change:?}"));
                    }
                    // user_data is not read back (taken from the configuration); the keys
                    // are, and match.
                    let actions = plan.actions(I);
                    if actions.iter().any(|a| a == "create" || a == "delete") {
                        return Err(format!("the import replaces the server: {actions:?}"));
                    }
                    Ok(())
                })
                .check(|s| s.expect(I, "secure_execution", json!(true))),
            Step::config("create beside the import", with_made.clone())
                .pre_config(move |dir| assert_identity(dir, "hp", &created_id)),
            Step::config("identity of the created server", with_made).pre_config(|dir| {
                let made = stored_instance(dir, "made");
                let id = made["attributes"]["id"].as_str().expect("id");
                assert_identity(dir, "made", id);
            }),
        ],
        check_destroy: None,
    }
    .run();
    assert!(cloud.instances().is_empty(), "{:?}", cloud.instances());
}

fn query_file(body: &str) -> String {
    format!("list \"hyperprotect_instance\" \"found\" {{\n  provider = hyperprotect\n  config {{\n{body}  }}\n}}\n")
}

/// `terraform query` lists the servers made through the VPC API, filtered by name prefix,
/// zone, VPC, image family and Hyper Protect only; `-generate-config-out` writes
/// configuration and import blocks that apply as a pure import. The contract (`user_data`)
/// is not readable, so the generated configuration lacks it; adding it afterwards changes
/// the server in place, never replacing it. Terraform before 1.14 has no `query` command.
#[test]
fn test_acc_instance_query_and_generated_config() {
    const NAME: &str = "test_acc_instance_query_and_generated_config";
    if !acceptance_enabled(NAME) {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let terraform = Terraform::locate().unwrap();
    let cloud = Cloud::start(test_delays());
    let work = WorkDir::new(&terraform, &provider(), &cloud.env());
    let header = r#"terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
"#;
    work.write_config(header);
    let query = |body: &str| {
        std::fs::write(work.path().join("search.tfquery.hcl"), query_file(body)).unwrap();
        work.terraform(&["query", "-no-color"])
    };
    if !version.supports_query() {
        let run = query("    name_prefix = \"q-\"\n");
        assert_ne!(run.code, 0, "{}", run.output());
        return;
    }
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let ud = std::fs::read_to_string(&contract).unwrap();
    let one = cloud.create_outside("q-hp-one", "bz2e-1x4", HPCR_IMAGE, "us-south-2", &ud);
    let two = cloud.create_outside("q-hp-two", "bz2e-1x4", HPCR_IMAGE, "us-south-1", &ud);
    let x86 = cloud.create_outside(
        "q-x86",
        "bx2-2x8",
        UBUNTU_AMD64,
        "us-south-2",
        "#cloud-config\n",
    );
    let other = cloud.create_outside(
        "other",
        "bx2-2x8",
        UBUNTU_AMD64,
        "us-south-2",
        "#cloud-config\n",
    );
    let (vpc, _) = cloud.network("us-south-2");

    let found = |body: &str, want: &[&str]| {
        let run = query(body).expect_ok("terraform query");
        for id in [&one, &two, &x86, &other] {
            assert_eq!(
                run.stdout.contains(id.as_str()),
                want.contains(&id.as_str()),
                "{id} with filters\n{body}\n{}",
                run.output()
            );
        }
        run
    };
    let all = found("", &[&one, &two, &x86, &other]);
    assert!(all.stdout.contains("q-hp-one"), "{}", all.stdout);
    found("    name_prefix = \"q-\"\n", &[&one, &two, &x86]);
    found(
        "    name_prefix = \"q-\"\n    hyper_protect_only = true\n",
        &[&one, &two],
    );
    found(
        "    zone = \"us-south-2\"\n    hyper_protect_only = true\n",
        &[&one],
    );
    found("    image_family = \"Ubuntu Linux\"\n", &[&x86, &other]);
    found(
        "    image_family = \"hyper-protect-1-0-s390x-hpcr\"\n",
        &[&one, &two],
    );
    found(
        &format!("    vpc = \"{vpc}\"\n    name_prefix = \"q-hp\"\n"),
        &[&one, &two],
    );
    let empty = query("    name_prefix = \"\"\n");
    assert_ne!(empty.code, 0, "{}", empty.output());
    assert!(
        empty.output().contains("Empty name_prefix"),
        "{}",
        empty.output()
    );

    // Generated configuration for the two Hyper Protect servers.
    std::fs::write(
        work.path().join("search.tfquery.hcl"),
        query_file("    name_prefix = \"q-hp-\"\n"),
    )
    .unwrap();
    work.terraform(&["query", "-no-color", "-generate-config-out=generated.tf"])
        .expect_ok("terraform query -generate-config-out");
    let generated = std::fs::read_to_string(work.path().join("generated.tf")).unwrap();
    assert!(generated.contains("import {"), "{generated}");
    assert!(
        generated.contains(&one) && generated.contains(&two),
        "{generated}"
    );
    assert!(
        !generated.contains(&x86) && !generated.contains(&other),
        "{generated}"
    );
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    assert_eq!(plan.code, 0, "{}\n{generated}", plan.output());
    assert!(
        plan.stdout
            .contains("2 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}\n{generated}",
        plan.output()
    );
    work.terraform(&[
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        "tfplan",
    ])
    .expect_ok("apply of the generated configuration");
    let empty = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        empty.code,
        0,
        "plan after the import not empty:\n{}",
        empty.output()
    );

    // What the user adds: the contract. It updates the state in place; no replacement.
    // (user_data is the only sensitive argument: Terraform writes it as `null # sensitive`.)
    let with_contract = generated.replace(
        "= null # sensitive",
        &format!("= file(\"{}\")", contract.display()),
    );
    assert_ne!(
        with_contract, generated,
        "no user_data line in:\n{generated}"
    );
    std::fs::write(work.path().join("generated.tf"), &with_contract).unwrap();
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(
        plan.stdout.contains("0 to add, 2 to change, 0 to destroy"),
        "{}\n{with_contract}",
        plan.output()
    );
    work.apply_then_empty_plan_then_destroy("tfplan", || {});
    let left: Vec<String> = cloud.instances().into_iter().map(|(id, _, _)| id).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&x86) && left.contains(&other),
        "unmanaged servers destroyed: {left:?}"
    );
}
