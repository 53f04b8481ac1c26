//! The cloud client: IBM Cloud IAM and the VPC API, with retries, paging and waits done
//! right. It knows nothing of Terraform: resources and data sources call it.
//!
//! # Building one
//! - [`ClientConfig::new`]`(api_key, region)` (IBM's public endpoints) then set
//!   `iam_endpoint`, `vpc_endpoint`, `api_version`, `retry.max_retries`, …;
//!   [`Client::new`]`(config)`. The provider builds it lazily: resources get it with
//!   `ProviderState::client_of(ctx)?` (a `Diagnostic` naming `IC_API_KEY` / `IC_REGION`
//!   when credentials are missing), or run one bounded, Ctrl-C-aware call with
//!   `crate::provider_data::cloud_call(ctx, "summary", timeout, |client| async move { … })`.
//!   `ProviderState::resource_group()` is the provider's default resource group.
//! - A [`Client`] is cheap to clone and clones share the token and connections.
//!   [`Client::with_timeout`]`(d)` gives a clone whose calls, retries and waits end `d`
//!   from now: use it with the resource's `timeouts` value.
//!
//! # Calls (all `async`, all `Result<_, `[`Error`]`>`)
//! - Instances ([`instances`]): `create_instance(&InstancePrototype) -> Instance`,
//!   `get_instance(id)`, `find_instance(id) -> Option<Instance>` (404 = `None`),
//!   `list_instances(filters)`, `update_instance(id, &InstancePatch)`,
//!   `delete_instance(id)` (202/204/404 = ok), `create_instance_action(id, ActionType, force)`.
//! - Waits (pass `ctx.stopped()` as `cancel`): `wait_for_instance_status(id, &[statuses],
//!   cancel)` (`failed` → [`Error::InstanceFailed`] with reasons),
//!   `wait_for_instance_created(id, cancel)`, `wait_for_instance_deleted(id, cancel)`, `watch_for_stop(id, window, cancel) ->
//!   Option<Instance>` (contract rejection check), `run_instance_action(id, action, force,
//!   cancel)` (409 waits for a legal state; ends at `running`/`stopped`),
//!   `delete_instance_and_wait(id, cancel)` (409 conflict waits and retries).
//!   Generic: [`wait::poll_until`]. The create, action and delete waits learn from each
//!   other when to poll ([`pace`]): in a fleet the first wait of a kind polls blind, the
//!   rest poll around the time it saw the change.
//! - Catalog ([`catalog`]): `list_regions()`, `list_zones(None | Some(region))`,
//!   `list_instance_profiles()`, `get_instance_profile(name)`, `list_images(filters)`,
//!   `get_image(id)`, `list_vpcs()`, `get_vpc(id)`, `list_subnets(Some(vpc_id))`,
//!   `get_subnet(id)`.
//! - Serial console ([`console`]): `create_console_access_token(id, ConsoleType::Serial,
//!   force)`, `read_serial_console(id, ConsoleLimits)` → the text.
//! - User tags ([`tagging`], Global Tagging API v3, by CRN): `attach_tags(crn, &tags)`,
//!   `detach_tags(crn, &tags)`, `list_tags(crn) -> BTreeSet<String>`;
//!   [`tagging::tag_changes`] gives what to attach and detach.
//!
//! # Errors
//! [`Error`]: `Api(ApiError)` (status, `errors[]` code/message, `trace`), `Iam`,
//! `Transport`, `Decode`, `Timeout`, `Cancelled`, `InstanceFailed`, `Config`, `Console`.
//! Helpers: `is_not_found()`, `is_conflict()`, `status()`, `code()`. `Display` is fit for
//! a diagnostic and never contains a token or the API key.
//!
//! # Behaviour
//! Every VPC call carries `version` and `generation=2`; lists follow `next`; 429 and 5xx
//! (not 501) are retried ([`retry`]); a 401 refreshes the IAM token, at most 3 times a call
//! ([`iam`]); enums decode unknown values to `Other(String)` ([`models`]).

mod backoff;
pub mod catalog;
pub mod client;
pub mod console;
pub mod error;
mod http;
pub mod iam;
pub mod instances;
pub mod models;
pub mod pace;
pub mod retry;
pub mod tagging;
pub mod wait;

pub use backoff::PollBackoff;
pub use client::{
    Client, ClientConfig, DEFAULT_API_VERSION, DEFAULT_IAM_ENDPOINT, DEFAULT_TAGGING_ENDPOINT,
};
pub use console::ConsoleLimits;
pub use error::{ApiError, Error};
pub use models::*;
pub use retry::RetryPolicy;
