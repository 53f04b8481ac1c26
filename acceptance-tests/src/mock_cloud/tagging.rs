//! The Global Tagging API v3 routes for user tags: `POST /v3/tags/attach`,
//! `POST /v3/tags/detach` (`tag_type=user`, body `{"resources":[{"resource_id": CRN}],
//! "tag_names": [..]}`, answer `{"results":[{"resource_id","is_error"}]}`) and
//! `GET /v3/tags?attached_to=CRN&tag_type=user&offset&limit` (`{"total_count","offset",
//! "limit","items":[{"name"}]}`). Bearer token required; tags are kept per CRN in the state
//! and only for live instances, so they go away with the instance.
//!
//! Tags are case-insensitive in IBM Cloud: the service keeps them in lower case and IBM's
//! Terraform provider compares them lowercased (`ResourceIBMVPCHash`, ibm/flex/structures.go).
//!
//! Also the Global Search scan `POST /v3/resources/search` (IBM/platform-services-go-sdk
//! `globalsearchv2.Search`: body `query` (Lucene), `fields`, `search_cursor`; query `limit`;
//! answer `{"search_cursor","limit","items":[{"crn", <fields>}]}`, an empty `items` ends the
//! scan), for the one query shape IBM's provider sends, `crn:"<CRN>"`, joined with `OR` so
//! one call reads the tags of many resources.
//!
//! Two optional knobs ([`super::faults::Faults`]): a visibility lag (an attached tag shows
//! in reads only after it, as IBM's tags are eventually consistent) and a rate limit on the
//! Global Tagging routes (answered 429 with `Retry-After`).
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

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

/// When tags attached under a visibility lag show in reads: (CRN, tag) → Unix ms.
/// In memory only: after a restart every tag is visible.
#[derive(Default)]
pub struct TagVisibility(Mutex<HashMap<(String, String), i64>>);

impl TagVisibility {
    fn hide_until(&self, crn: &str, tags: &[String], until: i64) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for t in tags {
            m.insert((crn.to_string(), t.clone()), until);
        }
    }

    fn forget(&self, crn: &str, tags: &[String]) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for t in tags {
            m.remove(&(crn.to_string(), t.clone()));
        }
    }

    /// The tags of `crn` a read at `now` sees.
    fn visible(&self, crn: &str, tags: &[String], now: i64) -> Vec<String> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, until| *until > now);
        tags.iter()
            .filter(|t| !m.contains_key(&(crn.to_string(), (*t).clone())))
            .cloned()
            .collect()
    }
}

/// A bearer token, and for the Global Tagging routes the optional rate limit.
fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    iam::verify_bearer(app, auth, ids::now_ms())
}

fn authorize_tagging(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    authorize(app, headers)?;
    if app.faults().admit_tagging_call(ids::now_ms()) {
        return Ok(());
    }
    let mut e = ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "Global Tagging rate limit exceeded, retry later",
    );
    e.retry_after = Some(1);
    Err(e)
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
    authorize_tagging(&app, &headers)?;
    user_tag_type(&params)?;
    let (crn, tags) = parse_request(&body)?;
    let now = ids::now_ms();
    let lag = app.faults().faults.tag_visibility_lag_ms;
    let changed = tags.clone();
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
    if found && attach && lag > 0 {
        let until = now.saturating_add(i64::try_from(lag).unwrap_or(i64::MAX));
        app.tag_visibility.hide_until(&crn, &changed, until);
    } else if found && !attach {
        app.tag_visibility.forget(&crn, &changed);
    }
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
    authorize_tagging(&app, &headers)?;
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
        Some(crn) if live_instance(&st, crn, now) => {
            let tags = st.tags.get(crn).cloned().unwrap_or_default();
            app.tag_visibility.visible(crn, &tags, now)
        }
        Some(_) => Vec::new(),
        None => {
            // Tags of deleted instances are gone even before the next write purges them.
            let set: BTreeSet<String> = st
                .tags
                .iter()
                .filter(|(crn, _)| live_instance(&st, crn, now))
                .flat_map(|(crn, tags)| app.tag_visibility.visible(crn, tags, now))
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

/// The largest `limit` of a Global Search scan.
const MAX_SEARCH_LIMIT: usize = 1000;
/// Global Search's default `limit` (`SearchOptions.Limit`: "Defaults to 10").
const DEFAULT_SEARCH_LIMIT: usize = 10;

#[derive(Deserialize)]
struct SearchBody {
    query: Option<String>,
    fields: Option<Vec<String>>,
    search_cursor: Option<String>,
}

/// The CRNs of a query made of `crn:"<CRN>"` terms joined by `OR` (optionally in one pair
/// of parentheses), the form IBM's provider sends (`GetGlobalTagsUsingSearchAPI`).
fn crns_of_query(query: &str) -> Option<Vec<String>> {
    let q = query.trim();
    let q = q
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(q);
    q.split(" OR ")
        .map(|term| {
            term.trim()
                .strip_prefix("crn:\"")
                .and_then(|r| r.strip_suffix('"'))
                .filter(|c| c.starts_with("crn:") && !c.contains('"'))
                .map(str::to_string)
        })
        .collect()
}

/// `POST /v3/resources/search`: the live instances whose CRN the query names, with their
/// visible user tags under `tags` when `fields` asks for them (or names no fields).
pub async fn search(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers)?;
    let req: SearchBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_body", format!("The request body is invalid: {e}"))
    })?;
    let limit = number(&params, "limit", DEFAULT_SEARCH_LIMIT)?;
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("`limit` must be between 1 and {MAX_SEARCH_LIMIT}"),
        )
        .parameter("limit", Some(&limit.to_string())));
    }
    let query = req.query.unwrap_or_else(|| "*".into());
    let crns = crns_of_query(&query).ok_or_else(|| {
        ApiError::bad_request(
            "unsupported_query",
            "only `crn:\"<CRN>\"` terms joined by OR are emulated",
        )
        .field("query")
    })?;
    let offset: usize = match req.search_cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .strip_prefix("mock-cursor-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request("invalid_search_cursor", "The search cursor is invalid")
                    .field("search_cursor")
            })?,
    };
    let with_tags = req
        .fields
        .as_ref()
        .is_none_or(|f| f.iter().any(|x| x == "tags"));
    let now = ids::now_ms();
    let st = app.store.read();
    // Each live resource once, in a stable order the cursor can page through.
    let matched: BTreeSet<&String> = crns
        .iter()
        .filter(|crn| live_instance(&st, crn, now))
        .collect();
    let items: Vec<Value> = matched
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|crn| {
            let mut item = json!({ "crn": crn });
            if with_tags {
                let tags = st.tags.get(crn.as_str()).cloned().unwrap_or_default();
                item["tags"] = json!(app.tag_visibility.visible(crn, &tags, now));
            }
            item
        })
        .collect();
    Ok(Json(json!({
        "search_cursor": format!("mock-cursor-{}", offset + items.len()),
        "limit": limit,
        "items": items,
    })))
}

#[cfg(test)]
mod tests {
    use super::crns_of_query;

    #[test]
    fn queries_of_crn_terms_parse() {
        assert_eq!(crns_of_query("crn:\"crn:v1:a\"").unwrap(), ["crn:v1:a"]);
        assert_eq!(
            crns_of_query("(crn:\"crn:v1:a\" OR crn:\"crn:v1:b\")").unwrap(),
            ["crn:v1:a", "crn:v1:b"]
        );
        assert!(crns_of_query("name:web*").is_none());
        assert!(crns_of_query("*").is_none());
    }
}
