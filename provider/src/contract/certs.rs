//! Encryption certificates (fact sheet §10–11): parsing, expiry status with IBM's wording,
//! chain and CRL verification, download by image version, and version selection.
//!
//! Every check runs in-process with the `openssl` crate (no CLI). Times are passed in
//! explicitly (`now`) so that callers decide the clock and tests get exact day counts.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509Crl, X509NameRef, X509Ref, X509StoreContext, X509};
use time::OffsetDateTime;

use super::image::VersionConstraint;

/// IBM's published location of HPCR encryption certificates (since 25 Mar 2025), with our
/// placeholders. The Go-template spelling (`{{.Major}}` …) is also accepted in templates.
pub const DEFAULT_CERT_URL_TEMPLATE: &str = "https://hpvsvpcubuntu.s3.us.cloud-object-storage.appdomain.cloud/s390x-{patch}/ibm-hyper-protect-container-runtime-{major}-{minor}-s390x-{patch}-encrypt.crt";

/// Below this many days left, a certificate "expires soon" (IBM: warning).
pub const EXPIRY_WARNING_DAYS: i64 = 180;

/// Upper bound for downloaded certificates and CRLs.
const MAX_DOWNLOAD_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{what} is not a PEM certificate or base64 of one: {reason}")]
    Parse { what: &'static str, reason: String },
    #[error("{what}: unusable validity dates: {reason}")]
    Dates { what: &'static str, reason: String },
    #[error("{0}")]
    Expired(String),
    #[error("{what} ({subject}) is not valid at {at}: valid from {not_before} until {not_after}")]
    OutsideValidity {
        what: &'static str,
        subject: String,
        at: String,
        not_before: String,
        not_after: String,
    },
    #[error("issuer of the {what} ({issuer}) is not the subject of the {ca} ({subject})")]
    IssuerMismatch {
        what: &'static str,
        ca: &'static str,
        issuer: String,
        subject: String,
    },
    #[error("signature of the {what} does not verify with the public key of the {ca}")]
    BadSignature {
        what: &'static str,
        ca: &'static str,
    },
    #[error("certificate chain does not verify: {reason} (at depth {depth})")]
    ChainInvalid { reason: String, depth: u32 },
    #[error("CRL from {source_name} cannot be parsed as PEM or DER: {reason}")]
    CrlParse { source_name: String, reason: String },
    #[error("CRL issuer ({crl_issuer}) is not the certificate issuer ({issuer})")]
    CrlIssuerMismatch { crl_issuer: String, issuer: String },
    #[error("CRL signature does not verify with the issuer's public key")]
    CrlSignature,
    #[error("CRL is not yet valid: last update {last_update} is after {at}")]
    CrlNotYetValid { last_update: String, at: String },
    #[error("CRL is out of date: next update was due {next_update} (now {at})")]
    CrlStale { next_update: String, at: String },
    #[error("CRL has no next update time, its freshness cannot be checked")]
    CrlNoNextUpdate,
    #[error("certificate serial {serial} is revoked (since {revoked_on})")]
    Revoked { serial: String, revoked_on: String },
    #[error("cannot read {location}: {reason}")]
    Fetch { location: String, reason: String },
    #[error("GET {url} returned HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("{url} did not return a PEM certificate: {reason}")]
    NotPem { url: String, reason: String },
    #[error("`{version}` is not a version like 1.0.22: {reason}")]
    Version { version: String, reason: String },
    #[error(transparent)]
    Constraint(#[from] super::image::ConstraintError),
    #[error("{what} ({subject}) is not an encryption certificate: {reason}")]
    WrongPurpose {
        what: &'static str,
        subject: String,
        reason: String,
    },
    #[error("the CA bundle {0}")]
    Bundle(String),
    #[error("none of the versions matching `{constraint}` could be downloaded: {}", tried.join("; "))]
    NoneDownloadable {
        constraint: String,
        /// `version: reason` for every version tried, highest first.
        tried: Vec<String>,
    },
    #[error("no certificate version matches `{constraint}`; available: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    NoVersion {
        constraint: String,
        available: Vec<String>,
    },
}

type Result<T> = std::result::Result<T, CertError>;

/// A parsed X.509 certificate with its validity window read once.
#[derive(Clone, Debug)]
pub struct Certificate {
    x509: X509,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Certificate {
    /// Parses a PEM certificate, base64 of a PEM (the form used in contracts and Terraform
    /// variables), base64 of DER, or PEM written with literal `\n` escapes.
    pub fn parse(text: &str) -> Result<Self> {
        Self::parse_as(text, "certificate")
    }

    fn parse_as(text: &str, what: &'static str) -> Result<Self> {
        let parse_err = |reason: &str| CertError::Parse {
            what,
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        let x509 = if trimmed.starts_with("-----BEGIN") {
            let pem = if trimmed.contains('\n') {
                trimmed.to_string()
            } else {
                trimmed.replace("\\n", "\n")
            };
            X509::from_pem(pem.as_bytes()).map_err(|e| parse_err(&first_reason(&e)))?
        } else {
            let compact: String = trimmed
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| parse_err("neither PEM nor base64"))?;
            if raw.starts_with(b"-----BEGIN") {
                X509::from_pem(&raw).map_err(|e| parse_err(&first_reason(&e)))?
            } else {
                X509::from_der(&raw).map_err(|e| parse_err(&first_reason(&e)))?
            }
        };
        Self::from_x509_as(x509, what)
    }

    /// Wraps an already parsed certificate.
    pub fn from_x509(x509: X509) -> Result<Self> {
        Self::from_x509_as(x509, "certificate")
    }

    fn from_x509_as(x509: X509, what: &'static str) -> Result<Self> {
        let dates = |reason: String| CertError::Dates { what, reason };
        let not_before = asn1_to_time(x509.not_before()).map_err(dates)?;
        let not_after = asn1_to_time(x509.not_after()).map_err(dates)?;
        Ok(Self {
            x509,
            not_before,
            not_after,
        })
    }

    pub fn x509(&self) -> &X509Ref {
        &self.x509
    }

    pub fn to_pem(&self) -> String {
        // Serialising a parsed certificate cannot fail short of memory exhaustion.
        String::from_utf8(self.x509.to_pem().unwrap_or_default()).unwrap_or_default()
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Serial number as uppercase hex (as `openssl x509 -serial` prints it).
    pub fn serial_hex(&self) -> String {
        self.x509
            .serial_number()
            .to_bn()
            .ok()
            .and_then(|bn| bn.to_hex_str().ok().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        name_text(self.x509.subject_name())
    }

    pub fn issuer(&self) -> String {
        name_text(self.x509.issuer_name())
    }

    /// URIs from the CRL distribution points extension.
    pub fn crl_urls(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(points) = self.x509.crl_distribution_points() {
            for point in &points {
                let names = point.distpoint().and_then(|d| d.fullname());
                for name in names.into_iter().flatten() {
                    if let Some(uri) = name.uri() {
                        out.push(uri.to_string());
                    }
                }
            }
        }
        out
    }

    /// Whether `now` lies in `notBefore ≤ now ≤ notAfter`.
    pub fn check_validity_window(&self, now: OffsetDateTime) -> Result<()> {
        self.window_as(now, "certificate")
    }

    fn window_as(&self, now: OffsetDateTime, what: &'static str) -> Result<()> {
        if now < self.not_before || now > self.not_after {
            return Err(CertError::OutsideValidity {
                what,
                subject: self.subject(),
                at: format_gmt(now),
                not_before: format_gmt(self.not_before),
                not_after: format_gmt(self.not_after),
            });
        }
        Ok(())
    }
}

/// Parses an encryption certificate (PEM, or base64 of PEM).
pub fn parse_encryption_cert(text: &str) -> Result<Certificate> {
    Certificate::parse_as(text, "encryption certificate")
}

/// The name the contract resources use for [`check_encryption_purpose`] (two branches wrote
/// the same check; this keeps one).
pub use self::check_encryption_purpose as require_encryption_purpose;

/// Checks that `cert` can serve as a contract encryption certificate: an RSA key (tokens
/// wrap their password with RSA PKCS#1 v1.5), not a CA, and, when a key-usage extension is
/// present, one that allows key or data encipherment. IBM's certificates carry no key-usage
/// extension at all, so its absence is fine.
pub fn check_encryption_purpose(cert: &Certificate) -> Result<()> {
    use openssl::x509::X509KeyUsage as Ku;
    let wrong = |reason: String| CertError::WrongPurpose {
        what: "encryption certificate",
        subject: cert.subject(),
        reason,
    };
    let key = cert.x509.public_key().map_err(|e| CertError::Parse {
        what: "encryption certificate",
        reason: first_reason(&e),
    })?;
    if key.id() != openssl::pkey::Id::RSA {
        return Err(wrong(format!(
            "its key is {}, but contract encryption needs an RSA key",
            super::keys::key_type_name(key.id())
        )));
    }
    if let Some(usage) = cert.x509.key_usage() {
        if usage.intersects(Ku::KEY_CERT_SIGN | Ku::CRL_SIGN) {
            return Err(wrong(
                "it is a CA certificate (its key usage allows signing certificates or CRLs)"
                    .to_string(),
            ));
        }
        if !usage.intersects(Ku::KEY_ENCIPHERMENT | Ku::DATA_ENCIPHERMENT) {
            return Err(wrong(format!(
                "its key usage ({}) allows neither keyEncipherment nor dataEncipherment",
                key_usage_names(usage)
            )));
        }
    }
    if cert.x509.pathlen().is_some() {
        return Err(wrong(
            "it is a CA certificate (it has a path length constraint)".to_string(),
        ));
    }
    Ok(())
}

fn key_usage_names(usage: openssl::x509::X509KeyUsage) -> String {
    use openssl::x509::X509KeyUsage as Ku;
    let names = [
        (Ku::DIGITAL_SIGNATURE, "digitalSignature"),
        (Ku::NON_REPUDIATION, "nonRepudiation"),
        (Ku::KEY_ENCIPHERMENT, "keyEncipherment"),
        (Ku::DATA_ENCIPHERMENT, "dataEncipherment"),
        (Ku::KEY_AGREEMENT, "keyAgreement"),
        (Ku::KEY_CERT_SIGN, "keyCertSign"),
        (Ku::CRL_SIGN, "cRLSign"),
    ];
    let listed: Vec<&str> = names
        .iter()
        .filter(|(flag, _)| usage.contains(*flag))
        .map(|(_, name)| *name)
        .collect();
    if listed.is_empty() {
        "empty".to_string()
    } else {
        listed.join(", ")
    }
}

/// A certificate's issuing chain as given by a user: the CAs between it and the trust anchor
/// (issuer first) and the anchor itself.
#[derive(Clone, Debug)]
pub struct Chain {
    pub intermediates: Vec<Certificate>,
    pub root: Certificate,
}

/// Reads a PEM bundle of CA certificates (in any order) and arranges the ones that issue
/// `cert`, link by link by subject/issuer name, into a [`Chain`]: the last certificate
/// reached (a self-signed root, or the highest CA the bundle holds) is the trust anchor.
/// Certificates in the bundle that are not on the path are ignored.
pub fn chain_from_bundle(cert: &Certificate, bundle: &str) -> Result<Chain> {
    let bundle_err = |reason: String| CertError::Bundle(reason);
    let stack = X509::stack_from_pem(bundle.trim().as_bytes())
        .map_err(|e| bundle_err(format!("is not PEM certificates: {}", first_reason(&e))))?;
    if stack.is_empty() {
        return Err(bundle_err("holds no PEM certificate".to_string()));
    }
    let mut pool: Vec<Certificate> = stack
        .into_iter()
        .map(|x| Certificate::from_x509_as(x, "CA certificate"))
        .collect::<Result<_>>()?;
    let mut path: Vec<Certificate> = Vec::new();
    let mut current = cert.clone();
    while let Some(pos) = pool
        .iter()
        .position(|ca| names_equal(current.x509.issuer_name(), ca.x509.subject_name()))
    {
        let ca = pool.swap_remove(pos);
        let self_signed = names_equal(ca.x509.issuer_name(), ca.x509.subject_name());
        path.push(ca.clone());
        if self_signed {
            break;
        }
        current = ca;
    }
    let Some(root) = path.pop() else {
        return Err(bundle_err(format!(
            "has no certificate whose subject is the issuer of the certificate ({})",
            cert.issuer()
        )));
    };
    if !names_equal(root.x509.issuer_name(), root.x509.subject_name()) {
        return Err(bundle_err(format!(
            "must reach a self-signed root: the last CA found ({}) was issued by {}, which \
             the bundle lacks",
            root.subject(),
            root.issuer()
        )));
    }
    if path.is_empty() {
        // The root issued the certificate directly: `verify_chain_at` wants the direct
        // issuer first, so the root stands in both places.
        return Ok(Chain {
            intermediates: vec![root.clone()],
            root,
        });
    }
    Ok(Chain {
        intermediates: path,
        root,
    })
}

/// Downloads the encryption certificate of the highest version among `candidates` that
/// matches `constraint` and is published: a version whose URL answers 404 is skipped for
/// the next lower one (publishers remove old certificates), any other failure stops.
pub async fn download_highest(
    template: &str,
    candidates: &[String],
    constraint: &str,
) -> Result<DownloadedCert> {
    let req = VersionConstraint::parse(constraint)?;
    let mut versions = Vec::new();
    for text in candidates {
        versions.push(parse_version(text)?);
    }
    versions.sort();
    versions.dedup();
    let matching: Vec<&semver::Version> =
        versions.iter().rev().filter(|v| req.matches(v)).collect();
    if matching.is_empty() {
        return Err(CertError::NoVersion {
            constraint: req.to_string(),
            available: versions.iter().map(|v| v.to_string()).collect(),
        });
    }
    let client = http_client().map_err(|e| CertError::Fetch {
        location: template.to_string(),
        reason: e.to_string(),
    })?;
    let mut tried = Vec::new();
    for version in matching {
        match download_with(&client, template, &version.to_string()).await {
            Ok(cert) => return Ok(cert),
            Err(CertError::HttpStatus { url, status: 404 }) => {
                tried.push(format!("{version}: GET {url} returned HTTP 404"));
            }
            Err(e) => return Err(e),
        }
    }
    Err(CertError::NoneDownloadable {
        constraint: req.to_string(),
        tried,
    })
}

/// How long an encryption certificate remains usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// Past `notAfter`: must not be used to encrypt.
    Expired {
        on: OffsetDateTime,
    },
    /// Fewer than [`EXPIRY_WARNING_DAYS`] whole days left.
    ExpiresSoon {
        days: i64,
        on: OffsetDateTime,
    },
    Valid {
        days: i64,
        until: OffsetDateTime,
    },
}

impl ExpiryStatus {
    /// `expired` or `valid` (the `status` attribute of the hpcr data sources).
    pub fn status_word(&self) -> &'static str {
        match self {
            ExpiryStatus::Expired { .. } => "expired",
            _ => "valid",
        }
    }

    /// Whole days left (0 when expired).
    pub fn days_left(&self) -> i64 {
        match *self {
            ExpiryStatus::Expired { .. } => 0,
            ExpiryStatus::ExpiresSoon { days, .. } | ExpiryStatus::Valid { days, .. } => days,
        }
    }

    /// The certificate's `notAfter`.
    pub fn expiry(&self) -> OffsetDateTime {
        match *self {
            ExpiryStatus::Expired { on }
            | ExpiryStatus::ExpiresSoon { on, .. }
            | ExpiryStatus::Valid { until: on, .. } => on,
        }
    }

    /// Error for an expired certificate; a soon-expiring one is still usable (warn with
    /// the `Display` text).
    pub fn require_usable(&self) -> Result<()> {
        match self {
            ExpiryStatus::Expired { .. } => Err(CertError::Expired(self.to_string())),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for ExpiryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExpiryStatus::Expired { on } => write!(
                f,
                "Encryption certificate has already expired on {}",
                format_gmt(on)
            ),
            ExpiryStatus::ExpiresSoon { days, on } => write!(
                f,
                "Warning: Encryption certificate will expire in {days} days (on {})",
                format_gmt(on)
            ),
            ExpiryStatus::Valid { days, until } => write!(
                f,
                "Encryption certificate is valid for another {days} days (until {})",
                format_gmt(until)
            ),
        }
    }
}

/// Expiry status of `cert` at `now`; days are whole days, rounded down.
pub fn expiry_status(cert: &Certificate, now: OffsetDateTime) -> ExpiryStatus {
    let on = cert.not_after;
    if now > on {
        return ExpiryStatus::Expired { on };
    }
    let days = (on - now).whole_days();
    if days < EXPIRY_WARNING_DAYS {
        ExpiryStatus::ExpiresSoon { days, on }
    } else {
        ExpiryStatus::Valid { days, until: on }
    }
}

/// `DD-MM-YY hh:mm:ss GMT`, the format of IBM's tooling.
pub fn format_gmt(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}-{:02}-{:02} {:02}:{:02}:{:02} GMT",
        t.day(),
        u8::from(t.month()),
        t.year().rem_euclid(100),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Verifies `cert` ← `intermediate` ← `root` now. See [`verify_chain_at`].
pub fn verify_chain(
    cert: &Certificate,
    intermediate: &Certificate,
    root: &Certificate,
) -> Result<()> {
    verify_chain_at(cert, &[intermediate], root, OffsetDateTime::now_utc())
}

/// Verifies an encryption (or attestation) certificate against a chain ending in a trusted
/// `root`, at time `at`. `intermediates` starts with the certificate's direct issuer (the IBM
/// intermediate), followed by any further CAs up to the root (e.g. DigiCert's code-signing
/// CA).
///
/// IBM's intermediate is a code-signing certificate rather than a CA, so a plain
/// `openssl verify` of the encryption certificate would reject it; IBM documents a two-part
/// check instead, which is what happens here: (1) the encryption certificate's issuer name
/// equals the intermediate's subject and its signature verifies with the intermediate's key;
/// (2) the intermediate itself passes a full OpenSSL X509 store verification up to `root`
/// (the only trust anchor). Every validity window is checked at `at`, and names and
/// signatures are checked along the whole chain, so errors say which link is wrong.
pub fn verify_chain_at(
    cert: &Certificate,
    intermediates: &[&Certificate],
    root: &Certificate,
    at: OffsetDateTime,
) -> Result<()> {
    let Some(issuer) = intermediates.first() else {
        return Err(CertError::ChainInvalid {
            reason: "no intermediate certificate given".to_string(),
            depth: 1,
        });
    };
    expect_issued_by(
        cert,
        "encryption certificate",
        issuer,
        "intermediate certificate",
    )?;
    for pair in intermediates.windows(2) {
        expect_issued_by(
            pair[0],
            "intermediate certificate",
            pair[1],
            "next CA certificate",
        )?;
    }
    let last = intermediates.last().copied().unwrap_or(issuer);
    expect_issued_by(last, "intermediate certificate", root, "root certificate")?;

    cert.window_as(at, "encryption certificate")?;
    for ca in intermediates {
        ca.window_as(at, "intermediate certificate")?;
    }
    root.window_as(at, "root certificate")?;

    let store_err = |e: openssl::error::ErrorStack| CertError::ChainInvalid {
        reason: first_reason(&e),
        depth: 0,
    };
    let mut builder = X509StoreBuilder::new().map_err(store_err)?;
    builder.add_cert(root.x509.clone()).map_err(store_err)?;
    let mut param = X509VerifyParam::new().map_err(store_err)?;
    param.set_time(at.unix_timestamp() as _);
    builder.set_param(&param).map_err(store_err)?;
    let store = builder.build();
    let mut untrusted = openssl::stack::Stack::new().map_err(store_err)?;
    for ca in &intermediates[1..] {
        untrusted.push(ca.x509.clone()).map_err(store_err)?;
    }
    let mut ctx = X509StoreContext::new().map_err(store_err)?;
    let outcome = ctx
        .init(&store, &issuer.x509, &untrusted, |c| {
            let ok = c.verify_cert()?;
            Ok((ok, c.error().error_string(), c.error_depth()))
        })
        .map_err(store_err)?;
    match outcome {
        (true, _, _) => Ok(()),
        // Depths count from the encryption certificate (0), one above the store's target.
        (false, reason, depth) => Err(CertError::ChainInvalid {
            reason: reason.to_string(),
            depth: depth + 1,
        }),
    }
}

fn expect_issued_by(
    cert: &Certificate,
    what: &'static str,
    ca: &Certificate,
    ca_what: &'static str,
) -> Result<()> {
    let same_name = match (
        cert.x509.issuer_name().to_der(),
        ca.x509.subject_name().to_der(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same_name {
        return Err(CertError::IssuerMismatch {
            what,
            ca: ca_what,
            issuer: cert.issuer(),
            subject: ca.subject(),
        });
    }
    let key = ca.x509.public_key().map_err(|e| CertError::Parse {
        what: ca_what,
        reason: first_reason(&e),
    })?;
    if !cert.x509.verify(&key).unwrap_or(false) {
        return Err(CertError::BadSignature { what, ca: ca_what });
    }
    Ok(())
}

/// What a successful CRL check saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlCheck {
    pub last_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
}

/// Checks `cert` against a CRL (PEM or DER bytes) issued by `issuer`, at time `now`: the
/// CRL's issuer and signature, its last/next update window, and that the serial is not
/// listed. A revoked certificate is [`CertError::Revoked`].
pub fn check_crl(
    cert: &Certificate,
    crl: &[u8],
    issuer: &Certificate,
    now: OffsetDateTime,
) -> Result<CrlCheck> {
    check_crl_from(cert, crl, "(given bytes)", issuer, now)
}

fn check_crl_from(
    cert: &Certificate,
    crl: &[u8],
    source_name: &str,
    issuer: &Certificate,
    now: OffsetDateTime,
) -> Result<CrlCheck> {
    let parse_err = |reason: String| CertError::CrlParse {
        source_name: source_name.to_string(),
        reason,
    };
    let crl = if crl.trim_ascii_start().starts_with(b"-----BEGIN") {
        X509Crl::from_pem(crl)
    } else {
        X509Crl::from_der(crl)
    }
    .map_err(|e| parse_err(first_reason(&e)))?;

    if !names_equal(crl.issuer_name(), issuer.x509.subject_name()) {
        return Err(CertError::CrlIssuerMismatch {
            crl_issuer: name_text(crl.issuer_name()),
            issuer: issuer.subject(),
        });
    }
    let key = issuer.x509.public_key().map_err(|e| CertError::Parse {
        what: "CRL issuer certificate",
        reason: first_reason(&e),
    })?;
    if !crl.verify(&key).unwrap_or(false) {
        return Err(CertError::CrlSignature);
    }
    let last_update = asn1_to_time(crl.last_update()).map_err(parse_err)?;
    let next_update = match crl.next_update() {
        Some(t) => asn1_to_time(t).map_err(parse_err)?,
        None => return Err(CertError::CrlNoNextUpdate),
    };
    if last_update > now {
        return Err(CertError::CrlNotYetValid {
            last_update: format_gmt(last_update),
            at: format_gmt(now),
        });
    }
    if next_update < now {
        return Err(CertError::CrlStale {
            next_update: format_gmt(next_update),
            at: format_gmt(now),
        });
    }
    match crl.get_by_serial(cert.x509.serial_number()) {
        openssl::x509::CrlStatus::NotRevoked | openssl::x509::CrlStatus::RemoveFromCrl(_) => {
            Ok(CrlCheck {
                last_update,
                next_update,
            })
        }
        openssl::x509::CrlStatus::Revoked(entry) => Err(CertError::Revoked {
            serial: cert.serial_hex(),
            revoked_on: asn1_to_time(entry.revocation_date())
                .map(format_gmt)
                .unwrap_or_else(|_| "an unreadable date".to_string()),
        }),
    }
}

/// Fetches a CRL from an `http(s)://` or `file://` URL or a local path, then checks it as
/// [`check_crl`] does.
pub async fn check_crl_at_location(
    cert: &Certificate,
    location: &str,
    issuer: &Certificate,
    now: OffsetDateTime,
) -> Result<CrlCheck> {
    let bytes = fetch(location).await?;
    check_crl_from(cert, &bytes, location, issuer, now)
}

/// Downloads the CRL named in `cert`'s CRL distribution points (the first URI that can be
/// fetched) and checks it as [`check_crl`] does. A certificate without a distribution point
/// is an error: there is nothing to check against.
pub async fn check_crl_from_distribution_point(
    cert: &Certificate,
    issuer: &Certificate,
    now: OffsetDateTime,
) -> Result<CrlCheck> {
    let urls = cert.crl_urls();
    let mut last_err = CertError::Fetch {
        location: format!("CRL distribution point of {}", cert.subject()),
        reason: "the certificate names no CRL distribution point".to_string(),
    };
    for url in &urls {
        match fetch(url).await {
            Ok(bytes) => return check_crl_from(cert, &bytes, url, issuer, now),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Reads bytes from an `http(s)://` URL (2xx required), a `file://` URL, or a local path.
pub async fn fetch(location: &str) -> Result<Vec<u8>> {
    let fetch_err = |reason: String| CertError::Fetch {
        location: location.to_string(),
        reason,
    };
    if location.starts_with("http://") || location.starts_with("https://") {
        let client = http_client().map_err(|e| fetch_err(e.to_string()))?;
        return http_get(&client, location).await;
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| fetch_err(e.to_string()))?;
    if bytes.len() > MAX_DOWNLOAD_BYTES {
        return Err(fetch_err(format!("larger than {MAX_DOWNLOAD_BYTES} bytes")));
    }
    Ok(bytes)
}

fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(20))
        .build()
}

async fn http_get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let fetch_err = |reason: String| CertError::Fetch {
        location: url.to_string(),
        reason,
    };
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| fetch_err(error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(CertError::HttpStatus {
            url: url.to_string(),
            status: status.as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fetch_err(error_chain(&e)))? {
        if body.len() + chunk.len() > MAX_DOWNLOAD_BYTES {
            return Err(fetch_err(format!("larger than {MAX_DOWNLOAD_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Fills `{major}`, `{minor}`, `{patch}` (or Go-template `{{.Major}}` …) in `template`.
pub fn cert_url(template: &str, version: &semver::Version) -> String {
    let mut url = template.to_string();
    for (names, value) in [
        (["{major}", "{{.Major}}"], version.major),
        (["{minor}", "{{.Minor}}"], version.minor),
        (["{patch}", "{{.Patch}}"], version.patch),
    ] {
        for name in names {
            url = url.replace(name, &value.to_string());
        }
    }
    url
}

/// Parses a version like `1.0.22` (a leading `v` is accepted).
pub fn parse_version(text: &str) -> Result<semver::Version> {
    semver::Version::parse(text.trim().trim_start_matches('v')).map_err(|e| CertError::Version {
        version: text.to_string(),
        reason: e.to_string(),
    })
}

/// A downloaded encryption certificate.
#[derive(Clone, Debug)]
pub struct DownloadedCert {
    pub version: semver::Version,
    pub url: String,
    /// The PEM text as served.
    pub pem: String,
    pub cert: Certificate,
}

/// Downloads the encryption certificate of image `version` from `template` (empty: IBM's
/// location, [`DEFAULT_CERT_URL_TEMPLATE`]).
pub async fn download_by_version(template: &str, version: &str) -> Result<DownloadedCert> {
    let client = http_client().map_err(|e| CertError::Fetch {
        location: template.to_string(),
        reason: e.to_string(),
    })?;
    download_with(&client, template, version).await
}

/// [`download_by_version`] with a caller-provided client (shared connection pool, proxies).
pub async fn download_with(
    client: &reqwest::Client,
    template: &str,
    version: &str,
) -> Result<DownloadedCert> {
    let version = parse_version(version)?;
    let template = if template.trim().is_empty() {
        DEFAULT_CERT_URL_TEMPLATE
    } else {
        template
    };
    let url = cert_url(template, &version);
    let body = http_get(client, &url).await?;
    let not_pem = |reason: &str| CertError::NotPem {
        url: url.clone(),
        reason: reason.to_string(),
    };
    let pem = String::from_utf8(body).map_err(|_| not_pem("the body is not text"))?;
    if !pem.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
        return Err(not_pem(
            "the body does not start with -----BEGIN CERTIFICATE-----",
        ));
    }
    let cert = parse_encryption_cert(&pem).map_err(|e| not_pem(&e.to_string()))?;
    Ok(DownloadedCert {
        version,
        url,
        pem,
        cert,
    })
}

/// Picks the highest version (map key, e.g. `1.0.22`) matching `constraint` (`*`,
/// `>=1.0.20`, `~1.0`, exact `1.0.22`, …; empty = `*`) and returns it with its value.
pub fn select_version<K, V>(
    available: impl IntoIterator<Item = (K, V)>,
    constraint: &str,
) -> Result<(semver::Version, V)>
where
    K: AsRef<str>,
{
    let req = VersionConstraint::parse(constraint)?;
    let mut best: Option<(semver::Version, V)> = None;
    let mut seen = Vec::new();
    for (key, value) in available {
        let version = parse_version(key.as_ref())?;
        seen.push(version.clone());
        if req.matches(&version) && best.as_ref().is_none_or(|(b, _)| version > *b) {
            best = Some((version, value));
        }
    }
    best.ok_or_else(|| {
        seen.sort();
        CertError::NoVersion {
            constraint: req.to_string(),
            available: seen.iter().map(|v| v.to_string()).collect(),
        }
    })
}

fn asn1_to_time(t: &Asn1TimeRef) -> std::result::Result<OffsetDateTime, String> {
    let epoch = Asn1Time::from_unix(0).map_err(|e| first_reason(&e))?;
    let diff = epoch.diff(t).map_err(|e| first_reason(&e))?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

fn names_equal(a: &X509NameRef, b: &X509NameRef) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".to_string());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .first()
        .and_then(|e| e.reason().map(str::to_string))
        .unwrap_or_else(|| "invalid data".to_string())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, KeyUsage};
    use openssl::x509::{X509Builder, X509Name};
    use std::collections::BTreeMap;
    use time::macros::datetime;

    fn rsa(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn name(cn: &str) -> X509Name {
        let mut n = X509Name::builder().unwrap();
        n.append_entry_by_text("O", "Test Org").unwrap();
        n.append_entry_by_text("CN", cn).unwrap();
        n.build()
    }

    struct Issued {
        cert: Certificate,
        key: PKey<Private>,
    }

    struct Spec<'a> {
        cn: &'a str,
        key: PKey<Private>,
        issuer: Option<&'a Issued>,
        ca: bool,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        serial: u32,
        crl_url: Option<&'a str>,
    }

    fn spec<'a>(cn: &'a str, issuer: Option<&'a Issued>, ca: bool) -> Spec<'a> {
        let now = OffsetDateTime::now_utc();
        Spec {
            cn,
            key: rsa(2048),
            issuer,
            ca,
            not_before: now - time::Duration::days(1),
            not_after: now + time::Duration::days(365),
            serial: 1000 + cn.len() as u32,
            crl_url: None,
        }
    }

    fn issue(s: Spec<'_>) -> Issued {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = openssl::bn::BigNum::from_u32(s.serial)
            .unwrap()
            .to_asn1_integer()
            .unwrap();
        b.set_serial_number(&serial).unwrap();
        let subject = name(s.cn);
        b.set_subject_name(&subject).unwrap();
        match s.issuer {
            Some(i) => b.set_issuer_name(i.cert.x509().subject_name()).unwrap(),
            None => b.set_issuer_name(&subject).unwrap(),
        }
        b.set_pubkey(&s.key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(s.not_before.unix_timestamp() as _).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(s.not_after.unix_timestamp() as _).unwrap())
            .unwrap();
        if s.ca {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        } else {
            b.append_extension(BasicConstraints::new().critical().build().unwrap())
                .unwrap();
        }
        if let Some(url) = s.crl_url {
            #[allow(deprecated)]
            let ext = openssl::x509::X509Extension::new(
                None,
                None,
                "crlDistributionPoints",
                &format!("URI:{url}"),
            )
            .unwrap();
            b.append_extension(ext).unwrap();
        }
        let signer = s.issuer.map(|i| &i.key).unwrap_or(&s.key);
        b.sign(signer, MessageDigest::sha512()).unwrap();
        Issued {
            cert: Certificate::from_x509(b.build()).unwrap(),
            key: s.key,
        }
    }

    struct Chain {
        root: Issued,
        intermediate: Issued,
        leaf: Issued,
    }

    fn chain() -> Chain {
        let root = issue(spec("Test Root G4", None, true));
        let intermediate = issue(spec("Test Signing Service", Some(&root), true));
        let leaf = issue(Spec {
            serial: 0x00C7_7592,
            crl_url: Some("https://example.test/crl-1"),
            ..spec(
                "Hyper Protect Contract Encryption",
                Some(&intermediate),
                false,
            )
        });
        Chain {
            root,
            intermediate,
            leaf,
        }
    }

    // ------------------------------------------------------------------ parsing

    #[test]
    fn encryption_purpose_refuses_ca_certificates() {
        let c = chain();
        require_encryption_purpose(&c.leaf.cert).unwrap();
        for ca in [&c.root.cert, &c.intermediate.cert] {
            let err = require_encryption_purpose(ca).unwrap_err().to_string();
            assert!(err.contains("a CA certificate"), "{err}");
        }
    }

    #[test]
    fn parses_pem_base64_der_and_escaped_pem() {
        let c = chain();
        let pem = c.leaf.cert.to_pem();
        let der = c.leaf.cert.x509().to_der().unwrap();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        for text in [
            pem.clone(),
            b64(pem.as_bytes()),
            b64(&der),
            pem.trim().replace('\n', "\\n"),
            format!("\n  {pem}\n"),
        ] {
            let parsed = parse_encryption_cert(&text).unwrap();
            assert_eq!(parsed.x509().to_der().unwrap(), der);
        }
        assert_eq!(c.leaf.cert.serial_hex(), "C77592");
        assert_eq!(
            c.leaf.cert.subject(),
            "O=Test Org, CN=Hyper Protect Contract Encryption"
        );
        assert_eq!(c.leaf.cert.issuer(), "O=Test Org, CN=Test Signing Service");
        assert_eq!(c.leaf.cert.crl_urls(), ["https://example.test/crl-1"]);
        assert!(c.root.cert.crl_urls().is_empty());
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_input() {
        for text in [
            "",
            "hello world",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "QUJD",
        ] {
            let err = parse_encryption_cert(text).unwrap_err();
            assert!(
                matches!(
                    err,
                    CertError::Parse {
                        what: "encryption certificate",
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err
                .to_string()
                .starts_with("encryption certificate is not a PEM certificate"));
        }
    }

    // ------------------------------------------------------------------ expiry

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn expiring(after: time::Duration, bits: u32) -> Certificate {
        issue(Spec {
            key: rsa(bits),
            not_before: NOW - time::Duration::days(30),
            not_after: NOW + after,
            ..spec("expiry", None, false)
        })
        .cert
    }

    #[test]
    fn expiry_status_with_exact_days_and_ibm_wording() {
        let soon = expiring(time::Duration::days(10) + time::Duration::hours(3), 2048);
        let st = expiry_status(&soon, NOW);
        assert_eq!(
            st,
            ExpiryStatus::ExpiresSoon {
                days: 10,
                on: datetime!(2026-01-11 03:00:00 UTC)
            }
        );
        assert_eq!(
            st.to_string(),
            "Warning: Encryption certificate will expire in 10 days (on 11-01-26 03:00:00 GMT)"
        );
        assert_eq!((st.status_word(), st.days_left()), ("valid", 10));
        assert!(st.require_usable().is_ok());

        // One RSA-4096 certificate, like IBM's.
        let valid = expiring(time::Duration::days(400), 4096);
        assert_eq!(valid.x509().public_key().unwrap().bits(), 4096);
        let st = expiry_status(&valid, NOW);
        assert_eq!(
            st,
            ExpiryStatus::Valid {
                days: 400,
                until: datetime!(2027-02-05 00:00:00 UTC)
            }
        );
        assert_eq!(
            st.to_string(),
            "Encryption certificate is valid for another 400 days (until 05-02-27 00:00:00 GMT)"
        );

        let expired = expiring(-time::Duration::seconds(1), 2048);
        let st = expiry_status(&expired, NOW);
        assert_eq!(
            st,
            ExpiryStatus::Expired {
                on: datetime!(2025-12-31 23:59:59 UTC)
            }
        );
        assert_eq!(
            st.to_string(),
            "Encryption certificate has already expired on 31-12-25 23:59:59 GMT"
        );
        assert_eq!((st.status_word(), st.days_left()), ("expired", 0));
        let err = st.require_usable().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Encryption certificate has already expired on 31-12-25 23:59:59 GMT"
        );
    }

    #[test]
    fn expiry_boundaries() {
        let c = expiring(time::Duration::days(180), 2048);
        assert_eq!(
            expiry_status(&c, NOW),
            ExpiryStatus::Valid {
                days: 180,
                until: c.not_after()
            }
        );
        assert_eq!(
            expiry_status(&c, NOW + time::Duration::seconds(1)),
            ExpiryStatus::ExpiresSoon {
                days: 179,
                on: c.not_after()
            }
        );
        assert_eq!(
            expiry_status(&c, c.not_after()),
            ExpiryStatus::ExpiresSoon {
                days: 0,
                on: c.not_after()
            }
        );
        assert_eq!(
            expiry_status(&c, c.not_after() + time::Duration::seconds(1)),
            ExpiryStatus::Expired { on: c.not_after() }
        );
        assert!(c.check_validity_window(NOW).is_ok());
        let err = c
            .check_validity_window(NOW - time::Duration::days(31))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("is not valid at 01-12-25 00:00:00 GMT"),
            "{err}"
        );
    }

    // ------------------------------------------------------------------ chain

    #[test]
    fn good_chain_verifies() {
        let c = chain();
        verify_chain(&c.leaf.cert, &c.intermediate.cert, &c.root.cert).unwrap();
        // Four levels, like IBM's (leaf ← IBM intermediate ← DigiCert CA ← DigiCert root).
        let root = issue(spec("Root", None, true));
        let ca1 = issue(spec("Code Signing CA1", Some(&root), true));
        let ibm = issue(spec("IBM Signing Service", Some(&ca1), true));
        let leaf = issue(spec("Encryption", Some(&ibm), false));
        verify_chain_at(
            &leaf.cert,
            &[&ibm.cert, &ca1.cert],
            &root.cert,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let err = verify_chain_at(
            &leaf.cert,
            &[&ibm.cert],
            &root.cert,
            OffsetDateTime::now_utc(),
        )
        .unwrap_err();
        assert!(matches!(err, CertError::IssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn wrong_intermediate_is_rejected() {
        let c = chain();
        // Same subject name, different key: names match, signature does not.
        let impostor = issue(spec("Test Signing Service", Some(&c.root), true));
        let err = verify_chain(&c.leaf.cert, &impostor.cert, &c.root.cert).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::BadSignature {
                    what: "encryption certificate",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.to_string(), "signature of the encryption certificate does not verify with the public key of the intermediate certificate");

        // Different intermediate altogether.
        let other = issue(spec("Other Signing Service", Some(&c.root), true));
        let err = verify_chain(&c.leaf.cert, &other.cert, &c.root.cert).unwrap_err();
        assert_eq!(
            err.to_string(),
            "issuer of the encryption certificate (O=Test Org, CN=Test Signing Service) is not the subject of the intermediate certificate (O=Test Org, CN=Other Signing Service)"
        );

        // Right intermediate, wrong root.
        let other_root = issue(spec("Test Root G4", None, true));
        let err = verify_chain(&c.leaf.cert, &c.intermediate.cert, &other_root.cert).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::BadSignature {
                    what: "intermediate certificate",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn store_verification_checks_the_intermediate_up_to_the_root() {
        // IBM-style: the intermediate is an end-entity code-signing certificate (CA:FALSE) that
        // signs the encryption certificate; accepted, as in IBM's documented procedure.
        let root = issue(spec("Root", None, true));
        let code_signing = issue(spec("IBM Code Signing", Some(&root), false));
        let leaf = issue(spec("Leaf", Some(&code_signing), false));
        verify_chain(&leaf.cert, &code_signing.cert, &root.cert).unwrap();

        // But a non-CA above the intermediate breaks the X509 store verification.
        let not_ca = issue(spec("Not A CA", Some(&root), false));
        let ibm = issue(spec("IBM Signing Service", Some(&not_ca), false));
        let leaf = issue(spec("Leaf", Some(&ibm), false));
        let now = OffsetDateTime::now_utc();
        let err =
            verify_chain_at(&leaf.cert, &[&ibm.cert, &not_ca.cert], &root.cert, now).unwrap_err();
        match err {
            CertError::ChainInvalid { reason, depth } => {
                assert_eq!(depth, 2);
                assert!(reason.contains("CA"), "{reason}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn chain_checks_validity_windows_at_the_given_time() {
        let c = chain();
        let later = OffsetDateTime::now_utc() + time::Duration::days(400);
        let err = verify_chain_at(&c.leaf.cert, &[&c.intermediate.cert], &c.root.cert, later)
            .unwrap_err();
        assert!(
            matches!(
                err,
                CertError::OutsideValidity {
                    what: "encryption certificate",
                    ..
                }
            ),
            "{err}"
        );
    }

    // ------------------------------------------------------------------ CRL

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    fn utc_time(t: OffsetDateTime) -> Vec<u8> {
        let s = format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}Z",
            t.year() % 100,
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        der(0x17, s.as_bytes())
    }

    /// A v2 CRL (DER) signed with SHA-256/RSA, built by hand because the openssl crate has
    /// no CRL builder.
    fn make_crl(
        issuer: &Certificate,
        signer: &PKey<Private>,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        revoked: &[&Certificate],
    ) -> Vec<u8> {
        let alg = der(
            0x30,
            &[
                &[
                    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B,
                ][..],
                &[0x05, 0x00],
            ]
            .concat(),
        );
        let mut tbs = der(0x02, &[1]);
        tbs.extend(&alg);
        tbs.extend(issuer.x509().subject_name().to_der().unwrap());
        tbs.extend(utc_time(this_update));
        tbs.extend(utc_time(next_update));
        if !revoked.is_empty() {
            let mut entries = Vec::new();
            for r in revoked {
                let mut serial = r.x509().serial_number().to_bn().unwrap().to_vec();
                if serial[0] & 0x80 != 0 {
                    serial.insert(0, 0);
                }
                let mut entry = der(0x02, &serial);
                entry.extend(utc_time(this_update - time::Duration::days(1)));
                entries.extend(der(0x30, &entry));
            }
            tbs.extend(der(0x30, &entries));
        }
        let tbs = der(0x30, &tbs);
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), signer).unwrap();
        let sig = signer.sign_oneshot_to_vec(&tbs).unwrap();
        let mut body = tbs;
        body.extend(&alg);
        body.extend(der(0x03, &[&[0u8][..], &sig].concat()));
        der(0x30, &body)
    }

    fn crl_pem(der: &[u8]) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
            lines.join("\n")
        )
        .into_bytes()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn day() -> time::Duration {
        time::Duration::days(1)
    }

    #[test]
    fn crl_without_the_serial_passes_in_pem_and_der() {
        let c = chain();
        let other = issue(spec("Someone else", Some(&c.intermediate), false));
        let crl = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() - day(),
            now() + day() * 7,
            &[&other.cert],
        );
        let check = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap();
        assert!(check.next_update > now() + day() * 6);
        check_crl(&c.leaf.cert, &crl_pem(&crl), &c.intermediate.cert, now()).unwrap();
        // And the other certificate is the revoked one.
        assert!(matches!(
            check_crl(&other.cert, &crl, &c.intermediate.cert, now()),
            Err(CertError::Revoked { .. })
        ));
    }

    #[test]
    fn revoked_serial_is_an_error_naming_the_serial() {
        let c = chain();
        let crl = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() - day(),
            now() + day(),
            &[&c.leaf.cert],
        );
        let err = check_crl(&c.leaf.cert, &crl_pem(&crl), &c.intermediate.cert, now()).unwrap_err();
        assert!(
            matches!(err, CertError::Revoked { ref serial, .. } if serial == "C77592"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("certificate serial C77592 is revoked (since "),
            "{err}"
        );
    }

    #[test]
    fn crl_signed_by_the_wrong_key_is_rejected() {
        let c = chain();
        let crl = make_crl(
            &c.intermediate.cert,
            &rsa(2048),
            now() - day(),
            now() + day(),
            &[],
        );
        let err = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap_err();
        assert!(matches!(err, CertError::CrlSignature), "{err}");
        // A CRL from a different issuer name.
        let crl = make_crl(&c.root.cert, &c.root.key, now() - day(), now() + day(), &[]);
        let err = check_crl(&c.leaf.cert, &crl, &c.intermediate.cert, now()).unwrap_err();
        assert!(matches!(err, CertError::CrlIssuerMismatch { .. }), "{err}");
    }

    #[test]
    fn crl_update_window_is_checked() {
        let c = chain();
        let stale = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() - day() * 10,
            now() - day(),
            &[],
        );
        let err = check_crl(&c.leaf.cert, &stale, &c.intermediate.cert, now()).unwrap_err();
        assert!(matches!(err, CertError::CrlStale { .. }), "{err}");
        let future = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() + day(),
            now() + day() * 10,
            &[],
        );
        let err = check_crl(&c.leaf.cert, &future, &c.intermediate.cert, now()).unwrap_err();
        assert!(matches!(err, CertError::CrlNotYetValid { .. }), "{err}");
        let err = check_crl(&c.leaf.cert, b"not a crl", &c.intermediate.cert, now()).unwrap_err();
        assert!(matches!(err, CertError::CrlParse { .. }), "{err}");
    }

    // ------------------------------------------------------------------ HTTP

    /// A tiny HTTP/1.1 server on 127.0.0.1: path → (status, body). Returns the base URL.
    async fn serve(routes: Vec<(String, u16, Vec<u8>)>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = std::sync::Arc::new(routes);
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let routes = routes.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16384 {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf);
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body) = routes
                        .iter()
                        .find(|(p, _, _)| *p == path)
                        .map(|(_, s, b)| (*s, b.clone()))
                        .unwrap_or((404, b"not found".to_vec()));
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn download_highest_skips_unpublished_versions_and_stops_on_other_errors() {
        let c = chain();
        let pem = c.leaf.cert.to_pem();
        let base = serve(vec![
            ("/v/1.0.22.crt".into(), 200, pem.clone().into_bytes()),
            ("/v/1.0.27.crt".into(), 500, Vec::new()),
        ])
        .await;
        let template = format!("{base}/v/{{major}}.{{minor}}.{{patch}}.crt");
        let candidates: Vec<String> = ["1.0.21", "1.0.22", "1.0.23", "1.0.24", "2.0.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // 1.0.24 and 1.0.23 answer 404: the highest published match wins.
        let got = download_highest(&template, &candidates, "~> 1.0.0")
            .await
            .unwrap();
        assert_eq!(got.version, semver::Version::new(1, 0, 22));
        assert_eq!(got.pem, pem);
        // Nothing published in range: every tried version is named.
        let err = download_highest(&template, &candidates, ">= 1.0.23, < 2")
            .await
            .unwrap_err();
        assert!(matches!(err, CertError::NoneDownloadable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("1.0.24: GET") && text.contains("1.0.23: GET"),
            "{text}"
        );
        // No candidate matches at all.
        let err = download_highest(&template, &candidates, "~> 3.0")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no certificate version matches `~> 3.0`; available: 1.0.21, 1.0.22, 1.0.23, 1.0.24, 2.0.0"
        );
        // A server error is not skipped over.
        let more: Vec<String> = vec!["1.0.22".into(), "1.0.27".into()];
        let err = download_highest(&template, &more, "*").await.unwrap_err();
        assert!(
            matches!(err, CertError::HttpStatus { status: 500, .. }),
            "{err}"
        );
        // Unreachable server.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = download_highest(&format!("http://{closed}/{{patch}}"), &more, "*")
            .await
            .unwrap_err();
        assert!(matches!(err, CertError::Fetch { .. }), "{err}");
    }

    #[test]
    fn encryption_purpose_rejects_cas_signing_only_and_non_rsa_keys() {
        let c = chain();
        // The leaf (no key usage, like IBM's certificates) is fine.
        check_encryption_purpose(&c.leaf.cert).unwrap();
        let err = check_encryption_purpose(&c.intermediate.cert).unwrap_err();
        assert!(err.to_string().contains("is a CA certificate"), "{err}");

        let build = |key: &PKey<Private>, usage: Option<KeyUsage>| {
            let mut b = X509Builder::new().unwrap();
            b.set_version(2).unwrap();
            b.set_subject_name(&name("purpose")).unwrap();
            b.set_issuer_name(&name("purpose")).unwrap();
            b.set_pubkey(key).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
                .unwrap();
            if let Some(u) = usage {
                b.append_extension(u.build().unwrap()).unwrap();
            }
            b.sign(key, MessageDigest::sha256()).unwrap();
            Certificate::from_x509(b.build()).unwrap()
        };
        let key = rsa(2048);
        let mut signing_only = KeyUsage::new();
        signing_only.digital_signature();
        let err = check_encryption_purpose(&build(&key, Some(signing_only))).unwrap_err();
        assert!(
            err.to_string()
                .contains("key usage (digitalSignature) allows neither keyEncipherment"),
            "{err}"
        );
        let mut enc = KeyUsage::new();
        enc.key_encipherment();
        check_encryption_purpose(&build(&key, Some(enc))).unwrap();

        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let ec = PKey::from_ec_key(ec).unwrap();
        let err = check_encryption_purpose(&build(&ec, None)).unwrap_err();
        assert!(err.to_string().contains("its key is EC"), "{err}");
    }

    #[test]
    fn chain_from_bundle_orders_any_bundle_and_needs_a_root() {
        let c = chain();
        let at = OffsetDateTime::now_utc();
        // Root first, intermediate second: ordered by names, not by position.
        let bundle = format!("{}{}", c.root.cert.to_pem(), c.intermediate.cert.to_pem());
        let got = chain_from_bundle(&c.leaf.cert, &bundle).unwrap();
        assert_eq!(got.intermediates.len(), 1);
        assert_eq!(
            got.intermediates[0].subject(),
            c.intermediate.cert.subject()
        );
        assert_eq!(got.root.subject(), c.root.cert.subject());
        let refs: Vec<&Certificate> = got.intermediates.iter().collect();
        verify_chain_at(&c.leaf.cert, &refs, &got.root, at).unwrap();

        // Only the intermediate: no self-signed root reached.
        let err = chain_from_bundle(&c.leaf.cert, &c.intermediate.cert.to_pem()).unwrap_err();
        assert!(
            err.to_string().contains("must reach a self-signed root"),
            "{err}"
        );
        // Unrelated CA.
        let other = issue(spec("Other Root", None, true));
        let err = chain_from_bundle(&c.leaf.cert, &other.cert.to_pem()).unwrap_err();
        assert!(
            err.to_string().contains("has no certificate whose subject"),
            "{err}"
        );
        // Not PEM.
        let err = chain_from_bundle(&c.leaf.cert, "nonsense").unwrap_err();
        assert!(
            err.to_string().contains("holds no PEM certificate"),
            "{err}"
        );
        // A root that directly issued the certificate.
        let direct = issue(spec("Direct leaf", Some(&c.root), false));
        let got = chain_from_bundle(&direct.cert, &c.root.cert.to_pem()).unwrap();
        let refs: Vec<&Certificate> = got.intermediates.iter().collect();
        verify_chain_at(&direct.cert, &refs, &got.root, at).unwrap();
    }

    #[test]
    fn default_template_is_ibms_location() {
        let v = semver::Version::new(1, 0, 29);
        assert_eq!(
            cert_url(DEFAULT_CERT_URL_TEMPLATE, &v),
            "https://hpvsvpcubuntu.s3.us.cloud-object-storage.appdomain.cloud/s390x-29/ibm-hyper-protect-container-runtime-1-0-s390x-29-encrypt.crt"
        );
        assert_eq!(
            cert_url("x/{{.Major}}.{{.Minor}}.{{.Patch}}/{patch}", &v),
            "x/1.0.29/29"
        );
    }

    #[tokio::test]
    async fn download_by_version_from_a_local_server() {
        let c = chain();
        let pem = c.leaf.cert.to_pem();
        let base = serve(vec![
            (
                "/s390x-22/hpcr-1-0-s390x-22-encrypt.crt".into(),
                200,
                pem.clone().into_bytes(),
            ),
            (
                "/s390x-24/hpcr-1-0-s390x-24-encrypt.crt".into(),
                200,
                b"<html>maintenance</html>".to_vec(),
            ),
            (
                "/s390x-25/hpcr-1-0-s390x-25-encrypt.crt".into(),
                200,
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            ),
            (
                "/s390x-26/hpcr-1-0-s390x-26-encrypt.crt".into(),
                500,
                Vec::new(),
            ),
        ])
        .await;
        let template =
            format!("{base}/s390x-{{patch}}/hpcr-{{major}}-{{minor}}-s390x-{{patch}}-encrypt.crt");

        let got = download_by_version(&template, "1.0.22").await.unwrap();
        assert_eq!(got.version, semver::Version::new(1, 0, 22));
        assert_eq!(
            got.url,
            format!("{base}/s390x-22/hpcr-1-0-s390x-22-encrypt.crt")
        );
        assert_eq!(got.pem, pem);
        assert_eq!(got.cert.serial_hex(), "C77592");

        let err = download_by_version(&template, "1.0.23").await.unwrap_err();
        assert!(
            matches!(err, CertError::HttpStatus { status: 404, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("GET {base}/s390x-23/hpcr-1-0-s390x-23-encrypt.crt returned HTTP 404")
        );

        let err = download_by_version(&template, "1.0.24").await.unwrap_err();
        assert!(matches!(err, CertError::NotPem { .. }), "{err}");
        assert!(
            err.to_string().contains("did not return a PEM certificate"),
            "{err}"
        );
        let err = download_by_version(&template, "1.0.25").await.unwrap_err();
        assert!(matches!(err, CertError::NotPem { .. }), "{err}");
        let err = download_by_version(&template, "1.0.26").await.unwrap_err();
        assert!(
            matches!(err, CertError::HttpStatus { status: 500, .. }),
            "{err}"
        );
        let err = download_by_version(&template, "one").await.unwrap_err();
        assert!(matches!(err, CertError::Version { .. }), "{err}");

        // Nothing listening.
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_url = format!("http://{}/{{patch}}", dead.local_addr().unwrap());
        drop(dead);
        let err = download_by_version(&dead_url, "1.0.1").await.unwrap_err();
        assert!(matches!(err, CertError::Fetch { .. }), "{err}");
    }

    #[tokio::test]
    async fn crl_from_http_file_url_and_path() {
        let c = chain();
        let crl = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() - day(),
            now() + day(),
            &[&c.leaf.cert],
        );
        let good = make_crl(
            &c.intermediate.cert,
            &c.intermediate.key,
            now() - day(),
            now() + day(),
            &[],
        );
        let base = serve(vec![
            ("/crl".into(), 200, crl.clone()),
            ("/good.crl".into(), 200, crl_pem(&good)),
        ])
        .await;

        let err = check_crl_at_location(
            &c.leaf.cert,
            &format!("{base}/crl"),
            &c.intermediate.cert,
            now(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, CertError::Revoked { .. }), "{err}");
        check_crl_at_location(
            &c.leaf.cert,
            &format!("{base}/good.crl"),
            &c.intermediate.cert,
            now(),
        )
        .await
        .unwrap();
        let err = check_crl_at_location(
            &c.leaf.cert,
            &format!("{base}/missing"),
            &c.intermediate.cert,
            now(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, CertError::HttpStatus { status: 404, .. }),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("good.crl");
        std::fs::write(&path, &good).unwrap();
        let p = path.to_str().unwrap();
        check_crl_at_location(&c.leaf.cert, p, &c.intermediate.cert, now())
            .await
            .unwrap();
        check_crl_at_location(
            &c.leaf.cert,
            &format!("file://{p}"),
            &c.intermediate.cert,
            now(),
        )
        .await
        .unwrap();
        let err = check_crl_at_location(
            &c.leaf.cert,
            "/nonexistent/x.crl",
            &c.intermediate.cert,
            now(),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/x.crl"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn crl_from_the_certificates_distribution_point() {
        let root = issue(spec("Root", None, true));
        let int = issue(spec("Int", Some(&root), true));
        let crl = make_crl(&int.cert, &int.key, now() - day(), now() + day(), &[]);
        let base = serve(vec![("/int.crl".into(), 200, crl)]).await;
        let url = format!("{base}/int.crl");
        let leaf = issue(Spec {
            crl_url: Some(&url),
            ..spec("Leaf", Some(&int), false)
        });
        let check = check_crl_from_distribution_point(&leaf.cert, &int.cert, now())
            .await
            .unwrap();
        assert!(check.last_update < now());

        let missing = format!("{base}/gone.crl");
        let leaf = issue(Spec {
            crl_url: Some(&missing),
            ..spec("Leaf", Some(&int), false)
        });
        let err = check_crl_from_distribution_point(&leaf.cert, &int.cert, now())
            .await
            .unwrap_err();
        assert!(
            matches!(err, CertError::HttpStatus { status: 404, .. }),
            "{err}"
        );

        let err = check_crl_from_distribution_point(&int.cert, &root.cert, now())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("names no CRL distribution point"),
            "{err}"
        );
    }

    // ------------------------------------------------------------------ selection

    #[test]
    fn select_version_picks_the_highest_match() {
        let certs: BTreeMap<String, &str> = [
            ("1.0.20", "a"),
            ("1.0.22", "b"),
            ("1.0.23", "c"),
            ("1.1.0", "d"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let pick = |c: &str| select_version(certs.iter().map(|(k, v)| (k, *v)), c);
        assert_eq!(pick("*").unwrap(), (semver::Version::new(1, 1, 0), "d"));
        assert_eq!(pick("").unwrap().1, "d");
        assert_eq!(pick(">=1.0.20, <1.1").unwrap().1, "c");
        assert_eq!(pick("~1.0").unwrap().1, "c");
        assert_eq!(pick("1.0.22").unwrap().1, "b");
        assert_eq!(pick(">=1.0.21, <1.0.23").unwrap().1, "b");
        assert_eq!(pick("<1.0.21 || =1.0.22").unwrap().1, "b");
        let err = pick(">=2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no certificate version matches `>=2`; available: 1.0.20, 1.0.22, 1.0.23, 1.1.0"
        );
        let err = select_version(Vec::<(&str, ())>::new(), "*").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no certificate version matches `*`; available: none"
        );
        assert!(matches!(pick("bogus"), Err(CertError::Constraint(_))));
        assert!(matches!(
            select_version([("x.y", 1)], "*"),
            Err(CertError::Version { .. })
        ));
    }
}
