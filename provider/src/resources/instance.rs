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
//! - Resource identity (Terraform ≥ 1.12): `id` and `region` ([`identity_of`]), so
//!   `import { identity = { id = "…" } }` works and the list resource of the same name
//!   (`terraform query`) can name what it finds.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cloud::models::ActionType;
use crate::cloud::models::{
    BootVolumeAttachmentPrototype, ConfidentialComputeMode, CrnRef, IdRef,
    Instance as CloudInstance, InstancePatch, InstancePrototype, NameRef,
    NetworkAttachmentPrototype, StatusReason, VirtualNetworkInterfacePrototype, VolumePrototype,
};
use crate::cloud::{Client, ConsoleLimits};
use crate::provider::{cloud_diagnostic, ProviderState};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::plan::{self, get, Marking};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{
    Attribute, Block, BlockNesting, IdentityAttribute, IdentitySchema, NestedBlock, Schema,
};
use crate::runtime::value::{Number, Type, Value};

pub(crate) mod catalog;
mod lifecycle;
mod tags;

use catalog::Catalog;

/// The VPC API's `user_data` limit ("64 K bytes").
pub const USER_DATA_MAX: usize = 65_536;
/// The default of `contract_check_seconds`.
pub const DEFAULT_CONTRACT_CHECK: Duration = Duration::from_secs(60);

/// The longest `contract_check_seconds` accepted: one day (a guest decides in a minute).
const MAX_CONTRACT_CHECK_SECONDS: f64 = 86_400.0;
/// How long plan-time catalog checks may take.
const PLAN_CHECK_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a refresh or an import may take.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// The default of every `timeouts` entry.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Private-state marker of an imported server whose write-once inputs (user_data, boot
/// volume size and key) were not readable: the next plan takes them from the configuration.
const IMPORTED: &[u8] = b"imported";

pub struct Instance {
    catalog: Catalog,
}

impl Instance {
    pub fn new() -> Instance {
        Instance {
            catalog: Catalog::default(),
        }
    }
}

impl Default for Instance {
    fn default() -> Self {
        Instance::new()
    }
}

// ---------------------------------------------------------------- schema

fn status_reason_type() -> Type {
    Type::object([("code", Type::String), ("message", Type::String)])
}

