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
