//! Poll timing learned from earlier waits of the same kind. The servers of a fleet go
//! through a transition (a create, a stop, a delete) in about the same time, so once one wait
//! has seen between which two polls (say) a deletion finished, the waits after it poll inside
//! that interval instead of on the blind backoff, and notice the change sooner for about the
//! same number of calls. Only timing is learned: a wrong guess costs a poll or two and falls
//! back to a fresh backoff, never a wrong answer.
//!
//! What is learned is a [`Bracket`]: the offset from a wait's start of its last poll that
//! still saw the old state, and of the first that saw the new one. Brackets that overlap are
//! intersected (each is a bound on the same duration); one that does not overlap replaces the
//! old one (the cloud got slower or faster).
//!
//! Waits also learn from each other while they run: a wait that finishes publishes its
//! bracket, and every wait of that kind still polling re-plans at once. So that a wave of
//! waits started together does not poll in lockstep (and all see the change equally late),
//! waits with nothing learned yet poll on a backoff scaled by a random phase in [½, 1]: the
//! first of them to see the change tells the others, which then look right away.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::backoff::PollBackoff;

/// Polls inside a learned bracket are at least this far apart.
const MIN_STEP: Duration = Duration::from_millis(25);
/// A bracket narrower than this is widened around its middle: durations jitter by a few
/// milliseconds (request latency), and a too-narrow bracket would miss by that much.
const MIN_WIDTH: Duration = Duration::from_millis(60);
/// At most this many polls inside a bracket.
const MAX_BRACKET_POLLS: u32 = 4;
/// After a bracket that did not hold, the backoff restarts this small, since the change is
/// probably near.
const AFTER_BRACKET: PollBackoff = PollBackoff {
    first: Duration::from_millis(50),
    factor: 2.0,
    max: Duration::from_secs(5),
};

/// The kinds of transition whose timing is learned separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// A new instance reaching `running`.
    Create,
    /// `start` reaching `running`.
    Start,
    /// `stop` reaching `stopped`.
    Stop,
    /// `reboot` reaching `running`.
    Reboot,
    /// `DELETE` until the instance is gone.
    Delete,
}

impl Transition {
    /// How many kinds there are: one more than the largest [`Transition::index`].
    const ALL: usize = 5;

    /// The slot of this kind (an exhaustive match, so a new kind cannot go unnumbered).
    fn index(self) -> usize {
        match self {
            Transition::Create => 0,
            Transition::Start => 1,
            Transition::Stop => 2,
            Transition::Reboot => 3,
            Transition::Delete => 4,
        }
    }
}

/// When, after a wait started, its last poll saw the old state and its first poll saw the
/// new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bracket {
    pub not_done_at: Duration,
    pub done_at: Duration,
}

impl Bracket {
    /// `self` learned, then `newer` seen: their intersection if they overlap, else `newer`.
    fn merge(self, newer: Bracket) -> Bracket {
        let lo = self.not_done_at.max(newer.not_done_at);
        let hi = self.done_at.min(newer.done_at);
        if lo < hi {
            Bracket {
                not_done_at: lo,
                done_at: hi,
            }
        } else {
            newer
        }
    }

    /// At least [`MIN_WIDTH`] wide, around the same middle (and never before 0).
    fn widened(self) -> Bracket {
        let width = self.done_at.saturating_sub(self.not_done_at);
        if width >= MIN_WIDTH {
            return self;
        }
        let grow = (MIN_WIDTH - width) / 2;
        let lo = self.not_done_at.saturating_sub(grow);
        Bracket {
            not_done_at: lo,
            done_at: lo + MIN_WIDTH.max(width),
        }
    }
}

/// What one client's waits have learned, per [`Transition`]. Shared by all clones.
#[derive(Debug)]
pub struct Paces {
    learned: [watch::Sender<Option<Bracket>>; Transition::ALL],
}

impl Default for Paces {
    fn default() -> Self {
        Paces {
            learned: std::array::from_fn(|_| watch::Sender::new(None)),
        }
    }
}

impl Paces {
    /// The bracket learned for `t`, if any.
    pub fn bracket(&self, t: Transition) -> Option<Bracket> {
        *self.learned[t.index()].borrow()
    }

    /// Records what a finished wait of kind `t` saw, and tells the waits following `t`.
    pub fn record(&self, t: Transition, seen: Bracket) {
        if seen.done_at < seen.not_done_at {
            return;
        }
        self.learned[t.index()].send_modify(|slot| {
            *slot = Some(match *slot {
                Some(old) => old.merge(seen),
                None => seen,
            });
        });
    }

