//! What the contract resources share: reading config values that may be unknown, the
//! encryption-certificate and platform attributes with their plan-time checks, schema
//! violations as diagnostics at the attribute, and `hyperprotect_workload` /
//! `hyperprotect_encrypted_text`'s common life cycle (one plaintext, stored or write-only,
//! sealed once into a token). Terraform glue only: the crypto is the contract engine's.

use openssl::pkey::{PKey, Public};
use time::OffsetDateTime;

use crate::contract::certs::{self, ExpiryStatus};
use crate::contract::document::sha256_hex;
use crate::contract::keys;
use crate::contract::schema::{self, SectionKind};
use crate::contract::token::{self, Platform};
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{Attribute, Schema};
use crate::runtime::value::{Type, Value};

/// A config value as far as it is known at this point of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known<T> {
    Null,
    Unknown,
    Value(T),
}

impl<T> Known<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }
}

/// The string attribute `name` of `object`.
pub fn string<'a>(object: &'a Value, name: &str) -> Known<&'a str> {
    match get(object, name) {
        Value::Null => Known::Null,
        Value::Unknown => Known::Unknown,
        v => v.as_str().map(Known::Value).unwrap_or(Known::Unknown),
    }
}

/// The whole-number attribute `name` of `object`.
pub fn integer(object: &Value, name: &str) -> Known<i64> {
    match get(object, name) {
        Value::Null => Known::Null,
        Value::Unknown => Known::Unknown,
        v => v
            .as_number()
            .and_then(|n| n.as_i64())
            .map(Known::Value)
            .unwrap_or(Known::Unknown),
    }
}

/// Sets attribute `name` of an object value.
pub fn set(object: &mut Value, name: &str, value: Value) {
    if let Value::Object(fields) = object {
        fields.insert(name.to_string(), value);
    }
}

pub const CERTIFICATE: &str = "encryption_certificate";
pub const PLATFORM: &str = "platform";

pub fn certificate_attribute() -> Attribute {
    Attribute::required(CERTIFICATE, Type::String).describe(
        "The platform's encryption certificate (PEM, or base64 of PEM), e.g. from the \
         `hyperprotect_encryption_certificate` data source. Sections are encrypted to its RSA \
         key. An expired certificate is an error, one expiring within 180 days a warning.",
    )
}

pub fn platform_attribute() -> Attribute {
    Attribute::optional(PLATFORM, Type::String).describe(
        "The platform the token is for: `hpvs` (default) or `ccco` use the \
         `hyper-protect-basic.` prefix, `ccrt` and `ccrv` the `contract-basic.` prefix.",
    )
}

/// The configured platform; `Unknown` when unknown or invalid (`check_platform` reports it).
pub fn platform(config: &Value) -> Known<Platform> {
    match string(config, PLATFORM) {
        Known::Null => Known::Value(Platform::default()),
        Known::Unknown => Known::Unknown,
        Known::Value(s) => s.parse().map(Known::Value).unwrap_or(Known::Unknown),
    }
}

pub fn check_platform(config: &Value, diags: &mut Diagnostics) {
    if let Known::Value(s) = string(config, PLATFORM) {
        if let Err(e) = s.parse::<Platform>() {
            diags.error_at(AttrPath::attr(PLATFORM), "Invalid platform", e.to_string());
        }
    }
}

/// Parses the encryption certificate and checks that it can be encrypted to now: not
/// expired, an RSA key. Warns when it expires within 180 days.
pub fn encryption_key(text: &str, diags: &mut Diagnostics) -> Option<PKey<Public>> {
    let at = AttrPath::attr(CERTIFICATE);
    let summary = "Unusable encryption certificate";
    let cert = match certs::parse_encryption_cert(text) {
        Ok(c) => c,
        Err(e) => {
            diags.error_at(at, summary, e.to_string());
            return None;
        }
    };
    let status = certs::expiry_status(&cert, OffsetDateTime::now_utc());
    match status {
        ExpiryStatus::Expired { .. } => {
            diags.error_at(at, summary, status.to_string());
            return None;
        }
        ExpiryStatus::ExpiresSoon { .. } => diags.warning_at(
            at.clone(),
            "Encryption certificate expires soon",
            status.to_string(),
        ),
        ExpiryStatus::Valid { .. } => {}
    }
    if let Err(e) = certs::require_encryption_purpose(&cert) {
        diags.error_at(at, summary, e.to_string());
        return None;
    }
    let key = cert
        .x509()
        .public_key()
        .map_err(|e| e.to_string())
        .and_then(|k| keys::require_rsa(&k).map(|()| k).map_err(|e| e.to_string()));
    match key {
        Ok(k) => Some(k),
        Err(reason) => {
            diags.error_at(at, summary, format!("encryption certificate: {reason}"));
            None
        }
    }
}

