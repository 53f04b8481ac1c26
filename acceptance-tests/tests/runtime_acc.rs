//! TestAcc-style proof of the plugin runtime against the real Terraform CLI, through the
//! `rtest` provider (every type and nesting mode, computed and requires-replace attributes,
//! import, state upgrade, drift, validation errors, write-only rejection), launched by
//! Terraform itself with go-plugin's handshake and mutual TLS.

use acceptance_tests::harness::{
    acceptance_enabled, built_binary, terraform_version, Import, ImportId, Step, Terraform,
    TestCase, WorkDir,
};
use acceptance_tests::rtest::{provider_config as provider_block, provider_under_test as rtest};
use serde_json::json;
use std::os::unix::process::CommandExt;

fn everything(store: &str, name: &str, count: i64, extra: &str) -> String {
    format!(
        r#"{provider}
resource "rtest_everything" "a" {{
  name    = "{name}"
  quantity = {count}
  ratio   = 0.25
  big     = 123456789012345678901234567890
  enabled = true
  tags    = {{ env = "test", team = "tee" }}
  strings = ["b", "a", "c"]
  numbers = [3, 1, 2]
  pair    = ["left", 7]
  object  = {{ a = "x", b = 1.5 }}
  anything = {{ nested = [1, 2], flag = true }}
  secret  = "hunter2"

  nested_single = {{ x = "one" }}
{nested_collections}

  block_single {{
    value = "single"
  }}
  block_list {{
    subnet = "subnet-1"
  }}
  block_list {{
    subnet = "subnet-2"
  }}
  block_set {{
    port = 443
  }}
  block_set {{
    port = 80
  }}
  block_map "first" {{
    value = "v1"
  }}
{extra}
}}

data "rtest_echo" "e" {{
  input = {{ list = ["a", "b"], number = 3.5, deep = {{ ok = true }} }}
}}

output "echo_kind" {{
  value = data.rtest_echo.e.kind
}}
"#,
        provider = provider_block(store),
        nested_collections = if nested_collections_supported() {
            NESTED_COLLECTIONS
        } else {
            ""
        }
    )
}

/// Nested attributes in list, set and map mode. Terraform 1.0.x itself panics on them while
/// computing the proposed new state (`objchange.proposedNewNestedType`, fixed in 1.1), before
/// the provider is asked anything, so they are only exercised on Terraform 1.1 or later.
const NESTED_COLLECTIONS: &str = r#"  nested_list   = [{ x = "l1" }, { x = "l2" }]
  nested_set    = [{ x = "s1" }]
  nested_map    = { k = { x = "m1" } }
"#;

fn nested_collections_supported() -> bool {
    terraform_version().is_some_and(|v| v.at_least(1, 1))
}

const A: &str = "rtest_everything.a";

