//! `hyperprotect_cidata`: the cloud-init NoCloud disk (ISO 9660, label `cidata`) a CCRT /
//! CCRV guest on a KVM host reads its contract from, written to a local file, built
//! in-process by the `cidata` engine (no genisoimage or mkisofs). Its `sha256` and `size` are
//! known at plan when the inputs are. Like `local_file` of hashicorp/local, a file that is
//! missing or changed on disk is planned for re-creation, and destroy deletes it.

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;

use crate::cidata::{network_config, Seed, SeedError};
use crate::contract::document::sha256_hex;
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, Number, ToValue, Type, Value};

pub struct CidataResource;

model! {
    /// The configuration, plan or state of one disk.
    pub struct CidataModel {
        pub user_data: Known<String> [sensitive],
        pub hostname: Known<String>,
        pub instance_id: Known<String>,
        pub vendor_data: Known<String>,
        pub network_config: Known<String>,
        pub path: Known<String>,
        pub id: Known<String>,
        pub sha256: Known<String>,
        pub size: Known<Number>,
    }
}

/// A host name as RFC 1123 writes it (the engine's `check_hostname`, declared for plan time
/// and the docs).
const HOSTNAME: &str = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";
/// The engine's `check_instance_id`.
const INSTANCE_ID: &str = r"^[A-Za-z0-9_][A-Za-z0-9._-]*$";

fn schema() -> Schema {
    let attributes = vec![
        Attribute::required("user_data", Type::String)
            .sensitive()
            .not_empty()
            .describe(
                "The contract the guest boots with (e.g. `hyperprotect_contract.rendered`), \
                 written as the disk's `user-data`.",
            ),
        Attribute::required("hostname", Type::String)
            .length(1, 253)
            .matches(HOSTNAME, "a host name (RFC 1123)")
            .hint("Use labels of 1 to 63 letters, digits or `-` (not first or last) joined by `.`.")
            .describe(
            "The guest's host name, written as `local-hostname` in `meta-data` (RFC 1123: \
             labels of letters, digits and `-` joined by `.`).",
        ),
        Attribute::optional("instance_id", Type::String)
            .length(1, 255)
            .matches(INSTANCE_ID, "an instance id")
            .describe(
            "`instance-id` in `meta-data` (letters, digits, `.`, `_`, `-`); the host name when \
             not set. cloud-init treats a new id as a new instance.",
        ),
        Attribute::optional("vendor_data", Type::String).describe(
            "The disk's `vendor-data`. When not set, IBM's sample (`#cloud-config`, then \
             `users:` with `- default`); an empty string gives an empty file, as IBM's \
             operator writes it.",
        ),
        Attribute::optional("network_config", Type::String).describe(
            "Static networking as YAML (cloud-init network config version 2 under \
             `network:`), written as `network-config`; no such file when not set. Checked at \
             plan by IBM's rules for CCRT / CCRV: interfaces named `enc<N>`, `dhcp4` \
             required, `addresses` (IPv4 with prefix length, at least one), `gateway4`, \
             `routes` and `nameservers` only with `dhcp4: false`; YAML, not JSON.",
        ),
        Attribute::required("path", Type::String)
            .requires_replace()
            .describe(
                "Where to write the image (relative paths are relative to Terraform's working \
                 directory); missing folders are created. A file that is missing or changed \
                 on disk is planned for re-creation; destroy deletes it.",
            ),
        Attribute::computed("id", Type::String)
            .describe("The SHA-256 (hex) of the image, as `sha256`."),
        Attribute::computed("sha256", Type::String).describe(
            "SHA-256 (hex) of the image. The same inputs always give the same image, so it \
             is known at plan when the inputs are.",
        ),
        Attribute::computed("size", Type::Number).describe("Size of the image in bytes."),
    ];
    Schema::new(
        0,
        Block::new(attributes).describe(
            "The cloud-init disk (ISO 9660, volume id `cidata`) a CCRT / CCRV guest on a KVM \
             host reads its contract from: `user-data`, `meta-data`, `vendor-data` and \
             optional `network-config`, with Rock Ridge and Joliet names, built in-process \
             and byte-identical for the same inputs (no genisoimage or mkisofs needed).",
        ),
    )
}

/// The disk's inputs when all are known: `None` while any is unknown.
fn seed(model: &CidataModel) -> Option<Seed<'_>> {
    fn optional(k: &Known<String>) -> Option<Option<&str>> {
        match k {
            Known::Value(v) => Some(Some(v.as_str())),
            Known::Null => Some(None),
            Known::Unknown => None,
        }
    }
    Some(Seed {
        user_data: model.user_data.as_deref().value()?,
        hostname: model.hostname.as_deref().value()?,
        instance_id: optional(&model.instance_id)?,
        vendor_data: optional(&model.vendor_data)?,
        network_config: optional(&model.network_config)?,
    })
}

/// What the declared rules cannot say: a blank contract, and IBM's network-config rules
/// (each finding at `network_config`, with its YAML path).
fn check_config(config: &CidataModel, diags: &mut Diagnostics) {
    if let Known::Value(u) = &config.user_data {
        if !u.is_empty() && u.trim().is_empty() {
            diags.error_at(
                AttrPath::attr("user_data"),
                "Empty user_data",
                "Set user_data to the contract, e.g. hyperprotect_contract's rendered.",
            );
        }
    }
    if let Known::Value(text) = &config.network_config {
        let report = network_config::check(text);
        let at = |path: &str| {
            if path.is_empty() {
                "the document".to_string()
            } else {
                path.to_string()
            }
        };
        for f in &report.errors {
            diags.error_at(
                AttrPath::attr("network_config"),
                "Invalid network_config",
                format!(
                    "{}: {} (IBM's rules for CCRT / CCRV network configuration).",
                    at(&f.path),
                    f.message
                ),
            );
        }
        for f in &report.warnings {
            diags.warning_at(
                AttrPath::attr("network_config"),
                "Doubtful network_config",
                format!("{}: {}.", at(&f.path), f.message),
            );
        }
    }
}

