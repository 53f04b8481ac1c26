//! From a `reqwest` result to a retry [`Attempt`]: what the VPC client and the IAM token
//! fetcher both send their requests through. Its own module so neither imports the other.

use std::time::SystemTime;

use super::retry::{parse_retry_after, Attempt, RawResponse};

/// Turns a reqwest result into an [`Attempt`], reading the body. Transport errors never
/// carry the URL (the console URL holds an access token).
pub(super) async fn into_attempt(
    sent: Result<reqwest::Response, reqwest::Error>,
    idempotent: bool,
) -> Attempt {
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) => return transport_attempt(e, idempotent),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    match resp.bytes().await {
        Ok(body) => Attempt::Response(RawResponse {
            status,
            retry_after,
            body: body.to_vec(),
        }),
        Err(e) => transport_attempt(e, idempotent),
    }
}

/// A transport error with its causes, without the URL. A refused connection is always
/// safe to retry; anything later only for idempotent requests.
fn transport_attempt(e: reqwest::Error, idempotent: bool) -> Attempt {
    let retryable = e.is_connect() || idempotent;
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Attempt::Transport { message, retryable }
}