#[test]
fn test_acc_runtime_everything() {
    let store = tempfile::tempdir().unwrap();
    let store_path = store.path().display().to_string();
    let store_for_drift = store.path().to_path_buf();
    let store_for_delete = store.path().to_path_buf();
    let store_for_destroy = store.path().to_path_buf();

    TestCase {
        name: "test_acc_runtime_everything",
        providers: vec![rtest()],
        env: vec![],
        steps: vec![
            Step::config("create", everything(&store_path, "first", 2, ""))
                .plan_check(|plan| {
                    if plan.actions(A) != ["create"] {
                        return Err(format!("expected create, got {:?}", plan.actions(A)));
                    }
                    for computed in ["id", "created_at", "revision", "region"] {
                        if !plan.is_unknown_after(A, computed) {
                            return Err(format!("{computed} should be unknown in the plan"));
                        }
                    }
                    Ok(())
                })
                .check(|s| {
                    let id = s.attr(A, "id").and_then(|v| v.as_str()).unwrap_or("");
                    if !id.starts_with("rt-") {
                        return Err(format!("bad id {id:?}"));
                    }
                    s.expect(A, "name", json!("first"))?;
                    s.expect(A, "quantity", json!(2))?;
                    s.expect(A, "ratio", json!(0.25))?;
                    let big = s.attr(A, "big").map(|v| v.to_string()).unwrap_or_default();
                    if big != "123456789012345678901234567890" && big != "1.2345678901234568e+29" {
                        return Err(format!("big number lost: {big}"));
                    }
                    s.expect(A, "enabled", json!(true))?;
                    s.expect(A, "tags", json!({"env": "test", "team": "tee"}))?;
                    s.expect(A, "strings", json!(["b", "a", "c"]))?;
                    s.expect(A, "pair", json!(["left", 7]))?;
                    s.expect(A, "object", json!({"a": "x", "b": 1.5}))?;
                    s.expect(A, "anything", json!({"nested": [1, 2], "flag": true}))?;
                    s.expect(A, "region", json!("eu-de"))?;
                    s.expect(A, "revision", json!(1))?;
                    s.expect(A, "nested_single/y", json!("computed-one"))?;
                    if nested_collections_supported() {
                        s.expect(A, "nested_list/1/y", json!("computed-l2"))?;
                        s.expect(A, "nested_set/0/y", json!("computed-s1"))?;
                        s.expect(A, "nested_map/k/y", json!("computed-m1"))?;
                    }
                    s.expect(A, "block_single/value", json!("single"))?;
                    s.expect(A, "block_list/1/ip", json!("10.0.0.2"))?;
                    s.expect(A, "block_map/first/value", json!("v1"))?;
                    let numbers = s.attr(A, "numbers").cloned().unwrap_or_default();
                    let mut got: Vec<i64> = numbers
                        .as_array()
                        .map(|a| a.iter().filter_map(|n| n.as_i64()).collect())
                        .unwrap_or_default();
                    got.sort();
                    if got != [1, 2, 3] {
                        return Err(format!("numbers set: {numbers}"));
                    }
                    Ok(())
                }),
            Step::import(
                "import by id",
                everything(&store_path, "first", 2, ""),
                Import {
                    address: A.into(),
                    id: ImportId::FromState("id"),
                    verify: true,
                    verify_ignore: vec![],
                },
            ),
            Step::config("update in place keeps the id", everything(&store_path, "first", 5, ""))
                .plan_check(|plan| {
                    if plan.actions(A) != ["update"] {
                        return Err(format!("expected update, got {:?}", plan.actions(A)));
                    }
                    if plan.is_unknown_after(A, "id") || plan.is_unknown_after(A, "created_at") {
                        return Err("id/created_at must keep their state value".into());
                    }
                    if !plan.is_unknown_after(A, "revision") {
                        return Err("revision should be recomputed".into());
                    }
                    Ok(())
                })
                .check(|s| {
                    s.expect(A, "quantity", json!(5))?;
                    s.expect(A, "revision", json!(2))
                }),
            Step::config("drift is detected at refresh", everything(&store_path, "first", 5, ""))
                .pre_config(move |_| {
                    // Change the real object behind Terraform's back.
                    let file = std::fs::read_dir(&store_for_drift)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .find(|p| p.extension().is_some_and(|e| e == "json"))
                        .unwrap();
                    let text = std::fs::read_to_string(&file).unwrap();
                    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    v["quantity"] = json!(99);
                    std::fs::write(&file, v.to_string()).unwrap();
                })
                .plan_check(|plan| {
                    if plan.actions(A) != ["update"] {
                        return Err(format!("drift should plan an update, got {:?}", plan.actions(A)));
                    }
                    Ok(())
                })
                .check(|s| s.expect(A, "quantity", json!(5))),
            Step::config("name change forces replacement", everything(&store_path, "second", 5, ""))
                .plan_check(|plan| {
                    let actions = plan.actions(A);
                    if actions != ["delete", "create"] {
                        return Err(format!("expected replace, got {actions:?}"));
                    }
                    if plan.replace_paths(A) != vec![json!(["name"])] {
                        return Err(format!("replace paths {:?}", plan.replace_paths(A)));
                    }
                    if !plan.is_unknown_after(A, "id") {
                        return Err("a replaced resource gets a new id".into());
                    }
                    Ok(())
                })
                .check(|s| s.expect(A, "name", json!("second"))),
            Step::config("deleted out of band is re-created", everything(&store_path, "second", 5, ""))
                .pre_config(move |_| {
                    for e in std::fs::read_dir(&store_for_delete).unwrap() {
                        std::fs::remove_file(e.unwrap().path()).unwrap();
                    }
                })
                .plan_check(|plan| {
                    if plan.actions(A) != ["create"] {
                        return Err(format!("expected create, got {:?}", plan.actions(A)));
                    }
                    Ok(())
                }),
            Step::config(
                "validation error names the attribute",
                everything(&store_path, "second", -3, ""),
            )
            .expect_error(r"(?s)Invalid quantity.*quantity must be a whole number"),
            Step::config(
                "nested validation error names the block",
                everything(&store_path, "second", 5, "  block_list {\n    subnet = \"bad\"\n  }\n"),
            )
            .expect_error(r#"(?s)Invalid subnet.*subnet = "bad".*starts with "subnet-""#),
            Step::config(
                "too many blocks are rejected by Terraform from our schema",
                everything(
                    &store_path,
                    "second",
                    5,
                    "  block_list {\n    subnet = \"subnet-3\"\n  }\n  block_list {\n    subnet = \"subnet-4\"\n  }\n",
                ),
            )
            .expect_error(r"(?i)too many .*block_list|No more than 3"),
        ],
        check_destroy: Some(Box::new(move |_| {
            let left: Vec<_> = std::fs::read_dir(&store_for_destroy)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("objects left: {left:?}"))
            }
        })),
    }
    .run();
}