    /// A schedule for a new wait of kind `t` that re-plans whenever another wait of that
    /// kind finishes. `phase` (in [½, 1], random in use) scales the blind backoff.
    pub fn schedule(&self, t: Transition, backoff: &PollBackoff, phase: f64) -> Schedule {
        let mut news = self.learned[t.index()].subscribe();
        let plan = match *news.borrow_and_update() {
            Some(b) => Plan::inside(b, backoff),
            None => Plan::blind(&backoff.scaled(phase)),
        };
        Schedule {
            plan,
            backoff: backoff.clone(),
            news: Some(news),
            last_poll: None,
        }
    }
}

/// The offsets (from a wait's start) of its polls: inside the learned bracket first, if
/// there is one, then on a backoff; re-planned when other waits of the kind finish.
#[derive(Debug)]
pub struct Schedule {
    plan: Plan,
    backoff: PollBackoff,
    news: Option<watch::Receiver<Option<Bracket>>>,
    /// When this wait last polled (offset from its start).
    last_poll: Option<Duration>,
}

#[derive(Clone, Debug)]
struct Plan {
    /// Poll at once, before anything else.
    now: bool,
    /// A bracket and the next (1-based) and last of its poll numbers.
    inside: Option<(Bracket, u32, u32)>,
    /// The backoff after the bracket (or alone).
    then: PollBackoff,
    n: u32,
}

impl Plan {
    fn blind(backoff: &PollBackoff) -> Plan {
        Plan {
            now: false,
            inside: None,
            then: backoff.clone(),
            n: 0,
        }
    }

    fn inside(bracket: Bracket, backoff: &PollBackoff) -> Plan {
        let b = bracket.widened();
        let width = b.done_at - b.not_done_at;
        let polls = (width.as_nanos() / MIN_STEP.as_nanos()).clamp(1, MAX_BRACKET_POLLS as u128);
        Plan {
            now: false,
            inside: Some((b, 1, polls as u32)),
            then: AFTER_BRACKET.min_of(backoff),
            n: 0,
        }
    }

    fn now_then(backoff: &PollBackoff) -> Plan {
        Plan {
            now: true,
            inside: None,
            then: AFTER_BRACKET.min_of(backoff),
            n: 0,
        }
    }
}

impl Schedule {
    /// Polls on `backoff` alone, learning nothing.
    pub fn blind(backoff: &PollBackoff) -> Schedule {
        Schedule::fixed(Plan::blind(backoff), backoff)
    }

    /// Polls inside `bracket` (if any), then on a fresh small backoff; learns nothing more.
    pub fn learned(backoff: &PollBackoff, bracket: Option<Bracket>) -> Schedule {
        match bracket {
            Some(b) => Schedule::fixed(Plan::inside(b, backoff), backoff),
            None => Schedule::blind(backoff),
        }
    }

    fn fixed(plan: Plan, backoff: &PollBackoff) -> Schedule {
        Schedule {
            plan,
            backoff: backoff.clone(),
            news: None,
            last_poll: None,
        }
    }

    /// The offset of the next poll, given that `elapsed` has passed since the wait started
    /// (bracket offsets already passed, e.g. by a slow poll, are skipped).
    pub fn next_offset(&mut self, elapsed: Duration) -> Duration {
        let plan = &mut self.plan;
        if std::mem::take(&mut plan.now) {
            return elapsed;
        }
        while let Some((b, i, k)) = plan.inside {
            if i > k {
                plan.inside = None;
                break;
            }
            plan.inside = Some((b, i + 1, k));
            let at = b.not_done_at + (b.done_at - b.not_done_at) * i / k;
            if at > elapsed {
                return at;
            }
        }
        let delay = plan.then.delay(plan.n);
        plan.n += 1;
        elapsed + delay
    }

    /// Notes that a poll was sent at `offset`.
    pub fn polled(&mut self, offset: Duration) {
        self.last_poll = Some(offset);
    }

