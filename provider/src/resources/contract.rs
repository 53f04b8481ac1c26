//! `hyperprotect_contract`: the deployer's part. Takes a workload (plaintext, or the token a
//! workload provider made), a plaintext env and a signing key; inserts `signingKey` into env
//! (a certificate from the deployer's CA when `expiry` is set), encrypts what is plaintext,
//! signs workload‖env and renders the `user_data` document.
//!
//! The document is built once at create and kept: only a change of an input plans a new one,
//! and then only the outputs that really change are planned unknown (an unchanged workload
//! token is reused, so `workload_sha256` stays known). A contract whose signing certificate
//! is within `renew_before_days` of expiring is planned for replacement.

use async_trait::async_trait;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::contract::document::{
    self, BuiltContract, ContractInput, DocumentError, Encryption, Section, SigningInput,
    WorkloadInput,
};
use crate::contract::expiry::{self, CertificateAuthority, CsrSource, SubjectFields, ValidityDays};
use crate::contract::keys::{self, KeyError};
use crate::contract::schema::SectionKind;
use crate::contract::token;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::plan::get;
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{Attribute, Block, BlockNesting, NestedBlock, Schema};
use crate::runtime::value::{Type, Value};

use super::common::{self, integer, set, string, Known, CERTIFICATE, PLATFORM};

pub struct Contract;

const OUTPUTS: [&str; 6] = [
    "id",
    "rendered",
    "sha256",
    "workload_sha256",
    "env_sha256",
    "expires_at",
];

/// Subject attributes of the `expiry` block and the field each fills.
const SUBJECT: [(&str, &str); 6] = [
    ("country", "two-letter country code (C)"),
    ("state", "state or province (ST)"),
    ("locality", "locality (L)"),
    ("organization", "organization (O)"),
    ("organizational_unit", "organizational unit (OU)"),
    ("email", "e-mail address"),
];