#[test]
fn test_acc_runtime_write_only_needs_a_capable_terraform() {
    let store = tempfile::tempdir().unwrap();
    let store_path = store.path().display().to_string();
    let supports_write_only = terraform_version().is_some_and(|v| v.supports_write_only());
    let step = Step::config(
        "write-only value",
        everything(&store_path, "wo", 1, "  password_wo = \"s3cret\"\n"),
    );
    let step = if supports_write_only {
        step.check(|s| s.expect(A, "password_wo", serde_json::Value::Null))
    } else {
        step.expect_error(r"(?s)Write-only attribute not supported.*password_wo.*Terraform 1.11 or")
    };
    TestCase {
        name: "test_acc_runtime_write_only_needs_a_capable_terraform",
        providers: vec![rtest()],
        env: vec![],
        steps: vec![step],
        check_destroy: None,
    }
    .run();
}

#[test]
fn test_acc_runtime_state_upgrade() {
    let store = tempfile::tempdir().unwrap();
    let store_path = store.path().display().to_string();
    let config = everything(&store_path, "upgraded", 1, "");
    TestCase {
        name: "test_acc_runtime_state_upgrade",
        providers: vec![rtest()],
        env: vec![],
        steps: vec![
            Step::config("create at schema version 1", config.clone()),
            Step::config(
                "state rewritten as schema version 0 upgrades cleanly",
                config,
            )
            .pre_config(|dir| {
                // Make the stored state look like version 0 wrote it: `name` was `title`.
                let path = dir.join("terraform.tfstate");
                let mut state: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                state["serial"] = json!(state["serial"].as_i64().unwrap() + 1);
                for r in state["resources"].as_array_mut().unwrap() {
                    if r["type"] == "rtest_everything" {
                        let inst = &mut r["instances"][0];
                        inst["schema_version"] = json!(0);
                        let attrs = inst["attributes"].as_object_mut().unwrap();
                        let name = attrs.remove("name").unwrap();
                        attrs.insert("title".into(), name);
                    }
                }
                std::fs::write(&path, state.to_string()).unwrap();
            })
            .plan_check(|plan| {
                let actions = plan.actions(A);
                if actions != ["no-op"] {
                    return Err(format!(
                        "upgraded state should plan no change, got {actions:?}"
                    ));
                }
                Ok(())
            })
            .check(|s| s.expect(A, "name", json!("upgraded"))),
        ],
        check_destroy: None,
    }
    .run();
}

