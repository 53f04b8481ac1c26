//! `hyperprotect_instance`: a confidential virtual server on IBM Cloud VPC (a Hyper Protect
//! guest on a Secure Execution profile, or an x86 confidential profile), created from its
//! contract (`user_data`) and waited for correctly.
//!
//! - Create POSTs the instance, keeps its id at once (a later failure returns the partial
//!   state, so Terraform taints the server instead of losing it), waits for `running`, then
//!   watches `contract_check_seconds` for a Hyper Protect guest that rejects its contract and
//!   powers off; the reason is read from the serial console.
//! - Plan-time checks (when the values are known): image/profile Secure Execution match,
//!   `confidential_compute_mode` support, `user_data` size, zone in region, subnet in zone.
//! - `name` and `tags` change in place; `profile`, `confidential_compute_mode` and
//!   `enable_secure_boot` by stop → PATCH → start; the rest replaces the server.
//! - `user_data`, `boot_volume.size` and `boot_volume.encryption_key` are not returned by
//!   the API: after an import they are taken from the configuration without a replacement.
//! - Resource identity (Terraform ≥ 1.12): `id` and `region` ([`state::identity_of`]), so
//!   `import { identity = { id = "…" } }` works and the list resource of the same name
//!   (`terraform query`) can name what it finds.

//!
//! Files: [`schema`] (schema, declared rules, models), [`state`] (model ↔ VPC API),
//! [`checks`] (plan-time catalog checks), `lifecycle` (waits), `tags` (Global Tagging); this
//! file is the CRUD.

use crate::cloud::models::{ActionType, Instance as CloudInstance, InstancePatch};
use crate::cloud::Client;
use crate::provider_data::{
    client, cloud_diagnostic, ProviderState, PLAN_CHECK_TIMEOUT, READ_TIMEOUT,
};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{IdentitySchema, Schema};
use crate::runtime::value::{Known, ToValue, Value};

pub mod checks;
mod lifecycle;
pub mod schema;
pub mod state;
mod tags;

use schema::{InstanceIdentity, InstanceModel, IMPORTED};
use state::{identity_of, Op};

/// The `hyperprotect_instance` resource.
pub struct InstanceResource;

fn failed(state: &InstanceModel, d: impl Into<Diagnostics>) -> Outcome {
    Outcome::failed(state.to_value(), d)
}

