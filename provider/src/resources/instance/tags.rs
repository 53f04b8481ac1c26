//! `hyperprotect_instance.tags`: user tags live in the Global Tagging service, keyed by the
//! instance CRN, not in the VPC API. Attached after create, read back on refresh (so a tag
//! removed out of band shows in the plan) and brought to the configuration on update by
//! attaching the added and detaching the removed.

use std::collections::BTreeSet;

use crate::cloud::tagging::tag_changes;
use crate::cloud::{Client, Error};
use crate::provider_data::cloud_diagnostic;
use crate::runtime::diag::Diagnostic;

/// Makes the tags on `crn` exactly `wanted`, from what the tagging service holds now.
pub async fn sync(client: &Client, crn: &str, wanted: &BTreeSet<String>) -> Result<(), Error> {
    let current = client.list_tags(crn).await?;
    let (attach, detach) = tag_changes(&current, wanted);
    client.attach_tags(crn, &attach).await?;
    client.detach_tags(crn, &detach).await
}

/// A tagging error as a diagnostic about instance `id` (which stays in the state).
pub fn error(id: &str, doing: &str, e: &Error) -> Diagnostic {
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
