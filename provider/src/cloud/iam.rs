//! IAM bearer tokens: one cached token shared by every concurrent operation. It is
//! fetched once when missing (callers queue on one lock and re-check, so a hundred
//! callers cause one fetch, not a stampede), refreshed in the background of a single
//! caller after 80 % of its life while the others keep using it, and dropped when the
//! VPC API answers 401 with it (the next caller fetches a new one).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::error::{ApiError, Error};
use super::retry::{with_retries, RawResponse, RetryPolicy};

/// A token as IAM issued it.
#[derive(Clone, Deserialize)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds of validity from now.
    pub expires_in: u64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"<sensitive>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Where tokens come from (IAM in production; a counter in the cache's tests).
#[async_trait::async_trait]
pub trait FetchToken: Send + Sync {
    async fn fetch(&self, deadline: Option<Instant>) -> Result<IssuedToken, Error>;
}

#[derive(Clone)]
struct Cached {
    token: Arc<str>,
    /// From here on one caller refreshes while the others keep using this token.
    refresh_at: Instant,
    /// From here on the token is not used any more.
    expires_at: Instant,
}

impl Cached {
    fn new(t: IssuedToken, now: Instant) -> Cached {
        let life = Duration::from_secs(t.expires_in);
        // IBM's SDKs stop using a token 10 s before it expires; short test tokens keep 90 %.
        let margin = Duration::from_secs(10).min(life / 10);
        Cached {
            token: Arc::from(t.access_token),
            refresh_at: now + life.mul_f64(0.8),
            expires_at: now + life - margin,
        }
    }
}

