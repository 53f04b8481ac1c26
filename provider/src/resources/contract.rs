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
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Change, Ctx, Outcome, Plan, Resource};
use crate::runtime::schema::{Attribute, Block, BlockNesting, NestedBlock, Schema};
use crate::runtime::value::{Known, Number, ToValue, Type, Value};

use super::encryption::{self as common, CERTIFICATE};

/// The `hyperprotect_contract` resource.
pub struct ContractResource;

model! {
    /// The configuration, plan and state of `hyperprotect_contract`.
    #[derive(Default)]
    pub struct ContractModel {
        pub workload: Known<String> [sensitive],
        pub env: Known<String> [sensitive],
        pub env_wo: Known<String> [sensitive],
        pub env_wo_version: Known<Number>,
        pub contract: Known<String> [sensitive],
        pub signing_key: Known<String> [sensitive],
        pub signing_key_passphrase: Known<String> [sensitive],
        pub signing_key_wo: Known<String> [sensitive],
        pub signing_key_passphrase_wo: Known<String> [sensitive],
        pub signing_key_wo_version: Known<Number>,
        pub encryption_certificate: Known<String>,
        pub platform: Known<String>,
        pub attestation_public_key: Known<String>,
        pub attestation_public_key_plaintext: Known<bool>,
        pub id: Known<String>,
        pub rendered: Known<String>,
        pub sha256: Known<String>,
        pub workload_sha256: Known<String>,
        pub env_sha256: Known<String>,
        pub expires_at: Known<String>,
        pub expiry: Known<ExpiryModel>,
    }
}

