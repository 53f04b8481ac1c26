//! HTTP plumbing shared by the VPC routes: the `/v1` guard (bearer token, `version`,
//! `generation`), fault injection, JSON bodies with the right content type, and pagination.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use time::macros::format_description;

use super::error::ApiError;
use super::faults::{Injected, ServerErrorStatus};
use super::{iam, ids, App};

/// The `version` query parameter of the request (e.g. `2025-07-01`), validated.
#[derive(Clone, Debug)]
pub struct ApiVersion(pub String);

pub type Params = HashMap<String, String>;

const MIN_VERSION: &str = "2019-01-01";

pub(crate) fn check_version(v: Option<&str>) -> Result<String, ApiError> {
    let Some(v) = v else {
        return Err(ApiError::bad_request(
            "invalid_version",
            "The version query parameter is required and must be of the form `YYYY-MM-DD`",
        )
        .parameter("version", None));
    };
    let fmt = format_description!("[year]-[month]-[day]");
    let shape_ok = v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let date = shape_ok
        .then(|| time::Date::parse(v, &fmt).ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_version",
                format!("The version `{v}` is invalid: it must be of the form `YYYY-MM-DD`"),
            )
            .parameter("version", Some(v))
        })?;
    let today = time::OffsetDateTime::now_utc().date();
    if v < MIN_VERSION || date > today {
        return Err(ApiError::bad_request(
            "invalid_version_range",
            format!("The version `{v}` cannot be set at a future date nor before `{MIN_VERSION}`"),
        )
        .parameter("version", Some(v)));
    }
    Ok(v.to_string())
}

/// Runs before every `/v1` route: 401 without a valid token, 400 for a bad
/// `version`/`generation`.
pub async fn v1_guard(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let auth = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    if let Err(e) = iam::verify_bearer(&app, auth, ids::now_ms()) {
        return e.into_response();
    }
    let params: Params = match Query::<Params>::try_from_uri(req.uri()) {
        Ok(Query(p)) => p,
        Err(e) => {
            return ApiError::bad_request("bad_field", format!("Malformed query string: {e}"))
                .into_response()
        }
    };
    let version = match check_version(params.get("version").map(String::as_str)) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match params.get("generation").map(String::as_str) {
        Some("2") => {}
        other => {
            return ApiError::bad_request(
                "invalid_generation_parameter",
                "The generation query parameter is required and must be `2`",
            )
            .parameter("generation", other)
            .into_response()
        }
    }
    req.extensions_mut().insert(ApiVersion(version));
    next.run(req).await
}

/// Applies configured faults to IAM and VPC requests (not to `/_mock/`).
pub async fn fault_layer(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let (latency, injected) = {
        let mut f = app.faults();
        let latency = f.faults.latency_ms;
        (latency, f.decide(req.method().as_str(), req.uri().path()))
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let is_create = req.method() == axum::http::Method::POST && req.uri().path() == "/v1/instances";
    match injected {
        None => {
            let resp = next.run(req).await;
            if is_create && resp.status().is_success() && app.faults().take_lost_answer() {
                return lost_answer(resp);
            }
            resp
        }
        Some(Injected::NotImplemented) => ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!(
                "{} {} is not implemented (injected fault)",
                req.method(),
                req.uri().path()
            ),
        )
        .into_response(),
        Some(Injected::Forbidden) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "You are not authorized to {} {} (injected fault: the IAM policy lacks the role)",
                req.method(),
                req.uri().path()
            ),
        )
        .into_response(),
        Some(Injected::TooManyRequests { retry_after_secs }) => {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Rate limit exceeded (injected fault), retry later",
            );
            e.retry_after = Some(retry_after_secs);
            e.into_response()
        }
        Some(Injected::ServerError(ServerErrorStatus::InternalServerError)) => {
            ApiError::internal("Internal error (injected fault)").into_response()
        }
        Some(Injected::ServerError(ServerErrorStatus::ServiceUnavailable)) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_service_unavailable",
            "Service unavailable (injected fault), retry later",
        )
        .into_response(),
    }
}

/// The answer's status and headers, then a broken body: the connection fails mid-answer.
fn lost_answer(resp: Response) -> Response {
    let (parts, _) = resp.into_parts();
    let broken = tokio_stream::once(Err::<Bytes, std::io::Error>(std::io::Error::other(
        "answer lost (injected fault)",
    )));
    Response::from_parts(parts, axum::body::Body::from_stream(broken))
}

