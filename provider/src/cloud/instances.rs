//! Instances: create, read, list, patch, delete, actions, and the waits around them
//! (for a status, for deletion, for a state where an action or a delete is legal).
//!
//! Every wait polls with the client's [`PollBackoff`](super::PollBackoff), ends at
//! the client's deadline ([`Client::with_timeout`]) and at once when `cancel` resolves
//! (pass `ctx.stopped()`).

use std::future::Future;
use std::ops::ControlFlow;

use super::client::{Body, Client};
use super::error::Error;
use super::models::{
    ActionType, Instance, InstanceAction, InstanceInitialization, InstancePatch, InstancePrototype,
    InstanceStatus,
};
use super::pace::Transition;
use super::wait::poll_until;

/// How far the cloud's clock may be behind ours when a create whose answer was lost is
/// matched to the instance it made (by `created_at`).
const LOST_CREATE_CLOCK_SKEW: time::Duration = time::Duration::seconds(60);

/// Statuses from which `action` is accepted (VPC API: anything else is 409 `invalid_state`).
pub fn action_allowed(action: &ActionType, status: &InstanceStatus) -> bool {
    use InstanceStatus as S;
    match action {
        ActionType::Start => matches!(status, S::Stopped | S::Stopping | S::Failed),
        ActionType::Stop => matches!(
            status,
            S::Running | S::Starting | S::Restarting | S::Pending
        ),
        ActionType::Reboot => matches!(status, S::Running),
        ActionType::Other(_) => true,
    }
}

/// Statuses in which `DELETE` is accepted (others: 409 `instance_delete_conflict`).
pub fn delete_allowed(status: &InstanceStatus) -> bool {
    matches!(
        status,
        InstanceStatus::Running | InstanceStatus::Stopped | InstanceStatus::Failed
    )
}

/// The status an action ends in.
fn action_target(action: &ActionType) -> Option<InstanceStatus> {
    match action {
        ActionType::Start | ActionType::Reboot => Some(InstanceStatus::Running),
        ActionType::Stop => Some(InstanceStatus::Stopped),
        ActionType::Other(_) => None,
    }
}

impl Client {
    /// `POST /instances`. Save the returned id before waiting for anything.
    ///
    /// A name another instance already has is [`Error::NameTaken`] with that instance (found
    /// by name): often a server an interrupted apply created but never recorded.
    ///
    /// A POST whose answer was lost (the connection broke after the request was sent) may
    /// or may not have created the server: it is looked up by name, and an instance of that
    /// name, profile, image and zone created since shortly before the request is ours.
    pub async fn create_instance(&self, prototype: &InstancePrototype) -> Result<Instance, Error> {
        let sent_at = time::OffsetDateTime::now_utc();
        match self
            .send_json(reqwest::Method::POST, "/instances", prototype)
            .await
        {
            Err(lost @ Error::Transport { .. }) => {
                match self.created_by_lost_request(prototype, sent_at).await {
                    Some(found) => {
                        tracing::warn!(id = %found.id, "the create's answer was lost; the instance it created was found by name");
                        Ok(found)
                    }
                    None => Err(lost),
                }
            }
            Err(Error::Api(refusal)) if refusal.refuses_a_taken_name() => {
                let name = prototype.name.clone();
                // Best effort: the refusal stands even when the look-up fails.
                let holder = self
                    .list_instances(&[("name", name.as_str())])
                    .await
                    .ok()
                    .and_then(|found| found.into_iter().find(|i| i.name == name))
                    .map(Box::new);
                Err(Error::NameTaken {
                    name,
                    holder,
                    refusal,
                })
            }
            other => other,
        }
    }

