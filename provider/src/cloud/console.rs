//! The serial console, the way IBM's console works: `POST /instances/{id}/console_access_token`
//! gives a short-lived single-use token, then a WebSocket to
//! `GET /instances/{id}/console?access_token=…&version=…&generation=2` streams the console
//! bytes. A serial console never ends by itself, so reading stops after an idle gap, a
//! total time or a size (keeping the newest bytes, where boot errors are).

use std::time::Duration;

use futures_util::SinkExt;
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

    /// The WebSocket URL of an instance's console for `access_token`.
    pub fn console_url(&self, id: &str, access_token: &str) -> Result<reqwest::Url, Error> {
        let base = self.vpc_base();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        let mut url = reqwest::Url::parse(&format!("{ws}/instances/{id}/console"))
            .map_err(|e| Error::Config(format!("VPC endpoint {base} is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("access_token", access_token)
            .append_pair("version", self.api_version())
            .append_pair("generation", "2");
        Ok(url)
    }

    /// Fetches a serial console token and reads the console text within `limits`.
    pub async fn read_serial_console(
        &self,
        id: &str,
        limits: &ConsoleLimits,
    ) -> Result<String, Error> {
        let token = self
            .create_console_access_token(id, ConsoleType::Serial, true)
            .await?;
        let url = self.console_url(id, &token.access_token)?;
        let fail = |message: String| Error::Console {
            id: id.to_string(),
            // Belt and braces: no error text may carry the access token.
            message: message.replace(&token.access_token, "<access_token>"),
        };
        let end = Instant::now() + limits.total;
        let end = self.deadline.map_or(end, |d| d.min(end));
        let connect = tokio_tungstenite::connect_async(url.as_str());
        let (mut socket, _) = match tokio::time::timeout_at(end, connect).await {
            Err(_) => return Err(fail("timed out connecting to the console".into())),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                let status = resp.status().as_u16();
                let body = resp.body().as_deref().unwrap_or_default();
                let e = ApiError::from_body(format!("GET /instances/{id}/console"), status, body);
                return Err(fail(e.to_string()));
            }
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Ok(Ok(pair)) => pair,
        };
        let mut text: Vec<u8> = Vec::new();
        loop {
            let wake = (Instant::now() + limits.idle).min(end);
            let frame = match tokio::time::timeout_at(wake, socket.next()).await {
                Err(_) => break, // quiet, or out of time
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    if text.is_empty() {
                        return Err(fail(e.to_string()));
                    }
                    break;
                }
                Ok(Some(Ok(frame))) => frame,
            };
            match frame {
                Message::Binary(b) => text.extend_from_slice(&b),
                Message::Text(t) => text.extend_from_slice(t.as_bytes()),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
            if text.len() > limits.max_bytes {
                let cut = text.len() - limits.max_bytes;
                text.drain(..cut);
            }
        }
        // Leave politely so the single console slot is free again; errors do not matter.
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        let _ = tokio::time::timeout(Duration::from_millis(200), socket.flush()).await;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
