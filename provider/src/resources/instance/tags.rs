//! `hyperprotect_instance.tags`: user tags live in the Global Tagging service, keyed by the
//! instance CRN, not in the VPC API. Attached after create, read back on refresh (so a tag
//! removed out of band shows in the plan) and brought to the configuration on update by
//! attaching the added and detaching the removed. Tags are case-insensitive as in IBM Cloud
//! (the rules are in `cloud::tagging`): the state keeps the configuration's spelling.

use std::collections::BTreeSet;

use crate::cloud::tagging::{keep_spelling, tag_changes};
use crate::cloud::{Client, Error};
use crate::provider_data::cloud_diagnostic;
use crate::runtime::diag::Diagnostic;

/// Makes the tags on `crn` exactly `wanted`, from what the tagging service holds now.
pub(super) async fn sync(
    client: &Client,
    crn: &str,
    wanted: &BTreeSet<String>,
) -> Result<(), Error> {
    let current = client.list_tags(crn).await?;
    let (attach, detach) = tag_changes(&current, wanted);
    client.detach_tags(crn, &detach).await?;
    client.attach_tags_and_wait(crn, &attach).await
}

/// The tags a refresh records: what the service holds, spelled as `prior` spells them.
pub(super) async fn read(
    client: &Client,
    crn: &str,
    prior: Option<&BTreeSet<String>>,
) -> Result<BTreeSet<String>, Error> {
    let remote = client.read_tags(crn).await?;
    Ok(keep_spelling(prior, &remote))
}

/// A tagging error as a diagnostic about instance `id` (which stays in the state).
pub(super) fn error(id: &str, doing: &str, e: &Error) -> Diagnostic {
    let d = cloud_diagnostic(&format!("Cannot {doing} the tags of instance {id}"), e);
    Diagnostic::error(
        d.summary,
        format!(
            "{} The instance exists and is kept in the state; the next plan shows the tags \
             still to change.",
            d.detail
        ),
    )
}