    /// The instance a `POST /instances` sent at `sent_at` created, if its answer was lost.
    async fn created_by_lost_request(
        &self,
        prototype: &InstancePrototype,
        sent_at: time::OffsetDateTime,
    ) -> Option<Instance> {
        let found = self
            .list_instances(&[("name", prototype.name.as_str())])
            .await
            .ok()?;
        let earliest = sent_at - LOST_CREATE_CLOCK_SKEW;
        found.into_iter().find(|i| {
            let created = i.created_at.as_deref().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            });
            i.name == prototype.name
                && created.is_some_and(|c| c >= earliest)
                && i.profile.as_ref().map(|p| p.name.as_str())
                    == Some(prototype.profile.name.as_str())
                && i.image.as_ref().map(|r| r.id.as_str()) == Some(prototype.image.id.as_str())
                && i.zone.as_ref().map(|z| z.name.as_str()) == Some(prototype.zone.name.as_str())
        })
    }

    /// `GET /instances/{id}`; a 404 is an error with [`Error::is_not_found`].
    pub async fn get_instance(&self, id: &str) -> Result<Instance, Error> {
        self.get_json(&format!("/instances/{id}"), &[]).await
    }

    /// `GET /instances/{id}/initialization`: the SSH keys the instance was created with
    /// (the instance itself never returns them, and they cannot change afterwards).
    pub async fn get_instance_initialization(
        &self,
        id: &str,
    ) -> Result<InstanceInitialization, Error> {
        self.get_json(&format!("/instances/{id}/initialization"), &[])
            .await
    }

    /// `GET /instances/{id}`, with a 404 as `None` (refresh of a deleted instance).
    pub async fn find_instance(&self, id: &str) -> Result<Option<Instance>, Error> {
        match self.get_instance(id).await {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every instance (all pages), optionally filtered (`name`, `vpc.id`, …).
    pub async fn list_instances(&self, filters: &[(&str, &str)]) -> Result<Vec<Instance>, Error> {
        self.list_all("/instances", "instances", filters).await
    }

    /// `PATCH /instances/{id}` (merge patch). Profile, confidential compute mode and secure
    /// boot need a stopped instance ([`InstancePatch::needs_stop`]).
    pub async fn update_instance(
        &self,
        id: &str,
        patch: &InstancePatch,
    ) -> Result<Instance, Error> {
        self.send_json(reqwest::Method::PATCH, &format!("/instances/{id}"), patch)
            .await
    }

    /// `DELETE /instances/{id}`: 202 and 204 are success, and so is 404 (already gone).
    pub async fn delete_instance(&self, id: &str) -> Result<(), Error> {
        match self
            .call(
                reqwest::Method::DELETE,
                &format!("/instances/{id}"),
                &[],
                Body::None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /instances/{id}/actions` once (no waiting; a 409 is returned as is).
    pub async fn create_instance_action(
        &self,
        id: &str,
        action: ActionType,
        force: bool,
    ) -> Result<InstanceAction, Error> {
        let body = serde_json::json!({"type": action.as_str(), "force": force});
        self.send_json(
            reqwest::Method::POST,
            &format!("/instances/{id}/actions"),
            &body,
        )
        .await
    }

    /// Polls until the status is one of `targets`. `failed` (unless a target) ends the wait
    /// with [`Error::InstanceFailed`] and the status reasons; a 404 ends it with that error.
    pub async fn wait_for_instance_status(
        &self,
        id: &str,
        targets: &[InstanceStatus],
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance, Error> {
        self.wait_for_status_of(id, targets, None, cancel).await
    }

    /// Polls a new instance until it is `running` (as [`Client::wait_for_instance_status`]),
    /// on the timing earlier creates of this client saw ([`super::pace`]).
    pub async fn wait_for_instance_created(
        &self,
        id: &str,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance, Error> {
        self.wait_for_status_of(
            id,
            &[InstanceStatus::Running],
            Some(Transition::Create),
            cancel,
        )
        .await
    }

    async fn wait_for_status_of(
        &self,
        id: &str,
        targets: &[InstanceStatus],
        transition: Option<Transition>,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance, Error> {
        let names: Vec<&str> = targets.iter().map(InstanceStatus::as_str).collect();
        let what = format!("instance {id} to be {}", names.join(" or "));
        let poll = || async {
            let inst = self.get_instance(id).await?;
            if targets.contains(&inst.status) {
                return Ok(ControlFlow::Break(inst));
            }
            if inst.status == InstanceStatus::Failed {
                return Err(Error::InstanceFailed {
                    id: id.to_string(),
                    reasons: inst.status_reasons,
                });
            }
            Ok(ControlFlow::Continue(()))
        };
        match transition {
            Some(t) => self.wait_paced(t, &what, cancel, poll).await,
            None => self.wait_until(&what, cancel, poll).await,
        }
    }

    /// Polls until `GET` answers 404.
    pub async fn wait_for_instance_deleted(
        &self,
        id: &str,
        cancel: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let what = format!("instance {id} to be deleted");
        self.wait_paced(Transition::Delete, &what, cancel, || async {
            Ok(match self.find_instance(id).await? {
                None => ControlFlow::Break(()),
                Some(_) => ControlFlow::Continue(()),
            })
        })
        .await
    }

    /// Watches a running instance for `window`: returns the instance if it stopped (or
    /// failed) in that time, `None` if it kept running. This is how a Hyper Protect guest
    /// rejecting its contract shows (it boots, then shuts itself down). It polls sparsely
    /// (every 10 s, or once at the end of a shorter window): the guest decides in about a
    /// minute, and a fleet of watches must not crowd the API.
    pub async fn watch_for_stop(
        &self,
        id: &str,
        window: std::time::Duration,
        cancel: impl Future<Output = ()>,
    ) -> Result<Option<Instance>, Error> {
        let every = window.min(std::time::Duration::from_secs(10));
        let sparse = super::PollBackoff {
            first: every,
            factor: 1.0,
            max: every,
        };
        let end = tokio::time::Instant::now() + window;
        let deadline = self.deadline.map_or(end, |d| d.min(end));
        let what = format!("instance {id} to pass its contract check");
        let r = poll_until(&what, &sparse, deadline, cancel, || async {
            let inst = self.get_instance(id).await?;
            Ok(match inst.status {
                InstanceStatus::Stopping | InstanceStatus::Stopped | InstanceStatus::Failed => {
                    ControlFlow::Break(inst)
                }
                _ => ControlFlow::Continue(()),
            })
        })
        .await;
        match r {
            Ok(inst) => Ok(Some(inst)),
            // The window ended (not the operation's deadline): it stayed up.
            Err(Error::Timeout { .. }) if deadline == end => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `action` and waits for its end state (`running` after start/reboot, `stopped`
    /// after stop). Already there (stop of a stopped instance, start of a running one) is
    /// success without an API call. A 409 `invalid_state` (a transition in progress) waits
    /// until the action is legal, then sends it again.
    pub async fn run_instance_action(
        &self,
        id: &str,
        action: ActionType,
        force: bool,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance, Error> {
        let target = action_target(&action);
        let mut cancel = std::pin::pin!(cancel);
        let mut inst = self.get_instance(id).await?;
        loop {
            let done =
                target.as_ref().is_some_and(|t| *t == inst.status) && action != ActionType::Reboot;
            if done {
                return Ok(inst);
            }
            if action_allowed(&action, &inst.status) {
                match self.create_instance_action(id, action.clone(), force).await {
                    Ok(_) => break,
                    Err(e) if e.is_conflict() => {}
                    Err(e) => return Err(e),
                }
            }
            // Wait for a status where the action is legal (or already achieved).
            let legal = |s: &InstanceStatus| {
                action_allowed(&action, s)
                    || target.as_ref() == Some(s) && action != ActionType::Reboot
            };
            let what = format!("instance {id} to accept {action}");
            inst = self
                .wait_until(&what, cancel.as_mut(), || async {
                    let i = self.get_instance(id).await?;
                    // A failed instance never becomes ready for a stop or a reboot.
                    if i.status == InstanceStatus::Failed && !legal(&i.status) {
                        return Err(Error::InstanceFailed {
                            id: id.to_string(),
                            reasons: i.status_reasons,
                        });
                    }
                    Ok(if legal(&i.status) {
                        ControlFlow::Break(i)
                    } else {
                        ControlFlow::Continue(())
                    })
                })
                .await?;
        }
        let transition = match action {
            ActionType::Start => Some(Transition::Start),
            ActionType::Stop => Some(Transition::Stop),
            ActionType::Reboot => Some(Transition::Reboot),
            ActionType::Other(_) => None,
        };
        match target {
            Some(t) => self.wait_for_status_of(id, &[t], transition, cancel).await,
            None => self.get_instance(id).await,
        }
    }

    /// Deletes and waits for 404. A 409 `instance_delete_conflict` (pending, starting,
    /// stopping, …) waits for a status where delete is legal and tries again; an instance
    /// already gone is success.
    pub async fn delete_instance_and_wait(
        &self,
        id: &str,
        cancel: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let mut cancel = std::pin::pin!(cancel);
        loop {
            match self.delete_instance(id).await {
                Ok(()) => break,
                Err(e) if e.is_conflict() => {
                    let what = format!("instance {id} to be deletable");
                    let gone = self
                        .wait_until(&what, cancel.as_mut(), || async {
                            Ok(match self.find_instance(id).await? {
                                None => ControlFlow::Break(true),
                                Some(i) if i.status == InstanceStatus::Deleting => {
                                    ControlFlow::Break(false)
                                }
                                Some(i) if delete_allowed(&i.status) => ControlFlow::Break(false),
                                Some(_) => ControlFlow::Continue(()),
                            })
                        })
                        .await?;
                    if gone {
                        return Ok(());
                    }
                    // `deleting` means someone else's delete is under way: just wait for it.
                    if self
                        .find_instance(id)
                        .await?
                        .is_some_and(|i| i.status == InstanceStatus::Deleting)
                    {
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.wait_for_instance_deleted(id, cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_rules_follow_the_api() {
        use InstanceStatus as S;
        assert!(action_allowed(&ActionType::Start, &S::Stopped));
        assert!(!action_allowed(&ActionType::Start, &S::Running));
        assert!(action_allowed(&ActionType::Stop, &S::Starting));
        assert!(!action_allowed(&ActionType::Stop, &S::Stopped));
        assert!(!action_allowed(&ActionType::Reboot, &S::Stopped));
        assert!(!action_allowed(
            &ActionType::Stop,
            &S::Other("hibernating".into())
        ));
        assert!(delete_allowed(&S::Failed));
        assert!(!delete_allowed(&S::Pending));
    }
}