#[test]
fn test_acc_runtime_sensitive_values_stay_hidden() {
    if !acceptance_enabled("test_acc_runtime_sensitive_values_stay_hidden") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let store = tempfile::tempdir().unwrap();
    let work = WorkDir::new(&terraform, &[rtest()], &[]);
    work.write_config(&everything(&store.path().display().to_string(), "s", 1, ""));

    let schema = work.terraform(&["providers", "schema", "-json"]);
    assert_eq!(schema.code, 0, "{}", schema.output());
    let schema: serde_json::Value = serde_json::from_str(&schema.stdout).unwrap();
    let attrs = &schema["provider_schemas"]["registry.terraform.io/hyperprotect/rtest"]
        ["resource_schemas"]["rtest_everything"]["block"]["attributes"];
    assert_eq!(attrs["secret"]["sensitive"], json!(true), "{attrs}");
    assert_eq!(attrs["name"]["required"], json!(true));
    assert_eq!(attrs["id"]["computed"], json!(true));

    let plan = work.terraform(&["plan", "-no-color", "-input=false"]);
    assert_eq!(plan.code, 0, "{}", plan.output());
    assert!(plan.stdout.contains("(sensitive value)"), "{}", plan.stdout);

    // A warning diagnostic is shown, pointing at its attribute, and does not stop the plan.
    work.write_config(&everything(
        &store.path().display().to_string(),
        "s",
        1,
        "  note = \"warn: mind the gap\"\n",
    ));
    let warned = work.terraform(&["plan", "-no-color", "-input=false"]);
    assert_eq!(warned.code, 0, "{}", warned.output());
    let out = warned.output();
    assert!(out.contains("Warning: Note is a warning"), "{out}");
    assert!(
        out.contains("note = \"warn: mind the gap\""),
        "warning not pointed at its line: {out}"
    );
    assert!(out.contains("mind the gap"), "{out}");
    assert!(
        !plan.output().contains("hunter2"),
        "secret leaked into plan output"
    );
}

