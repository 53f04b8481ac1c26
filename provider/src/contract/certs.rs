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
#[path = "certs_tests.rs"]
mod tests;
