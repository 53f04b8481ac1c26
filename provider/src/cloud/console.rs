//! The serial console, the way IBM's console works: `POST /instances/{id}/console_access_token`
//! gives a short-lived single-use token whose `href` is the WebSocket to open (IBM/vpc-node-sdk
//! `vpc/v1.ts`, `InstanceConsoleAccessToken.href`: "The URL to access this instance console");
//! the socket streams the console bytes.
//!
//! Only a running server has a console: "The console disconnects if the instance is powered
//! off. You can't reestablish the connection until the instance starts again" (IBM docs,
//! "Accessing virtual server instances by using VNC or serial consoles"). So the reason a
//! Hyper Protect guest powers itself off with cannot be read after it stopped: it must be
//! captured live, with [`Client::capture_serial_console`] started as soon as the server is
//! `running`, reconnecting while it runs, and finished once the watch is over.
//!
//! [`Client::read_serial_console`] reads a running server's console once, within bounds (a
//! serial console never ends by itself, so reading stops after an idle gap, a total time or
//! a size, keeping the newest bytes, where boot errors are).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_tungstenite::tungstenite::{self, Message};

use super::client::Client;
use super::error::{ApiError, Error};
use super::models::{ConsoleAccessToken, ConsoleType};

/// Bounds of one console read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLimits {
    /// Keep at most this many bytes (the newest).
    pub max_bytes: usize,
    /// Stop when nothing arrived for this long (the console went quiet).
    pub idle: Duration,
    /// Stop after this long in total.
    pub total: Duration,
}

impl Default for ConsoleLimits {
    fn default() -> Self {
        ConsoleLimits {
            max_bytes: 64 * 1024,
            idle: Duration::from_secs(2),
            total: Duration::from_secs(20),
        }
    }
}

/// The IAM roles IBM's docs require to open an instance console.
pub const CONSOLE_ROLES: &str = "the Operator platform role (or Editor or Administrator) plus \
     the Console Administrator service role on VPC Infrastructure Services (IBM docs, \
     \"Accessing virtual server instances by using VNC or serial consoles\")";

/// How long a live capture waits before opening the console again after it dropped.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// How long a finished capture keeps reading what is already on its way.
const DRAIN: Duration = Duration::from_millis(500);
/// How long [`ConsoleCapture::finish`] waits for the capture to end.
const FINISH_WAIT: Duration = Duration::from_secs(3);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a live capture got: the newest console bytes (as text) and, when opening the
/// console failed, the last reason.
#[derive(Debug, Default)]
pub struct CapturedConsole {
    pub text: String,
    pub error: Option<Error>,
}

/// A serial console read in the background while a server runs. Dropping it stops the read.
pub struct ConsoleCapture {
    /// The output of each connection, oldest first.
    segments: Arc<Mutex<Vec<Vec<u8>>>>,
    max_bytes: usize,
    error: Arc<Mutex<Option<Error>>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ConsoleCapture {
    /// Stops reading (after what is already arriving) and returns what was captured.
    pub async fn finish(mut self) -> CapturedConsole {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(FINISH_WAIT, task).await.is_err() {
                abort.abort();
            }
        }
        let text = merge_connections(&lock(&self.segments), self.max_bytes);
        CapturedConsole {
            text: String::from_utf8_lossy(&text).into_owned(),
            error: lock(&self.error).take(),
        }
    }
}

impl Drop for ConsoleCapture {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends `bytes`, keeping the newest `max` bytes.
fn keep_newest(text: &mut Vec<u8>, bytes: &[u8], max: usize) {
    text.extend_from_slice(bytes);
    if text.len() > max {
        let cut = text.len() - max;
        text.drain(..cut);
    }
}

/// Whether opening the console again cannot help (no permission, no such server, bad token).
fn is_final(e: &Error) -> bool {
    matches!(e.status(), Some(401 | 403 | 404))
}

/// An explanation of a console failure fit for a diagnostic: a refused token (403) names the
/// IAM roles the console needs.
pub fn describe_console_error(e: &Error) -> String {
    if e.status() == Some(403) {
        format!("{e}. Opening the serial console needs {CONSOLE_ROLES}")
    } else {
        e.to_string()
    }
}

/// `https://…` → `wss://…`, `http://…` → `ws://…`.
fn websocket_scheme(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_string()
    }
}

impl Client {
    /// `POST /instances/{id}/console_access_token`. `force` evicts another console session.
    pub async fn create_console_access_token(
        &self,
        id: &str,
        console_type: ConsoleType,
        force: bool,
    ) -> Result<ConsoleAccessToken, Error> {
        let body = serde_json::json!({"console_type": console_type.as_str(), "force": force});
        self.send_json(
            reqwest::Method::POST,
            &format!("/instances/{id}/console_access_token"),
            &body,
        )
        .await
    }