model! {
    /// The `expiry` block.
    pub struct ExpiryModel {
        pub days: Known<i64>,
        pub ca_certificate: Known<String>,
        pub ca_key: Known<String> [sensitive],
        pub ca_key_passphrase: Known<String> [sensitive],
        pub csr: Known<String>,
        pub common_name: Known<String>,
        pub renew_before_days: Known<i64>,
        pub country: Known<String>,
        pub state: Known<String>,
        pub locality: Known<String>,
        pub organization: Known<String>,
        pub organizational_unit: Known<String>,
        pub email: Known<String>,
    }
}

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
    let max_days = i64::from(expiry::MAX_VALIDITY_DAYS);
    let mut expiry = vec![
        Attribute::required("days", Type::Number)
            .int_range(1, max_days)
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
        Attribute::optional("renew_before_days", Type::Number)
            .int_range(0, max_days)
            .describe(
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
                Block::new(expiry)
                    .exactly_one_of(&["csr", "common_name"])
                    .describe(
                        "Contract expiry: `env.signingKey` becomes a certificate for the signing \
                     key issued by your CA, and the platform refuses the contract after its \
                     notAfter.",
                    ),
            )])
            .conflicts_with("contract", &["workload", "env", "env_wo"])
            .at_least_one_of(&["workload", "contract"])
            .at_least_one_of(&["env", "env_wo", "contract"])
            .conflicts_with("env", &["env_wo"])
            .exactly_one_of(&["signing_key", "signing_key_wo"])
            .conflicts_with("signing_key_passphrase", &["signing_key_wo"])
            .conflicts_with("signing_key", &["signing_key_passphrase_wo"])
            .required_with("env_wo_version", "env_wo")
            .required_with("signing_key_wo_version", "signing_key_wo")
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
    fn of(config: &ContractModel, diags: &mut Diagnostics) -> Sections {
        match &config.contract {
            Known::Null => {
                let (env, env_attr) = match &config.env {
                    Known::Null => (config.env_wo.clone(), "env_wo"),
                    other => (other.clone(), "env"),
                };
                Sections {
                    workload: config.workload.clone(),
                    workload_attr: "workload",
                    env,
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

impl ContractModel {
    /// The signing key text and passphrase, from the stored or the write-only attributes,
    /// with the attributes they come from.
    fn signing_key(&self) -> (Known<&str>, Known<&str>, &'static str, &'static str) {
        match &self.signing_key {
            Known::Null => (
                self.signing_key_wo.as_deref(),
                self.signing_key_passphrase_wo.as_deref(),
                "signing_key_wo",
                "signing_key_passphrase_wo",
            ),
            key => (
                key.as_deref(),
                self.signing_key_passphrase.as_deref(),
                "signing_key",
                "signing_key_passphrase",
            ),
        }
    }

    fn load_signing_key(&self, diags: &mut Diagnostics) -> Option<PKey<Private>> {
        let (Known::Value(pem), passphrase, attr, passphrase_attr) = self.signing_key() else {
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
                    KeyError::PassphraseRequired | KeyError::WrongPassphrase => passphrase_attr,
                    _ => attr,
                };
                diags.error_at(AttrPath::attr(at), "Unusable signing key", e.to_string());
                None
            }
        }
    }
}

/// What the declared rules cannot say: the certificate, keys, CA and sections are usable.
fn check_config(config: &ContractModel, diags: &mut Diagnostics) {
    if let Known::Value(cert) = &config.encryption_certificate {
        common::encryption_key(cert, diags);
    }
    let sections = Sections::of(config, diags);
    if let Known::Value(w) = &sections.workload {
        if token::looks_like_token(w) {
            if let Known::Value(platform) = common::platform(&config.platform) {
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
    config.load_signing_key(diags);
    if let Known::Value(pem) = &config.attestation_public_key {
        if let Err(e) = keys::load_public_key(pem).and_then(|k| keys::require_rsa(&k)) {
            diags.error_at(
                AttrPath::attr("attestation_public_key"),
                "Unusable attestation public key",
                e.to_string(),
            );
        }
    }
    if let Known::Value(expiry) = &config.expiry {
        if let (Known::Value(_), Known::Value(_)) = (&expiry.ca_certificate, &expiry.ca_key) {
            if let Err(e) = expiry.certificate_authority() {
                diags.error_at(
                    AttrPath::attr("expiry").then_attr("ca_key"),
                    "Unusable contract-expiry CA",
                    e,
                );
            }
        }
    }
}

impl ExpiryModel {
    fn certificate_authority(&self) -> Result<CertificateAuthority, String> {
        let (Known::Value(cert), Known::Value(key)) = (&self.ca_certificate, &self.ca_key) else {
            return Err("ca_certificate and ca_key must be known.".into());
        };
        let passphrase = self.ca_key_passphrase.as_deref().value().map(str::as_bytes);
        CertificateAuthority::from_pem(cert, key, passphrase).map_err(|e| e.to_string())
    }

    /// Issues the signing certificate for contract expiry.
    fn issue_certificate(&self, key: &PKey<Private>, diags: &mut Diagnostics) -> Option<X509> {
        let at = AttrPath::attr("expiry");
        let ca = match self.certificate_authority() {
            Ok(ca) => ca,
            Err(e) => {
                diags.error_at(at.then_attr("ca_key"), "Unusable contract-expiry CA", e);
                return None;
            }
        };
        let days = self
            .days
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
        let field = |k: &Known<String>| k.as_deref().value().map(str::to_string);
        let subject = SubjectFields {
            country: field(&self.country),
            state: field(&self.state),
            locality: field(&self.locality),
            organisation: field(&self.organization),
            unit: field(&self.organizational_unit),
            common_name: field(&self.common_name).unwrap_or_default(),
            email: field(&self.email),
        };
        let source = match &self.csr {
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
}

/// Runs `engine` (`document::build`, or `document::rendered_size` at plan time) on the input
/// a wholly known configuration describes; `reuse_workload` is the prior workload token when
/// the workload did not change (it is then not encrypted again). Engine errors become
/// diagnostics at the attribute they come from.
fn with_input<T>(
    config: &ContractModel,
    reuse_workload: Option<&str>,
    engine: fn(&ContractInput<'_>) -> Result<T, DocumentError>,
) -> Result<T, Diagnostics> {
    let mut diags = Diagnostics::new();
    let sections = Sections::of(config, &mut diags);
    let recipient = match &config.encryption_certificate {
        Known::Value(cert) => common::encryption_key(cert, &mut diags),
        _ => None,
    };
    let key = config.load_signing_key(&mut diags);
    let (
        Some(recipient),
        Some(key),
        Known::Value(platform),
        Known::Value(workload),
        Known::Value(env),
    ) = (
        recipient,
        key,
        common::platform(&config.platform),
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
    let certificate = match &config.expiry {
        Known::Value(expiry) => Some(
            expiry
                .issue_certificate(&key, &mut diags)
                .ok_or_else(|| diags.clone())?,
        ),
        _ => None,
    };
    let workload = match reuse_workload {
        Some(token) => WorkloadInput::Encrypted(token.to_string()),
        None if token::looks_like_token(&workload) => WorkloadInput::Encrypted(workload),
        None => WorkloadInput::Plaintext(workload),
    };
    let plaintext_attestation = config.attestation_public_key_plaintext == Known::Value(true);
    let input = ContractInput {
        workload,
        env: &env,
        signing: Some(SigningInput {
            key: &key,
            certificate: certificate.as_deref(),
        }),
        attestation_public_key: config.attestation_public_key.as_deref().value(),
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
            DocumentError::SigningKey(_) | DocumentError::Signing(_) => config.signing_key().2,
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
/// `_version` attributes stand for them). Compares every attribute but the outputs
/// generically, so a new input needs no change here.
fn inputs_changed(schema: &Schema, prior: &Value, config: &Value) -> bool {
    let Value::Object(fields) = config else {
        return true;
    };
    let write_only = |k: &str| schema.block.attribute(k).is_some_and(|a| a.write_only);
    fields
        .iter()
        .filter(|(k, _)| !OUTPUTS.contains(&k.as_str()) && !write_only(k))
        .any(|(k, v)| prior.attr(k).unwrap_or(&Value::Null) != v)
}

/// Whether the workload token in the prior document can be kept.
fn workload_unchanged(prior: &ContractModel, config: &ContractModel) -> bool {
    let mut ignore = Diagnostics::new();
    let (before, after) = (
        Sections::of(prior, &mut ignore).workload,
        Sections::of(config, &mut ignore).workload,
    );
    matches!((&before, &after), (Known::Value(a), Known::Value(b)) if a == b)
        && prior.encryption_certificate == config.encryption_certificate
        && prior.platform == config.platform
}

fn renewal_due(prior: &ContractModel, config: &ContractModel) -> bool {
    let (Known::Value(expiry), Known::Value(at)) = (&config.expiry, &prior.expires_at) else {
        return false;
    };
    let Ok(expires) = OffsetDateTime::parse(at, &Rfc3339) else {
        return true;
    };
    let before = expiry.renew_before_days.value().unwrap_or(0);
    let before = u32::try_from(before).unwrap_or(0);
    expiry::renewal_due(expires, before, OffsetDateTime::now_utc())
}

fn prior_workload_token(prior: &ContractModel) -> Option<String> {
    let rendered = prior.rendered.as_deref().value()?;
    document::Contract::parse(rendered).ok().map(|c| c.workload)
}

impl ContractModel {
    /// The outputs, in [`OUTPUTS`] order.
    fn outputs(&mut self) -> [&mut Known<String>; 6] {
        [
            &mut self.id,
            &mut self.rendered,
            &mut self.sha256,
            &mut self.workload_sha256,
            &mut self.env_sha256,
            &mut self.expires_at,
        ]
    }
}

#[async_trait]
impl Resource for ContractResource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_contract"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(ContractModel::fields())
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        // A value the model cannot hold fails a declared rule, which reported it already.
        if let Ok(config) = ContractModel::build(config) {
            check_config(&config, diags);
        }
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan<'_>) {
        let (config, mut prior, mut planned) = match (
            ContractModel::build(plan.config),
            ContractModel::build_or_default(plan.prior),
            ContractModel::build(&plan.planned),
        ) {
            (Ok(c), Ok(p), Ok(n)) => (c, p, n),
            (c, p, n) => {
                for d in [c.err(), p.err(), n.err()].into_iter().flatten() {
                    plan.diagnostics.extend(d);
                }
                return;
            }
        };
        if !plan.is_create() {
            if renewal_due(&prior, &config) {
                plan.requires_replace.push(AttrPath::attr("expires_at"));
                for out in planned.outputs() {
                    *out = Known::Unknown;
                }
                plan.planned = planned.to_value();
                return;
            }
            let changed = inputs_changed(plan.schema, plan.prior, plan.config);
            let keep_workload = workload_unchanged(&prior, &config);
            let kept: Vec<Known<String>> = prior.outputs().into_iter().map(|o| o.clone()).collect();
            for ((name, out), before) in OUTPUTS.iter().zip(planned.outputs()).zip(kept) {
                let keep = !changed || (*name == "workload_sha256" && keep_workload);
                *out = if keep { before } else { Known::Unknown };
            }
            if !changed {
                plan.planned = planned.to_value();
                return;
            }
        }
        if config.expiry.is_null() {
            planned.expires_at = Known::Null;
        }
        plan.planned = planned.to_value();
        // A new document will be built: when everything is known, make every check the
        // build makes (signing certificate, size) now, without encrypting or signing.
        if plan.config.is_wholly_known() {
            if let Err(d) = with_input(&config, None, document::rendered_size) {
                plan.diagnostics.extend(d);
            }
        }
    }

    async fn create(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change, false)
    }

    async fn read(&self, _ctx: &Ctx, state: Value, _private: Vec<u8>) -> Outcome {
        // Nothing lives outside the state: the document is what it was when built.
        Outcome::ok(state)
    }

    async fn update(&self, _ctx: &Ctx, change: Change<'_>) -> Outcome {
        apply(change, true)
    }

    async fn delete(&self, _ctx: &Ctx, _prior: &Value, _private: &[u8]) -> Diagnostics {
        Diagnostics::new()
    }
}

/// Builds the document (create, or an update that changed an input; an update keeps the
/// prior workload token when the plan kept `workload_sha256`).
fn apply(change: Change<'_>, update: bool) -> Outcome {
    let (config, prior, mut state) = match (
        ContractModel::build(change.config),
        ContractModel::build_or_default(change.prior),
        ContractModel::build(change.planned),
    ) {
        (Ok(c), Ok(p), Ok(n)) => (c, p, n),
        (Err(d), _, _) | (_, Err(d), _) | (_, _, Err(d)) => return Outcome::failed(Value::Null, d),
    };
    let reuse = if update && !state.workload_sha256.is_unknown() {
        prior_workload_token(&prior)
    } else {
        None
    };
    let mut diags = Diagnostics::new();
    check_config(&config, &mut diags);
    if diags.has_errors() {
        return Outcome::failed(Value::Null, diags);
    }
    let built: BuiltContract = match with_input(&config, reuse.as_deref(), document::build) {
        Ok(b) => b,
        Err(d) => {
            diags.extend(d);
            return Outcome::failed(Value::Null, diags);
        }
    };
    let sha = document::document_sha256(&built.yaml);
    let section = |s| built.contract.section_sha256(s).into();
    state.id = Known::Value(sha[..16].to_string());
    state.workload_sha256 = section(Section::Workload);
    state.env_sha256 = section(Section::Env);
    state.expires_at = built.expires.and_then(|t| t.format(&Rfc3339).ok()).into();
    state.sha256 = Known::Value(sha);
    state.rendered = Known::Value(built.yaml);
    let mut outcome = Outcome::ok(state.to_value());
    outcome.diagnostics = diags;
    outcome
}
