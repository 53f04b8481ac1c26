//! One process-wide "stop serving" signal, fired by `GRPCController.Shutdown`, SIGTERM,
//! Ctrl-C in debug mode, or the death of the Terraform process that started us, and awaited by the accept loop, the long-lived streams and `serve`.

use tokio::sync::watch;

/// Why the server is stopping (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Terraform called `plugin.GRPCController/Shutdown`.
    Controller,
    /// SIGTERM.
    Terminate,
    /// Ctrl-C in debug mode.
    Interrupt,
    /// The process that started us (Terraform) is gone: SIGKILLed or crashed, it can no
    /// longer call or record anything, so serving on would only leave an orphan process.
    ParentGone,
}

/// A cloneable handle: any clone can trigger, every clone can wait.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: watch::Sender<Option<Reason>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self {
            sender: watch::Sender::new(None),
        }
    }

    /// Fires the signal; the first reason sticks.
    pub fn trigger(&self, reason: Reason) {
        self.sender.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, once triggered.
    pub fn reason(&self) -> Option<Reason> {
        *self.sender.borrow()
    }

    /// Resolves once triggered (immediately if it already was).
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        drop(receiver.wait_for(Option::is_some).await);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_wake_and_the_first_reason_sticks() {
        let shutdown = Shutdown::new();
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        assert_eq!(shutdown.reason(), None);
        shutdown.trigger(Reason::Controller);
        shutdown.trigger(Reason::Terminate);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .expect("joined");
        assert_eq!(shutdown.reason(), Some(Reason::Controller));
        // Late waiters return at once.
        tokio::time::timeout(Duration::from_millis(100), shutdown.wait())
            .await
            .expect("already triggered");
    }
}
