//! The waits of `hyperprotect_instance`, on the cloud client's waits: `running` after create
//! or start, `stopped` before a profile change, gone after delete, and the contract-check
//! window of a Hyper Protect guest. Every wait ends at the operation's timeout and at once
//! on Ctrl-C; their errors become diagnostics that say the server is kept in the state.

use std::time::Duration;

use crate::cloud::models::{ActionType, Instance, InstanceStatus};
use crate::cloud::{Client, ConsoleLimits, Error};
use crate::runtime::diag::Diagnostic;
use crate::runtime::framework::Ctx;

use super::state::describe_reasons;

/// A wait's error as a diagnostic about instance `id` (which is kept in the state).
pub fn wait_error(id: &str, doing: &str, e: Error) -> Diagnostic {
    match e {
        Error::Cancelled { .. } => Diagnostic::error(
            "Interrupted",
            format!(
                "Terraform asked the provider to stop while {doing} instance {id}. The \
                 instance exists and its id is kept in the state (tainted when it was being \
                 created: the next apply replaces it, `terraform untaint` keeps it)."
            ),
        ),
        Error::Timeout { waited, .. } => Diagnostic::error(
            format!("Timed out {doing} instance {id}"),
            format!(
                "Instance {id} did not get there within {} s (the operation's timeout; raise \
                 it in the `timeouts` block). The instance is kept in the state.",
                waited.as_secs()
            ),
        ),
        Error::InstanceFailed { reasons, .. } => Diagnostic::error(
            "The instance failed",
            format!(
                "Instance {id} reached status `failed` while {doing} it: {}. It is kept in \
                 the state; when it was being created it is tainted and the next apply \
                 replaces it.",
                describe_reasons(&reasons)
            ),
        ),
        other => Diagnostic::error(format!("Error {doing} instance {id}"), other.to_string()),
    }
}

/// Waits for `running` (`failed` is an error with the status reasons).
pub async fn wait_running(ctx: &Ctx, client: &Client, id: &str) -> Result<Instance, Diagnostic> {
    client
        .wait_for_instance_created(id, ctx.stopped())
        .await
        .map_err(|e| wait_error(id, "waiting for", e))
}

/// Watches the contract-check window of a freshly `running` Hyper Protect guest
/// ([`Client::watch_for_stop`]): `Some(instance)` when it stopped itself (it rejected its
/// contract), `None` when it stayed up; `failed` is an error with the status reasons.
pub async fn watch_contract(
    ctx: &Ctx,
    client: &Client,
    id: &str,
    window: Duration,
) -> Result<Option<Instance>, Diagnostic> {
    let doing = "checking the contract of";
    match client.watch_for_stop(id, window, ctx.stopped()).await {
        Ok(Some(stopped)) if stopped.status == InstanceStatus::Failed => Err(wait_error(
            id,
            doing,
            Error::InstanceFailed {
                id: id.to_string(),
                reasons: stopped.status_reasons,
            },
        )),
        Ok(seen) => Ok(seen),
        Err(e) => Err(wait_error(id, doing, e)),
    }
}

/// The error for a guest that stopped right after boot, with the reason from its serial
/// console (its `HPL…E` lines), or how to read the console when it cannot be read.
pub async fn rejection(client: &Client, stopped: &Instance) -> Diagnostic {
    let id = &stopped.id;
    let summary = "The Hyper Protect guest rejected its contract";
    match client
        .read_serial_console(id, &ConsoleLimits::default())
        .await
    {
        Ok(text) => Diagnostic::error(
            summary,
            format!(
                "Instance {id} reached `running` and then stopped by itself (status `{}`), \
                 which is how a Hyper Protect guest refuses its contract. Its serial console \
                 says:\n\n{}\n\nThe instance is kept in the state as tainted; fix the contract \
                 and apply again to replace it.",
                stopped.status,
                console_reason(&text)
            ),
        ),
        Err(e) => Diagnostic::error(
            summary,
            format!(
                "Instance {id} reached `running` and then stopped right after boot (status \
                 `{}`), which is how a Hyper Protect guest refuses its contract. The reason is \
                 on its serial console, which could not be read now ({e}): read it with \
                 `ibmcloud is instance-console {id}` or in the IBM Cloud console (Virtual \
                 server instances → the instance → Serial console). The instance is kept in \
                 the state as tainted; the next apply replaces it.",
                stopped.status
            ),
        ),
    }
}

/// The console lines that carry an `HPL…E` error code, or its last 10 lines if none do.
fn console_reason(text: &str) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .any(is_hpl_error)
        })
        .collect();
    if errors.is_empty() {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    } else {
        errors.join("\n")
    }
}

/// `HPL11001E`-style codes: `HPL`, digits, then `E` (error).
fn is_hpl_error(word: &str) -> bool {
    word.strip_prefix("HPL")
        .and_then(|rest| rest.strip_suffix('E'))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Runs `stop` or `start` and waits for its end state (a 409 waits for a legal state).
pub async fn act(
    ctx: &Ctx,
    client: &Client,
    id: &str,
    action: ActionType,
) -> Result<Instance, Diagnostic> {
    let doing = match action {
        ActionType::Stop => "stopping",
        _ => "starting",
    };
    client
        .run_instance_action(id, action, false, ctx.stopped())
        .await
        .map_err(|e| wait_error(id, doing, e))
}

/// Deletes and waits until the instance is gone (409 waits and retries; gone is success).
pub async fn delete(ctx: &Ctx, client: &Client, id: &str) -> Result<(), Diagnostic> {
    client
        .delete_instance_and_wait(id, ctx.stopped())
        .await
        .map_err(|e| wait_error(id, "deleting", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpl_error_codes() {
        assert!(is_hpl_error("HPL11001E"));
        assert!(!is_hpl_error("HPL11099I"));
        assert!(!is_hpl_error("HPLE"));
        assert!(!is_hpl_error("XHPL1E"));
    }

    #[test]
    fn the_reason_is_the_hpl_error_line() {
        let console = "# HPL11 build:25.11.0 enabler:25.11.0\n# section workload: decrypted\n\
                       HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: bad Boot aborted\n";
        assert_eq!(
            console_reason(console),
            "HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: bad Boot aborted"
        );
        let quiet = (1..=12).map(|i| format!("line {i}\n")).collect::<String>();
        assert!(console_reason(&quiet).starts_with("line 3\n"));
    }
}
