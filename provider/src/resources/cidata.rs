//! `hyperprotect_cidata`: the cloud-init NoCloud disk (ISO 9660, label `cidata`) a CCRT /
//! CCRV guest on a KVM host reads its contract from, written to a local file, built
//! in-process by the `cidata` engine (no genisoimage or mkisofs). Its `sha256` and `size` are
//! known at plan when the inputs are. Like `local_file` of hashicorp/local, a file that is
//! missing or changed on disk is planned for re-creation, and destroy deletes it.

use std::io::Write;
use std::path::Path;

use async_trait::async_trait;

use crate::cidata::{self, network_config, Seed, SeedError};
use crate::contract::document::sha256_hex;
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Type, Value};

use super::common::{set, string, Known};

pub struct Cidata;

fn schema() -> Schema {
    let attributes = vec![
        Attribute::required("user_data", Type::String)
            .sensitive()
            .describe(
                "The contract the guest boots with (e.g. `hyperprotect_contract.rendered`), \
                 written as the disk's `user-data`.",
            ),
        Attribute::required("hostname", Type::String).describe(
            "The guest's host name, written as `local-hostname` in `meta-data` (RFC 1123: \
             labels of letters, digits and `-` joined by `.`).",
        ),
        Attribute::optional("instance_id", Type::String).describe(
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
struct Inputs {
    user_data: String,
    hostname: String,
    instance_id: Option<String>,
    vendor_data: Option<String>,
    network_config: Option<String>,
}

impl Inputs {
    fn of(config: &Value) -> Option<Inputs> {
        let required = |name| match string(config, name) {
            Known::Value(v) => Some(v.to_string()),
            _ => None,
        };
        let optional = |name| match string(config, name) {
            Known::Value(v) => Some(Some(v.to_string())),
            Known::Null => Some(None),
            Known::Unknown => None,
        };
        Some(Inputs {
            user_data: required("user_data")?,
            hostname: required("hostname")?,
            instance_id: optional("instance_id")?,
            vendor_data: optional("vendor_data")?,
            network_config: optional("network_config")?,
        })
    }

    fn seed(&self) -> Seed<'_> {
        Seed {
            user_data: &self.user_data,
            hostname: &self.hostname,
            instance_id: self.instance_id.as_deref(),
            vendor_data: self.vendor_data.as_deref(),
            network_config: self.network_config.as_deref(),
        }
    }
}

/// Each known input checked on its own, so every problem shows at its attribute.
fn check_config(config: &Value, diags: &mut Diagnostics) {
    if let Known::Value(u) = string(config, "user_data") {
        if u.trim().is_empty() {
            diags.error_at(
                AttrPath::attr("user_data"),
                "Empty user_data",
                "Set user_data to the contract, e.g. hyperprotect_contract's rendered.",
            );
        }
    }
    if let Known::Value(h) = string(config, "hostname") {
        if let Err(e) = cidata::check_hostname(h) {
            diags.error_at(
                AttrPath::attr("hostname"),
                "Invalid hostname",
                e.to_string(),
            );
        }
    }
    if let Known::Value(id) = string(config, "instance_id") {
        if let Err(e) = cidata::check_instance_id(id) {
            diags.error_at(
                AttrPath::attr("instance_id"),
                "Invalid instance_id",
                e.to_string(),
            );
        }
    }
    if let Known::Value(text) = string(config, "network_config") {
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
fn build(config: &Value) -> Option<Result<(Vec<u8>, String), SeedError>> {
    let inputs = Inputs::of(config)?;
    Some(inputs.seed().build().map(|image| {
        let sha = sha256_hex(&image);
        (image, sha)
    }))
}

fn set_outputs(state: &mut Value, sha: Option<&str>, size: Option<usize>) {
    let sha = sha.map(Value::string).unwrap_or(Value::Unknown);
    set(state, "id", sha.clone());
    set(state, "sha256", sha);
    let size = size
        .map(|n| Value::number(n as u64))
        .unwrap_or(Value::Unknown);
    set(state, "size", size);
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
    let mut diags = Diagnostics::new();
    check_config(change.config, &mut diags);
    if diags.has_errors() {
        return Outcome::failed(Value::Null, diags);
    }
    let Known::Value(path) = string(change.config, "path") else {
        diags.error_at(
            AttrPath::attr("path"),
            "Unknown path",
            "path must be known when the disk is written.",
        );
        return Outcome::failed(Value::Null, diags);
    };
    let (image, sha) = match build(change.config) {
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
    let mut state = change.planned.clone();
    set_outputs(&mut state, Some(&sha), Some(image.len()));
    let mut outcome = Outcome::ok(state);
    outcome.diagnostics = diags;
    outcome
}

#[async_trait]
impl Resource for Cidata {
    fn type_name(&self) -> &'static str {
        "hyperprotect_cidata"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        check_config(config, diags);
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        // The image is a pure function of the inputs: plan its sha256 and size when they are
        // known, so an unchanged configuration plans nothing and a changed one shows them.
        match build(plan.config) {
            Some(Ok((image, sha))) => set_outputs(&mut plan.planned, Some(&sha), Some(image.len())),
            // Validation already reported it at its attribute.
            Some(Err(_)) | None => set_outputs(&mut plan.planned, None, None),
        }
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        let (Known::Value(path), Known::Value(sha)) =
            (string(&state, "path"), string(&state, "sha256"))
        else {
            return Outcome::ok(state);
        };
        match std::fs::read(path) {
            // Changed on disk: re-create, as local_file does.
            Ok(bytes) if sha256_hex(&bytes) != sha => Outcome::ok(Value::Null),
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
        if let Known::Value(path) = string(prior, "path") {
            match std::fs::remove_file(path) {
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
