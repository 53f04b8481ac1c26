//! Test-control API under `/_mock/` (no auth, no faults): serial-console text and
//! attestation records of Hyper Protect guests, fault settings, token expiry, and
//! out-of-band deletion to simulate drift.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::faults::Faults;
use super::http::{parse_body, BodyKind};
use super::{ids, App};

pub async fn console(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let text = super::console::console_text(&app, &id, ids::now_ms())
        .ok_or_else(|| ApiError::not_found("Instance", &id))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

pub async fn attestation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = ids::now_ms();
    let st = app.store.read();
    let inst = st
        .instance(&id, now)
        .ok_or_else(|| ApiError::not_found("Instance", &id))?;
    inst.boots
        .iter()
        .rev()
        .filter(|b| b.at <= now)
        .find_map(|b| b.attestation.as_ref())
        .map(|a| Json(json!({"record": a.record, "signature": a.signature})))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("Instance {id} has no attestation record"),
            )
        })
}

/// Removes an instance immediately, as if deleted outside Terraform.
pub async fn drift_delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = ids::now_ms();
    app.store
        .update(now, |st| {
            let seq = st
                .instance(&id, now)
                .map(|i| i.seq)
                .ok_or_else(|| ApiError::not_found("Instance", &id))?;
            st.instances.remove(&seq);
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every token issued so far stops working.
pub async fn expire_tokens(State(app): State<Arc<App>>) -> Result<StatusCode, ApiError> {
    let now = ids::now_ms();
    app.store
        .update(now, |st| {
            st.tokens_not_before_ms = now;
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_faults(State(app): State<Arc<App>>) -> Json<Faults> {
    Json(app.faults().faults.clone())
}

/// Replaces all faults (missing fields are off) and restarts the rate counters.
pub async fn put_faults(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Faults>, ApiError> {
    let faults: Faults = parse_body(&headers, &body, BodyKind::Json)?;
    app.faults().replace(faults.clone());
    tracing::info!(?faults, "faults replaced");
    Ok(Json(faults))
}

pub async fn clear_faults(State(app): State<Arc<App>>) -> StatusCode {
    app.faults().replace(Faults::default());
    StatusCode::NO_CONTENT
}
