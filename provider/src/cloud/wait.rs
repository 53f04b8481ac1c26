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

use super::backoff::PollBackoff;
use super::error::Error;
use super::pace::{Bracket, Schedule, Transition};

/// Polls until `poll` breaks with a value, the deadline passes (one last poll is made at
/// the deadline), `cancel` resolves, or `poll` fails. `what` names the awaited state in
/// errors ("instance 0717_x to be running").
pub async fn poll_until<T, F, Fut, C>(
    what: &str,
    backoff: &PollBackoff,
    deadline: Instant,
    cancel: C,
    poll: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ControlFlow<T>, Error>>,
    C: Future<Output = ()>,
{
    poll_on_schedule(what, Schedule::blind(backoff), deadline, cancel, poll)
        .await
        .map(|(v, _)| v)
}

/// [`poll_until`] on `schedule`; also returns when the last poll that saw no change and
/// the one that saw it were sent, as offsets from the start (for [`super::pace`]).
pub async fn poll_on_schedule<T, F, Fut, C>(
    what: &str,
    mut schedule: Schedule,
    deadline: Instant,
    cancel: C,
    mut poll: F,
) -> Result<(T, Bracket), Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ControlFlow<T>, Error>>,
    C: Future<Output = ()>,
{
    let started = Instant::now();
    let work = async {
        let mut not_done_at = Duration::ZERO;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: what.to_string(),
                    waited: now - started,
                });
            }
            let wake = (started + schedule.next_offset(now - started)).min(deadline);
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                // Another wait of the kind finished: plan again from what it saw.
                () = schedule.replanned(started) => continue,
            }
            let sent_at = Instant::now() - started;
            schedule.polled(sent_at);
            if let ControlFlow::Break(v) = poll().await? {
                let seen = Bracket {
                    not_done_at,
                    done_at: sent_at,
                };
                return Ok((v, seen));
            }
            not_done_at = sent_at;
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

    /// [`Client::wait_until`] for a wait of kind `transition`: polls where earlier waits of
    /// that kind saw the change happen, and records what this one saw ([`super::pace`]).
    pub async fn wait_paced<T, F, Fut, C>(
        &self,
        transition: Transition,
        what: &str,
        cancel: C,
        poll: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ControlFlow<T>, Error>>,
        C: Future<Output = ()>,
    {
        let paces = &self.inner.paces;
        let schedule = paces.schedule(transition, &self.inner.poll, random_phase());
        let (v, seen) =
            poll_on_schedule(what, schedule, self.wait_deadline(), cancel, poll).await?;
        paces.record(transition, seen);
        Ok(v)
    }
}

/// A phase in [½, 1] for [`super::pace::Paces::schedule`], so concurrent waits do not poll
/// in lockstep.
fn random_phase() -> f64 {
    let mut b = [0u8; 2];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        return 1.0;
    }
    0.5 + f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) / 2.0
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

    /// Waits on `schedule` for a change that happens 1 s after `start`: when it was seen (from
    /// `start`), the wait's bracket, and how many polls it took.
    async fn wait_for_change_at_one_second(
        schedule: Schedule,
        start: Instant,
    ) -> (Duration, Bracket, u32) {
        let mut polls = 0;
        let (seen_at, bracket) = poll_on_schedule(
            "the change",
            schedule,
            start + Duration::from_secs(60),
            std::future::pending(),
            || {
                polls += 1;
                let elapsed = Instant::now() - start;
                async move {
                    Ok(if elapsed >= Duration::from_secs(1) {
                        ControlFlow::Break(elapsed)
                    } else {
                        ControlFlow::Continue(())
                    })
                }
            },
        )
        .await
        .unwrap();
        (seen_at, bracket, polls)
    }

    /// Three waits in a row for a change that takes 1 s: the first polls blind and sees it
    /// 188 ms late, the ones after it poll inside what it learned and see it sooner, for no
    /// more polls.
    #[tokio::test(start_paused = true)]
    async fn later_waits_of_a_kind_see_the_change_sooner() {
        use super::super::pace::Paces;
        let paces = Paces::default();
        let mut late = Vec::new();
        let mut polls = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            let schedule =
                Schedule::learned(&PollBackoff::default(), paces.bracket(Transition::Delete));
            let (seen_at, bracket, n) = wait_for_change_at_one_second(schedule, start).await;
            paces.record(Transition::Delete, bracket);
            late.push((seen_at - Duration::from_secs(1)).as_millis());
            polls.push(n);
        }
        assert_eq!(late, [188, 48, 13]);
        assert_eq!(polls, [3, 3, 3]);
    }

    /// Ten waits started together, each on a differently phased blind backoff, for a change
    /// that takes 1 s: the first to see it tells the others, which look at once, so none
    /// sees it more than 20 ms late (in lockstep on the plain backoff, all would be 188 ms
    /// late), for no more polls.
    #[tokio::test(start_paused = true)]
    async fn concurrent_waits_tell_each_other_when_the_change_came() {
        use super::super::pace::Paces;
        let paces = Arc::new(Paces::default());
        let start = Instant::now();
        let waits: Vec<_> = (0..10)
            .map(|i| {
                let paces = paces.clone();
                tokio::spawn(async move {
                    let phase = 0.5 + 0.05 * f64::from(i);
                    let schedule =
                        paces.schedule(Transition::Delete, &PollBackoff::default(), phase);
                    let (seen_at, bracket, polls) =
                        wait_for_change_at_one_second(schedule, start).await;
                    paces.record(Transition::Delete, bracket);
                    (seen_at, polls)
                })
            })
            .collect();
        let mut late = Vec::new();
        let mut polls = 0;
        for w in waits {
            let (seen_at, n) = w.await.unwrap();
            late.push((seen_at - Duration::from_secs(1)).as_millis());
            polls += n;
        }
        assert!(late.iter().all(|&ms| ms <= 20), "{late:?}");
        assert!(polls <= 40, "{polls} polls");
    }
}