/// The shared token cache.
pub struct TokenCache {
    fetcher: Box<dyn FetchToken>,
    cached: Mutex<Option<Cached>>,
    /// Held while fetching, so only one fetch runs at a time.
    refresh: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl TokenCache {
    pub fn new(fetcher: Box<dyn FetchToken>) -> TokenCache {
        TokenCache {
            fetcher,
            cached: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many tokens were fetched so far (for tests and benchmarks).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> Option<Cached> {
        self.cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn fetch_and_store(&self, deadline: Option<Instant>) -> Result<Arc<str>, Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let issued = self.fetcher.fetch(deadline).await?;
        let c = Cached::new(issued, Instant::now());
        let token = c.token.clone();
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
        Ok(token)
    }

    /// A token to put in `Authorization: Bearer …`.
    pub async fn bearer(&self, deadline: Option<Instant>) -> Result<Arc<str>, Error> {
        if let Some(c) = self.current() {
            let now = Instant::now();
            if now < c.refresh_at {
                return Ok(c.token);
            }
            if now < c.expires_at {
                // Still valid: refresh only if nobody else is, and fall back to it on failure.
                let Ok(_guard) = self.refresh.try_lock() else {
                    return Ok(c.token);
                };
                if let Some(newer) = self.current().filter(|n| !Arc::ptr_eq(&n.token, &c.token)) {
                    return Ok(newer.token);
                }
                return match self.fetch_and_store(deadline).await {
                    Ok(t) => Ok(t),
                    Err(e) => {
                        tracing::warn!(error = %e, "proactive IAM token refresh failed; using the current token");
                        Ok(c.token)
                    }
                };
            }
        }
        let _guard = self.refresh.lock().await;
        if let Some(c) = self.current() {
            if Instant::now() < c.expires_at {
                return Ok(c.token);
            }
        }
        self.fetch_and_store(deadline).await
    }

    /// Forgets `stale` (the API rejected it with 401), unless it was already replaced.
    pub fn invalidate(&self, stale: &str) {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_some_and(|c| &*c.token == stale) {
            *cached = None;
        }
    }
}

/// Fetches tokens from IAM with the API-key grant.
pub struct IamFetcher {
    pub http: reqwest::Client,
    /// `…/identity/token`.
    pub url: String,
    pub api_key: String,
    pub retry: RetryPolicy,
}

pub const APIKEY_GRANT: &str = "urn:ibm:params:oauth:grant-type:apikey";
const LABEL: &str = "POST /identity/token";

#[async_trait::async_trait]
impl FetchToken for IamFetcher {
    async fn fetch(&self, deadline: Option<Instant>) -> Result<IssuedToken, Error> {
        let form = [
            ("grant_type", APIKEY_GRANT),
            ("apikey", self.api_key.as_str()),
            ("response_type", "cloud_iam"),
        ];
        let resp = with_retries(&self.retry, deadline, LABEL, || async {
            let sent = self
                .http
                .post(&self.url)
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
                .send()
                .await;
            super::http::into_attempt(sent, true).await
        })
        .await
        .map_err(|message| Error::Transport {
            request: LABEL.into(),
            message,
        })?;
        decode_token(resp)
    }
}

fn decode_token(resp: RawResponse) -> Result<IssuedToken, Error> {
    if !(200..300).contains(&resp.status) {
        return Err(Error::Iam(ApiError::from_body(
            LABEL.into(),
            resp.status,
            &resp.body,
        )));
    }
    serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
        request: LABEL.into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issues `tok-N` tokens of `life` seconds after `latency`.
    struct Counting {
        n: AtomicU64,
        life: u64,
        latency: Duration,
        fail_after_first: bool,
    }

    #[async_trait::async_trait]
    impl FetchToken for Counting {
        async fn fetch(&self, _: Option<Instant>) -> Result<IssuedToken, Error> {
            tokio::time::sleep(self.latency).await;
            let n = self.n.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_after_first && n > 1 {
                return Err(Error::Config("IAM down".into()));
            }
            Ok(IssuedToken {
                access_token: format!("tok-{n}"),
                expires_in: self.life,
            })
        }
    }

    fn cache(life: u64, fail_after_first: bool) -> Arc<TokenCache> {
        Arc::new(TokenCache::new(Box::new(Counting {
            n: AtomicU64::new(0),
            life,
            latency: Duration::from_millis(100),
            fail_after_first,
        })))
    }

    async fn many(c: &Arc<TokenCache>, n: usize) -> Vec<String> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.bearer(None).await.unwrap().to_string() })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_callers_cause_one_fetch() {
        let c = cache(3600, false);
        let tokens = many(&c, 50).await;
        assert!(tokens.iter().all(|t| t == "tok-1"));
        assert_eq!(c.fetch_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_tokens_are_fetched_again_once() {
        let c = cache(3600, false);
        c.bearer(None).await.unwrap();
        tokio::time::advance(Duration::from_secs(3595)).await;
        let tokens = many(&c, 30).await;
        assert!(tokens.iter().all(|t| t == "tok-2"), "{tokens:?}");
        assert_eq!(c.fetch_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn proactive_refresh_runs_once_while_others_keep_the_valid_token() {
        let c = cache(100, false);
        c.bearer(None).await.unwrap();
        tokio::time::advance(Duration::from_secs(85)).await; // past 80 %, before expiry
        let tokens = many(&c, 20).await;
        assert_eq!(c.fetch_count(), 2);
        assert!(tokens.iter().all(|t| t == "tok-1" || t == "tok-2"));
        assert!(
            tokens.contains(&"tok-1".to_string()),
            "others did not wait for the refresh"
        );
        assert_eq!(&*c.bearer(None).await.unwrap(), "tok-2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_proactive_refresh_keeps_the_valid_token() {
        let c = cache(100, true);
        c.bearer(None).await.unwrap();
        tokio::time::advance(Duration::from_secs(85)).await;
        assert_eq!(&*c.bearer(None).await.unwrap(), "tok-1");
    }

    #[tokio::test(start_paused = true)]
    async fn invalidation_after_401_refetches_once_for_all_callers() {
        let c = cache(3600, false);
        let stale = c.bearer(None).await.unwrap();
        for _ in 0..10 {
            c.invalidate(&stale); // every caller that saw the 401 reports it
        }
        let tokens = many(&c, 10).await;
        assert!(tokens.iter().all(|t| t == "tok-2"));
        // A late report of the old token does not drop the new one.
        c.invalidate(&stale);
        assert_eq!(&*c.bearer(None).await.unwrap(), "tok-2");
        assert_eq!(c.fetch_count(), 2);
    }
}