/// Checks a plaintext section against the contract schema; every violation becomes an error
/// at `attribute` naming the YAML path (never the value).
pub fn check_section(kind: SectionKind, text: &str, attribute: &str, diags: &mut Diagnostics) {
    if token::looks_like_token(text) {
        diags.error_at(
            AttrPath::attr(attribute),
            "Section already encrypted",
            format!(
                "{attribute} is an encrypted token, but a plaintext {} section is expected here.",
                kind.name()
            ),
        );
        return;
    }
    if let Err(violations) = schema::validate_section(kind, text) {
        for v in violations {
            diags.error_at(
                AttrPath::attr(attribute),
                format!("Invalid {} section", kind.name()),
                format!("{}: {}", v.path, v.message),
            );
        }
    }
}

/// Names of one sealed text's attributes (`content` or `text`, with their write-only twins).
pub struct SealedText {
    /// The stored plaintext attribute.
    pub stored: &'static str,
    pub write_only: &'static str,
    pub version: &'static str,
    /// Schema to check the plaintext against, if it is a contract section.
    pub section: Option<SectionKind>,
}

impl SealedText {
    /// The plaintext, from whichever of the two attributes is set.
    pub fn text<'a>(&self, config: &'a Value) -> Known<&'a str> {
        match string(config, self.stored) {
            Known::Null => string(config, self.write_only),
            other => other,
        }
    }

    pub fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let stored = string(config, self.stored);
        let write_only = string(config, self.write_only);
        match (stored, write_only) {
            (Known::Null, Known::Null) => diags.error_at(
                AttrPath::attr(self.stored),
                "Missing plaintext",
                format!(
                    "Set exactly one of {} and {}.",
                    self.stored, self.write_only
                ),
            ),
            (Known::Null, _) | (_, Known::Null) => {}
            _ => diags.error_at(
                AttrPath::attr(self.write_only),
                "Conflicting attributes",
                format!(
                    "{} and {} are exclusive: set the write-only form to keep the plaintext out \
                     of state, or the stored one, not both.",
                    self.stored, self.write_only
                ),
            ),
        }
        if !matches!(integer(config, self.version), Known::Null) && write_only == Known::Null {
            diags.error_at(
                AttrPath::attr(self.version),
                "Version without a write-only value",
                format!(
                    "{} only applies together with {}.",
                    self.version, self.write_only
                ),
            );
        }
        check_platform(config, diags);
        if let Known::Value(cert) = string(config, CERTIFICATE) {
            encryption_key(cert, diags);
        }
        if let (Some(kind), Known::Value(text)) = (self.section, self.text(config)) {
            let at = if stored == Known::Null {
                self.write_only
            } else {
                self.stored
            };
            check_section(kind, text, at, diags);
        }
    }

    /// Plans a new token only when an input changed: the plaintext (by its hash), the
    /// certificate, the platform or the write-only version. Otherwise the prior token stays.
    pub fn modify_plan(&self, plan: &mut Plan<'_>) {
        let digest = self
            .text(plan.config)
            .value()
            .map(|t| sha256_hex(t.as_bytes()));
        let unchanged = !plan.is_create()
            && digest.as_deref() == string(plan.prior, "sha256").value()
            && [CERTIFICATE, PLATFORM]
                .iter()
                .all(|a| get(plan.prior, a) == get(plan.config, a))
            && get(plan.prior, self.version) == get(plan.config, self.version);
        for out in ["id", "encrypted", "sha256"] {
            let value = if unchanged {
                get(plan.prior, out).clone()
            } else {
                Value::Unknown
            };
            set(&mut plan.planned, out, value);
        }
        if let (false, Some(d)) = (unchanged, digest) {
            set(&mut plan.planned, "sha256", Value::string(d));
        }
    }

    /// Encrypts the plaintext (create, or an update that changed an input).
    pub fn seal(&self, change: Change<'_>) -> Outcome {
        let mut diags = Diagnostics::new();
        let config = change.config;
        self.validate(config, &mut diags);
        let (Known::Value(text), Known::Value(cert), Known::Value(platform)) = (
            self.text(config),
            string(config, CERTIFICATE),
            platform(config),
        ) else {
            diags.push(Diagnostic::error(
                "Incomplete configuration",
                "The plaintext, encryption_certificate and platform must be known at apply.",
            ));
            return Outcome::failed(Value::Null, diags);
        };
        let Some(key) = encryption_key(cert, &mut Diagnostics::new()) else {
            return Outcome::failed(Value::Null, diags);
        };
        if diags.has_errors() {
            return Outcome::failed(Value::Null, diags);
        }
        let encrypted = match token::encrypt(text.as_bytes(), &key, platform) {
            Ok(t) => t,
            Err(e) => {
                diags.error_at(
                    AttrPath::attr(CERTIFICATE),
                    "Encryption failed",
                    e.to_string(),
                );
                return Outcome::failed(Value::Null, diags);
            }
        };
        let mut state = change.planned.clone();
        set(&mut state, "id", Value::string(token_id(&encrypted)));
        set(
            &mut state,
            "sha256",
            Value::string(sha256_hex(text.as_bytes())),
        );
        set(&mut state, "encrypted", Value::string(encrypted));
        let mut outcome = Outcome::ok(state);
        outcome.diagnostics = diags;
        outcome
    }
}

