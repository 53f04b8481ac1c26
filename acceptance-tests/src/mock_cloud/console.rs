//! The VPC serial console, as IBM serves it: `POST /v1/instances/{id}/console_access_token`
//! (bearer-authenticated like every `/v1` route) issues a short-lived, single-use token whose
//! `href` is the WebSocket to open (IBM/vpc-node-sdk `vpc/v1.ts`,
//! `InstanceConsoleAccessToken.href`: "The URL to access this instance console");
//! `GET /v1/instances/{id}/console?access_token=…&version=…&generation=2` upgrades to a
//! WebSocket that streams the console bytes (binary frames).
//!
//! Only a running server has a console. IBM's docs ("Accessing virtual server instances by
//! using VNC or serial consoles"): "The console disconnects if the instance is powered off.
//! You can't reestablish the connection until the instance starts again." So:
//! - opening the console of a server that is not `starting`, `running` or `restarting` is
//!   refused (409 `invalid_state`; IBM publishes no code for it);
//! - an open console streams what the guest writes while it is connected, and the socket is
//!   closed when the server stops (or is deleted);
//! - a fresh connection first gets the output of the server's current boot so far, never an
//!   earlier boot's. IBM does not publish whether a new connection sees earlier output; the
//!   emulator writes a boot's whole console at the instant the server turns `running`, and a
//!   client can only connect after it has seen `running`, so without this buffer no client
//!   could ever read a boot's lines. Earlier boots' output is gone, as it is once IBM's
//!   console disconnects at power-off.
//!
//! `/_mock/instances/{id}/console` (test control) still returns every boot's text.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::http::{check_version, parse_body, BodyKind, Params};
use super::state::Status;
use super::{ids, App};

/// How long a console token may wait before it is used.
const TOKEN_LIFETIME_MS: i64 = 60_000;
/// How often an open console looks for new output.
const STREAM_TICK: Duration = Duration::from_millis(200);

/// Issued, not yet used console tokens: token → (instance id, expiry in Unix ms).
#[derive(Default)]
pub struct ConsoleTokens(std::sync::Mutex<HashMap<String, (String, i64)>>);

impl ConsoleTokens {
    fn issue(&self, instance: &str, now: i64) -> (String, i64) {
        let token = format!(
            "{}{}",
            ids::uuid().replace('-', ""),
            ids::uuid().replace('-', "")
        );
        let expires = now + TOKEN_LIFETIME_MS;
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, exp)| *exp > now);
        map.insert(token.clone(), (instance.to_string(), expires));
        (token, expires)
    }

    /// Consumes `token` if it is valid for `instance` at `now`.
    fn redeem(&self, token: &str, instance: &str, now: i64) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.remove(token) {
            Some((id, exp)) if id == instance && exp > now => true,
            Some(entry) if entry.0 != instance => {
                // A token for another instance stays usable there.
                map.insert(token.to_string(), entry);
                false
            }
            _ => false,
        }
    }
}

/// The console text of an instance at `now` (every boot that has happened), or `None`
/// when there is no such instance. Test control only: the WebSocket serves the current boot.
pub fn console_text(app: &App, id: &str, now: i64) -> Option<String> {
    let st = app.store.read();
    let inst = st.instance(id, now)?;
    let mut text = String::new();
    for boot in inst.boots.iter().filter(|b| b.at <= now) {
        for line in &boot.console {
            text.push_str(line);
            text.push('\n');
        }
    }
    Some(text)
}

/// Whether a server in `status` has a console to connect to.
fn console_live(status: Status) -> bool {
    matches!(
        status,
        Status::Starting | Status::Running | Status::Restarting
    )
}

/// The console of the server's current boot at `now` (what a fresh connection gets) and
/// whether the console is live; `None` when there is no such instance.
fn current_console(app: &App, id: &str, now: i64) -> Option<(String, bool)> {
    let st = app.store.read();
    let inst = st.instance(id, now)?;
    let live = console_live(inst.status_at(now));
    let mut text = String::new();
    if let Some(boot) = inst.boots.iter().rev().find(|b| b.at <= now) {
        for line in &boot.console {
            text.push_str(line);
            text.push('\n');
        }
    }
    Some((text, live))
}

