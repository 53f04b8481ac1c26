//! Fault injection: latency, 429 and 5xx rates, 501 on chosen routes, failing or hanging
//! creates, creates whose answer is lost. Rates are applied deterministically (request n of a kind fires when
//! `floor(n·rate)` grows, so 0.5 means every second request) so tests are never flaky.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A probability-like rate in `0.0..=1.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate(f64);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultError {
    #[error("rate {0} is outside 0.0..=1.0")]
    Rate(f64),
    #[error("server error status {0} is not one of 500, 503")]
    Status(u16),
    #[error("route pattern {0:?} must be `METHOD /path` with `*` for one segment, e.g. `POST /v1/instances/*/actions`")]
    Pattern(String),
}

impl TryFrom<f64> for Rate {
    type Error = FaultError;
    fn try_from(v: f64) -> Result<Self, FaultError> {
        if (0.0..=1.0).contains(&v) {
            Ok(Rate(v))
        } else {
            Err(FaultError::Rate(v))
        }
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.0
    }
}

impl FromStr for Rate {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Self, FaultError> {
        let v: f64 = s.parse().map_err(|_| FaultError::Rate(f64::NAN))?;
        Rate::try_from(v)
    }
}

impl Rate {
    pub fn value(self) -> f64 {
        self.0
    }
}

/// The status of injected server errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub enum ServerErrorStatus {
    InternalServerError,
    #[default]
    ServiceUnavailable,
}

impl TryFrom<u16> for ServerErrorStatus {
    type Error = FaultError;
    fn try_from(v: u16) -> Result<Self, FaultError> {
        match v {
            500 => Ok(Self::InternalServerError),
            503 => Ok(Self::ServiceUnavailable),
            other => Err(FaultError::Status(other)),
        }
    }
}

impl From<ServerErrorStatus> for u16 {
    fn from(s: ServerErrorStatus) -> u16 {
        match s {
            ServerErrorStatus::InternalServerError => 500,
            ServerErrorStatus::ServiceUnavailable => 503,
        }
    }
}

impl FromStr for ServerErrorStatus {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Self, FaultError> {
        let v: u16 = s.parse().map_err(|_| FaultError::Status(0))?;
        Self::try_from(v)
    }
}

/// `METHOD /path/with/*/segments`: matches one method and a path where `*` is any one segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoutePattern {
    method: String,
    segments: Vec<Option<String>>,
}

impl RoutePattern {
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        segs.len() == self.segments.len()
            && segs
                .iter()
                .zip(&self.segments)
                .all(|(s, p)| p.as_deref().is_none_or(|p| p == *s))
    }
}

impl FromStr for RoutePattern {
    type Err = FaultError;
    fn from_str(s: &str) -> Result<Self, FaultError> {
        let bad = || FaultError::Pattern(s.to_string());
        let (method, path) = s.trim().split_once(' ').ok_or_else(bad)?;
        let path = path.trim();
        if method.is_empty()
            || !method.chars().all(|c| c.is_ascii_alphabetic())
            || !path.starts_with('/')
        {
            return Err(bad());
        }
        let segments = path
            .trim_end_matches('/')
            .split('/')
            .map(|seg| (seg != "*").then(|| seg.to_string()))
            .collect();
        Ok(RoutePattern {
            method: method.to_ascii_uppercase(),
            segments,
        })
    }
}

impl TryFrom<String> for RoutePattern {
    type Error = FaultError;
    fn try_from(s: String) -> Result<Self, FaultError> {
        s.parse()
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path: Vec<&str> = self
            .segments
            .iter()
            .map(|s| s.as_deref().unwrap_or("*"))
            .collect();
        write!(f, "{} {}", self.method, path.join("/"))
    }
}

impl From<RoutePattern> for String {
    fn from(p: RoutePattern) -> String {
        p.to_string()
    }
}

/// The configured faults (`GET`/`PUT /_mock/faults`, or CLI flags). Missing fields are off.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every IAM and VPC request.
    pub latency_ms: u64,
    /// Share of IAM/VPC requests answered 429 with `Retry-After: retry_after_secs`.
    pub rate_429: Rate,
    pub retry_after_secs: u64,
    /// Share of IAM/VPC requests answered `status_5xx`.
    pub rate_5xx: Rate,
    pub status_5xx: ServerErrorStatus,
    /// Routes answered 501.
    pub not_implemented: Vec<RoutePattern>,
    /// Routes answered 403 `forbidden`, as IBM answers a caller whose IAM policy lacks the
    /// role (e.g. `POST /v1/instances/*/console_access_token` without Console Administrator).
    pub forbidden: Vec<RoutePattern>,
    /// How long an attached tag takes to show in tag reads (`GET /v3/tags`, Global Search):
    /// IBM's tags are eventually consistent, which is why IBM's Terraform provider waits up
    /// to 30 s for them after an attach (`WaitForTagsAvailable`, ibm/flex/structures.go).
    pub tag_visibility_lag_ms: u64,
    /// Global Tagging calls (`/v3/tags*`) allowed per second; more are answered 429 with
    /// `Retry-After: 1`. 0 is no limit. IBM's Terraform provider moved its tag reads to
    /// Global Search "due to rate limit" (`GetTagsUsingCRN`, ibm/flex/structures.go).
    pub tagging_calls_per_second: u32,
    /// The next N instance creates are accepted, then go `failed`.
    pub fail_next_creates: u32,
    /// The next N instance creates are accepted, then stay `starting`.
    pub hang_next_creates: u32,
    /// The next N successful instance creates are carried out, but the connection breaks
    /// in the middle of their answer (as when a network or a proxy fails).
    pub lose_next_create_answers: u32,
}