/// A short, stable id for an object whose only identity is a token it made.
pub fn token_id(token: &str) -> String {
    sha256_hex(token.as_bytes())[..16].to_string()
}

/// The attribute descriptions every sealed text shares.
pub fn sealed_outputs(what: &str) -> Vec<Attribute> {
    vec![
        Attribute::computed("id", Type::String).describe(format!(
            "First 16 hex digits of the SHA-256 of `encrypted`: changes whenever {what} is \
             encrypted anew."
        )),
        Attribute::computed("encrypted", Type::String).describe(format!(
            "{what}, encrypted to `encryption_certificate` as a `hyper-protect-basic.` or \
             `contract-basic.` token. Made once at create and kept until an input changes."
        )),
        Attribute::computed("sha256", Type::String).describe(
            "SHA-256 (hex) of the plaintext, so a change of a write-only input shows in plans.",
        ),
    ]
}

pub fn version_attribute(name: &str, write_only: &str) -> Attribute {
    Attribute::optional(name, Type::Number).describe(format!(
        "A number you change whenever you change `{write_only}`: write-only values are not \
         stored, so this is how Terraform sees that a new token must be made."
    ))
}

/// A resource whose whole job is one [`SealedText`]: `hyperprotect_workload` and
/// `hyperprotect_encrypted_text` differ only in names, schema text and section check.
pub struct SealedResource {
    pub type_name: &'static str,
    pub sealed: SealedText,
    pub schema: fn() -> Schema,
}

#[async_trait::async_trait]
impl Resource for SealedResource {
    fn type_name(&self) -> &'static str {
        self.type_name
    }

    fn schema(&self) -> Schema {
        (self.schema)()
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        self.sealed.validate(config, diags);
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        self.sealed.modify_plan(plan);
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        self.sealed.seal(change)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        // Nothing lives outside the state: the token is what it was when made.
        Outcome::ok(state)
    }

    async fn update(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        self.sealed.seal(change)
    }

    async fn delete(&self, _ctx: &Ctx, _prior: &Value, _private: &[u8]) -> Diagnostics {
        Diagnostics::new()
    }
}
