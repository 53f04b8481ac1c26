//! Instance status transitions. Each operation appends future steps to the instance's
//! timeline (see `state::Instance::timeline`); the status is then read off the clock.
//! This is restart-safe and needs no background task. The Hyper Protect guest boot is
//! evaluated when the start is scheduled, with the instant the instance will reach
//! `running`; its console lines and attestation become visible from that instant.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog;
use super::hpcr::{self, BootOutcome, BootReport};
use super::pki::Pki;
use super::state::{Boot, Instance, Reason, Status, Step};

/// How long each transitional status lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delays {
    /// `pending` → `starting` after create.
    pub pending: Duration,
    /// `starting` → `running` (also `failed` for an image/profile mismatch).
    pub boot: Duration,
    /// `stopping` → `stopped`.
    pub stop: Duration,
    /// `restarting` → `running`.
    pub reboot: Duration,
    /// `deleting` → gone (404).
    pub delete: Duration,
    /// `running` → `stopping` when the Hyper Protect guest rejected its contract.
    pub reject_stop: Duration,
}

impl Default for Delays {
    /// Boot completes 2 s after create; a rejected contract is `stopped` 3 s after `running`.
    fn default() -> Self {
        Delays {
            pending: Duration::from_millis(500),
            boot: Duration::from_millis(1500),
            stop: Duration::from_millis(1000),
            reboot: Duration::from_millis(1000),
            delete: Duration::from_millis(1000),
            reject_stop: Duration::from_millis(2000),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// What an injected create fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateFault {
    Fail,
    Hang,
}

fn step(status: Status, at: i64) -> Step {
    Step {
        status,
        at,
        reasons: vec![],
    }
}

/// Drops steps and boots scheduled after `at` (a new action supersedes them) and history
/// older than the step current at `now` (only the current step's reasons are ever shown).
fn cut_future(inst: &mut Instance, at: i64, now: i64) {
    inst.timeline.retain(|s| s.at <= at);
    if let Some(current) = inst.timeline.iter().rposition(|s| s.at <= now) {
        inst.timeline.drain(..current);
    }
    inst.boots.retain(|b| b.at <= at);
}

/// Why an instance cannot start on its profile, if it cannot.
pub fn start_blocker(inst: &Instance) -> Option<Reason> {
    let image = catalog::image(&inst.image_id)?;
    let profile = catalog::profile(&inst.profile)?;
    let message = if image.is_hpcr() && !profile.secure_execution {
        format!(
            "Image '{}' is a Hyper Protect (IBM Secure Execution) image and can only start on a Secure Execution profile (*z2e-*), not '{}'",
            image.name, profile.name
        )
    } else if !image.is_hpcr() && profile.secure_execution {
        format!(
            "Profile '{}' is a Secure Execution profile and can only start a Hyper Protect image, not '{}'",
            profile.name, image.name
        )
    } else {
        return None;
    };
    Some(Reason {
        code: "cannot_start_compute".into(),
        message,
    })
}

/// How a Hyper Protect guest boot is obtained when an instance reaches `running`.
#[derive(Clone, Copy)]
pub struct Guest<'a> {
    pub pki: Option<&'a Pki>,
    /// A boot already evaluated (outside the state lock) for the instant given.
    pub ready: Option<(i64, &'a BootReport)>,
}

impl<'a> Guest<'a> {
    pub fn new(pki: Option<&'a Pki>) -> Self {
        Guest { pki, ready: None }
    }
}

/// The instant a new instance created at `now` reaches `running` (if nothing fails).
pub fn create_running_at(now: i64, delays: &Delays) -> i64 {
    now + ms(delays.pending) + ms(delays.boot)
}

/// Boots `user_data` as a Hyper Protect guest reaching `running` at `at` (Unix ms).
pub fn boot_guest(user_data: Option<&str>, pki: &Pki, at: i64) -> BootReport {
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    hpcr::boot(user_data.unwrap_or(""), pki, when)
}

/// Schedules `first` (`starting` or `restarting`) at `at`, then `running` (with a guest boot)
/// or `failed` after `transition`.
fn schedule_boot(
    inst: &mut Instance,
    first: Status,
    at: i64,
    transition: Duration,
    delays: &Delays,
    guest: Guest<'_>,
) {
    inst.timeline.push(step(first, at));
    let done = at + ms(transition);
    if let Some(reason) = start_blocker(inst) {
        inst.timeline.push(Step {
            status: Status::Failed,
            at: done,
            reasons: vec![reason],
        });
        return;
    }
    inst.timeline.push(step(Status::Running, done));
    let is_hpcr = catalog::image(&inst.image_id).is_some_and(|i| i.is_hpcr());
    if !is_hpcr {
        return;
    }
    let Some(pki) = guest.pki else {
        inst.boots.push(Boot {
            at: done,
            console: vec![
                "mock-cloud: no platform PKI is loaded; the contract was not evaluated".into(),
            ],
            attestation: None,
        });
        return;
    };
    let report = match guest.ready {
        Some((ready_at, report)) if ready_at == done => report.clone(),
        _ => boot_guest(inst.user_data.as_deref(), pki, done),
    };
    match report.outcome {
        BootOutcome::Accepted { attestation } => inst.boots.push(Boot {
            at: done,
            console: report.console,
            attestation,
        }),
        BootOutcome::Rejected { reason: _ } => {
            // The platform only sees the guest power off; the reason is on the console.
            inst.boots.push(Boot {
                at: done,
                console: report.console,
                attestation: None,
            });
            let stopping = done + ms(delays.reject_stop);
            inst.timeline.push(step(Status::Stopping, stopping));
            inst.timeline
                .push(step(Status::Stopped, stopping + ms(delays.stop)));
        }
    }
}

/// The timeline of a new instance created at `now`.
pub fn on_create(
    inst: &mut Instance,
    now: i64,
    delays: &Delays,
    fault: Option<CreateFault>,
    guest: Guest<'_>,
) {
    inst.timeline = vec![step(Status::Pending, now)];
    let starting = now + ms(delays.pending);
    match fault {
        Some(CreateFault::Fail) => inst.timeline.push(Step {
            status: Status::Failed,
            at: starting,
            reasons: vec![Reason {
                code: "cannot_start_capacity".into(),
                message: "Injected fault (mock-cloud): the instance could not be placed".into(),
            }],
        }),
        Some(CreateFault::Hang) => inst.timeline.push(step(Status::Starting, starting)),
        None => schedule_boot(inst, Status::Starting, starting, delays.boot, delays, guest),
    }
}

/// Starts at `at` (`now`, or later when queued behind a stop in progress).
pub fn on_start(inst: &mut Instance, at: i64, now: i64, delays: &Delays, pki: Option<&Pki>) {
    cut_future(inst, at, now);
    schedule_boot(
        inst,
        Status::Starting,
        at,
        delays.boot,
        delays,
        Guest::new(pki),
    );
}

pub fn on_reboot(inst: &mut Instance, now: i64, delays: &Delays, pki: Option<&Pki>) {
    cut_future(inst, now, now);
    schedule_boot(
        inst,
        Status::Restarting,
        now,
        delays.reboot,
        delays,
        Guest::new(pki),
    );
}

pub fn on_stop(inst: &mut Instance, now: i64, delays: &Delays) {
    cut_future(inst, now, now);
    inst.timeline.push(step(Status::Stopping, now));
    inst.timeline
        .push(step(Status::Stopped, now + ms(delays.stop)));
}

pub fn on_delete(inst: &mut Instance, now: i64, delays: &Delays) {
    cut_future(inst, now, now);
    inst.timeline.push(step(Status::Deleting, now));
    inst.timeline
        .push(step(Status::Gone, now + ms(delays.delete)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock_cloud::state::sample_instance;

    const UBUNTU_AMD64: &str = "r006-9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c02";
    const HPCR: &str = "r006-7a9e4c3d-2b1f-4e8a-b6c5-1d0f3e2a9b29";

    fn delays() -> Delays {
        let ms = Duration::from_millis;
        Delays {
            pending: ms(10),
            boot: ms(20),
            stop: ms(30),
            reboot: ms(40),
            delete: ms(50),
            reject_stop: ms(60),
        }
    }

    fn walk(inst: &Instance) -> Vec<(Status, i64)> {
        inst.timeline.iter().map(|s| (s.status, s.at)).collect()
    }

    #[test]
    fn create_start_stop_delete_timelines() {
        let d = delays();
        let mut i = sample_instance(1, "bx2-2x8", UBUNTU_AMD64, vec![]);
        on_create(&mut i, 1000, &d, None, Guest::new(None));
        assert_eq!(
            walk(&i),
            [
                (Status::Pending, 1000),
                (Status::Starting, 1010),
                (Status::Running, 1030)
            ]
        );
        assert_eq!(create_running_at(1000, &d), 1030);
        on_stop(&mut i, 2000, &d);
        assert_eq!(
            walk(&i),
            [
                (Status::Running, 1030),
                (Status::Stopping, 2000),
                (Status::Stopped, 2030)
            ],
            "history before the current step is dropped"
        );
        on_reboot(&mut i, 2005, &d, None);
        assert_eq!(i.status_at(2005), Status::Restarting);
        assert_eq!(i.status_at(2045), Status::Running);
        assert!(
            !walk(&i).contains(&(Status::Stopped, 2030)),
            "superseded future steps are cut"
        );
        on_delete(&mut i, 3000, &d);
        assert_eq!(i.status_at(3049), Status::Deleting);
        assert_eq!(i.status_at(3050), Status::Gone);
    }

    #[test]
    fn start_queued_behind_stop() {
        let d = delays();
        let mut i = sample_instance(1, "bx2-2x8", UBUNTU_AMD64, vec![]);
        on_create(&mut i, 0, &d, None, Guest::new(None));
        on_stop(&mut i, 100, &d);
        on_start(&mut i, 130, 110, &d, None);
        assert_eq!(i.status_at(110), Status::Stopping);
        assert_eq!(i.status_at(129), Status::Stopping);
        assert_eq!(i.status_at(130), Status::Starting);
        assert_eq!(i.status_at(150), Status::Running);
    }

    #[test]
    fn create_faults() {
        let d = delays();
        let mut i = sample_instance(1, "bx2-2x8", UBUNTU_AMD64, vec![]);
        on_create(&mut i, 0, &d, Some(CreateFault::Fail), Guest::new(None));
        assert_eq!(i.status_at(10), Status::Failed);
        assert_eq!(
            i.step_at(10).map(|s| s.reasons[0].code.as_str()),
            Some("cannot_start_capacity")
        );
        let mut i = sample_instance(1, "bx2-2x8", UBUNTU_AMD64, vec![]);
        on_create(&mut i, 0, &d, Some(CreateFault::Hang), Guest::new(None));
        assert_eq!(i.status_at(1_000_000), Status::Starting);
    }

    #[test]
    fn secure_execution_mismatch_fails_to_start() {
        let d = delays();
        let mut i = sample_instance(1, "bx2-2x8", HPCR, vec![]);
        on_create(&mut i, 0, &d, None, Guest::new(None));
        assert_eq!(i.status_at(29), Status::Starting);
        assert_eq!(i.status_at(30), Status::Failed);
        let reason = &i.step_at(30).unwrap().reasons[0];
        assert_eq!(reason.code, "cannot_start_compute");
        assert!(reason.message.contains("bx2-2x8"));
        assert!(i.boots.is_empty());

        let mut ok = sample_instance(2, "bz2e-1x4", HPCR, vec![]);
        on_create(&mut ok, 0, &d, None, Guest::new(None));
        assert_eq!(ok.status_at(30), Status::Running);
        // Without a PKI the boot is recorded, visible from the running instant.
        assert_eq!(ok.boots.len(), 1);
        assert_eq!(ok.boots[0].at, 30);
    }
}