fn schema() -> Schema {
    let replace = |a: Attribute| a.requires_replace();
    Schema::new(
        0,
        Block::new(vec![
            Attribute::computed("id", Type::String)
                .use_state_for_unknown()
                .describe("The instance id (as `terraform import` takes it)."),
            Attribute::required("name", Type::String).describe(
                "Instance name, unique in the region; a hostname (lowercase letters, digits and \
                 `-`, 1–63 characters). Changes in place.",
            ),
            Attribute::required("profile", Type::String).describe(
                "Instance profile, e.g. `bz2e-2x8` (IBM Secure Execution, needed by Hyper \
                 Protect images) or `bx3dc-2x10` (Intel TDX/SGX). Changes by stop, update, \
                 start.",
            ),
            replace(Attribute::required("image", Type::String)).describe(
                "Image id, e.g. from `data.hyperprotect_image`. A Hyper Protect image needs a \
                 Secure Execution profile and the reverse (checked at plan). Replaces the \
                 server.",
            ),
            replace(Attribute::required("zone", Type::String))
                .describe("Zone of the provider's region, e.g. `us-south-2`. Replaces the server."),
            replace(Attribute::required("vpc", Type::String))
                .describe("VPC id (the subnet's VPC). Replaces the server."),
            replace(Attribute::required("subnet", Type::String)).describe(
                "Subnet id of the primary network attachment, in `zone`. Replaces the server.",
            ),
            replace(Attribute::optional("keys", Type::list(Type::String))).describe(
                "SSH key ids given to the server at create (Hyper Protect guests ignore them: \
                 they have no SSH). Replaces the server. The API returns them only in the \
                 instance's initialization, which an import reads; they cannot change \
                 afterwards, so a refresh does not read them again.",
            ),
            replace(Attribute::optional("user_data", Type::String))
                .sensitive()
                .describe(
                    "The contract, usually `hyperprotect_contract.<name>.rendered`; at most \
                     64 KiB. Not returned by the API, so never read back (after an import it \
                     is taken from the configuration without replacing the server). Replaces \
                     the server.",
                ),
            replace(Attribute::optional_computed("resource_group", Type::String))
                .use_state_for_unknown()
                .describe(
                    "Resource group id; the account's default group when not set. Replaces the \
                 server.",
                ),
            Attribute::optional_computed("confidential_compute_mode", Type::String).describe(
                "`disabled`, `sgx` or `tdx`, for x86 confidential profiles (must be one the \
                 profile supports; checked at plan); the profile's default when not set. \
                 Changes by stop, update, start.",
            ),
            Attribute::optional_computed("enable_secure_boot", Type::Bool).describe(
                "Secure boot, where the profile supports it; the profile's default when not \
                 set. Changes by stop, update, start.",
            ),
            Attribute::optional("tags", Type::set(Type::String)).describe(
                "User tags attached to the instance through the Global Tagging API \
                     (provider `tagging_endpoint`). Read back on refresh; changes in place.",
            ),
            Attribute::optional("contract_check_seconds", Type::Number).describe(
                "How long to watch a Hyper Protect guest after it reaches `running`: a guest \
                 that rejects its contract powers itself off, and a stop in this window fails \
                 the apply with the reason from its serial console. Default 60 (IBM's Hyper \
                 Protect bootloader decides within the first minute; mock-cloud within 2 s). \
                 0 turns the check off.",
            ),
            Attribute::computed("crn", Type::String)
                .use_state_for_unknown()
                .describe("The instance CRN."),
            Attribute::computed("status", Type::String).describe(
                "VPC status: `running`, `stopped`, `failed`, … (`running` does not prove the \
                 workload is healthy; see `contract_check_seconds`).",
            ),
            Attribute::computed("status_reasons", Type::list(status_reason_type()))
                .describe("Why the instance has its status (`code`, `message`)."),
            Attribute::computed("primary_ipv4_address", Type::String)
                .use_state_for_unknown()
                .describe("Primary IPv4 address of the primary network attachment."),
            Attribute::computed("vcpu", Type::Number)
                .describe("Number of virtual CPUs (from the profile)."),
            Attribute::computed("memory", Type::Number)
                .describe("Memory in GiB (from the profile)."),
            Attribute::computed("created_at", Type::String)
                .use_state_for_unknown()
                .describe("Creation time (RFC 3339)."),
            Attribute::computed("secure_execution", Type::Bool)
                .use_state_for_unknown()
                .describe(
                    "True when the server runs under IBM Secure Execution (`*z2e-*` profile).",
                ),
        ])
        .with_blocks(vec![
            NestedBlock::new(
                "boot_volume",
                BlockNesting::List,
                Block::new(vec![
                    Attribute::optional_computed("name", Type::String)
                        .use_state_for_unknown()
                        .describe("Boot volume name; `<instance name>-boot` when not set."),
                    Attribute::optional("size", Type::Number).describe(
                        "Capacity in GB; the image's minimum (100 for Hyper Protect) when not \
                         set. Not read back from the API.",
                    ),
                    Attribute::optional("encryption_key", Type::String).describe(
                        "CRN of a Key Protect or Hyper Protect Crypto Services root key \
                         encrypting the volume; provider-managed encryption when not set. Not \
                         read back from the API.",
                    ),
                ])
                .describe("The boot volume (any change replaces the server)."),
            )
            .items(0, 1),
            NestedBlock::new(
                "timeouts",
                BlockNesting::Single,
                Block::new(
                    ["create", "update", "delete"]
                        .into_iter()
                        .map(|op| {
                            Attribute::optional(op, Type::String).describe(format!(
                                "How long {op} may take, e.g. `30m`, `1h30m`, `90s` (default 30m)."
                            ))
                        })
                        .collect(),
                )
                .describe("How long each operation may wait for the cloud."),
            ),
        ])
        .describe(
            "A confidential virtual server on IBM Cloud VPC: a Hyper Protect guest (IBM Secure \
             Execution) running its contract, or an x86 confidential server (Intel TDX/SGX).",
        ),
    )
}

// ---------------------------------------------------------------- configuration

fn string_of(v: &Value, name: &str) -> Option<String> {
    get(v, name).as_str().map(str::to_string)
}