fn schema() -> Schema {
    let s = |name: &str| Attribute::optional(name, Type::String);
    let attributes = vec![
        s("workload").sensitive().describe(
            "The workload section: plaintext YAML (checked against the contract schema and \
             encrypted), or a `hyper-protect-basic.` / `contract-basic.` token made by the \
             workload provider (e.g. `hyperprotect_workload.encrypted`), placed untouched and \
             signed. Required unless `contract` is used.",
        ),
        s("env").sensitive().describe(
            "The plaintext env section as YAML. `signingKey` is inserted (any given one is \
             replaced), then it is checked and encrypted. Stored in state (marked \
             sensitive); use `env_wo` to keep it out.",
        ),
        s("env_wo").sensitive().write_only().describe(
            "Write-only twin of `env` (Terraform 1.11 or later): never stored in state or plan \
             files. Change `env_wo_version` when you change it.",
        ),
        common::version_attribute("env_wo_version", "env_wo"),
        s("contract").sensitive().describe(
            "Migration from the `hpcr` provider: one YAML document with `workload` and `env` \
             (maps or strings), as `hpcr_contract_encrypted` takes it. Exclusive with \
             `workload`, `env` and `env_wo`.",
        ),
        s("signing_key").sensitive().describe(
            "The deployer's RSA private key (PEM, PKCS#1 or PKCS#8, optionally encrypted) \
             that signs workload‖env; its public key (or certificate, with `expiry`) goes into \
             `env.signingKey`. Exactly one of `signing_key` and `signing_key_wo` is required.",
        ),
        s("signing_key_passphrase")
            .sensitive()
            .describe("Passphrase of an encrypted `signing_key`."),
        s("signing_key_wo").sensitive().write_only().describe(
            "Write-only twin of `signing_key` (Terraform 1.11 or later). Change \
             `signing_key_wo_version` when you change it.",
        ),
        s("signing_key_passphrase_wo")
            .sensitive()
            .write_only()
            .describe("Write-only passphrase of an encrypted `signing_key_wo`."),
        common::version_attribute("signing_key_wo_version", "signing_key_wo"),
        common::certificate_attribute(),
        common::platform_attribute(),
        s("attestation_public_key").describe(
            "RSA public key (PEM, or a certificate) the server encrypts its attestation record \
             to, for the auditor. Encrypted like a section unless \
             `attestation_public_key_plaintext` is true.",
        ),
        Attribute::optional("attestation_public_key_plaintext", Type::Bool).describe(
            "Put `attestation_public_key` into the contract as plaintext PEM instead of \
             encrypting it (default false).",
        ),
        Attribute::computed("id", Type::String)
            .describe("First 16 hex digits of `sha256`: changes with every new document."),
        Attribute::computed("rendered", Type::String).describe(
            "The contract document for the server's `user_data`: encrypted `workload` and \
             `env`, `envWorkloadSignature`, and `attestationPublicKey` if given. Holds no \
             plaintext section.",
        ),
        Attribute::computed("sha256", Type::String)
            .describe("SHA-256 (hex) of `rendered` (the attestation record's `cidata/user-data`)."),
        Attribute::computed("workload_sha256", Type::String).describe(
            "SHA-256 (hex) of the `workload` value in `rendered` (the attestation record's \
             `contract:workload`). Stays the same when only env-side inputs change.",
        ),
        Attribute::computed("env_sha256", Type::String).describe(
            "SHA-256 (hex) of the `env` value in `rendered` (the attestation record's \
             `contract:env`).",
        ),
        Attribute::computed("expires_at", Type::String).describe(
            "When the contract stops booting (RFC 3339): the signing certificate's notAfter. \
             Null without `expiry`.",
        ),
    ];
    let mut expiry = vec![
        Attribute::required("days", Type::Number)
            .describe("How many days the contract is valid from its creation."),
        Attribute::required("ca_certificate", Type::String)
            .describe("The deployer's CA certificate (PEM) that issues the signing certificate."),
        Attribute::required("ca_key", Type::String)
            .sensitive()
            .describe("The CA's private key (PEM)."),
        Attribute::optional("ca_key_passphrase", Type::String)
            .sensitive()
            .describe("Passphrase of an encrypted `ca_key`."),
        Attribute::optional("csr", Type::String).describe(
            "A certificate signing request (PEM) for the signing key, whose subject is used. \
             Exclusive with the subject fields.",
        ),
        Attribute::optional("common_name", Type::String).describe(
            "Subject common name (CN) of the signing certificate; required without `csr`.",
        ),
        Attribute::optional("renew_before_days", Type::Number).describe(
            "Plan a replacement contract this many days before it expires (default 0: once \
             expired), so the server using it is re-created before it stops booting.",
        ),
    ];
    expiry.extend(SUBJECT.iter().map(|(name, what)| {
        Attribute::optional(*name, Type::String)
            .describe(format!("Subject {what} of the signing certificate."))
    }));
    Schema::new(
        0,
        Block::new(attributes)
            .with_blocks(vec![NestedBlock::new(
                "expiry",
                BlockNesting::Single,
                Block::new(expiry).describe(
                    "Contract expiry: `env.signingKey` becomes a certificate for the signing \
                     key issued by your CA, and the platform refuses the contract after its \
                     notAfter.",
                ),
            )])
            .describe(
                "A signed Hyper Protect contract (the deployer's part): the `user_data` \
                 document for a confidential server.",
            ),
    )
}

/// Where the workload and env texts come from, for reading them and for diagnostics.
struct Sections {
    workload: Known<String>,
    workload_attr: &'static str,
    env: Known<String>,
    env_attr: &'static str,
}

impl Sections {
    fn of(config: &Value, diags: &mut Diagnostics) -> Sections {
        let owned = |k: Known<&str>| match k {
            Known::Null => Known::Null,
            Known::Unknown => Known::Unknown,
            Known::Value(s) => Known::Value(s.to_string()),
        };
        match string(config, "contract") {
            Known::Null => {
                let (env, env_attr) = match string(config, "env") {
                    Known::Null => (string(config, "env_wo"), "env_wo"),
                    other => (other, "env"),
                };
                Sections {
                    workload: owned(string(config, "workload")),
                    workload_attr: "workload",
                    env: owned(env),
                    env_attr,
                }
            }
            Known::Unknown => Sections {
                workload: Known::Unknown,
                workload_attr: "contract",
                env: Known::Unknown,
                env_attr: "contract",
            },
            Known::Value(text) => {
                let (workload, env) = match document::Contract::parse(text) {
                    Ok(c)
                        if c.attestation_public_key.is_some()
                            || c.env_workload_signature.is_some() =>
                    {
                        diags.error_at(
                            AttrPath::attr("contract"),
                            "Invalid contract",
                            "contract takes the plaintext workload and env only: set \
                             attestation_public_key as its own attribute, and leave \
                             envWorkloadSignature out (the signature is made here).",
                        );
                        (Known::Unknown, Known::Unknown)
                    }
                    Ok(c) => (Known::Value(c.workload), Known::Value(c.env)),
                    Err(e) => {
                        diags.error_at(
                            AttrPath::attr("contract"),
                            "Invalid contract",
                            e.to_string(),
                        );
                        (Known::Unknown, Known::Unknown)
                    }
                };
                Sections {
                    workload,
                    workload_attr: "contract",
                    env,
                    env_attr: "contract",
                }
            }
        }
    }
}

