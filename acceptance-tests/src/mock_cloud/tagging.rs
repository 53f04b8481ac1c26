//! The Global Tagging API v3 routes for user tags: `POST /v3/tags/attach`,
//! `POST /v3/tags/detach` (`tag_type=user`, body `{"resources":[{"resource_id": CRN}],
//! "tag_names": [..]}`, answer `{"results":[{"resource_id","is_error"}]}`) and
//! `GET /v3/tags?attached_to=CRN&tag_type=user&offset&limit` (`{"total_count","offset",
//! "limit","items":[{"name"}]}`). Bearer token required; tags are kept per CRN in the state
//! and only for live instances, so they go away with the instance.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::state::{State as CloudState, Status};
use super::{iam, ids, App};

/// The longest tag the service accepts (`key:value` included).
const MAX_TAG: usize = 128;
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
struct TagRequest {
    resources: Vec<ResourceRef>,
    tag_names: Vec<String>,
}

#[derive(Deserialize)]
struct ResourceRef {
    resource_id: String,
}

fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    iam::verify_bearer(app, auth, ids::now_ms())
}

fn user_tag_type(params: &HashMap<String, String>) -> Result<(), ApiError> {
    match params.get("tag_type").map(String::as_str) {
        None | Some("user") => Ok(()),
        Some(other) => Err(ApiError::bad_request(
            "invalid_tag_type",
            format!("tag_type `{other}` is not supported here: only `user` tags are emulated"),
        )
        .parameter("tag_type", Some(other))),
    }
}

/// A tag as the service allows it: 1–128 characters of letters, digits, space, `_ - . :`.
fn check_tag(tag: &str) -> Result<String, ApiError> {
    let tag = tag.trim();
    let ok = !tag.is_empty()
        && tag.chars().count() <= MAX_TAG
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || " _-.:".contains(c));
    if ok {
        // The service stores tags in lower case.
        Ok(tag.to_lowercase())
    } else {
        Err(ApiError::bad_request(
            "invalid_tag_name",
            format!(
                "The tag `{tag}` is invalid: 1 to {MAX_TAG} characters, letters, digits, \
                 spaces and `_ - . :` only"
            ),
        )
        .field("tag_names"))
    }
}

fn parse_request(body: &[u8]) -> Result<(String, Vec<String>), ApiError> {
    let req: TagRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("The request body is invalid: {e}"))
    })?;
    let [resource] = req.resources.as_slice() else {
        return Err(ApiError::bad_request(
            "invalid_resources",
            "`resources` must name exactly one resource in this emulator",
        )
        .field("resources"));
    };
    if !resource.resource_id.starts_with("crn:") {
        return Err(ApiError::bad_request(
            "invalid_resource_id",
            format!("`{}` is not a CRN", resource.resource_id),
        )
        .field("resources[0].resource_id"));
    }
    if req.tag_names.is_empty() {
        return Err(
            ApiError::bad_request("invalid_tag_names", "`tag_names` must not be empty")
                .field("tag_names"),
        );
    }
    let tags = req
        .tag_names
        .iter()
        .map(|t| check_tag(t))
        .collect::<Result<_, _>>()?;
    Ok((resource.resource_id.clone(), tags))
}

fn live_instance(st: &CloudState, crn: &str, now: i64) -> bool {
    st.instances
        .values()
        .any(|i| i.crn == crn && i.status_at(now) != Status::Gone)
}

async fn change(
    app: Arc<App>,
    headers: HeaderMap,
    params: HashMap<String, String>,
    body: Bytes,
    attach: bool,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    user_tag_type(&params)?;
    let (crn, tags) = parse_request(&body)?;
    let now = ids::now_ms();
    let found = app
        .store
        .update(now, |st| {
            if !live_instance(st, &crn, now) {
                return Ok::<_, ApiError>(false);
            }
            let entry = st.tags.entry(crn.clone()).or_default();
            let mut set: BTreeSet<String> = entry.iter().cloned().collect();
            for t in tags {
                if attach {
                    set.insert(t);
                } else {
                    set.remove(&t);
                }
            }
            *entry = set.into_iter().collect();
            Ok(true)
        })
        .await?;
    let mut result = json!({"resource_id": crn, "is_error": !found});
    if !found {
        result["message"] = json!("The resource was not found");
    }
    Ok(Json(json!({ "results": [result] })))
}

pub async fn attach(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(app, headers, params, body, true).await
}

pub async fn detach(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    change(app, headers, params, body, false).await
}

fn number(params: &HashMap<String, String>, name: &str, default: usize) -> Result<usize, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request("invalid_parameter", format!("`{name}` must be a number"))
                .parameter(name, Some(v))
        }),
    }
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    user_tag_type(&params)?;
    let offset = number(&params, "offset", 0)?;
    let limit = number(&params, "limit", 100)?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        )
        .parameter("limit", Some(&limit.to_string())));
    }
    let now = ids::now_ms();
    let st = app.store.read();
    let all: Vec<String> = match params.get("attached_to") {
        Some(crn) if live_instance(&st, crn, now) => st.tags.get(crn).cloned().unwrap_or_default(),
        Some(_) => Vec::new(),
        None => {
            // Tags of deleted instances are gone even before the next write purges them.
            let set: BTreeSet<String> = st
                .tags
                .iter()
                .filter(|(crn, _)| live_instance(&st, crn, now))
                .flat_map(|(_, tags)| tags.iter().cloned())
                .collect();
            set.into_iter().collect()
        }
    };
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|n| json!({ "name": n }))
        .collect();
    Ok(Json(json!({
        "total_count": all.len(),
        "offset": offset,
        "limit": limit,
        "items": items,
    })))
}