fn strings_of(v: &Value, name: &str) -> Vec<String> {
    get(v, name)
        .as_elements()
        .map(|e| {
            e.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn int_of(v: &Value, name: &str) -> Option<i64> {
    get(v, name).as_number().and_then(Number::as_i64)
}

/// The one `boot_volume` block, if any.
fn boot_volume(v: &Value) -> &Value {
    get(v, "boot_volume")
        .as_elements()
        .and_then(|e| e.first())
        .unwrap_or(&Value::Null)
}

/// Which operation a timeout is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// Parses Go-style durations as Terraform users write them: `30m`, `1h30m`, `90s`, `2h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += value * unit;
        any = true;
    }
    if !number.is_empty() || !any || !total.is_finite() {
        return None;
    }
    Some(Duration::from_secs_f64(total))
}

fn timeout(v: &Value, op: Op) -> Duration {
    get(get(v, "timeouts"), op.name())
        .as_str()
        .and_then(parse_duration)
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn contract_check(v: &Value) -> Duration {
    match get(v, "contract_check_seconds")
        .as_number()
        .and_then(Number::to_f64_lossy)
    {
        // `try_`: a number too large for a Duration must not panic (validation refuses
        // it, but this runs on stored state too).
        Some(s) if s.is_finite() && s >= 0.0 => {
            Duration::try_from_secs_f64(s.min(MAX_CONTRACT_CHECK_SECONDS))
                .unwrap_or(DEFAULT_CONTRACT_CHECK)
        }
        _ => DEFAULT_CONTRACT_CHECK,
    }
}

/// The POST /instances body for a configuration (`default_rg`: the provider's
/// `resource_group`, used when the resource sets none).
fn prototype(config: &Value, default_rg: Option<&str>) -> InstancePrototype {
    let bv = boot_volume(config);
    InstancePrototype {
        name: string_of(config, "name").unwrap_or_default(),
        profile: NameRef::new(string_of(config, "profile").unwrap_or_default()),
        image: IdRef::new(string_of(config, "image").unwrap_or_default()),
        zone: NameRef::new(string_of(config, "zone").unwrap_or_default()),
        vpc: string_of(config, "vpc").map(IdRef::new),
        primary_network_attachment: NetworkAttachmentPrototype {
            name: Some("eth0".into()),
            virtual_network_interface: VirtualNetworkInterfacePrototype {
                subnet: IdRef::new(string_of(config, "subnet").unwrap_or_default()),
                name: None,
            },
        },
        keys: strings_of(config, "keys")
            .into_iter()
            .map(IdRef::new)
            .collect(),
        user_data: string_of(config, "user_data"),
        boot_volume_attachment: Some(BootVolumeAttachmentPrototype {
            delete_volume_on_instance_delete: true,
            volume: VolumePrototype {
                // IBM names an unnamed volume with random words: send the documented name.
                name: string_of(bv, "name").or_else(|| {
                    string_of(config, "name").map(|n| crate::cloud::instances::boot_volume_name(&n))
                }),
                capacity: int_of(bv, "size").and_then(|s| u64::try_from(s).ok()),
                profile: NameRef::new("general-purpose"),
                encryption_key: string_of(bv, "encryption_key").map(|crn| CrnRef { crn }),
            },
        }),
        resource_group: string_of(config, "resource_group")
            .or_else(|| default_rg.map(str::to_string))
            .map(IdRef::new),
        confidential_compute_mode: string_of(config, "confidential_compute_mode")
            .map(|m| ConfidentialComputeMode::from(m.as_str())),
        enable_secure_boot: get(config, "enable_secure_boot").as_bool(),
    }
}

// ---------------------------------------------------------------- state

fn opt_string(v: Option<&str>) -> Value {
    v.filter(|s| !s.is_empty())
        .map(Value::string)
        .unwrap_or(Value::Null)
}

/// A server's state: what the API returned, plus the inputs it never returns taken from
/// `inputs` (the configuration on create, the prior state later).
fn state_from(api: &CloudInstance, inputs: &Value, secure_execution: bool) -> Value {
    let mut s: BTreeMap<String, Value> = BTreeMap::new();
    s.insert("id".into(), Value::string(&api.id));
    s.insert("crn".into(), opt_string(Some(&api.crn)));
    s.insert("name".into(), opt_string(Some(&api.name)));
    s.insert(
        "profile".into(),
        opt_string(api.profile.as_ref().map(|p| p.name.as_str())),
    );
    s.insert(
        "image".into(),
        opt_string(api.image.as_ref().map(|i| i.id.as_str())),
    );
    s.insert(
        "zone".into(),
        opt_string(api.zone.as_ref().map(|z| z.name.as_str())),
    );
    s.insert(
        "vpc".into(),
        opt_string(api.vpc.as_ref().map(|v| v.id.as_str())),
    );
    s.insert("subnet".into(), opt_string(api.primary_subnet_id()));
    s.insert(
        "primary_ipv4_address".into(),
        opt_string(api.primary_ipv4_address()),
    );
    s.insert(
        "resource_group".into(),
        opt_string(api.resource_group.as_ref().map(|r| r.id.as_str())),
    );
    s.insert(
        "confidential_compute_mode".into(),
        Value::string(
            api.confidential_compute_mode
                .as_ref()
                .map_or("disabled", ConfidentialComputeMode::as_str),
        ),
    );
    s.insert(
        "enable_secure_boot".into(),
        Value::Bool(api.enable_secure_boot.unwrap_or(false)),
    );
    s.insert("status".into(), Value::string(api.status.as_str()));
    s.insert(
        "status_reasons".into(),
        Value::list(api.status_reasons.iter().map(|r| {
            Value::object([
                ("code", Value::string(&r.code)),
                ("message", Value::string(&r.message)),
            ])
        })),
    );
    s.insert(
        "vcpu".into(),
        api.vcpu
            .as_ref()
            .map_or(Value::Null, |v| Value::number(v.count)),
    );
    s.insert(
        "memory".into(),
        api.memory.map_or(Value::Null, Value::number),
    );
    s.insert("created_at".into(), opt_string(api.created_at.as_deref()));
    s.insert("secure_execution".into(), Value::Bool(secure_execution));
    // Never returned by the API: kept from the inputs.
    for name in [
        "keys",
        "user_data",
        "tags",
        "contract_check_seconds",
        "timeouts",
    ] {
        s.insert(name.into(), known_or_null(get(inputs, name)));
    }
    let has_block = get(inputs, "boot_volume")
        .as_elements()
        .is_some_and(|e| !e.is_empty());
    let bv = boot_volume(inputs);
    let api_name = api
        .boot_volume_attachment
        .as_ref()
        .and_then(|a| a.volume.as_ref())
        .and_then(|v| v.name.as_deref());
    s.insert(
        "boot_volume".into(),
        if has_block {
            Value::list([Value::object([
                (
                    "name",
                    match api_name {
                        Some(n) => Value::string(n),
                        None => known_or_null(get(bv, "name")),
                    },
                ),
                ("size", known_or_null(get(bv, "size"))),
                ("encryption_key", known_or_null(get(bv, "encryption_key"))),
            ])])
        } else {
            Value::list([])
        },
    );
    Value::Object(s)
}

fn known_or_null(v: &Value) -> Value {
    if v.is_wholly_known() {
        v.clone()
    } else {
        Value::Null
    }
}

fn describe_reasons(reasons: &[StatusReason]) -> String {
    if reasons.is_empty() {
        return "the API gave no reason".into();
    }
    reasons
        .iter()
        .map(|r| format!("{}: {}", r.code, r.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The planned state with unknowns nulled and the id set: what is recorded when a step after
/// the create fails (Terraform then taints the server instead of losing it).
fn partial_state(id: &str, planned: &Value) -> Value {
    let mut s = match planned {
        Value::Object(m) => m.clone(),
        _ => BTreeMap::new(),
    };
    for v in s.values_mut() {
        let known = match &*v {
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|item| match item {
                        Value::Object(m) => Value::Object(
                            m.iter()
                                .map(|(k, v)| (k.clone(), known_or_null(v)))
                                .collect(),
                        ),
                        other => known_or_null(other),
                    })
                    .collect(),
            ),
            other => known_or_null(other),
        };
        *v = known;
    }
    s.insert("id".into(), Value::string(id));
    Value::Object(s)
}

/// The cloud client, its calls and waits bounded by `limit` (the operation's timeout).
fn client(ctx: &Ctx, limit: Duration) -> Result<Client, Diagnostic> {
    Ok(ProviderState::client_of(ctx)?.with_timeout(limit))
}

fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// What the restart-requiring part of an update changes (`None` when nothing does).
fn restart_patch(prior: &Value, planned: &Value) -> Option<InstancePatch> {
    let changed = |name: &str| {
        let p = get(planned, name);
        !p.is_unknown() && !p.is_null() && get(prior, name) != p
    };
    let patch = InstancePatch {
        name: None,
        profile: changed("profile")
            .then(|| NameRef::new(string_of(planned, "profile").unwrap_or_default())),
        confidential_compute_mode: changed("confidential_compute_mode")
            .then(|| {
                get(planned, "confidential_compute_mode")
                    .as_str()
                    .map(ConfidentialComputeMode::from)
            })
            .flatten(),
        enable_secure_boot: changed("enable_secure_boot")
            .then(|| get(planned, "enable_secure_boot").as_bool())
            .flatten(),
    };
    (!patch.is_empty()).then_some(patch)
}

// ---------------------------------------------------------------- resource

#[async_trait::async_trait]
impl Resource for Instance {
    fn type_name(&self) -> &'static str {
        "hyperprotect_instance"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if let Some(ud) = get(config, "user_data").as_str() {
            if ud.len() > USER_DATA_MAX {
                diags.error_at(
                    AttrPath::attr("user_data"),
                    "user_data is too large",
                    format!(
                        "user_data is {} bytes; the VPC API accepts at most {USER_DATA_MAX} \
                         bytes (64 KiB). Shrink the contract (e.g. a smaller compose archive).",
                        ud.len()
                    ),
                );
            }
        }
        if let Some(n) = get(config, "contract_check_seconds").as_number() {
            if n.to_f64_lossy()
                .is_none_or(|s| !(0.0..=MAX_CONTRACT_CHECK_SECONDS).contains(&s))
            {
                diags.error_at(
                    AttrPath::attr("contract_check_seconds"),
                    "Invalid contract_check_seconds",
                    "contract_check_seconds must be 0 to 86400 (one day).",
                );
            }
        }
        if let Some(name) = get(config, "name").as_str() {
            if !is_hostname(name) {
                diags.error_at(
                    AttrPath::attr("name"),
                    "Invalid instance name",
                    format!(
                        "{name:?} is not a valid instance name: use 1–63 lowercase letters, \
                         digits and `-`, starting with a letter and not ending with `-`."
                    ),
                );
            }
        }
        if let Some(mode) = get(config, "confidential_compute_mode").as_str() {
            if !["disabled", "sgx", "tdx"].contains(&mode) {
                diags.error_at(
                    AttrPath::attr("confidential_compute_mode"),
                    "Invalid confidential_compute_mode",
                    format!("{mode:?} is not one of `disabled`, `sgx`, `tdx`."),
                );
            }
        }
        let timeouts = get(config, "timeouts");
        for op in [Op::Create, Op::Update, Op::Delete] {
            if let Some(text) = get(timeouts, op.name()).as_str() {
                if parse_duration(text).is_none() {
                    diags.error_at(
                        AttrPath::attr("timeouts").then_attr(op.name()),
                        "Invalid timeout",
                        format!("{text:?} is not a duration such as `30m`, `1h30m` or `90s`."),
                    );
                }
            }
        }
    }

    async fn modify_plan(&self, ctx: &Ctx, plan: &mut Plan<'_>) {
        if !plan.is_create() {
            plan_update(plan);
        }
        let Ok(client) = client(ctx, PLAN_CHECK_TIMEOUT) else {
            // No credentials yet: the create says which variable to set.
            return;
        };
        let checks = self.catalog.check_plan(&client, plan.config).await;
        plan.diagnostics.extend(checks.diagnostics);
        if plan.is_create() {
            if let Some(image) = string_of(plan.config, "image") {
                if self
                    .catalog
                    .image(&client, &image)
                    .await
                    .is_some_and(|i| catalog::is_hyper_protect(&i))
                {
                    let (summary, detail) = crate::cloud::catalog::hpvs_for_vpc_closed_notice();
                    plan.diagnostics
                        .push(Diagnostic::warning(summary, detail).at(AttrPath::attr("image")));
                }
            }
        }
        if let (Some(se), Value::Object(m)) = (checks.secure_execution, &mut plan.planned) {
            if m.get("secure_execution").is_some_and(Value::is_unknown) {
                m.insert("secure_execution".into(), Value::Bool(se));
            }
        }
    }

    async fn create(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let config = change.config;
        let client = match client(ctx, timeout(config, Op::Create)) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let default_rg = ctx
            .data::<ProviderState>()
            .ok()
            .and_then(|p| p.resource_group());
        let created = match client.create_instance(&prototype(config, default_rg)).await {
            Ok(v) => v,
            Err(e) => return Outcome::failed(Value::Null, create_refused(&e)),
        };
        // From here on every failure returns this state: the server is never lost.
        let partial = partial_state(&created.id, change.planned);
        tracing::info!(id = %created.id, "instance created; waiting for running");
        let booted = match lifecycle::wait_running(ctx, &client, &created.id).await {
            Ok(running) => self.check_contract(ctx, &client, running, config).await,
            Err(d) => Err(d),
        };
        match booted {
            Ok(api) => {
                let se = self.secure_execution(&client, &api).await;
                let mut state = state_from(&api, config, se);
                let wanted: Vec<String> = tags::of(config).into_iter().flatten().collect();
                if let Err(e) = client.attach_tags_and_wait(&api.crn, &wanted).await {
                    // Null tags: the next plan attaches them again.
                    tags::set_in(&mut state, None);
                    return Outcome::failed(state, tags::error(&api.id, "attach", &e));
                }
                Outcome::ok(state)
            }
            Err(d) => Outcome::failed(partial, d),
        }
    }

    async fn read(&self, ctx: &Ctx, state: Value, private: Vec<u8>) -> Outcome {
        let client = match client(ctx, READ_TIMEOUT) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(state, d),
        };
        let Some(id) = string_of(&state, "id") else {
            return Outcome::failed(state, Diagnostic::error("The state has no instance id", ""));
        };
        let api = match client.get_instance(&id).await {
            Ok(api) => api,
            // Deleted outside Terraform: the next plan creates it again.
            Err(e) if e.is_not_found() => return Outcome::ok(Value::Null),
            Err(e) => {
                return Outcome::failed(state, cloud_diagnostic("Cannot read the instance", &e))
            }
        };
        // Right after an import the state holds only the id and keys.
        let imported = get(&state, "created_at").is_null() || private == IMPORTED;
        let se = match get(&state, "secure_execution").as_bool() {
            Some(se) => se,
            None => self.secure_execution(&client, &api).await,
        };
        let mut new = state_from(&api, &state, se);
        // Managed tags are read back, so a tag changed out of band shows in the plan.
        if tags::of(&state).is_some() {
            match tags::read(&client, &api.crn, &state).await {
                Ok(current) => tags::set_in(&mut new, Some(&current)),
                Err(e) => return Outcome::failed(state, tags::error(&id, "read", &e)),
            }
        }
        if imported {
            Outcome::ok(new).with_private(IMPORTED.to_vec())
        } else {
            Outcome::ok(new)
        }
    }

    async fn update(&self, ctx: &Ctx, change: Change<'_>) -> Outcome {
        let prior = change.prior.clone();
        let config = change.config;
        let client = match client(ctx, timeout(config, Op::Update)) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(prior, d),
        };
        let Some(id) = string_of(&prior, "id") else {
            return Outcome::failed(prior, Diagnostic::error("The state has no instance id", ""));
        };
        let se = get(&prior, "secure_execution").as_bool().unwrap_or(false);
        let mut last: Option<CloudInstance> = None;

        if get(&prior, "name") != get(change.planned, "name") {
            let patch = InstancePatch {
                name: string_of(config, "name"),
                ..InstancePatch::default()
            };
            match client.update_instance(&id, &patch).await {
                Ok(v) => last = Some(v),
                Err(e) => {
                    return Outcome::failed(
                        prior,
                        cloud_diagnostic("Cannot rename the instance", &e),
                    )
                }
            }
        }
        if let Some(patch) = restart_patch(&prior, change.planned) {
            match self
                .stop_patch_start(ctx, &client, &id, &patch, config)
                .await
            {
                Ok(v) => last = Some(v),
                Err(d) => {
                    // The server is still ours: record what it is now, so the state is honest.
                    let state = match client.get_instance(&id).await {
                        Ok(api) => state_from(&api, &prior, se),
                        Err(_) => prior,
                    };
                    return Outcome::failed(state, d);
                }
            }
        }
        let api = match last {
            Some(v) => v,
            None => match client.get_instance(&id).await {
                Ok(v) => v,
                Err(e) => {
                    return Outcome::failed(prior, cloud_diagnostic("Cannot read the instance", &e))
                }
            },
        };
        // An update also takes in inputs the API never returns (after an import).
        let mut new = state_from(&api, config, se);
        let wanted = tags::of(change.planned);
        if tags::of(&prior) != wanted {
            let wanted = wanted.unwrap_or_default();
            if let Err(e) = tags::sync(&client, &api.crn, &wanted).await {
                tags::set_in(&mut new, tags::of(&prior).as_ref());
                return Outcome::failed(new, tags::error(&id, "update", &e));
            }
        }
        Outcome::ok(new).with_private(Vec::new())
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let client = match client(ctx, timeout(prior, Op::Delete)) {
            Ok(c) => c,
            Err(d) => return d.into(),
        };
        let Some(id) = string_of(prior, "id") else {
            return Diagnostics::new();
        };
        match lifecycle::delete(ctx, &client, &id).await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema::new(
            0,
            vec![
                IdentityAttribute::required("id", Type::String, "The instance id."),
                IdentityAttribute::optional(
                    "region",
                    Type::String,
                    "The VPC region of the instance (e.g. `us-south`); when given on import it \
                     must be the provider's region.",
                ),
            ],
        ))
    }

    fn identity(&self, state: &Value) -> Option<Value> {
        let id = get(state, "id").as_str()?;
        Some(identity_of(id, get(state, "zone").as_str()))
    }

    async fn import_by_identity(&self, ctx: &Ctx, identity: &Value) -> Result<Value, Diagnostics> {
        let Some(id) = get(identity, "id").as_str().filter(|id| !id.is_empty()) else {
            return Err(Diagnostic::error(
                "Identity without id",
                "Importing a hyperprotect_instance by identity needs its `id`.",
            )
            .at(AttrPath::attr("id"))
            .into());
        };
        let ours = ctx.data::<ProviderState>().ok().and_then(|p| p.region());
        if let (Some(wanted), Some(ours)) = (get(identity, "region").as_str(), ours) {
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
        self.import(ctx, id).await
    }

    /// The id and the SSH keys (from the instance's initialization, the only place the API
    /// returns them) are all an import needs: `read` fills in the rest, and the inputs the
    /// API never returns (`user_data`, boot volume size and key) are taken from the
    /// configuration by the next plan.
    async fn import(&self, ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let client = client(ctx, READ_TIMEOUT)?;
        match client.get_instance(id).await {
            Ok(api) => {
                let init = client.get_instance_initialization(id).await.map_err(|e| {
                    cloud_diagnostic(&format!("Cannot read the SSH keys of instance {id}"), &e)
                })?;
                // No keys reads as "not set", so a configuration without `keys` matches.
                let keys = if init.keys.is_empty() {
                    Value::Null
                } else {
                    Value::list(init.keys.iter().map(|k| Value::string(&k.id)))
                };
                let Type::Object(ty) = schema().block.implied_type() else {
                    return Err(
                        Diagnostic::error("Cannot import", "schema is not an object").into(),
                    );
                };
                // The zone too: the identity (region) must not change at the read that follows.
                let zone = opt_string(api.zone.as_ref().map(|z| z.name.as_str()));
                Value::object_of(
                    &ty,
                    [
                        ("id", Value::string(id)),
                        ("zone", zone),
                        ("keys", keys),
                        ("boot_volume", Value::list([])),
                    ],
                )
                .map_err(|e| Diagnostic::error("Cannot import", e.to_string()).into())
            }
            Err(e) => Err(cloud_diagnostic(&format!("Cannot import instance {id}"), &e).into()),
        }
    }
}