/// The image and its sha256 for known, valid inputs.
fn build(model: &CidataModel) -> Option<Result<(Vec<u8>, String), SeedError>> {
    Some(seed(model)?.build().map(|image| {
        let sha = sha256_hex(&image);
        (image, sha)
    }))
}

/// The model with its outputs: the image's sha256 and size, or unknown.
fn with_outputs(model: CidataModel, built: Option<(&str, usize)>) -> CidataModel {
    let (sha, size) = match built {
        Some((sha, size)) => (
            Known::Value(sha.to_string()),
            Known::Value(Number::from(size as u64)),
        ),
        None => (Known::Unknown, Known::Unknown),
    };
    CidataModel {
        id: sha.clone(),
        sha256: sha,
        size,
        ..model
    }
}

/// Writes the image through a temporary file in the same folder and a rename, so a reader
/// (or an interrupted apply) never sees half an image.
fn write_image(path: &Path, image: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(image)?;
        f.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn apply(change: Change<'_>) -> Outcome {
    let (config, planned) = match (
        CidataModel::build(change.config),
        CidataModel::build(change.planned),
    ) {
        (Ok(c), Ok(p)) => (c, p),
        (c, p) => {
            let mut diags = Diagnostics::new();
            for d in [c.err(), p.err()].into_iter().flatten() {
                diags.extend(d);
            }
            return Outcome::failed(Value::Null, diags);
        }
    };
    let mut diags = Diagnostics::new();
    check_config(&config, &mut diags);
    if diags.has_errors() {
        return Outcome::failed(Value::Null, diags);
    }
    let Known::Value(path) = &config.path else {
        diags.error_at(
            AttrPath::attr("path"),
            "Unknown path",
            "path must be known when the disk is written.",
        );
        return Outcome::failed(Value::Null, diags);
    };
    let (image, sha) = match build(&config) {
        Some(Ok(built)) => built,
        Some(Err(e)) => {
            diags.error("Cannot build the cidata disk", e.to_string());
            return Outcome::failed(Value::Null, diags);
        }
        None => {
            diags.error(
                "Unknown inputs",
                "Every input of the disk must be known when it is written.",
            );
            return Outcome::failed(Value::Null, diags);
        }
    };
    if let Err(e) = write_image(Path::new(path), &image) {
        diags.error_at(
            AttrPath::attr("path"),
            "Cannot write the cidata disk",
            format!("Writing {path}: {e}. Check that the folder is writable."),
        );
        return Outcome::failed(Value::Null, diags);
    }
    let state = with_outputs(planned, Some((&sha, image.len())));
    let mut outcome = Outcome::ok(state.to_value());
    outcome.diagnostics = diags;
    outcome
}

#[async_trait]
impl Resource for CidataResource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_cidata"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(CidataModel::fields())
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        match CidataModel::build(config) {
            Ok(config) => check_config(&config, diags),
            Err(d) => diags.extend(d),
        }
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        let (config, planned) = match (
            CidataModel::build(plan.config),
            CidataModel::build(&plan.planned),
        ) {
            (Ok(c), Ok(p)) => (c, p),
            (c, p) => {
                for d in [c.err(), p.err()].into_iter().flatten() {
                    plan.diagnostics.extend(d);
                }
                return;
            }
        };
        // The image is a pure function of the inputs: plan its sha256 and size when they are
        // known, so an unchanged configuration plans nothing and a changed one shows them.
        // Invalid inputs were reported at their attribute by validate.
        let built = build(&config).and_then(Result::ok);
        let planned = with_outputs(planned, built.as_ref().map(|(i, s)| (s.as_str(), i.len())));
        plan.planned = planned.to_value();
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        let prior = match CidataModel::build(&state) {
            Ok(m) => m,
            Err(d) => return Outcome::failed(state, d),
        };
        let (Known::Value(path), Known::Value(sha)) = (&prior.path, &prior.sha256) else {
            return Outcome::ok(state);
        };
        match std::fs::read(path) {
            // Changed on disk: re-create, as local_file does.
            Ok(bytes) if &sha256_hex(&bytes) != sha => Outcome::ok(Value::Null),
            Ok(_) => Outcome::ok(state),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::ok(Value::Null),
            Err(e) => {
                let mut diags = Diagnostics::new();
                diags.error_at(
                    AttrPath::attr("path"),
                    "Cannot read the cidata disk",
                    format!("Reading {path}: {e}."),
                );
                Outcome::failed(state, diags)
            }
        }
    }

    async fn update(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change)
    }

    async fn delete(&self, _ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let path = match CidataModel::build(prior) {
            Ok(m) => m.path,
            Err(d) => return d,
        };
        if let Known::Value(path) = path {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => diags.error_at(
                    AttrPath::attr("path"),
                    "Cannot delete the cidata disk",
                    format!("Deleting {path}: {e}."),
                ),
            }
        }
        diags
    }
}