/// The signing key text and passphrase, from the stored or the write-only attributes.
fn signing_key(config: &Value) -> (Known<&str>, Known<&str>, &'static str) {
    match string(config, "signing_key") {
        Known::Null => (
            string(config, "signing_key_wo"),
            string(config, "signing_key_passphrase_wo"),
            "signing_key_wo",
        ),
        key => (key, string(config, "signing_key_passphrase"), "signing_key"),
    }
}

fn load_signing_key(config: &Value, diags: &mut Diagnostics) -> Option<PKey<Private>> {
    let (Known::Value(pem), passphrase, attr) = signing_key(config) else {
        return None;
    };
    if passphrase.is_unknown() {
        return None;
    }
    let passphrase = passphrase.value().map(str::as_bytes);
    let key =
        keys::load_private_key(pem, passphrase).and_then(|k| keys::require_rsa(&k).map(|()| k));
    match key {
        Ok(k) => Some(k),
        Err(e) => {
            let at = match e {
                KeyError::PassphraseRequired | KeyError::WrongPassphrase
                    if attr == "signing_key" =>
                {
                    "signing_key_passphrase"
                }
                KeyError::PassphraseRequired | KeyError::WrongPassphrase => {
                    "signing_key_passphrase_wo"
                }
                _ => attr,
            };
            diags.error_at(AttrPath::attr(at), "Unusable signing key", e.to_string());
            None
        }
    }
}

/// Both set, or neither: an error at the second.
fn exclusive(config: &Value, a: &str, b: &str, diags: &mut Diagnostics) {
    if !get(config, a).is_null() && !get(config, b).is_null() {
        diags.error_at(
            AttrPath::attr(b),
            "Conflicting attributes",
            format!("{a} and {b} are exclusive: set one of them."),
        );
    }
}

