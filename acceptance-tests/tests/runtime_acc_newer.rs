//! Acceptance tests of the newer protocol features through the `rtest` provider, on whichever
//! Terraform runs them (the test command runs them on 1.0.3 and 1.15.5): ephemeral resources
//! (Terraform ≥ 1.10), resource identity and import by identity (≥ 1.12), and list resources
//! with `terraform query` and `-generate-config-out` (≥ 1.14). On older Terraform each test
//! checks what that Terraform does instead (a clear configuration error), so it still tests.

use acceptance_tests::harness::{
    acceptance_enabled, terraform_version, Run, Step, Terraform, TestCase, WorkDir,
};
use acceptance_tests::rtest::newer::Secret;
use acceptance_tests::rtest::{provider_config as provider_block, provider_under_test as rtest};

/// Writes an item as if it had been made outside Terraform.
fn make_item(store: &std::path::Path, id: &str, name: &str, size: i64) {
    let dir = store.join("items");
    std::fs::create_dir_all(&dir).unwrap();
    let item = serde_json::json!({ "id": id, "name": name, "size": size, "note": null });
    std::fs::write(dir.join(format!("{id}.json")), item.to_string()).unwrap();
}

fn item_exists(store: &std::path::Path, id: &str) -> bool {
    store.join("items").join(format!("{id}.json")).exists()
}

/// The state file's instance of `rtest_item.<name>` (identity included, unlike `show -json`).
fn stored_instance(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let state = std::fs::read_to_string(dir.join("terraform.tfstate")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let resource = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("rtest_item.{name} not in state"));
    resource["instances"][0].clone()
}

/// Asserts the identity Terraform stored for `rtest_item.<name>`.
fn assert_stored_identity(dir: &std::path::Path, name: &str, id: &str) {
    let instance = stored_instance(dir, name);
    assert_eq!(instance["identity"]["id"], id, "{instance}");
    assert_eq!(instance["identity_schema_version"], 0, "{instance}");
}

fn must(run: Run, what: &str) -> Run {
    assert_eq!(run.code, 0, "{what} failed:\n{}", run.output());
    run
}

/// Applies a saved plan, requires the next plan to be empty, then destroys everything.
fn apply_then_empty_plan_then_destroy(work: &WorkDir, between: impl FnOnce()) {
    must(
        work.terraform(&[
            "apply",
            "-input=false",
            "-no-color",
            "-auto-approve",
            "tfplan",
        ]),
        "apply",
    );
    between();
    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-detailed-exitcode"]);
    assert_eq!(
        plan.code,
        0,
        "plan after apply not empty:\n{}",
        plan.output()
    );
    must(
        work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]),
        "destroy",
    );
}