/// Ctrl-C during a long create: Terraform forwards it as StopProvider, which must cancel the
/// wait and return (not kill the provider), so Terraform exits promptly with our diagnostic.
#[test]
fn test_acc_runtime_stop_provider_cancels_a_long_create() {
    if !acceptance_enabled("test_acc_runtime_stop_provider_cancels_a_long_create") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let store = tempfile::tempdir().unwrap();
    let work = WorkDir::new(&terraform, &[rtest()], &[]);
    work.write_config(&everything(
        &store.path().display().to_string(),
        "slow",
        1,
        "  create_delay_ms = 120000\n",
    ));
    let log = std::fs::File::create(work.path().join("apply.log")).unwrap();
    // Its own process group, like a shell job: Ctrl-C reaches the whole group (Terraform
    // re-executes itself under a crash wrapper, and the provider is in the group too).
    let mut child = work
        .command(&["apply", "-auto-approve", "-input=false", "-no-color"])
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let marker = store.path().join("creating");
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(started.elapsed().as_secs() < 60, "create never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let interrupted = std::time::Instant::now();
    // SIGINT to the process group, as a user's Ctrl-C would send it.
    let rc = std::process::Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    assert!(rc.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if interrupted.elapsed().as_secs() >= 30 {
            let _ = child.kill();
            let log = std::fs::read_to_string(work.path().join("apply.log")).unwrap_or_default();
            let tail: String = log
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            panic!(
                "Terraform did not stop within 30 s of Ctrl-C (the create waits 120 s):\n{tail}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(work.path().join("apply.log")).unwrap();
    assert!(!status.success(), "{output}");
    assert!(output.contains("Interrupted"), "{output}");
    assert!(output.contains("asked the provider to stop"), "{output}");
    // Nothing was created, so nothing is left behind.
    let objects = std::fs::read_dir(store.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(objects, 0);
}

/// `TF_LOG_PROVIDER=DEBUG` shows the provider's hclog JSON lines at their levels.
#[test]
fn test_acc_runtime_provider_logs_reach_terraform() {
    if !acceptance_enabled("test_acc_runtime_provider_logs_reach_terraform") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let store = tempfile::tempdir().unwrap();
    let work = WorkDir::new(
        &terraform,
        &[rtest()],
        &[("TF_LOG_PROVIDER".to_string(), "DEBUG".to_string())],
    );
    work.write_config(&everything(
        &store.path().display().to_string(),
        "logs",
        1,
        "",
    ));
    let run = work.terraform(&["plan", "-no-color", "-input=false"]);
    assert_eq!(run.code, 0, "{}", run.output());
    // Terraform parses the JSON lines and re-prints them with their level and module.
    let ours: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("[DEBUG]") && l.contains("provider.terraform-provider-rtest"))
        .collect();
    assert!(
        ours.iter().any(|l| l.contains("serving provider schema")),
        "no provider debug line in:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("\"@message\""),
        "raw JSON reached the output: Terraform did not parse our lines"
    );
    assert!(!run.stderr.contains("hunter2"), "a secret was logged");
}

/// Debug mode: `terraform-provider-rtest --debug` serves without Terraform launching it and
/// prints `TF_REATTACH_PROVIDERS`; a real Terraform attaches with it, applies and destroys,
/// and Ctrl-C then stops the provider.
#[test]
fn test_acc_runtime_debug_mode_reattach() {
    use std::io::BufRead;
    if !acceptance_enabled("test_acc_runtime_debug_mode_reattach") {
        return;
    }
    let terraform = Terraform::locate().unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut provider = std::process::Command::new(built_binary("terraform-provider-rtest"))
        .arg("--debug")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(provider.stdout.take().unwrap()).lines();
    let reattach = loop {
        let line = lines.next().expect("debug output ended early").unwrap();
        if let Some(rest) = line.trim().strip_prefix("TF_REATTACH_PROVIDERS=") {
            break rest.trim_matches('\'').to_string();
        }
    };
    let parsed: serde_json::Value = serde_json::from_str(&reattach).unwrap();
    let entry = &parsed["registry.terraform.io/hyperprotect/rtest"];
    assert_eq!(entry["ProtocolVersion"], json!(6), "{reattach}");
    assert_eq!(entry["Test"], json!(true), "{reattach}");

    let work = WorkDir::new(
        &terraform,
        &[rtest()],
        &[("TF_REATTACH_PROVIDERS".to_string(), reattach)],
    );
    work.write_config(&everything(
        &store.path().display().to_string(),
        "dbg",
        1,
        "",
    ));
    let apply = work.terraform(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let created = std::fs::read_dir(store.path()).unwrap().count();
    let destroy = work.terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    let left = std::fs::read_dir(store.path()).unwrap().count();

    // Ctrl-C ends a debug-mode provider (unlike a Terraform-launched one).
    std::process::Command::new("kill")
        .args(["-INT", &provider.id().to_string()])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let exited = loop {
        if provider.try_wait().unwrap().is_some() {
            break true;
        }
        if started.elapsed().as_secs() >= 10 {
            let _ = provider.kill();
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(apply.code, 0, "{}", apply.output());
    assert_eq!(created, 1, "apply through reattach created nothing");
    assert_eq!(destroy.code, 0, "{}", destroy.output());
    assert_eq!(left, 0, "destroy through reattach left objects");
    assert!(exited, "debug-mode provider ignored Ctrl-C");
}