fn check_config(config: &Value, diags: &mut Diagnostics) {
    for other in ["workload", "env", "env_wo"] {
        exclusive(config, "contract", other, diags);
    }
    exclusive(config, "env", "env_wo", diags);
    exclusive(config, "signing_key", "signing_key_wo", diags);
    exclusive(config, "signing_key_passphrase", "signing_key_wo", diags);
    exclusive(config, "signing_key", "signing_key_passphrase_wo", diags);
    let missing = |diags: &mut Diagnostics, attr: &str, what: &str| {
        diags.error_at(AttrPath::attr(attr), "Missing attribute", what.to_string())
    };
    if get(config, "contract").is_null() {
        if get(config, "workload").is_null() {
            missing(
                diags,
                "workload",
                "Set workload (or the whole-document `contract`).",
            );
        }
        if get(config, "env").is_null() && get(config, "env_wo").is_null() {
            missing(
                diags,
                "env",
                "Set env or env_wo (or the whole-document `contract`).",
            );
        }
    }
    if get(config, "signing_key").is_null() && get(config, "signing_key_wo").is_null() {
        missing(diags, "signing_key", "Set signing_key or signing_key_wo.");
    }
    for (version, wo) in [
        ("env_wo_version", "env_wo"),
        ("signing_key_wo_version", "signing_key_wo"),
    ] {
        if !get(config, version).is_null() && get(config, wo).is_null() {
            diags.error_at(
                AttrPath::attr(version),
                "Version without a write-only value",
                format!("{version} only applies together with {wo}."),
            );
        }
    }
    common::check_platform(config, diags);
    if let Known::Value(cert) = string(config, CERTIFICATE) {
        common::encryption_key(cert, diags);
    }

    let sections = Sections::of(config, diags);
    if let Known::Value(w) = &sections.workload {
        if token::looks_like_token(w) {
            if let Known::Value(platform) = common::platform(config) {
                if let Err(e) = token::require_platform(w, platform) {
                    diags.error_at(
                        AttrPath::attr(sections.workload_attr),
                        "Workload token does not fit the platform",
                        e.to_string(),
                    );
                }
            }
        } else {
            common::check_section(SectionKind::Workload, w, sections.workload_attr, diags);
        }
    }
    if let Known::Value(env) = &sections.env {
        common::check_section(SectionKind::Env, env, sections.env_attr, diags);
    }
    load_signing_key(config, diags);
    if let Known::Value(pem) = string(config, "attestation_public_key") {
        if let Err(e) = keys::load_public_key(pem).and_then(|k| keys::require_rsa(&k)) {
            diags.error_at(
                AttrPath::attr("attestation_public_key"),
                "Unusable attestation public key",
                e.to_string(),
            );
        }
    }
    let expiry = get(config, "expiry");
    if !expiry.is_null() {
        let at = |name: &str| AttrPath::attr("expiry").then_attr(name);
        // `integer` reads a fraction or a number beyond i64 as unknown: say so here, or
        // such a value would pass the plan unchecked.
        for name in ["days", "renew_before_days"] {
            if get(expiry, name)
                .as_number()
                .is_some_and(|n| n.as_i64().is_none())
            {
                diags.error_at(
                    at(name),
                    "Invalid expiry",
                    format!(
                        "{name} must be a whole number of days, at most {}.",
                        expiry::MAX_VALIDITY_DAYS
                    ),
                );
            }
        }
        if let Known::Value(days) = integer(expiry, "days") {
            if let Err(e) = ValidityDays::new(days) {
                diags.error_at(at("days"), "Invalid expiry", e.to_string());
            }
        }
        if let Known::Value(days) = integer(expiry, "renew_before_days") {
            if !(0..=i64::from(expiry::MAX_VALIDITY_DAYS)).contains(&days) {
                diags.error_at(
                    at("renew_before_days"),
                    "Invalid expiry",
                    "renew_before_days must be 0 or more.",
                );
            }
        }
        if get(expiry, "csr").is_null() == get(expiry, "common_name").is_null() {
            diags.error_at(
                at("common_name"),
                "Invalid expiry",
                "Set either csr or common_name (with the other subject fields).",
            );
        }
        if let (Known::Value(_), Known::Value(_)) =
            (string(expiry, "ca_certificate"), string(expiry, "ca_key"))
        {
            if let Err(e) = certificate_authority(expiry) {
                diags.error_at(at("ca_key"), "Unusable contract-expiry CA", e);
            }
        }
    }
}

fn certificate_authority(expiry: &Value) -> Result<CertificateAuthority, String> {
    let (Known::Value(cert), Known::Value(key)) =
        (string(expiry, "ca_certificate"), string(expiry, "ca_key"))
    else {
        return Err("ca_certificate and ca_key must be known.".into());
    };
    let passphrase = string(expiry, "ca_key_passphrase")
        .value()
        .map(str::as_bytes);
    CertificateAuthority::from_pem(cert, key, passphrase).map_err(|e| e.to_string())
}

/// Issues the signing certificate for contract expiry.
fn issue_certificate(expiry: &Value, key: &PKey<Private>, diags: &mut Diagnostics) -> Option<X509> {
    let at = AttrPath::attr("expiry");
    let ca = match certificate_authority(expiry) {
        Ok(ca) => ca,
        Err(e) => {
            diags.error_at(at.then_attr("ca_key"), "Unusable contract-expiry CA", e);
            return None;
        }
    };
    let days = integer(expiry, "days")
        .value()
        .ok_or_else(|| "days must be known".to_string())
        .and_then(|d| ValidityDays::new(d).map_err(|e| e.to_string()));
    let days = match days {
        Ok(d) => d,
        Err(e) => {
            diags.error_at(at.then_attr("days"), "Invalid expiry", e);
            return None;
        }
    };
    let field = |name| string(expiry, name).value().map(str::to_string);
    let subject = SubjectFields {
        country: field("country"),
        state: field("state"),
        locality: field("locality"),
        organisation: field("organization"),
        unit: field("organizational_unit"),
        common_name: field("common_name").unwrap_or_default(),
        email: field("email"),
    };
    let source = match string(expiry, "csr") {
        Known::Value(pem) => CsrSource::Pem(pem),
        _ => CsrSource::Subject(&subject),
    };
    match expiry::issue_signing_certificate(key, source, &ca, days) {
        Ok(c) => Some(c.certificate),
        Err(e) => {
            diags.error_at(at, "Cannot issue the signing certificate", e.to_string());
            None
        }
    }
}