#[async_trait::async_trait]
impl Resource for InstanceResource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_instance"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(InstanceModel::fields())
    }

    async fn modify_plan(&self, ctx: &Ctx, plan: &mut Plan<'_>) {
        let (config, prior, planned) = match (
            InstanceModel::build(plan.config),
            InstanceModel::build(plan.prior),
            InstanceModel::build(&plan.planned),
        ) {
            (Ok(c), Ok(p), Ok(n)) => (c, p, n),
            (c, p, n) => {
                for d in [c.err(), p.err(), n.err()].into_iter().flatten() {
                    plan.diagnostics.extend(d);
                }
                return;
            }
        };
        if !plan.is_create() && boot_volume_replaced(&prior, &planned, plan.private == IMPORTED) {
            plan.requires_replace.push(AttrPath::attr("boot_volume"));
        }
        let Ok(client) = client(ctx, PLAN_CHECK_TIMEOUT) else {
            // No credentials yet: the create says which variable to set.
            return;
        };
        let Ok(state) = ctx.data::<ProviderState>() else {
            return;
        };
        let found = checks::check_plan(state.catalog(), &client, &config).await;
        plan.diagnostics.extend(found.diagnostics);
        if let (Some(se), Known::Unknown) = (found.secure_execution, &planned.secure_execution) {
            let planned = InstanceModel {
                secure_execution: Known::Value(se),
                ..planned
            };
            plan.planned = planned.to_value();
        }
    }

    async fn create(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let (config, planned) = match (
            InstanceModel::build(change.config),
            InstanceModel::build(change.planned),
        ) {
            (Ok(c), Ok(p)) => (c, p),
            (Err(d), _) | (_, Err(d)) => return Outcome::failed(Value::Null, d),
        };
        let client = match client(ctx, config.timeout(Op::Create)) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let default_rg = ctx
            .data::<ProviderState>()
            .ok()
            .and_then(|p| p.resource_group());
        let created = match client.create_instance(&config.prototype(default_rg)).await {
            Ok(v) => v,
            Err(e) => return Outcome::failed(Value::Null, create_refused(&e)),
        };
        // From here on every failure returns this state: the server is never lost.
        let partial = Value::Object(match planned.to_value().without_unknowns() {
            Value::Object(mut m) => {
                m.insert("id".into(), Value::string(&created.id));
                m
            }
            _ => Default::default(),
        });
        tracing::info!(id = %created.id, "instance created; waiting for running");
        let booted = match lifecycle::wait_running(ctx, &client, &created.id).await {
            Ok(running) => check_contract(ctx, &client, running, &config).await,
            Err(d) => Err(d),
        };
        match booted {
            Ok(api) => {
                let se = secure_execution(ctx, &client, &api).await;
                let mut state = InstanceModel::from_api(&api, &config, se);
                let wanted: Vec<String> =
                    config.tags.clone().value().into_iter().flatten().collect();
                if let Err(e) = client.attach_tags(&api.crn, &wanted).await {
                    // Null tags: the next plan attaches them again.
                    state.tags = Known::Null;
                    return failed(&state, tags::error(&api.id, "attach", &e));
                }
                Outcome::ok(state.to_value())
            }
            Err(d) => Outcome::failed(partial, d),
        }
    }

    async fn read(&self, ctx: &Ctx, state: Value, private: Vec<u8>) -> Outcome {
        let prior = match InstanceModel::build(&state) {
            Ok(m) => m,
            Err(d) => return Outcome::failed(state, d),
        };
        let client = match client(ctx, READ_TIMEOUT) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(state, d),
        };
        let Known::Value(id) = &prior.id else {
            return Outcome::failed(state, Diagnostic::error("The state has no instance id", ""));
        };
        let api = match client.get_instance(id).await {
            Ok(api) => api,
            // Deleted outside Terraform: the next plan creates it again.
            Err(e) if e.is_not_found() => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::failed(state, cloud_diagnostic("Cannot read the instance", &e))
            }
        };
        // Right after an import the state holds only the id and keys.
        let imported = prior.created_at.is_null() || private == IMPORTED;
        let se = match prior.secure_execution {
            Known::Value(se) => se,
            _ => secure_execution(ctx, &client, &api).await,
        };
        let mut new = InstanceModel::from_api(&api, &prior, se);
        // Managed tags are read back, so a tag changed out of band shows in the plan.
        if prior.tags.is_set() {
            match client.list_tags(&api.crn).await {
                Ok(current) => new.tags = Known::Value(current.into_iter().collect()),
                Err(e) => return Outcome::failed(state, tags::error(id, "read", &e)),
            }
        }
        let outcome = Outcome::ok(new.to_value());
        if imported {
            outcome.with_private(IMPORTED.to_vec())
        } else {
            outcome
        }
    }

    async fn update(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let (prior, config, planned) = match (
            InstanceModel::build(change.prior),
            InstanceModel::build(change.config),
            InstanceModel::build(change.planned),
        ) {
            (Ok(p), Ok(c), Ok(n)) => (p, c, n),
            (Err(d), _, _) | (_, Err(d), _) | (_, _, Err(d)) => {
                return Outcome::failed(change.prior.clone(), d)
            }
        };
        let client = match client(ctx, config.timeout(Op::Update)) {
            Ok(c) => c,
            Err(d) => return failed(&prior, d),
        };
        let Known::Value(id) = prior.id.clone() else {
            return failed(
                &prior,
                Diagnostic::error("The state has no instance id", ""),
            );
        };
        let se = prior.secure_execution.value().unwrap_or(false);
        let mut last: Option<CloudInstance> = None;

        if prior.name != planned.name {
            let patch = InstancePatch {
                name: config.name.clone().value(),
                ..InstancePatch::default()
            };
            match client.update_instance(&id, &patch).await {
                Ok(v) => last = Some(v),
                Err(e) => {
                    return failed(&prior, cloud_diagnostic("Cannot rename the instance", &e))
                }
            }
        }
        if let Some(patch) = planned.restart_patch(&prior) {
            match stop_patch_start(ctx, &client, &id, &patch, &config).await {
                Ok(v) => last = Some(v),
                Err(d) => {
                    // The server is still ours: record what it is now, so the state is honest.
                    let state = match client.get_instance(&id).await {
                        Ok(api) => InstanceModel::from_api(&api, &prior, se),
                        Err(_) => prior,
                    };
                    return failed(&state, d);
                }
            }
        }
        let api = match last {
            Some(v) => v,
            None => match client.get_instance(&id).await {
                Ok(v) => v,
                Err(e) => return failed(&prior, cloud_diagnostic("Cannot read the instance", &e)),
            },
        };
        // An update also takes in inputs the API never returns (after an import).
        let mut new = InstanceModel::from_api(&api, &config, se);
        if prior.tags != planned.tags {
            let wanted = planned.tags.clone().value().unwrap_or_default();
            if let Err(e) = tags::sync(&client, &api.crn, &wanted).await {
                new.tags = prior.tags.clone();
                return failed(&new, tags::error(&id, "update", &e));
            }
        }
        Outcome::ok(new.to_value()).with_private(Vec::new())
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let prior = match InstanceModel::build(prior) {
            Ok(m) => m,
            Err(d) => return d,
        };
        let client = match client(ctx, prior.timeout(Op::Delete)) {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let Known::Value(id) = &prior.id else {
            return Diagnostics::new();
        };
        match lifecycle::delete(ctx, &client, id).await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(schema::identity_schema())
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        let state = InstanceModel::build(state).ok()?;
        let id = state.id.value()?;
        Some(identity_of(&id, state.zone.as_deref().value()).to_value())
    }

    async fn import_by_identity(&self, ctx: &Ctx, identity: &Value) -> Result<Value, Diagnostics> {
        let identity = InstanceIdentity::build(identity)?;
        let Some(id) = identity.id.value().filter(|id| !id.is_empty()) else {
            return Err(Diagnostic::error(
                "Identity without id",
                "Importing a hyperprotect_instance by identity needs its `id`.",
            )
            .at(AttrPath::attr("id"))
            .into());
        };
        let ours = ctx.data::<ProviderState>().ok().and_then(|p| p.region());
        if let (Known::Value(wanted), Some(ours)) = (&identity.region, ours) {
            if wanted != ours {
                return Err(Diagnostic::error(
                    "Instance in another region",
                    format!(
                        "The identity names region {wanted:?} but this provider manages \
                         {ours:?}: use a provider configuration with `region = {wanted:?}`."
                    ),
                )
                .at(AttrPath::attr("region"))
                .into());
            }
        }
        self.import(ctx, &id).await
    }

    /// The id and the SSH keys (from the instance's initialization, the only place the API
    /// returns them) are all an import needs: `read` fills in the rest, and the inputs the
    /// API never returns (`user_data`, boot volume size and key) are taken from the
    /// configuration by the next plan.
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let client = client(ctx, READ_TIMEOUT)?;
        let api = client
            .get_instance(id)
            .await
            .map_err(|e| cloud_diagnostic(&format!("Cannot import instance {id}"), &e))?;
        let init = client.get_instance_initialization(id).await.map_err(|e| {
            cloud_diagnostic(&format!("Cannot read the SSH keys of instance {id}"), &e)
        })?;
        let keys: Vec<String> = init.keys.iter().map(|k| k.id.clone()).collect();
        let imported = InstanceModel {
            id: Known::Value(id.to_string()),
            // The zone too: the identity (region) must not change at the read that follows.
            zone: api
                .zone
                .as_ref()
                .map(|z| z.name.clone())
                .filter(|z| !z.is_empty())
                .into(),
            // No keys reads as "not set", so a configuration without `keys` matches.
            keys: if keys.is_empty() {
                Known::Null
            } else {
                Known::Value(keys)
            },
            boot_volume: Known::Value(Vec::new()),
            ..InstanceModel::default()
        };
        Ok(imported.to_value())
    }
}