/// Echoes `X-Request-Id` and, with `Config::access_log`, writes one stderr line per request
/// (method, path, status, duration, and the Unix time in ms when the request arrived, for
/// benchmarks' timelines; never headers, query values or bodies).
pub async fn request_meta(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let request_id = req.headers().get("x-request-id").cloned();
    let started = std::time::Instant::now();
    let arrived_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    app.requests.record(method.as_str(), &path);
    let mut resp = next.run(req).await;
    if let Some(id) = request_id {
        resp.headers_mut().insert("x-request-id", id);
    }
    if app.access_log {
        eprintln!(
            "mock-cloud: {method} {path} {} {:.1}ms at={arrived_unix_ms}",
            resp.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    resp
}

pub async fn invalid_route(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_route",
        format!("No route for {} {}", req.method(), req.uri().path()),
    )
    .into_response()
}

pub async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_route",
        format!("{} is not supported on {}", req.method(), req.uri().path()),
    )
    .into_response()
}

/// Which media type a body must have.
#[derive(Clone, Copy)]
pub enum BodyKind {
    Json,
    MergePatch,
}

/// Checks the `Content-Type` and parses the body as JSON of type `T`.
pub fn parse_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
    kind: BodyKind,
) -> Result<T, ApiError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (expected, ok) = match kind {
        BodyKind::Json => (
            "application/json",
            essence == "application/json" || essence.is_empty(),
        ),
        BodyKind::MergePatch => (
            "application/merge-patch+json",
            essence == "application/merge-patch+json",
        ),
    };
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            format!("Content-Type must be `{expected}`, got `{ct}`"),
        )
        .header("Content-Type"));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_request_field",
            format!("Invalid request body: {e}"),
        )
    })
}

/// `limit` and `start` of a list request.
pub struct Page {
    pub limit: usize,
    pub start: Option<u64>,
}

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

fn encode_start(seq: u64) -> String {
    format!("{seq:032x}")
}

fn decode_start(s: &str) -> Option<u64> {
    if s.len() != 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u128::from_str_radix(s, 16)
        .ok()
        .and_then(|v| u64::try_from(v).ok())
}

pub fn page_params(params: &Params) -> Result<Page, ApiError> {
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "bad_field",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                )
                .parameter("limit", Some(l)))
            }
        },
    };
    let start = match params.get("start") {
        None => None,
        Some(s) => Some(decode_start(s).ok_or_else(|| {
            ApiError::bad_request("invalid_id_format", "The start token is malformed")
                .parameter("start", Some(s))
        })?),
    };
    Ok(Page { limit, start })
}

fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of `items` (already filtered, sorted by `seq`) in the VPC collection shape.
/// `filters` are repeated in `first`/`next` hrefs.
pub fn paginate(
    base: &str,
    path: &str,
    key: &str,
    items: Vec<(u64, Value)>,
    page: &Page,
    filters: &[(&str, &str)],
) -> Value {
    let total = items.len();
    let mut rest = items
        .into_iter()
        .filter(|(seq, _)| page.start.is_none_or(|s| *seq >= s))
        .peekable();
    let mut out = Vec::with_capacity(page.limit.min(total));
    while out.len() < page.limit {
        match rest.next() {
            Some((_, v)) => out.push(v),
            None => break,
        }
    }
    let extra: String = filters
        .iter()
        .map(|(k, v)| format!("&{}={}", pct(k), pct(v)))
        .collect();
    let mut body = json!({
        "first": {"href": format!("{base}{path}?limit={}{extra}", page.limit)},
        "limit": page.limit,
        "total_count": total,
        key: out,
    });
    if let Some((next_seq, _)) = rest.peek() {
        body["next"] = json!({
            "href": format!("{base}{path}?start={}&limit={}{extra}", encode_start(*next_seq), page.limit)
        });
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version(Some("2025-07-01")).is_ok());
        assert_eq!(check_version(None).unwrap_err().code, "invalid_version");
        assert_eq!(
            check_version(Some("2025-7-01")).unwrap_err().code,
            "invalid_version"
        );
        assert_eq!(
            check_version(Some("2025-02-30")).unwrap_err().code,
            "invalid_version"
        );
        assert_eq!(
            check_version(Some("2018-12-31")).unwrap_err().code,
            "invalid_version_range"
        );
        assert_eq!(
            check_version(Some("2999-01-01")).unwrap_err().code,
            "invalid_version_range"
        );
    }

    #[test]
    fn start_tokens_round_trip() {
        assert_eq!(decode_start(&encode_start(1234)), Some(1234));
        assert_eq!(decode_start("xyz"), None);
        assert_eq!(decode_start(&"g".repeat(32)), None);
    }
}