/// Runs `engine` (`document::build`, or `document::rendered_size` at plan time) on the input
/// a wholly known configuration describes; `reuse_workload` is the prior workload token when
/// the workload did not change (it is then not encrypted again). Engine errors become
/// diagnostics at the attribute they come from.
fn with_input<T>(
    config: &Value,
    reuse_workload: Option<&str>,
    engine: fn(&ContractInput<'_>) -> Result<T, DocumentError>,
) -> Result<T, Diagnostics> {
    let mut diags = Diagnostics::new();
    let sections = Sections::of(config, &mut diags);
    let recipient = match string(config, CERTIFICATE) {
        Known::Value(cert) => common::encryption_key(cert, &mut diags),
        _ => None,
    };
    let key = load_signing_key(config, &mut diags);
    let (
        Some(recipient),
        Some(key),
        Known::Value(platform),
        Known::Value(workload),
        Known::Value(env),
    ) = (
        recipient,
        key,
        common::platform(config),
        sections.workload.clone(),
        sections.env.clone(),
    )
    else {
        if !diags.has_errors() {
            diags.push(Diagnostic::error(
                "Incomplete configuration",
                "The contract's inputs must all be known when it is built.",
            ));
        }
        return Err(diags);
    };
    let expiry = get(config, "expiry");
    let certificate = if expiry.is_null() {
        None
    } else {
        Some(issue_certificate(expiry, &key, &mut diags).ok_or_else(|| diags.clone())?)
    };
    let workload = match reuse_workload {
        Some(token) => WorkloadInput::Encrypted(token.to_string()),
        None if token::looks_like_token(&workload) => WorkloadInput::Encrypted(workload),
        None => WorkloadInput::Plaintext(workload),
    };
    let attestation = string(config, "attestation_public_key").value();
    let plaintext_attestation =
        get(config, "attestation_public_key_plaintext").as_bool() == Some(true);
    let input = ContractInput {
        workload,
        env: &env,
        signing: Some(SigningInput {
            key: &key,
            certificate: certificate.as_deref(),
        }),
        attestation_public_key: attestation,
        encryption: Encryption::Encrypt {
            recipient: &recipient,
            platform,
            encrypt_attestation_key: !plaintext_attestation,
        },
    };
    engine(&input).map_err(|e| {
        let attr = match &e {
            DocumentError::Schema(_) | DocumentError::SigningKeyWithoutSignature => {
                sections.env_attr
            }
            DocumentError::SectionYaml { section, .. }
            | DocumentError::AlreadyEncrypted { section }
            | DocumentError::SectionNotMap { section }
            | DocumentError::EncryptedSection { section, .. }
                if *section == "workload" =>
            {
                sections.workload_attr
            }
            DocumentError::SectionYaml { .. }
            | DocumentError::AlreadyEncrypted { .. }
            | DocumentError::SectionNotMap { .. }
            | DocumentError::EncryptedSection { .. } => sections.env_attr,
            DocumentError::AttestationKey(_) => "attestation_public_key",
            DocumentError::SigningKey(_) | DocumentError::Signing(_) => signing_key(config).2,
            DocumentError::SigningCertificate(_) => "expiry",
            DocumentError::Encrypt { .. } => CERTIFICATE,
            _ => "",
        };
        let summary = match &e {
            DocumentError::TooLarge { .. } => "Contract too large",
            _ => "Cannot build the contract",
        };
        let d = Diagnostic::error(summary, e.to_string());
        diags.push(if attr.is_empty() {
            d
        } else {
            d.at(AttrPath::attr(attr))
        });
        diags
    })
}

/// Whether an input changed (write-only values are never in the prior state: their
/// `_version` attributes stand for them).
fn inputs_changed(schema: &Schema, prior: &Value, config: &Value) -> bool {
    let Value::Object(fields) = config else {
        return true;
    };
    let write_only = |k: &str| schema.block.attribute(k).is_some_and(|a| a.write_only);
    fields
        .keys()
        .filter(|k| !OUTPUTS.contains(&k.as_str()) && !write_only(k))
        .any(|k| get(prior, k) != get(config, k))
}

/// Whether the workload token in the prior document can be kept.
fn workload_unchanged(prior: &Value, config: &Value) -> bool {
    let mut ignore = Diagnostics::new();
    let (before, after) = (
        Sections::of(prior, &mut ignore).workload,
        Sections::of(config, &mut ignore).workload,
    );
    matches!((&before, &after), (Known::Value(a), Known::Value(b)) if a == b)
        && [CERTIFICATE, PLATFORM]
            .iter()
            .all(|a| get(prior, a) == get(config, a))
}

fn renewal_due(prior: &Value, config: &Value) -> bool {
    let expiry = get(config, "expiry");
    let (false, Known::Value(at)) = (expiry.is_null(), string(prior, "expires_at")) else {
        return false;
    };
    let Ok(expires) = OffsetDateTime::parse(at, &Rfc3339) else {
        return true;
    };
    let before = integer(expiry, "renew_before_days").value().unwrap_or(0);
    let before = u32::try_from(before).unwrap_or(0);
    expiry::renewal_due(expires, before, OffsetDateTime::now_utc())
}

fn prior_workload_token(prior: &Value) -> Option<String> {
    let rendered = string(prior, "rendered").value()?;
    document::Contract::parse(rendered).ok().map(|c| c.workload)
}

#[async_trait]
impl Resource for Contract {
    fn type_name(&self) -> &'static str {
        "hyperprotect_contract"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        check_config(config, diags);
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        let no_expiry = get(plan.config, "expiry").is_null();
        if !plan.is_create() {
            if renewal_due(plan.prior, plan.config) {
                plan.requires_replace.push(AttrPath::attr("expires_at"));
                for out in OUTPUTS {
                    set(&mut plan.planned, out, Value::Unknown);
                }
                return;
            }
            let changed = inputs_changed(plan.schema, plan.prior, plan.config);
            let keep_workload = workload_unchanged(plan.prior, plan.config);
            for out in OUTPUTS {
                let keep = !changed || (out == "workload_sha256" && keep_workload);
                let value = if keep {
                    get(plan.prior, out).clone()
                } else {
                    Value::Unknown
                };
                set(&mut plan.planned, out, value);
            }
            if !changed {
                return;
            }
        }
        if no_expiry {
            set(&mut plan.planned, "expires_at", Value::Null);
        }
        // A new document will be built: when everything is known, make every check the
        // build makes (signing certificate, size) now, without encrypting or signing.
        if plan.config.is_wholly_known() {
            if let Err(d) = with_input(plan.config, None, document::rendered_size) {
                plan.diagnostics.extend(d);
            }
        }
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change, None)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        // Nothing lives outside the state: the document is what it was when built.
        Outcome::ok(state)
    }

    async fn update(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        let reuse = if get(change.planned, "workload_sha256").is_unknown() {
            None
        } else {
            prior_workload_token(change.prior)
        };
        apply(change, reuse.as_deref())
    }

    async fn delete(&self, _ctx: &Ctx, _prior: &Value, _private: &[u8]) -> Diagnostics {
        Diagnostics::new()
    }
}

