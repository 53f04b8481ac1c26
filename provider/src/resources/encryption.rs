//! What the contract objects share: the encryption-certificate and platform attributes
//! with their checks, schema violations of a plaintext section as diagnostics at the
//! attribute, and the outputs of a sealed text. Terraform glue only: the crypto is the
//! contract engine's.

use openssl::pkey::{PKey, Public};
use time::OffsetDateTime;

use crate::contract::certs::{self, ExpiryStatus};
use crate::contract::document::sha256_hex;
use crate::contract::keys;
use crate::contract::schema::{self, SectionKind};
use crate::contract::token::{self, Platform};
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::schema::Attribute;
use crate::runtime::value::{Known, Type};

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
    Attribute::optional(PLATFORM, Type::String)
        .matches(
            "(?i)^\\s*(hpvs|ccco|ccrt|ccrv)\\s*$",
            "a platform: `hpvs`, `ccco`, `ccrt` or `ccrv`",
        )
        .describe(
            "The platform the token is for: `hpvs` (default) or `ccco` use the \
         `hyper-protect-basic.` prefix, `ccrt` and `ccrv` the `contract-basic.` prefix.",
        )
}

/// The configured platform (the default when not set); `Unknown` when unknown, or invalid
/// (the declared rule reports that).
pub fn platform(value: &Known<String>) -> Known<Platform> {
    match value {
        Known::Null => Known::Value(Platform::default()),
        Known::Unknown => Known::Unknown,
        Known::Value(s) => s.parse().map(Known::Value).unwrap_or(Known::Unknown),
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
    if let Err(e) = certs::check_encryption_purpose(&cert) {
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
