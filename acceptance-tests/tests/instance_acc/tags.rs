//! User tags through the Global Tagging API, drift included.

use super::*;

fn tag_set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The instance's CRN and `tags` in a state (tags as a set).
fn crn_and_tags(
    s: &acceptance_tests::harness::StateJson,
) -> Result<(String, BTreeSet<String>), String> {
    let crn = s
        .attr(I, "crn")
        .and_then(Value::as_str)
        .ok_or("no crn in the state")?
        .to_string();
    let tags = s
        .attr(I, "tags")
        .and_then(Value::as_array)
        .ok_or("no tags in the state")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    Ok((crn, tags))
}

/// Tags in the state and on the CRN in the tagging service are both `want`.
fn tags_are(
    cloud: &Cloud,
    s: &acceptance_tests::harness::StateJson,
    want: &[&str],
) -> Result<(), String> {
    let (crn, in_state) = crn_and_tags(s)?;
    let on_cloud = cloud.tags_on(Some(&crn));
    let want = tag_set(want);
    if in_state == want && on_cloud == want {
        Ok(())
    } else {
        Err(format!(
            "want tags {want:?}; state has {in_state:?}, the tagging service has {on_cloud:?}"
        ))
    }
}

#[test]
fn test_acc_instance_tags() {
    if !acceptance_enabled("test_acc_instance_tags") {
        return;
    }
    let cloud = std::rc::Rc::new(Cloud::start(test_delays()));
    let contract = cloud.contract_file("c.yaml", "hello", false);
    let hpcr = cloud.image_id(HPCR_IMAGE);
    let cfg = |tags: &str| {
        config(
            &cloud,
            &Spec {
                name: "hp-tags",
                profile: "bz2e-1x4",
                image: hpcr.clone(),
                contract: &contract,
                extra: &format!("  tags = {tags}\n"),
            },
        )
    };
    let first = cfg(r#"["env:test", "team:a"]"#);
    let second = cfg(r#"["env:test", "team:b", "tier:web"]"#);
    let (c1, c2, c4, drift, gone) = (
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
        cloud.clone(),
    );
    TestCase {
        name: "test_acc_instance_tags",
        providers: provider(),
        env: cloud.env(),
        steps: vec![
            Step::config("create with tags", first)
                .check(move |s| tags_are(&c1, s, &["env:test", "team:a"])),
            Step::config("change tags in place", second.clone())
                .plan_check(|p| actions_are(p, &["update"]))
                .check(move |s| tags_are(&c2, s, &["env:test", "team:b", "tier:web"])),
            Step::config("a tag removed out of band", second)
                .pre_config(move |dir| {
                    let crn = state_instances(dir)[0]["attributes"]["crn"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let (status, body) = drift.tagging(
                        reqwest::Method::POST,
                        "/detach?tag_type=user",
                        Some(json!({"resources": [{"resource_id": crn}], "tag_names": ["team:b"]})),
                    );
                    assert_eq!(status, 200, "detach: {body}");
                    assert_eq!(
                        drift.tags_on(Some(&crn)),
                        tag_set(&["env:test", "tier:web"])
                    );
                })
                .plan_check(move |p| {
                    actions_are(p, &["update"])?;
                    // The refresh saw the removal: the plan puts `team:b` back.
                    let before = p
                        .change(I)
                        .and_then(|c| c.get("before"))
                        .and_then(|b| b.get("tags"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let after = p.after(I, "tags").cloned().unwrap_or(Value::Null);
                    let names = |v: &Value| -> BTreeSet<String> {
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    };
                    if names(&before) == tag_set(&["env:test", "tier:web"])
                        && names(&after) == tag_set(&["env:test", "team:b", "tier:web"])
                    {
                        Ok(())
                    } else {
                        Err(format!("planned tags {before} -> {after}"))
                    }
                })
                .check(move |s| tags_are(&c4, s, &["env:test", "team:b", "tier:web"])),
        ],
        check_destroy: Some(Box::new(move |_| no_tags_left(&gone))),
    }
    .run();
}