fn apply(change: Change<'_>, reuse_workload: Option<&str>) -> Outcome {
    let mut diags = Diagnostics::new();
    check_config(change.config, &mut diags);
    if diags.has_errors() {
        return Outcome::failed(Value::Null, diags);
    }
    let built: BuiltContract = match with_input(change.config, reuse_workload, document::build) {
        Ok(b) => b,
        Err(d) => {
            diags.extend(d);
            return Outcome::failed(Value::Null, diags);
        }
    };
    let mut state = change.planned.clone();
    let sha = document::document_sha256(&built.yaml);
    let section = |s| {
        built
            .contract
            .section_sha256(s)
            .map(Value::string)
            .unwrap_or(Value::Null)
    };
    set(&mut state, "id", Value::string(&sha[..16]));
    set(&mut state, "workload_sha256", section(Section::Workload));
    set(&mut state, "env_sha256", section(Section::Env));
    let expires = built
        .expires
        .and_then(|t| t.format(&Rfc3339).ok())
        .map(Value::string)
        .unwrap_or(Value::Null);
    set(&mut state, "expires_at", expires);
    set(&mut state, "sha256", Value::string(sha));
    set(&mut state, "rendered", Value::string(built.yaml));
    let mut outcome = Outcome::ok(state);
    outcome.diagnostics = diags;
    outcome
}