/// An ephemeral secret feeds a write-only attribute: opened and closed in every run, and its
/// value is in neither the state, nor the saved plan, nor `terraform show -json`.
#[test]
fn test_acc_runtime_ephemeral_secret_stays_out_of_state() {
    if !acceptance_enabled("test_acc_runtime_ephemeral_secret_stays_out_of_state") {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let store = tempfile::tempdir().unwrap();
    let config = format!(
        r#"{}
ephemeral "rtest_secret" "s" {{
  name = "alpha"
}}
resource "rtest_everything" "a" {{
  name        = "ephemeral-input"
  password_wo = ephemeral.rtest_secret.s.value
}}
"#,
        provider_block(&store.path().display().to_string())
    );
    if !version.supports_ephemeral() {
        TestCase {
            name: "test_acc_runtime_ephemeral_secret_stays_out_of_state",
            providers: vec![rtest()],
            env: vec![],
            steps: vec![Step::config("ephemeral block", config)
                .expect_error(r#"Blocks of type "ephemeral" are not expected here"#)],
            check_destroy: None,
        }
        .run();
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let work = WorkDir::new(&terraform, &[rtest()], &[]);
    work.write_config(&config);
    let secret = Secret::value_for("alpha");
    let opened = store.path().join("secret-alpha.opened");
    let closed = store.path().join("secret-alpha.closed");

    must(
        work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]),
        "plan",
    );
    assert!(opened.exists(), "plan did not open the ephemeral resource");
    assert!(closed.exists(), "plan did not close the ephemeral resource");
    let plan_bytes = std::fs::read(work.path().join("tfplan")).unwrap();
    assert!(
        !String::from_utf8_lossy(&plan_bytes).contains(&secret),
        "secret in the plan file"
    );
    let shown = must(
        work.terraform(&["show", "-json", "-no-color", "tfplan"]),
        "show plan",
    );
    assert!(!shown.stdout.contains(&secret), "secret in the JSON plan");

    std::fs::remove_file(&closed).unwrap();
    apply_then_empty_plan_then_destroy(&work, || {
        assert!(
            closed.exists(),
            "apply did not close the ephemeral resource"
        );
        let state = std::fs::read_to_string(work.path().join("terraform.tfstate")).unwrap();
        assert!(
            state.contains("ephemeral-input"),
            "the resource is not in state"
        );
        assert!(!state.contains(&secret), "secret in the state file");
        let shown = must(
            work.terraform(&["show", "-json", "-no-color"]),
            "show state",
        );
        assert!(!shown.stdout.contains(&secret), "secret in the JSON state");
        let stored = work.state().unwrap().addresses();
        assert_eq!(
            stored,
            ["rtest_everything.a"],
            "only the managed resource is stored"
        );
    });
}

/// An item made outside Terraform is imported by identity (`import { identity = ... }`): the
/// plan imports it with no change, the state records its identity, and later plans are empty.
#[test]
fn test_acc_runtime_import_by_identity() {
    if !acceptance_enabled("test_acc_runtime_import_by_identity") {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let store = tempfile::tempdir().unwrap();
    make_item(store.path(), "it-outside1", "outside", 7);
    let config = format!(
        r#"{}
import {{
  to       = rtest_item.b
  identity = {{ id = "it-outside1" }}
}}
resource "rtest_item" "b" {{
  name = "outside"
  size = 7
}}
"#,
        provider_block(&store.path().display().to_string())
    );
    let with_created =
        format!("{config}\nresource \"rtest_item\" \"c\" {{\n  name = \"made\"\n}}\n");
    let step = Step::config("import by identity", config);
    if !version.supports_identity() {
        // `import` blocks came in 1.5, `identity` in them in 1.12.
        TestCase {
            name: "test_acc_runtime_import_by_identity",
            providers: vec![rtest()],
            env: vec![],
            steps: vec![step.expect_error(
                r#"(?s)(Blocks of type "import" are not expected here|Unsupported argument.*identity)"#,
            )],
            check_destroy: None,
        }
        .run();
        return;
    }
    let step = step
        .plan_check(|plan| {
            let change = plan
                .change("rtest_item.b")
                .ok_or("rtest_item.b not in the plan")?;
            match change.get("importing") {
                Some(importing) if importing["identity"]["id"] == "it-outside1" => {}
                other => return Err(format!("not imported by identity: {other:?}")),
            }
            match plan.actions("rtest_item.b").as_slice() {
                [a] if a == "no-op" => Ok(()),
                other => Err(format!("import should change nothing, plans {other:?}")),
            }
        })
        .check(|state| state.expect("rtest_item.b", "size", serde_json::json!(7)));
    let store_path = store.path().to_path_buf();
    TestCase {
        name: "test_acc_runtime_import_by_identity",
        providers: vec![rtest()],
        env: vec![],
        steps: vec![
            step,
            // The identity Terraform stored is the provider's, so the state file carries it;
            // an item created (not imported) gets its identity at apply.
            Step::config("create beside the import", with_created.clone())
                .pre_config(|dir| assert_stored_identity(dir, "b", "it-outside1")),
            Step::config("identity of the created item", with_created).pre_config(|dir| {
                let c = stored_instance(dir, "c");
                let id = c["attributes"]["id"].as_str().unwrap();
                assert!(id.starts_with("it-"), "{c}");
                assert_stored_identity(dir, "c", id);
            }),
        ],
        check_destroy: Some(Box::new(move |_| {
            if item_exists(&store_path, "it-outside1") {
                Err("the imported item was not destroyed".into())
            } else {
                Ok(())
            }
        })),
    }
    .run();
}

/// `terraform query` lists items made outside Terraform (filtered by the list block's
/// config); `-generate-config-out` writes import blocks and resources that then apply as
/// pure imports, with an empty plan afterwards.
#[test]
fn test_acc_runtime_query_and_generated_config() {
    if !acceptance_enabled("test_acc_runtime_query_and_generated_config") {
        return;
    }
    let version = terraform_version().expect("Terraform version");
    let terraform = Terraform::locate().unwrap();
    let store = tempfile::tempdir().unwrap();
    make_item(store.path(), "it-q1", "q-one", 1);
    make_item(store.path(), "it-q2", "q-two", 2);
    make_item(store.path(), "it-other", "other", 3);
    let work = WorkDir::new(&terraform, &[rtest()], &[]);
    work.write_config(&provider_block(&store.path().display().to_string()));
    std::fs::write(
        work.path().join("search.tfquery.hcl"),
        r#"
list "rtest_item" "found" {
  provider = rtest
  config {
    name_prefix = "q-"
  }
}
"#,
    )
    .unwrap();
    let query = work.terraform(&["query", "-no-color"]);
    if !version.supports_query() {
        // No `query` command before 1.14: nothing reaches the provider.
        assert_ne!(query.code, 0, "{}", query.output());
        return;
    }
    let query = must(query, "terraform query");
    assert!(query.stdout.contains("q-one (it-q1)"), "{}", query.output());
    assert!(query.stdout.contains("q-two (it-q2)"), "{}", query.output());
    assert!(!query.stdout.contains("it-other"), "{}", query.output());

    must(
        work.terraform(&["query", "-no-color", "-generate-config-out=generated.tf"]),
        "terraform query -generate-config-out",
    );
    let generated = std::fs::read_to_string(work.path().join("generated.tf")).unwrap();
    assert!(generated.contains("import {"), "{generated}");
    assert!(
        generated.contains("it-q1") && generated.contains("it-q2"),
        "{generated}"
    );
    assert!(!generated.contains("it-other"), "{generated}");

    let plan = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    assert_eq!(
        plan.code,
        0,
        "plan of the generated config:\n{}\n{generated}",
        plan.output()
    );
    assert!(
        plan.stdout
            .contains("2 to import, 0 to add, 0 to change, 0 to destroy"),
        "{}\n{generated}",
        plan.output()
    );
    apply_then_empty_plan_then_destroy(&work, || {});
    assert!(!item_exists(store.path(), "it-q1") && !item_exists(store.path(), "it-q2"));
    assert!(
        item_exists(store.path(), "it-other"),
        "an unmanaged item was destroyed"
    );
}
