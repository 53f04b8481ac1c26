//! When and how long to wait before retrying a request: 429 and 5xx (except 501) are
//! retried with exponential backoff and full jitter, at least as long as `Retry-After`
//! asks, bounded by `max_retries` and by the operation's deadline. Other 4xx never are.
//!
//! [`with_retries`] runs the loop over any send function, so the policy is unit-tested
//! with tokio's paused clock and scripted answers instead of a server.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// The retry settings of a client.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (provider attribute `max_retries`).
    pub max_retries: u32,
    /// The backoff ceiling of the first retry; doubles on each retry.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// The longest `Retry-After` honoured (a server asking for an hour is not waited for).
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

/// Statuses worth retrying: 429 and 5xx except 501 (which will not change).
pub fn retryable_status(status: u16) -> bool {
    status == 429 || ((500..600).contains(&status) && status != 501)
}

impl RetryPolicy {
    /// The backoff ceiling before retry number `retry` (0-based): `min(cap, base·2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry number `retry`: full jitter (`unit` in `[0, 1)` scales the
    /// ceiling), but never shorter than the server's `Retry-After` (itself capped).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        let jittered = self.ceiling(retry).mul_f64(unit.clamp(0.0, 1.0));
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.retry_after_cap)),
            None => jittered,
        }
    }
}

/// Parses `Retry-After`: delta seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A uniform number in `[0, 1)` for jitter (OpenSSL's RNG; no extra crate).
pub fn jitter_unit() -> f64 {
    let mut b = [0u8; 8];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// What one attempt produced.
#[derive(Debug)]
pub enum Attempt {
    /// Any HTTP answer.
    Response(RawResponse),
    /// No answer; `retryable` when sending again cannot do harm (connection refused, or an
    /// idempotent request).
    Transport { message: String, retryable: bool },
}

/// An HTTP answer, read whole.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Sends until the answer is final: not retryable, out of retries, or the next wait would
/// pass `deadline`. Returns the last answer (which may be an error status), or the last
/// transport error message.
pub async fn with_retries<F, Fut>(
    policy: &RetryPolicy,
    deadline: Option<Instant>,
    label: &str,
    mut send: F,
) -> Result<RawResponse, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut retry = 0u32;
    loop {
        let attempt = send().await;
        let (retryable, retry_after, what) = match &attempt {
            Attempt::Response(r) => (
                retryable_status(r.status),
                r.retry_after,
                format!("HTTP {}", r.status),
            ),
            Attempt::Transport { message, retryable } => (*retryable, None, message.clone()),
        };
        let finish = |a: Attempt| match a {
            Attempt::Response(r) => Ok(r),
            Attempt::Transport { message, .. } => Err(message),
        };
        if !retryable || retry >= policy.max_retries {
            return finish(attempt);
        }
        let delay = policy.delay(retry, retry_after, jitter_unit());
        if deadline.is_some_and(|d| Instant::now() + delay > d) {
            return finish(attempt);
        }
        tracing::debug!(
            request = label,
            answer = %what,
            retry = retry + 1,
            delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    fn response(status: u16, retry_after: Option<u64>) -> Attempt {
        Attempt::Response(RawResponse {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: Vec::new(),
        })
    }

    /// Replays scripted attempts and records the (virtual) instant of each send.
    fn script(
        answers: Vec<Attempt>,
    ) -> (
        impl FnMut() -> std::future::Ready<Attempt>,
        Arc<Mutex<Vec<Instant>>>,
    ) {
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let times = Arc::new(Mutex::new(Vec::new()));
        let t = times.clone();
        let send = move || {
            t.lock().unwrap().push(Instant::now());
            std::future::ready(answers.lock().unwrap().pop_front().expect("script ran out"))
        };
        (send, times)
    }

    #[test]
    fn statuses() {
        for s in [429, 500, 502, 503, 504, 599] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 412, 501] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn backoff_is_exponential_capped_and_fully_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(0), Duration::from_millis(250));
        assert_eq!(p.ceiling(1), Duration::from_millis(500));
        assert_eq!(p.ceiling(4), Duration::from_secs(4));
        assert_eq!(p.ceiling(5), Duration::from_secs(8));
        assert_eq!(p.ceiling(40), Duration::from_secs(8));
        assert_eq!(p.delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(p.delay(3, None, 0.5), Duration::from_secs(1));
        // Retry-After is a floor, and is itself capped.
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3)), 0.9),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3600)), 0.9),
            Duration::from_secs(60)
        );
        for _ in 0..1000 {
            let u = jitter_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770); // 1994-11-06 08:49:30
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_then_success() {
        let (send, times) = script(vec![
            response(429, Some(2)),
            response(503, Some(5)),
            response(200, None),
        ]);
        let start = Instant::now();
        let r = with_retries(&RetryPolicy::default(), None, "GET /x", send).await;
        assert_eq!(r.unwrap().status, 200);
        let t = times.lock().unwrap();
        assert_eq!(t.len(), 3);
        // Jitter under base·2^n is below the Retry-After values, so the waits are exact.
        assert_eq!(t[1] - start, Duration::from_secs(2));
        assert_eq!(t[2] - t[1], Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn max_retries_bounds_attempts_and_returns_the_last_answer() {
        let policy = RetryPolicy {
            max_retries: 3,
            ..Default::default()
        };
        let (send, times) = script((0..10).map(|_| response(500, None)).collect());
        let start = Instant::now();
        let r = with_retries(&policy, None, "GET /x", send).await.unwrap();
        assert_eq!(r.status, 500);
        let t = times.lock().unwrap();
        assert_eq!(t.len(), 4, "1 attempt + 3 retries");
        // Full jitter: each wait is below its ceiling (250 ms, 500 ms, 1 s).
        assert!(t[3] - start < Duration::from_millis(1750));
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_and_501_are_not_retried() {
        for status in [400, 404, 409, 501] {
            let (send, times) = script(vec![response(status, None), response(200, None)]);
            let r = with_retries(&RetryPolicy::default(), None, "POST /x", send).await;
            assert_eq!(r.unwrap().status, status);
            assert_eq!(times.lock().unwrap().len(), 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_stops_retries_before_a_wait_that_would_pass_it() {
        let (send, times) = script(vec![
            response(429, Some(4)),
            response(429, Some(4)),
            response(200, None),
        ]);
        let deadline = Instant::now() + Duration::from_secs(6);
        let r = with_retries(&RetryPolicy::default(), Some(deadline), "GET /x", send).await;
        assert_eq!(r.unwrap().status, 429);
        assert_eq!(
            times.lock().unwrap().len(),
            2,
            "the second 4 s wait would end after 6 s"
        );
        assert!(Instant::now() < deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn transport_errors_retry_only_when_safe() {
        let (send, times) = script(vec![
            Attempt::Transport {
                message: "connection refused".into(),
                retryable: true,
            },
            Attempt::Transport {
                message: "connection reset after sending".into(),
                retryable: false,
            },
        ]);
        let r = with_retries(&RetryPolicy::default(), None, "POST /x", send).await;
        assert_eq!(r.unwrap_err(), "connection reset after sending");
        assert_eq!(times.lock().unwrap().len(), 2);
    }
}
