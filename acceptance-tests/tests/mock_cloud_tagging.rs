//! mock-cloud's Global Tagging v3 routes: bearer token, attach/detach/list by CRN, paging,
//! validation errors in the service's error shape, tags persisting across a restart and
//! going away with the instance.

mod mock_cloud_support;

use mock_cloud_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn tagging(m: &Mock, method: Method, path: &str, body: Option<Value>) -> Resp {
    let mut req = m
        .http
        .request(method, format!("{}/v3/tags{path}", m.url()))
        .bearer_auth(&m.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    m.send(req).await
}

async fn names(m: &Mock, query: &str) -> Vec<String> {
    let r = tagging(m, Method::GET, query, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

async fn crn_of(m: &Mock, id: &str) -> String {
    let r = m.get(&format!("/instances/{id}")).await;
    r.body["crn"].as_str().expect("crn").to_string()
}

#[tokio::test]
async fn tags_attach_list_page_and_detach_by_crn() {
    let m = Mock::start().await;
    let id = m.create_plain("tagged").await;
    let crn = crn_of(&m, &id).await;
    let body = json!({"resources": [{"resource_id": crn}], "tag_names": ["b:2", "A:1", "c"]});
    let r = tagging(&m, Method::POST, "/attach?tag_type=user", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"][0]["resource_id"], crn.as_str());
    assert_eq!(r.body["results"][0]["is_error"], false);

    let q = format!("?tag_type=user&attached_to={crn}");
    assert_eq!(names(&m, &q).await, ["a:1", "b:2", "c"]);
    // Paging by offset/limit, with the total.
    let r = tagging(&m, Method::GET, &format!("{q}&offset=1&limit=1"), None).await;
    assert_eq!(r.body["total_count"], 3);
    assert_eq!(r.body["items"], json!([{"name": "b:2"}]));

    let body = json!({"resources": [{"resource_id": crn}], "tag_names": ["b:2"]});
    let r = tagging(&m, Method::POST, "/detach?tag_type=user", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&m, &q).await, ["a:1", "c"]);

    // An unknown resource is reported per result, as the service does.
    let body = json!({"resources": [{"resource_id": "crn:v1:bluemix:public:is:us-south-2:a/x::instance:nope"}], "tag_names": ["x"]});
    let r = tagging(&m, Method::POST, "/attach", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["results"][0]["is_error"], true);

    // Tags go away with the instance.
    m.wait_status(&id, "running").await;
    let r = m.delete(&format!("/instances/{id}")).await;
    assert!(r.status.is_success(), "{}", r.text);
    m.wait_status(&id, "404").await;
    assert!(names(&m, &q).await.is_empty());
    assert!(names(&m, "?tag_type=user").await.is_empty());
}

#[tokio::test]
async fn tagging_needs_a_token_and_valid_requests() {
    let m = Mock::start().await;
    let id = m.create_plain("t").await;
    let crn = crn_of(&m, &id).await;
    let r = m
        .send(m.http.get(format!("{}/v3/tags?attached_to={crn}", m.url())))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "token_missing");

    let bad = [
        (
            json!({"resources": [{"resource_id": "not-a-crn"}], "tag_names": ["x"]}),
            "invalid_resource_id",
        ),
        (
            json!({"resources": [{"resource_id": crn}], "tag_names": []}),
            "invalid_tag_names",
        ),
        (
            json!({"resources": [{"resource_id": crn}], "tag_names": ["bad/tag"]}),
            "invalid_tag_name",
        ),
        (json!({"tag_names": ["x"]}), "invalid_body"),
    ];
    for (body, code) in bad {
        let r = tagging(&m, Method::POST, "/attach?tag_type=user", Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.code(), code, "{}", r.text);
        assert!(r.body["trace"].as_str().is_some(), "{}", r.text);
    }
    let r = tagging(&m, Method::GET, "?tag_type=service", None).await;
    assert_eq!(r.code(), "invalid_tag_type");
    let r = tagging(&m, Method::GET, "?limit=0", None).await;
    assert_eq!(r.code(), "invalid_parameter");
}

#[tokio::test]
async fn tags_persist_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let m = Mock::start_with(dir, fast_config(&path)).await;
    let id = m.create_plain("kept").await;
    let crn = crn_of(&m, &id).await;
    let body = json!({"resources": [{"resource_id": crn}], "tag_names": ["keep:me"]});
    let r = tagging(&m, Method::POST, "/attach?tag_type=user", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let Mock { cloud, dir, .. } = m;
    cloud.shutdown().await.unwrap();
    let m = Mock::start_with(dir, fast_config(&path)).await;
    assert_eq!(names(&m, &format!("?attached_to={crn}")).await, ["keep:me"]);
}

/// `POST /v3/resources/search` as IBM's Global Search scan: `crn:"…"` terms joined by OR,
/// `fields: ["tags"]`, an empty page ending the scan.
async fn search(m: &Mock, crns: &[&str], cursor: Option<&str>, limit: usize) -> Resp {
    let query = crns
        .iter()
        .map(|c| format!("crn:\"{c}\""))
        .collect::<Vec<_>>()
        .join(" OR ");
    let mut body = json!({"query": query, "fields": ["tags"]});
    if let Some(c) = cursor {
        body["search_cursor"] = json!(c);
    }
    m.send(
        m.http
            .post(format!("{}/v3/resources/search?limit={limit}", m.url()))
            .bearer_auth(&m.token)
            .json(&body),
    )
    .await
}

#[tokio::test]
async fn global_search_reads_many_resources_tags_in_one_call() {
    let m = Mock::start().await;
    let mut crns = Vec::new();
    for name in ["s-1", "s-2", "s-3"] {
        let id = m.create_plain(name).await;
        let crn = crn_of(&m, &id).await;
        let body =
            json!({"resources": [{"resource_id": crn}], "tag_names": [format!("Name:{name}")]});
        let r = tagging(&m, Method::POST, "/attach?tag_type=user", Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        crns.push(crn);
    }
    let refs: Vec<&str> = crns.iter().map(String::as_str).collect();
    let r = search(&m, &refs, None, 2).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let cursor = r.body["search_cursor"].as_str().unwrap().to_string();
    let r2 = search(&m, &refs, Some(&cursor), 2).await;
    let mut seen: Vec<(String, Value)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r2.body["items"].as_array().unwrap())
        .map(|i| (i["crn"].as_str().unwrap().to_string(), i["tags"].clone()))
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, Value)> = crns
        .iter()
        .zip(["s-1", "s-2", "s-3"])
        .map(|(c, n)| (c.clone(), json!([format!("name:{n}")])))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, want, "lower-cased tags of every resource asked for");
    let cursor = r2.body["search_cursor"].as_str().unwrap().to_string();
    let end = search(&m, &refs, Some(&cursor), 2).await;
    assert_eq!(end.body["items"], json!([]), "an empty page ends the scan");
    // Other queries are not emulated, and say so.
    let r = m
        .send(
            m.http
                .post(format!("{}/v3/resources/search", m.url()))
                .bearer_auth(&m.token)
                .json(&json!({"query": "name:s-*"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

#[tokio::test]
async fn attached_tags_show_after_the_lag_and_tagging_is_rate_limited() {
    let m = Mock::start().await;
    let id = m.create_plain("lagged").await;
    let crn = crn_of(&m, &id).await;
    let r = m
        .admin(
            Method::PUT,
            "/faults",
            Some(json!({"tag_visibility_lag_ms": 1500, "tagging_calls_per_second": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = json!({"resources": [{"resource_id": crn}], "tag_names": ["env:prod"]});
    let r = tagging(&m, Method::POST, "/attach?tag_type=user", Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let q = format!("?tag_type=user&attached_to={crn}");
    // Within the lag the tag is attached but not visible, in both reads.
    assert!(names(&m, &q).await.is_empty());
    let s = search(&m, &[&crn], None, 10).await;
    assert_eq!(s.body["items"][0]["tags"], json!([]), "{}", s.text);
    // The third Global Tagging call in the same second is refused with Retry-After.
    let r = tagging(&m, Method::GET, &q, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.headers["retry-after"], "1");
    // Global Search is not the rate-limited service.
    assert_eq!(search(&m, &[&crn], None, 10).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(names(&m, &q).await, ["env:prod"]);
    let s = search(&m, &[&crn], None, 10).await;
    assert_eq!(s.body["items"][0]["tags"], json!(["env:prod"]));
}
