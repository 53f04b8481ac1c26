//! Waiting for a cloud object to reach a state: poll with a backoff that starts small
//! (the first poll comes after a fraction of a second, not after 10 s), stop at the
//! operation's deadline, and give up at once when the cancellation future resolves
//! (the resource passes `ctx.stopped()`, i.e. Ctrl-C).
//!
//! Time is tokio's clock, so tests run the policy on a paused clock.

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;

use super::error::Error;

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

/// Polls until `poll` breaks with a value, the deadline passes (one last poll is made at
/// the deadline), `cancel` resolves, or `poll` fails. `what` names the awaited state in
/// errors ("instance 0717_x to be running").
pub async fn poll_until<T, F, Fut, C>(
    what: &str,
    backoff: &PollBackoff,
    deadline: Instant,
    cancel: C,
    mut poll: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ControlFlow<T>, Error>>,
    C: Future<Output = ()>,
{
    let started = Instant::now();
    let work = async {
        let mut n = 0u32;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: what.to_string(),
                    waited: now - started,
                });
            }
            let wake = (now + backoff.delay(n)).min(deadline);
            tokio::time::sleep_until(wake).await;
            n += 1;
            if let ControlFlow::Break(v) = poll().await? {
                return Ok(v);
            }
        }
    };
    tokio::select! {
        r = work => r,
        () = cancel => Err(Error::Cancelled { what: what.to_string() }),
    }
}

impl super::client::Client {
    /// [`poll_until`] with this client's poll backoff and deadline (30 min without one):
    /// the building block of every instance wait, for waits the client does not offer.
    pub async fn wait_until<T, F, Fut, C>(&self, what: &str, cancel: C, poll: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ControlFlow<T>, Error>>,
        C: Future<Output = ()>,
    {
        poll_until(what, &self.inner.poll, self.wait_deadline(), cancel, poll).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn backoff_starts_small_and_grows_to_its_max() {
        let b = PollBackoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(250));
        assert_eq!(b.delay(1), Duration::from_millis(375));
        assert_eq!(b.delay(20), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn polls_at_growing_intervals_until_done() {
        let times = Arc::new(Mutex::new(Vec::new()));
        let t = times.clone();
        let start = Instant::now();
        let r = poll_until(
            "x",
            &PollBackoff::default(),
            start + Duration::from_secs(60),
            std::future::pending(),
            move || {
                let t = t.clone();
                async move {
                    let mut t = t.lock().unwrap();
                    t.push(Instant::now() - start);
                    Ok(if t.len() == 4 {
                        ControlFlow::Break(t.len())
                    } else {
                        ControlFlow::Continue(())
                    })
                }
            },
        )
        .await;
        assert_eq!(r.unwrap(), 4);
        let ms: Vec<u128> = times
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_millis())
            .collect();
        // 250 ms, then ×1.5 each time; tokio timers round sub-millisecond waits up.
        assert_eq!(ms, [250, 625, 1188, 2032]);
    }

    #[tokio::test(start_paused = true)]
    async fn ends_at_the_deadline_with_a_final_poll() {
        let polls = Arc::new(Mutex::new(Vec::new()));
        let p = polls.clone();
        let start = Instant::now();
        let r: Result<(), Error> = poll_until(
            "instance i to be running",
            &PollBackoff::default(),
            start + Duration::from_secs(30),
            std::future::pending(),
            move || {
                p.lock().unwrap().push(Instant::now());
                async { Ok(ControlFlow::Continue(())) }
            },
        )
        .await;
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "timed out after 30s waiting for instance i to be running"
        );
        assert_eq!(
            *polls.lock().unwrap().last().unwrap(),
            start + Duration::from_secs(30)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_ends_the_wait_promptly() {
        let start = Instant::now();
        let cancel = tokio::time::sleep(Duration::from_millis(700));
        let r: Result<(), Error> = poll_until(
            "y",
            &PollBackoff::default(),
            start + Duration::from_secs(3600),
            cancel,
            || async { Ok(ControlFlow::Continue(())) },
        )
        .await;
        assert!(matches!(r, Err(Error::Cancelled { .. })));
        assert_eq!(Instant::now() - start, Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn poll_errors_end_the_wait() {
        let r: Result<(), Error> = poll_until(
            "z",
            &PollBackoff::default(),
            Instant::now() + Duration::from_secs(10),
            std::future::pending(),
            || async { Err(Error::Config("boom".into())) },
        )
        .await;
        assert_eq!(r.unwrap_err().to_string(), "boom");
    }
}
