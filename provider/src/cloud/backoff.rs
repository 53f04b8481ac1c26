//! How often a wait polls: the schedule every wait of the client starts from (and that
//! `pace` scales by what earlier waits learnt). Its own module so that the client, the
//! waits and the pacing all import it without importing each other.

use std::time::Duration;

/// How often to poll.
#[derive(Clone, Debug, PartialEq)]
pub struct PollBackoff {
    /// Wait before the first poll.
    pub first: Duration,
    /// Each wait is the previous one times this.
    pub factor: f64,
    /// The longest wait between polls.
    pub max: Duration,
}

impl Default for PollBackoff {
    fn default() -> Self {
        PollBackoff {
            first: Duration::from_millis(250),
            factor: 1.5,
            max: Duration::from_secs(5),
        }
    }
}

impl PollBackoff {
    /// The wait before poll number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let grown = self.first.as_secs_f64() * self.factor.max(1.0).powi(n.min(64) as i32);
        Duration::from_secs_f64(grown.min(self.max.as_secs_f64()))
    }
}