/// Why a create was refused. A taken name most often means a server that an interrupted
/// apply (Terraform or the provider killed) created and never recorded: the diagnostic names
/// it and the `terraform import` that adopts it instead of creating a duplicate. Providers
/// are never told a resource's address, so the command shows `<address>`, which Terraform
/// prints with the diagnostic ("with …").
fn create_refused(e: &crate::cloud::Error) -> Diagnostic {
    let crate::cloud::Error::NameTaken {
        name,
        holder,
        refusal,
    } = e
    else {
        return cloud_diagnostic("Cannot create the instance", e);
    };
    let code = refusal.code().unwrap_or("conflict");
    let detail = match holder {
        Some(h) => format!(
            "Instance {id} (status `{status}`, created {created}) already has the name \
             `{name}`, and the VPC API refuses a second instance with the same name (HTTP 409 \
             `{code}`), so nothing was created. It is most likely a server that an earlier \
             apply created but could not record, because Terraform or the provider was killed \
             or lost its connection.\n\nTo manage that server with this resource, import it \
             (the address is this resource's, shown with this message) and apply again:\n\n   \
             terraform import '<address>' {id}\n\nOtherwise delete that server or give this \
             resource another name.",
            id = h.id,
            status = h.status,
            created = h.created_at.as_deref().unwrap_or("at an unknown time"),
        ),
        None => format!(
            "Another instance already has the name `{name}` and the VPC API refuses a second \
             one (HTTP 409 `{code}`), so nothing was created; looking it up by name failed. \
             Find it with `ibmcloud is instances`, then import it into this resource with \
             `terraform import '<address>' <its id>` (the address is this resource's, shown \
             with this message), delete it, or give this resource another name."
        ),
    };
    Diagnostic::error(format!("An instance named `{name}` already exists"), detail)
        .at(AttrPath::attr("name"))
}

