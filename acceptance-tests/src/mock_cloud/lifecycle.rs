//! Instance status transitions. Each operation appends future steps to the instance's
//! timeline (see `state::Instance::timeline`); the status is then read off the clock.
//! This is restart-safe and needs no background task. The Hyper Protect guest boot is
//! evaluated when the start is scheduled, with the instant the instance will reach
//! `running`; its console lines and attestation become visible from that instant.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::catalog;
use super::hpcr::{self, BootOutcome};
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

/// Schedules `first` (`starting` or `restarting`) at `at`, then `running` (with a guest boot)
/// or `failed` after `transition`.
fn schedule_boot(
    inst: &mut Instance,
    first: Status,
    at: i64,
    transition: Duration,
    delays: &Delays,
    pki: Option<&Pki>,
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
    let Some(pki) = pki else {
        inst.boots.push(Boot {
            at: done,
            console: vec![
                "mock-cloud: no platform PKI is loaded; the contract was not evaluated".into(),
            ],
            attestation: None,
        });
        return;
    };
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(done) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let report = hpcr::boot(inst.user_data.as_deref().unwrap_or(""), pki, when);
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
    pki: Option<&Pki>,
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
        None => schedule_boot(inst, Status::Starting, starting, delays.boot, delays, pki),
    }
}

/// Starts at `at` (`now`, or later when queued behind a stop in progress).
pub fn on_start(inst: &mut Instance, at: i64, now: i64, delays: &Delays, pki: Option<&Pki>) {
    cut_future(inst, at, now);
    schedule_boot(inst, Status::Starting, at, delays.boot, delays, pki);
}

pub fn on_reboot(inst: &mut Instance, now: i64, delays: &Delays, pki: Option<&Pki>) {
    cut_future(inst, now, now);
    schedule_boot(inst, Status::Restarting, now, delays.reboot, delays, pki);
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