/// The resource identity of instance `id` in `zone` (`us-south-2`): its region is the zone
/// name without the trailing zone number (null when the zone is unknown). Shared with the
/// list resource.
pub fn identity_of(id: &str, zone: Option<&str>) -> Value {
    let region = zone.and_then(|z| {
        let (region, number) = z.rsplit_once('-')?;
        (!region.is_empty() && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
            .then_some(region)
    });
    Value::object([
        ("id", Value::string(id)),
        ("region", region.map_or(Value::Null, Value::string)),
    ])
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
    let http = refusal.status;
    let detail = match holder {
        Some(h) => format!(
            "Instance {id} (status `{status}`, created {created}) already has the name \
             `{name}`, and the VPC API refuses a second instance with the same name (HTTP \
             {http} `{code}`), so nothing was created. It is most likely a server that an earlier \
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
             one (HTTP {http} `{code}`), so nothing was created; looking it up by name failed. \
             Find it with `ibmcloud is instances`, then import it into this resource with \
             `terraform import '<address>' <its id>` (the address is this resource's, shown \
             with this message), delete it, or give this resource another name."
        ),
    };
    Diagnostic::error(format!("An instance named `{name}` already exists"), detail)
        .at(AttrPath::attr("name"))
}

/// Update plans: the `boot_volume` block replaces the server on any change, and inputs the
/// API cannot return do not force a replacement right after an import (they are taken from
/// the configuration).
fn plan_update(plan: &mut Plan<'_>) {
    let imported = plan.private == IMPORTED;
    let prior_bv = boot_volume(plan.prior);
    let planned_bv = boot_volume(&plan.planned);
    let count = |v: &Value| {
        get(v, "boot_volume")
            .as_elements()
            .map_or(0, <[Value]>::len)
    };
    let block_added_after_import = imported && count(plan.prior) == 0;
    let differs = |name: &str| {
        let (p, n) = (get(prior_bv, name), get(planned_bv, name));
        let unreadable = imported && p.is_null() && name != "name";
        !n.is_unknown() && p != n && !unreadable && !block_added_after_import
    };
    let count_changed = count(plan.prior) != count(&plan.planned) && !block_added_after_import;
    if count_changed || ["name", "size", "encryption_key"].into_iter().any(differs) {
        plan.requires_replace.push(AttrPath::attr("boot_volume"));
    }
    if imported {
        let before = plan.requires_replace.len();
        plan.requires_replace.retain(|p| {
            let unreadable = ["user_data", "keys"]
                .into_iter()
                .any(|name| *p == AttrPath::attr(name) && get(plan.prior, name).is_null());
            !unreadable
        });
        if plan.requires_replace.is_empty() && before > 0 {
            // No longer a replacement: plan it as an update (keep ids and computed values).
            plan::mark_computed(
                &plan.schema.block,
                plan.config,
                plan.prior,
                &mut plan.planned,
                Marking::Update,
            );
        }
    }
}

impl Instance {
    async fn secure_execution(&self, client: &Client, api: &CloudInstance) -> bool {
        let name = api.profile.as_ref().map_or("", |p| p.name.as_str());
        self.catalog
            .profile(client, name)
            .await
            .is_some_and(|p| p.secure_execution())
    }

    /// Watches the contract-check window of a freshly `running` Hyper Protect guest; returns
    /// the instance as last seen.
    async fn check_contract(
        &self,
        ctx: &Ctx,
        client: &Client,
        running: CloudInstance,
        config: &Value,
    ) -> Result<CloudInstance, Diagnostic> {
        let image = string_of(config, "image").unwrap_or_default();
        let hyper_protect = self
            .catalog
            .image(client, &image)
            .await
            .is_some_and(|i| catalog::is_hyper_protect(&i));
        let window = contract_check(config);
        if !hyper_protect || window.is_zero() {
            return Ok(running);
        }
        // The console is open from `running` on: the reason is gone once the guest stops.
        let console =
            client.capture_serial_console(&running.id, ConsoleLimits::default().max_bytes);
        match lifecycle::watch_contract(ctx, client, &running.id, window).await? {
            None => Ok(running),
            Some(stopped) => Err(lifecycle::rejection(&stopped, console.finish().await)),
        }
    }

    /// Profile, confidential compute mode and secure boot change on a stopped server: stop,
    /// PATCH, start, waiting at each step (and checking the contract again after the boot).
    async fn stop_patch_start(
        &self,
        ctx: &Ctx,
        client: &Client,
        id: &str,
        patch: &InstancePatch,
        config: &Value,
    ) -> Result<CloudInstance, Diagnostic> {
        lifecycle::act(ctx, client, id, ActionType::Stop).await?;
        client
            .update_instance(id, patch)
            .await
            .map_err(|e| cloud_diagnostic("Cannot update the stopped instance", &e))?;
        let running = lifecycle::act(ctx, client, id, ActionType::Start).await?;
        self.check_contract(ctx, client, running, config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "30", "m", "10x", "1h30"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn schema_passes_terraforms_rules() {
        assert_eq!(schema().check(), Ok(()));
    }

    #[test]
    fn every_attribute_is_described() {
        fn walk(b: &Block, at: &str) {
            for a in &b.attributes {
                assert!(
                    !a.description.is_empty(),
                    "{at}{} has no description",
                    a.name
                );
            }
            for nb in &b.blocks {
                assert!(
                    !nb.block.description.is_empty(),
                    "{at}{} block",
                    nb.type_name
                );
                walk(&nb.block, &format!("{at}{}.", nb.type_name));
            }
        }
        walk(&schema().block, "");
        let user_data = schema().block.attribute("user_data").cloned().unwrap();
        assert!(user_data.sensitive && user_data.requires_replace);
    }

    #[test]
    fn state_keeps_inputs_the_api_never_returns() {
        let api: CloudInstance = serde_json::from_value(serde_json::json!({
            "id": "0717_i1", "crn": "crn:i1", "name": "web", "status": "running",
            "profile": {"name": "bz2e-2x8"}, "image": {"id": "r006-img"},
            "zone": {"name": "us-south-2"}, "vpc": {"id": "r006-vpc"},
            "primary_network_attachment": {"subnet": {"id": "0717-sn"}, "primary_ip": {"address": "10.0.0.4"}},
            "resource_group": {"id": "rg"}, "vcpu": {"count": 2}, "memory": 8,
            "created_at": "2026-12-01T00:00:00Z", "status_reasons": [],
            "boot_volume_attachment": {"volume": {"id": "r006-vol", "name": "web-boot"}},
            "unknown_field": {"ignored": true},
        }))
        .unwrap();
        let inputs = Value::object([
            ("user_data", Value::string("contract")),
            (
                "boot_volume",
                Value::list([Value::object([("size", Value::number(120))])]),
            ),
        ]);
        let s = state_from(&api, &inputs, true);
        assert_eq!(get(&s, "user_data").as_str(), Some("contract"));
        assert_eq!(get(&s, "subnet").as_str(), Some("0717-sn"));
        assert_eq!(get(&s, "primary_ipv4_address").as_str(), Some("10.0.0.4"));
        assert_eq!(
            get(&s, "confidential_compute_mode").as_str(),
            Some("disabled")
        );
        assert_eq!(get(boot_volume(&s), "name").as_str(), Some("web-boot"));
        assert_eq!(
            get(boot_volume(&s), "size")
                .as_number()
                .and_then(Number::as_i64),
            Some(120)
        );
        let ty = schema().block.implied_type();
        let Type::Object(o) = ty else { panic!() };
        for name in o.attributes.keys() {
            assert!(s.attr(name).is_some(), "state lacks {name}");
        }
    }

    #[test]
    fn prototype_uses_a_network_attachment_and_the_boot_volume() {
        let config = Value::object([
            ("name", Value::string("web")),
            ("profile", Value::string("bz2e-2x8")),
            ("image", Value::string("r006-img")),
            ("zone", Value::string("us-south-2")),
            ("vpc", Value::string("r006-vpc")),
            ("subnet", Value::string("0717-sn")),
            ("user_data", Value::string("contract")),
            (
                "boot_volume",
                Value::list([Value::object([
                    ("size", Value::number(150)),
                    ("encryption_key", Value::string("crn:key")),
                ])]),
            ),
        ]);
        let p = serde_json::to_value(prototype(&config, None)).unwrap();
        assert_eq!(
            p["primary_network_attachment"]["virtual_network_interface"]["subnet"]["id"],
            "0717-sn"
        );
        assert_eq!(p["boot_volume_attachment"]["volume"]["capacity"], 150);
        assert_eq!(
            p["boot_volume_attachment"]["volume"]["encryption_key"]["crn"],
            "crn:key"
        );
        assert_eq!(p["user_data"], "contract");
        assert!(p.get("confidential_compute_mode").is_none());
    }

    #[test]
    fn identity_region_is_the_zone_without_its_number() {
        let region = |zone| get(&identity_of("i-1", zone), "region").clone();
        assert_eq!(region(Some("us-south-2")), Value::string("us-south"));
        assert_eq!(region(Some("eu-de-10")), Value::string("eu-de"));
        assert_eq!(region(Some("nozone")), Value::Null);
        assert_eq!(region(Some("us-south-")), Value::Null);
        assert_eq!(region(None), Value::Null);
        assert_eq!(get(&identity_of("i-1", None), "id"), &Value::string("i-1"));
    }
}