/// Whether the `boot_volume` block's change replaces the server (any change does, except
/// the inputs the API cannot return, right after an import: they are taken from the
/// configuration).
fn boot_volume_replaced(prior: &InstanceModel, planned: &InstanceModel, imported: bool) -> bool {
    let block_added_after_import = imported && prior.boot_volume_count() == 0;
    if block_added_after_import {
        return false;
    }
    if prior.boot_volume_count() != planned.boot_volume_count() {
        return true;
    }
    let (Some(p), Some(n)) = (prior.boot_volume(), planned.boot_volume()) else {
        return false;
    };
    fn differs<T: PartialEq>(p: &Known<T>, n: &Known<T>, unreadable: bool) -> bool {
        !n.is_unknown() && p != n && !(unreadable && p.is_null())
    }
    differs(&p.name, &n.name, false)
        || differs(&p.size, &n.size, imported)
        || differs(&p.encryption_key, &n.encryption_key, imported)
}

/// Whether the server runs on a Secure Execution profile (from the shared catalog).
async fn secure_execution(ctx: &Ctx, client: &Client, api: &CloudInstance) -> bool {
    let Ok(state) = ctx.data::<ProviderState>() else {
        return false;
    };
    let name = api.profile.as_ref().map_or("", |p| p.name.as_str());
    state
        .catalog()
        .profile(client, name)
        .await
        .is_some_and(|p| p.secure_execution())
}

/// Watches the contract-check window of a freshly `running` Hyper Protect guest; returns
/// the instance as last seen.
async fn check_contract(
    ctx: &Ctx,
    client: &Client,
    running: CloudInstance,
    config: &InstanceModel,
) -> Result<CloudInstance, Diagnostic> {
    let image = config.image.as_deref().value().unwrap_or_default();
    let hyper_protect = match ctx.data::<ProviderState>() {
        Ok(state) => state
            .catalog()
            .image(client, image)
            .await
            .is_some_and(|i| crate::provider_data::catalog::is_hyper_protect(&i)),
        Err(_) => false,
    };
    let window = config.contract_check();
    if !hyper_protect || window.is_zero() {
        return Ok(running);
    }
    match lifecycle::watch_contract(ctx, client, &running.id, window).await? {
        None => Ok(running),
        Some(stopped) => Err(lifecycle::rejection(client, &stopped).await),
    }
}

/// Profile, confidential compute mode and secure boot change on a stopped server: stop,
/// PATCH, start, waiting at each step (and checking the contract again after the boot).
async fn stop_patch_start(
    ctx: &Ctx,
    client: &Client,
    id: &str,
    patch: &InstancePatch,
    config: &InstanceModel,
) -> Result<CloudInstance, Diagnostic> {
    lifecycle::act(ctx, client, id, ActionType::Stop).await?;
    client
        .update_instance(id, patch)
        .await
        .map_err(|e| cloud_diagnostic("Cannot update the stopped instance", &e))?;
    let running = lifecycle::act(ctx, client, id, ActionType::Start).await?;
    check_contract(ctx, client, running, config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_passes_terraforms_rules() {
        assert_eq!(schema::schema().check(), Ok(()));
        let user_data = schema::schema()
            .block
            .attribute("user_data")
            .cloned()
            .unwrap();
        assert!(user_data.sensitive && user_data.requires_replace);
    }

    #[test]
    fn a_boot_volume_change_replaces_except_unreadable_inputs_after_an_import() {
        use schema::BootVolumeModel;
        let with = |size: Known<i64>| InstanceModel {
            boot_volume: Known::Value(vec![BootVolumeModel {
                size,
                ..BootVolumeModel::default()
            }]),
            ..InstanceModel::default()
        };
        let none = InstanceModel {
            boot_volume: Known::Value(vec![]),
            ..InstanceModel::default()
        };
        assert!(boot_volume_replaced(
            &with(Known::Value(100)),
            &with(Known::Value(120)),
            false
        ));
        assert!(!boot_volume_replaced(
            &with(Known::Null),
            &with(Known::Value(120)),
            true
        ));
        assert!(!boot_volume_replaced(&none, &with(Known::Value(120)), true));
        assert!(boot_volume_replaced(&none, &with(Known::Value(120)), false));
        assert!(!boot_volume_replaced(
            &with(Known::Value(1)),
            &with(Known::Unknown),
            false
        ));
    }
}
