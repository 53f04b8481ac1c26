//! IAM: `POST /identity/token` with the API-key grant, and bearer-token checks for `/v1`.
//!
//! Tokens are self-contained (JWT-shaped, HMAC-SHA256 signed with a secret kept in the
//! state file), so they survive a restart and need no token table; "expire all tokens"
//! just moves a not-before instant.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{ApiError, IamError};
use super::{ids, App};

pub const APIKEY_GRANT: &str = "urn:ibm:params:oauth:grant-type:apikey";

#[derive(Serialize, Deserialize)]
struct Claims {
    iam_id: String,
    sub: String,
    /// Issue time, Unix ms (finer than JWT's seconds so that "expire now" is exact).
    iat_ms: i64,
    exp: i64,
    jti: String,
}

fn sign(app: &App, data: &[u8]) -> Option<Vec<u8>> {
    let mut s = Signer::new(MessageDigest::sha256(), &app.token_key).ok()?;
    s.update(data).ok()?;
    s.sign_to_vec().ok()
}

fn iam_error(code: &'static str, message: &str) -> Response {
    IamError {
        status: StatusCode::BAD_REQUEST,
        code,
        message: message.to_string(),
    }
    .into_response()
}

pub async fn token(
    State(app): State<Arc<App>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return iam_error(
            "BXNIM0107E",
            "The request body must be application/x-www-form-urlencoded.",
        );
    };
    match form.get("grant_type").map(String::as_str) {
        Some(APIKEY_GRANT) => {}
        Some(_) => return iam_error("BXNIM0103E", "Unsupported grant type."),
        None => {
            return iam_error(
                "BXNIM0109E",
                "Property missing or empty. Property: grant_type",
            )
        }
    }
    let key = form.get("apikey").map(String::as_str).unwrap_or("");
    if key.is_empty() {
        return iam_error("BXNIM0109E", "Property missing or empty. Property: apikey");
    }
    if let Some(expected) = &app.api_key {
        let matches =
            key.len() == expected.len() && openssl::memcmp::eq(key.as_bytes(), expected.as_bytes());
        if !matches {
            // Never echo the key.
            return iam_error("BXNIM0415E", "Provided API key could not be found.");
        }
    }
    let now = ids::now_ms();
    // Clamped to 10 years so the arithmetic below cannot overflow.
    let lifetime = app.token_lifetime.as_secs().clamp(1, 315_360_000) as i64;
    let exp = now.div_euclid(1000) + lifetime;
    let claims = Claims {
        iam_id: "IBMid-mock0000000".into(),
        sub: "mock-user@example.com".into(),
        iat_ms: now,
        exp,
        jti: ids::uuid(),
    };
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"mock-cloud"}"#);
    let payload = match serde_json::to_vec(&claims) {
        Ok(p) => URL_SAFE_NO_PAD.encode(p),
        Err(_) => return ApiError::internal("token encoding failed").into_response(),
    };
    let signing_input = format!("{header}.{payload}");
    let Some(sig) = sign(&app, signing_input.as_bytes()) else {
        return ApiError::internal("token signing failed").into_response();
    };
    let access_token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
    let refresh_token = format!("mock-refresh-{}", ids::uuid());
    if let Some(path) = &app.issued_tokens_file {
        if record_issued(path, &[&access_token, &refresh_token]).is_err() {
            return ApiError::internal("recording the issued token failed").into_response();
        }
    }
    axum::Json(json!({
        "access_token": access_token,
        "refresh_token": refresh_token,
        "ims_user_id": 1234567,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "expiration": exp,
        "scope": "ibm openid",
    }))
    .into_response()
}

/// Appends issued tokens to the test's wiretap file, one per line.
fn record_issued(path: &std::path::Path, tokens: &[&str]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for t in tokens {
        writeln!(f, "{t}")?;
    }
    Ok(())
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message).header("Authorization")
}

/// Checks an `Authorization` header value at `now_ms`.
pub fn verify_bearer(app: &App, header: Option<&str>, now_ms: i64) -> Result<(), ApiError> {
    let Some(header) = header else {
        return Err(unauthorized(
            "token_missing",
            "The Authorization header with a Bearer token is missing",
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthorized(
                "token_missing",
                "The Authorization header must be `Bearer <token>`",
            )
        })?;
    let invalid = || unauthorized("token_invalid", "The provided token is invalid");
    let (signing_input, sig_b64) = token.rsplit_once('.').ok_or_else(invalid)?;
    let (_, payload_b64) = signing_input.split_once('.').ok_or_else(invalid)?;
    let sig = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| invalid())?;
    let expected = sign(app, signing_input.as_bytes()).ok_or_else(invalid)?;
    if sig.len() != expected.len() || !openssl::memcmp::eq(&sig, &expected) {
        return Err(invalid());
    }
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(invalid)?;
    let not_before = app.store.read().tokens_not_before_ms;
    if claims.exp * 1000 <= now_ms || claims.iat_ms <= not_before {
        return Err(unauthorized(
            "token_invalid",
            "The provided token has expired",
        ));
    }
    Ok(())
}
