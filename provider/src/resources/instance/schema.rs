//! `hyperprotect_instance`'s schema (with its declared rules) and models: the configuration,
//! plan and state share one shape, [`InstanceModel`].

use std::collections::BTreeSet;

use crate::model;
use crate::runtime::schema::{
    Attribute, Block, BlockNesting, IdentityAttribute, IdentitySchema, NestedBlock, ReplaceRequest,
    Schema,
};
use crate::runtime::value::{Known, Number, Type};

/// The VPC API's `user_data` limit ("64 K bytes").
pub const USER_DATA_MAX: usize = 65_536;
/// The longest `contract_check_seconds` accepted: one day (a guest decides in a minute).
pub const MAX_CONTRACT_CHECK_SECONDS: f64 = 86_400.0;

/// Private-state marker of an imported server whose write-once inputs (user_data, boot
/// volume size and key) were not readable: the next plan takes them from the configuration.
pub const IMPORTED: &[u8] = b"imported";

model! {
    /// The configuration, plan or state of one server.
    #[derive(Default)]
    pub struct InstanceModel {
        pub id: Known<String>,
        pub name: Known<String>,
        pub profile: Known<String>,
        pub image: Known<String>,
        pub zone: Known<String>,
        pub vpc: Known<String>,
        pub subnet: Known<String>,
        pub keys: Known<Vec<String>>,
        pub user_data: Known<String> [sensitive],
        pub resource_group: Known<String>,
        pub confidential_compute_mode: Known<String>,
        pub enable_secure_boot: Known<bool>,
        pub tags: Known<BTreeSet<String>>,
        pub contract_check_seconds: Known<Number>,
        pub crn: Known<String>,
        pub status: Known<String>,
        pub status_reasons: Known<Vec<StatusReasonModel>>,
        pub primary_ipv4_address: Known<String>,
        pub vcpu: Known<Number>,
        pub memory: Known<Number>,
        pub created_at: Known<String>,
        pub secure_execution: Known<bool>,
        pub boot_volume: Known<Vec<BootVolumeModel>>,
        pub timeouts: Known<TimeoutsModel>,
    }
}

model! {
    /// One entry of `status_reasons`.
    pub struct StatusReasonModel {
        pub code: String,
        pub message: String,
    }
}

model! {
    /// The `boot_volume` block.
    #[derive(Default)]
    pub struct BootVolumeModel {
        pub name: Known<String>,
        pub size: Known<i64>,
        pub encryption_key: Known<String>,
    }
}

model! {
    /// The `timeouts` block.
    #[derive(Default)]
    pub struct TimeoutsModel {
        pub create: Known<String>,
        pub update: Known<String>,
        pub delete: Known<String>,
    }
}

model! {
    /// The resource identity: the instance id and its region.
    pub struct InstanceIdentity {
        pub id: Known<String>,
        pub region: Known<String>,
    }
}

impl InstanceModel {
    /// The one `boot_volume` block, if any.
    pub fn boot_volume(&self) -> Option<&BootVolumeModel> {
        match &self.boot_volume {
            Known::Value(blocks) => blocks.first(),
            _ => None,
        }
    }

    /// How many `boot_volume` blocks (0 or 1).
    pub fn boot_volume_count(&self) -> usize {
        self.boot_volume.as_ref().value().map_or(0, Vec::len)
    }
}

/// `user_data` and `keys` are not returned by the API: right after an import they are null
/// in the state, and setting them from the configuration must not replace the server.
fn unless_unreadable_after_import(change: &ReplaceRequest<'_>) -> bool {
    !(change.private == IMPORTED && change.prior.is_null())
}

/// The resource identity schema: `id`, and `region` (optional on import).
pub fn identity_schema() -> IdentitySchema {
    IdentitySchema::new(
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
    )
}

fn status_reason_type() -> Type {
    Type::object([("code", Type::String), ("message", Type::String)])
}

/// The resource schema, with its declared rules.
pub fn schema() -> Schema {
    let replace = |a: Attribute| a.requires_replace();
    Schema::new(
        0,
        Block::new(vec![
            Attribute::computed("id", Type::String)
                .use_state_for_unknown()
                .describe("The instance id (as `terraform import` takes it)."),
            Attribute::required("name", Type::String)
                .hostname()
                .describe(
                    "Instance name, unique in the region; a hostname (lowercase letters, \
                     digits and `-`, 1–63 characters). Changes in place.",
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
            Attribute::optional("keys", Type::list(Type::String))
                .requires_replace_if(unless_unreadable_after_import)
                .describe(
                    "SSH key ids given to the server at create (Hyper Protect guests ignore them: \
                 they have no SSH). Replaces the server. The API returns them only in the \
                 instance's initialization, which an import reads; they cannot change \
                 afterwards, so a refresh does not read them again.",
                ),
            Attribute::optional("user_data", Type::String)
                .requires_replace_if(unless_unreadable_after_import)
                .length(0, USER_DATA_MAX)
                .hint("Shrink the contract (e.g. a smaller compose archive).")
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
            Attribute::optional_computed("confidential_compute_mode", Type::String)
                .one_of(&["disabled", "sgx", "tdx"])
                .describe(
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
            Attribute::optional("contract_check_seconds", Type::Number)
                .number_range(0.0, MAX_CONTRACT_CHECK_SECONDS)
                .describe(
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
                            Attribute::optional(op, Type::String)
                                .duration()
                                .describe(format!(
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