/// Faults plus the counters that make rates deterministic.
#[derive(Debug, Default)]
pub struct FaultState {
    pub faults: Faults,
    count_429: u64,
    count_5xx: u64,
    /// When the Global Tagging calls of the last second came (Unix ms).
    tagging_calls: std::collections::VecDeque<i64>,
}

/// What to do with one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Injected {
    NotImplemented,
    Forbidden,
    TooManyRequests { retry_after_secs: u64 },
    ServerError(ServerErrorStatus),
}

fn fire(rate: Rate, counter: &mut u64) -> bool {
    if rate.0 <= 0.0 {
        return false;
    }
    *counter += 1;
    let n = *counter as f64;
    (n * rate.0).floor() > ((n - 1.0) * rate.0).floor()
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        FaultState {
            faults,
            count_429: 0,
            count_5xx: 0,
            tagging_calls: std::collections::VecDeque::new(),
        }
    }

    pub fn replace(&mut self, faults: Faults) {
        *self = FaultState::new(faults);
    }

    /// The fault (if any) for this request, advancing the rate counters.
    pub fn decide(&mut self, method: &str, path: &str) -> Option<Injected> {
        if self
            .faults
            .not_implemented
            .iter()
            .any(|p| p.matches(method, path))
        {
            return Some(Injected::NotImplemented);
        }
        if self
            .faults
            .forbidden
            .iter()
            .any(|p| p.matches(method, path))
        {
            return Some(Injected::Forbidden);
        }
        if fire(self.faults.rate_429, &mut self.count_429) {
            return Some(Injected::TooManyRequests {
                retry_after_secs: self.faults.retry_after_secs,
            });
        }
        if fire(self.faults.rate_5xx, &mut self.count_5xx) {
            return Some(Injected::ServerError(self.faults.status_5xx));
        }
        None
    }

    /// Counts one Global Tagging call at `now` (Unix ms): false when it is over
    /// `tagging_calls_per_second` in the last second (the caller answers 429).
    pub fn admit_tagging_call(&mut self, now: i64) -> bool {
        let limit = self.faults.tagging_calls_per_second as usize;
        if limit == 0 {
            return true;
        }
        while self.tagging_calls.front().is_some_and(|t| *t <= now - 1000) {
            self.tagging_calls.pop_front();
        }
        if self.tagging_calls.len() >= limit {
            return false;
        }
        self.tagging_calls.push_back(now);
        true
    }

    /// Consumes one pending lost create answer.
    pub fn take_lost_answer(&mut self) -> bool {
        let lose = self.faults.lose_next_create_answers > 0;
        if lose {
            self.faults.lose_next_create_answers -= 1;
        }
        lose
    }

    /// Consumes one pending create fault, failures first.
    pub fn take_create_fault(&mut self) -> Option<super::lifecycle::CreateFault> {
        if self.faults.fail_next_creates > 0 {
            self.faults.fail_next_creates -= 1;
            Some(super::lifecycle::CreateFault::Fail)
        } else if self.faults.hang_next_creates > 0 {
            self.faults.hang_next_creates -= 1;
            Some(super::lifecycle::CreateFault::Hang)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_deterministic() {
        let mut c = 0;
        let half: Vec<bool> = (0..6).map(|_| fire(Rate(0.5), &mut c)).collect();
        assert_eq!(half, [false, true, false, true, false, true]);
        let mut c = 0;
        assert!((0..5).all(|_| fire(Rate(1.0), &mut c)));
        let mut c = 0;
        assert!((0..5).all(|_| !fire(Rate(0.0), &mut c)));
        let mut c = 0;
        let quarter = (0..100).filter(|_| fire(Rate(0.25), &mut c)).count();
        assert_eq!(quarter, 25);
    }

    #[test]
    fn invalid_values_are_refused() {
        assert_eq!(Rate::try_from(1.5), Err(FaultError::Rate(1.5)));
        assert!(serde_json::from_str::<Faults>(r#"{"rate_429": -0.1}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"status_5xx": 502}"#).is_err());
        assert!(serde_json::from_str::<Faults>(r#"{"bogus": 1}"#).is_err());
        assert!("/v1/instances".parse::<RoutePattern>().is_err());
    }

    #[test]
    fn route_patterns_match_segments() {
        let p: RoutePattern = "post /v1/instances/*/actions".parse().unwrap();
        assert!(p.matches("POST", "/v1/instances/0717_abc/actions"));
        assert!(!p.matches("GET", "/v1/instances/0717_abc/actions"));
        assert!(!p.matches("POST", "/v1/instances/0717_abc"));
        assert_eq!(p.to_string(), "POST /v1/instances/*/actions");
    }
}