#[derive(Deserialize)]
struct TokenPrototype {
    console_type: Option<String>,
    force: Option<bool>,
}

pub async fn create_token(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let proto: TokenPrototype = parse_body(&headers, &body, BodyKind::Json)?;
    let console_type = proto.console_type.ok_or_else(|| {
        ApiError::bad_request("missing_field", "console_type is required").field("console_type")
    })?;
    if console_type != "serial" && console_type != "vnc" {
        return Err(ApiError::bad_request(
            "validation_enum",
            format!("console_type `{console_type}` must be one of serial, vnc"),
        )
        .field("console_type"));
    }
    let now = ids::now_ms();
    {
        let st = app.store.read();
        let inst = st
            .instance(&id, now)
            .ok_or_else(|| ApiError::not_found("Instance", &id))?;
        if inst.status_at(now) == Status::Deleting {
            return Err(ApiError::invalid_state(format!(
                "cannot open a console of instance {id} while deleting"
            )));
        }
    }
    let (token, expires) = app.consoles.issue(&id, now);
    // The WebSocket to open, as the answer's `href` (scheme `ws`, as IBM's is `wss`).
    let ws_base = app.base.replacen("http://", "ws://", 1);
    Ok(Json(json!({
        "access_token": token,
        "console_type": console_type,
        "created_at": ids::rfc3339(now),
        "expires_at": ids::rfc3339(expires),
        "force": proto.force.unwrap_or(false),
        "href": format!("{ws_base}/v1/instances/{id}/console?access_token={token}"),
    })))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "token_invalid", message)
        .parameter("access_token", None)
}

pub async fn open(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_version(params.get("version").map(String::as_str))?;
    if params.get("generation").map(String::as_str) != Some("2") {
        return Err(ApiError::bad_request(
            "invalid_generation_parameter",
            "The generation query parameter is required and must be `2`",
        )
        .parameter("generation", params.get("generation").map(String::as_str)));
    }
    let Some(token) = params.get("access_token").filter(|t| !t.is_empty()) else {
        return Err(unauthorized("The access_token query parameter is missing"));
    };
    let upgrade = upgrade.map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("The console needs a WebSocket upgrade: {e}"),
        )
    })?;
    let now = ids::now_ms();
    let Some((_, live)) = current_console(&app, &id, now) else {
        return Err(ApiError::not_found("Instance", &id));
    };
    if !app.consoles.redeem(token, &id, now) {
        return Err(unauthorized(
            "The console access token is invalid, expired or already used",
        ));
    }
    if !live {
        return Err(ApiError::invalid_state(format!(
            "The console of instance {id} cannot be opened: the instance is not running \
             (the console disconnects when an instance powers off and can be reached again \
             once it starts)"
        )));
    }
    Ok(upgrade.on_upgrade(move |socket| stream(app, id, socket)))
}

/// Sends the current boot's console so far, then whatever the guest prints next; closes
/// the socket when the server stops or goes away.
async fn stream(app: Arc<App>, id: String, mut socket: WebSocket) {
    let mut sent = 0usize;
    loop {
        let Some((text, live)) = current_console(&app, &id, ids::now_ms()) else {
            let _ = socket.send(Message::Close(None)).await;
            return;
        };
        if text.len() < sent {
            // A new boot began (a reboot): its console starts over.
            sent = 0;
        }
        if text.len() > sent {
            let chunk = Bytes::copy_from_slice(&text.as_bytes()[sent..]);
            if socket.send(Message::Binary(chunk)).await.is_err() {
                return;
            }
            sent = text.len();
        }
        if !live {
            // Powered off: IBM's console disconnects.
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Keystrokes go nowhere: the Hyper Protect guest has no login.
                Some(Ok(_)) => {}
            },
            () = tokio::time::sleep(STREAM_TICK) => {}
        }
    }
}
