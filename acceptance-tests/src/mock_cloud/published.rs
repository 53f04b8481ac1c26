//! The platform certificates mock-cloud publishes for download, in IBM's layout
//! (`https://hpvsvpcubuntu.s3.us.cloud-object-storage.appdomain.cloud/s390x-{patch}/
//! ibm-hyper-protect-container-runtime-{major}-{minor}-s390x-{patch}-{kind}.crt`, kind
//! `encrypt`, `intermediate` or `attestation`), so clients download them over HTTP exactly as
//! from IBM, with the mock's base URL in place of IBM's host.
//!
//! Three image versions are published, every encryption certificate for the emulator's one
//! encryption key (a contract encrypted to any of them boots):
//! - `1.0.29` (image `…-s390x-29`, available): the PKI's own `encryption.crt`;
//! - `1.0.28` (image `…-s390x-28`, deprecated): expires in [`SOON_DAYS`] days, under IBM's
//!   180-day warning;
//! - `1.0.27` (no longer in the catalog): expired [`EXPIRED_DAYS_AGO`] days ago.
//!
//! The older two are issued by the intermediate CA on first start and kept under
//! `DIR/pki/published/`, so a restarted emulator serves the same bytes (they are reissued
//! if the PKI they were made for was replaced). Without the
//! intermediate's key (a PKI brought without it) only `1.0.29` is published; without a PKI,
//! nothing is.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Name, X509};

use super::pki::{Pki, PkiError};
use super::App;

/// Days until the `1.0.28` certificate expires, when it is first issued.
pub const SOON_DAYS: i64 = 90;
/// Days since the `1.0.27` certificate expired, when it is first issued.
pub const EXPIRED_DAYS_AGO: i64 = 30;

/// The version whose encryption certificate is the PKI's own.
pub const CURRENT: (u64, u64, u64) = (1, 0, 29);

/// One published version's files (PEM).
#[derive(Clone, Debug)]
struct Files {
    encrypt: String,
    intermediate: String,
    attestation: String,
}

/// Everything published, by `(major, minor, patch)`.
#[derive(Clone, Debug, Default)]
pub struct Published {
    versions: BTreeMap<(u64, u64, u64), Files>,
}

fn pem(cert: &X509) -> Result<String, PkiError> {
    cert.to_pem()
        .ok()
        .and_then(|p| String::from_utf8(p).ok())
        .ok_or_else(|| PkiError("cannot encode a certificate as PEM".into()))
}

impl Published {
    /// Loads (or issues and stores) the published certificates for `pki`, kept in `dir`.
    pub fn load_or_create(dir: &Path, pki: Option<&Pki>) -> Result<Published, PkiError> {
        let Some(pki) = pki else {
            return Ok(Published::default());
        };
        let files = |encrypt: String| -> Result<Files, PkiError> {
            Ok(Files {
                encrypt,
                intermediate: pem(&pki.intermediate)?,
                attestation: pem(&pki.attestation_cert)?,
            })
        };
        let mut versions = BTreeMap::new();
        versions.insert(CURRENT, files(pem(&pki.encryption_cert)?)?);
        let key_path = dir.join("pki").join("intermediate.key");
        let Ok(key_pem) = fs::read(&key_path) else {
            return Ok(Published { versions });
        };
        let ca_key = PKey::private_key_from_pem(&key_pem).map_err(|e| {
            PkiError(format!(
                "{}: not a PEM private key: {e}",
                key_path.display()
            ))
        })?;
        let out_dir = dir.join("pki").join("published");
        fs::create_dir_all(&out_dir)
            .map_err(|e| PkiError(format!("{}: {e}", out_dir.display())))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let day = 86_400;
        for (version, not_before, not_after) in [
            ((1, 0, 28), now - 275 * day, now + SOON_DAYS * day),
            ((1, 0, 27), now - 395 * day, now - EXPIRED_DAYS_AGO * day),
        ] {
            let path = out_dir.join(format!("s390x-{}-encrypt.crt", version.2));
            // A stored certificate for another key or CA (the PKI was replaced) is reissued.
            let current = |text: &String| {
                X509::from_pem(text.as_bytes()).is_ok_and(|c| {
                    c.public_key()
                        .is_ok_and(|k| k.public_eq(&pki.encryption_key))
                        && pki
                            .intermediate
                            .public_key()
                            .and_then(|k| c.verify(&k))
                            .unwrap_or(false)
                })
            };
            let text = match fs::read_to_string(&path).ok().filter(current) {
                Some(text) => text,
                None => {
                    let cert = issue(pki, &ca_key, version, not_before, not_after)
                        .map_err(|e| PkiError(format!("issuing {}: {e}", path.display())))?;
                    let text = pem(&cert)?;
                    fs::write(&path, &text)
                        .map_err(|e| PkiError(format!("{}: {e}", path.display())))?;
                    text
                }
            };
            versions.insert(version, files(text)?);
        }
        Ok(Published { versions })
    }

    /// The PEM file at `s390x-{patch}/{file}`, if published.
    fn lookup(&self, patch: &str, file: &str) -> Option<&str> {
        let patch: u64 = patch.parse().ok()?;
        let rest = file.strip_prefix("ibm-hyper-protect-container-runtime-")?;
        let (stem, kind) = rest.strip_suffix(".crt")?.rsplit_once('-')?;
        let mut parts = stem.split('-');
        let major: u64 = parts.next()?.parse().ok()?;
        let minor: u64 = parts.next()?.parse().ok()?;
        let (arch, file_patch) = (parts.next()?, parts.next()?.parse::<u64>().ok()?);
        if arch != "s390x" || file_patch != patch || parts.next().is_some() {
            return None;
        }
        let files = self.versions.get(&(major, minor, patch))?;
        match kind {
            "encrypt" => Some(&files.encrypt),
            "intermediate" => Some(&files.intermediate),
            "attestation" => Some(&files.attestation),
            _ => None,
        }
    }
}

/// An encryption certificate for the PKI's encryption key, issued by the intermediate CA.
fn issue(
    pki: &Pki,
    ca_key: &PKey<Private>,
    version: (u64, u64, u64),
    not_before: i64,
    not_after: i64,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    let mut name = X509Name::builder()?;
    name.append_entry_by_nid(Nid::COUNTRYNAME, "US")?;
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "mock-cloud (test PKI, not IBM)")?;
    name.append_entry_by_nid(
        Nid::COMMONNAME,
        &format!(
            "mock-cloud Hyper Protect Container Runtime {}.{}.{} Encryption",
            version.0, version.1, version.2
        ),
    )?;
    b.set_subject_name(&name.build())?;
    b.set_issuer_name(pki.intermediate.subject_name())?;
    let (from, until) = (
        Asn1Time::from_unix(not_before)?,
        Asn1Time::from_unix(not_after)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.set_pubkey(&pki.encryption_key)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_encipherment()
            .data_encipherment()
            .build()?,
    )?;
    b.sign(ca_key, MessageDigest::sha512())?;
    Ok(b.build())
}

/// `GET|HEAD /s390x-{patch}/{file}`: a published certificate, or S3's 404.
pub(crate) async fn certificate(
    State(app): State<Arc<App>>,
    UrlPath((patch, file)): UrlPath<(String, String)>,
) -> Response {
    match app.published.lookup(&patch, &file) {
        Some(text) => (
            [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
            text.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>\
                 <Message>The specified key does not exist.</Message>\
                 <Key>s390x-{patch}/{file}</Key></Error>"
            ),
        )
            .into_response(),
    }
}