    /// Resolves when another wait of the kind has finished and this schedule has re-planned
    /// on what it saw (never, for a schedule that follows nothing). Cancel-safe.
    pub async fn replanned(&mut self, started: Instant) {
        let Some(news) = self.news.as_mut() else {
            return std::future::pending().await;
        };
        loop {
            if news.changed().await.is_err() {
                return std::future::pending().await;
            }
            let Some(b) = *news.borrow_and_update() else {
                continue;
            };
            let elapsed = Instant::now() - started;
            if b.done_at > elapsed {
                self.plan = Plan::inside(b, &self.backoff);
                return;
            }
            // Another wait saw the change at an offset this one has passed: look now,
            // unless this one has already looked since then.
            if self.last_poll.is_none_or(|p| p < b.done_at) {
                self.plan = Plan::now_then(&self.backoff);
                return;
            }
        }
    }
}

impl PollBackoff {
    /// `self` with every wait below the maximum times `phase` (clamped to [½, 1]).
    fn scaled(&self, phase: f64) -> PollBackoff {
        let phase = if phase.is_finite() {
            phase.clamp(0.5, 1.0)
        } else {
            1.0
        };
        PollBackoff {
            first: self.first.mul_f64(phase),
            factor: self.factor,
            max: self.max,
        }
    }

    /// `self`, but never slower than `other` (so a configured fast poll stays fast).
    fn min_of(&self, other: &PollBackoff) -> PollBackoff {
        PollBackoff {
            first: self.first.min(other.first),
            factor: self.factor,
            max: self.max.min(other.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn bracket(lo: u64, hi: u64) -> Bracket {
        Bracket {
            not_done_at: ms(lo),
            done_at: ms(hi),
        }
    }

    /// The offsets a schedule gives when every poll takes no time and none succeeds.
    fn offsets(mut s: Schedule, n: usize) -> Vec<u128> {
        let mut t = Duration::ZERO;
        (0..n)
            .map(|_| {
                t = s.next_offset(t);
                t.as_millis()
            })
            .collect()
    }

    #[test]
    fn blind_schedule_is_the_backoff() {
        let s = Schedule::learned(&PollBackoff::default(), None);
        assert_eq!(offsets(s, 4), [250, 625, 1187, 2031]);
    }

    #[test]
    fn learned_schedule_polls_inside_the_bracket_then_backs_off_from_its_end() {
        let s = Schedule::learned(&PollBackoff::default(), Some(bracket(625, 1187)));
        // Four polls splitting 625..1187 ms, then 50 ms doubling from there.
        assert_eq!(offsets(s, 7), [765, 906, 1046, 1187, 1237, 1337, 1537]);
    }

    #[test]
    fn narrow_brackets_are_widened_and_polled_fewer_times() {
        let s = Schedule::learned(&PollBackoff::default(), Some(bracket(990, 1000)));
        // Widened to 965..1025: two polls 30 ms apart.
        assert_eq!(offsets(s, 3), [995, 1025, 1075]);
        let s = Schedule::learned(&PollBackoff::default(), Some(bracket(0, 5)));
        assert_eq!(offsets(s, 2), [30, 60]);
    }

    #[test]
    fn offsets_already_passed_are_skipped() {
        let mut s = Schedule::learned(&PollBackoff::default(), Some(bracket(600, 1000)));
        // A poll that took until 950 ms: the next bracket offset after it is 1000.
        assert_eq!(s.next_offset(ms(950)), ms(1000));
        assert_eq!(s.next_offset(ms(1000)), ms(1050));
    }

    #[test]
    fn overlapping_brackets_narrow_and_disjoint_ones_replace() {
        let p = Paces::default();
        assert_eq!(p.bracket(Transition::Delete), None);
        p.record(Transition::Delete, bracket(625, 1187));
        p.record(Transition::Delete, bracket(906, 1046));
        p.record(Transition::Delete, bracket(800, 1100));
        assert_eq!(p.bracket(Transition::Delete), Some(bracket(906, 1046)));
        // The cloud got slower: the new observation wins.
        p.record(Transition::Delete, bracket(2000, 3000));
        assert_eq!(p.bracket(Transition::Delete), Some(bracket(2000, 3000)));
        // Kinds are learned apart; nonsense is ignored.
        assert_eq!(p.bracket(Transition::Create), None);
        p.record(Transition::Create, bracket(10, 5));
        assert_eq!(p.bracket(Transition::Create), None);
    }

    #[test]
    fn a_configured_fast_poll_stays_fast_after_a_bracket() {
        let fast = PollBackoff {
            first: ms(10),
            factor: 1.0,
            max: ms(10),
        };
        let s = Schedule::learned(&fast, Some(bracket(100, 200)));
        assert_eq!(offsets(s, 6), [125, 150, 175, 200, 210, 220]);
    }
}