    /// The WebSocket URL of an instance's console for `access_token`, built from the VPC
    /// endpoint: only for an answer without an `href` (see [`Client::console_socket_url`]).
    pub fn console_url(&self, id: &str, access_token: &str) -> Result<reqwest::Url, Error> {
        let base = self.vpc_base();
        let mut url = reqwest::Url::parse(&format!(
            "{}/instances/{id}/console",
            websocket_scheme(base)
        ))
        .map_err(|e| Error::Config(format!("VPC endpoint {base} is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("access_token", access_token)
            .append_pair("version", self.api_version())
            .append_pair("generation", "2");
        Ok(url)
    }

    /// The WebSocket to open for `token`: its `href`, as IBM's docs and SDK say, with the
    /// `access_token`, `version` and `generation=2` query parameters the console `GET` takes
    /// added where the `href` lacks them; rebuilt from the endpoint only without an `href`.
    pub fn console_socket_url(
        &self,
        id: &str,
        token: &ConsoleAccessToken,
    ) -> Result<reqwest::Url, Error> {
        let Some(href) = token.href.as_deref().filter(|h| !h.trim().is_empty()) else {
            return self.console_url(id, &token.access_token);
        };
        let mut url =
            reqwest::Url::parse(&websocket_scheme(href.trim())).map_err(|e| Error::Console {
                id: id.to_string(),
                message: format!("the console access token's href is not a URL: {e}")
                    .replace(&token.access_token, "<access_token>"),
            })?;
        let has = |name: &str| url.query_pairs().any(|(k, _)| k == name);
        let missing: Vec<(&str, &str)> = [
            ("access_token", token.access_token.as_str()),
            ("version", self.api_version()),
            ("generation", "2"),
        ]
        .into_iter()
        .filter(|(k, _)| !has(k))
        .collect();
        if !missing.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in missing {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Fetches a serial console token and opens the console WebSocket (before `end`).
    async fn open_serial_console(&self, id: &str, end: Instant) -> Result<Socket, Error> {
        let token = self
            .create_console_access_token(id, ConsoleType::Serial, true)
            .await?;
        let url = self.console_socket_url(id, &token)?;
        let fail = |message: String| Error::Console {
            id: id.to_string(),
            // Belt and braces: no error text may carry the access token.
            message: message.replace(&token.access_token, "<access_token>"),
        };
        let connect = tokio_tungstenite::connect_async(url.as_str());
        match tokio::time::timeout_at(end, connect).await {
            Err(_) => Err(fail("timed out connecting to the console".into())),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                let status = resp.status().as_u16();
                let body = resp.body().as_deref().unwrap_or_default();
                let mut e =
                    ApiError::from_body(format!("GET /instances/{id}/console"), status, body);
                for item in &mut e.errors {
                    item.message = item.message.replace(&token.access_token, "<access_token>");
                }
                Err(Error::Api(e))
            }
            Ok(Err(e)) => Err(fail(e.to_string())),
            Ok(Ok((socket, _))) => Ok(socket),
        }
    }

    /// Reads a running server's serial console once, within `limits`.
    pub async fn read_serial_console(
        &self,
        id: &str,
        limits: &ConsoleLimits,
    ) -> Result<String, Error> {
        let end = Instant::now() + limits.total;
        let end = self.deadline.map_or(end, |d| d.min(end));
        let mut socket = self.open_serial_console(id, end).await?;
        let mut text: Vec<u8> = Vec::new();
        loop {
            let wake = (Instant::now() + limits.idle).min(end);
            let frame = match tokio::time::timeout_at(wake, socket.next()).await {
                Err(_) => break, // quiet, or out of time
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    if text.is_empty() {
                        return Err(Error::Console {
                            id: id.to_string(),
                            message: e.to_string(),
                        });
                    }
                    break;
                }
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Binary(b) => keep_newest(&mut text, &b, limits.max_bytes),
                Message::Text(t) => keep_newest(&mut text, t.as_bytes(), limits.max_bytes),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
        leave(socket).await;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Starts reading the serial console of the running server `id` in the background:
    /// everything it prints is kept (the newest `max_bytes`), and when the socket drops while
    /// the capture runs it is opened again. [`ConsoleCapture::finish`] ends it.
    pub fn capture_serial_console(&self, id: &str, max_bytes: usize) -> ConsoleCapture {
        let segments = Arc::new(Mutex::new(Vec::new()));
        let error = Arc::new(Mutex::new(None));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(capture_loop(
            self.clone(),
            id.to_string(),
            max_bytes,
            segments.clone(),
            error.clone(),
            stopped,
        ));
        ConsoleCapture {
            segments,
            max_bytes,
            error,
            stop,
            task: Some(task),
        }
    }
}

/// The background part of [`Client::capture_serial_console`].
async fn capture_loop(
    client: Client,
    id: String,
    max_bytes: usize,
    segments: Arc<Mutex<Vec<Vec<u8>>>>,
    error: Arc<Mutex<Option<Error>>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let end = Instant::now() + Duration::from_secs(30);
        let end = client.deadline.map_or(end, |d| d.min(end));
        match client.open_serial_console(&id, end).await {
            Ok(mut socket) => {
                lock(&segments).push(Vec::new());
                let mut draining_until: Option<Instant> = None;
                loop {
                    let frame = tokio::select! {
                        frame = socket.next() => frame,
                        changed = stop.changed(), if draining_until.is_none() => {
                            if changed.is_err() || *stop.borrow() {
                                draining_until = Some(Instant::now() + DRAIN);
                            }
                            continue;
                        }
                        () = sleep_until_opt(draining_until) => None,
                    };
                    let bytes: Vec<u8> = match frame {
                        None | Some(Err(_)) => break,
                        Some(Ok(Message::Binary(b))) => b.to_vec(),
                        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                        Some(Ok(Message::Close(_))) => break,
                        Some(Ok(_)) => continue,
                    };
                    if let Some(current) = lock(&segments).last_mut() {
                        keep_newest(current, &bytes, max_bytes);
                    }
                }
                leave(socket).await;
                if draining_until.is_some() {
                    return;
                }
            }
            Err(e) => {
                let done = is_final(&e);
                *lock(&error) = Some(e);
                if done {
                    return;
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(RECONNECT_PAUSE) => {}
        }
    }
}

/// The captured text of every connection, oldest first: a console may replay the current
/// boot's output to a new connection, so a connection whose output starts with the previous
/// one's replaces it instead of repeating it.
fn merge_connections(segments: &[Vec<u8>], max: usize) -> Vec<u8> {
    let mut merged: Vec<&[u8]> = Vec::new();
    for seg in segments.iter().filter(|s| !s.is_empty()) {
        match merged.last() {
            Some(prev) if seg.starts_with(prev) => {
                merged.pop();
            }
            _ => {}
        }
        merged.push(seg);
    }
    let mut text = Vec::new();
    for seg in merged {
        keep_newest(&mut text, seg, max);
    }
    text
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Leaves politely so the single console slot is free again; errors do not matter.
async fn leave(mut socket: Socket) {
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
    let _ = tokio::time::timeout(Duration::from_millis(200), socket.flush()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_boot_is_not_repeated() {
        let segs = vec![b"a\nb\n".to_vec(), b"a\nb\nc\n".to_vec(), b"x\n".to_vec()];
        assert_eq!(merge_connections(&segs, 100), b"a\nb\nc\nx\n");
        assert_eq!(merge_connections(&segs, 4), b"c\nx\n");
    }

    #[test]
    fn a_refused_token_names_the_console_roles() {
        let e = Error::Api(ApiError::from_body(
            "POST /instances/i/console_access_token".into(),
            403,
            br#"{"errors":[{"code":"forbidden","message":"not authorized"}]}"#,
        ));
        let text = describe_console_error(&e);
        assert!(
            text.contains("Operator") && text.contains("Console Administrator"),
            "{text}"
        );
    }

    #[test]
    fn the_socket_url_is_the_href_with_the_query_the_get_takes() {
        let client = Client::new(crate::cloud::ClientConfig::new("k", "us-south")).unwrap();
        let token = ConsoleAccessToken {
            access_token: "tok".into(),
            console_type: None,
            expires_at: None,
            href: Some("https://elsewhere.example/v1/instances/i/console?access_token=tok".into()),
        };
        let url = client.console_socket_url("i", &token).unwrap();
        assert_eq!(url.scheme(), "wss");
        assert_eq!(url.host_str(), Some("elsewhere.example"));
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(q.iter().filter(|(k, _)| k == "access_token").count(), 1);
        assert!(q.contains(&("generation".into(), "2".into())));
        assert!(q.iter().any(|(k, _)| k == "version"));
        // Without an href the URL is built from the endpoint.
        let bare = ConsoleAccessToken {
            href: None,
            ..token
        };
        let url = client.console_socket_url("i", &bare).unwrap();
        assert_eq!(url.host_str(), Some("us-south.iaas.cloud.ibm.com"));
    }
}
