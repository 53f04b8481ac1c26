//! `hyperprotect_encryption_certificate`: the platform certificate contracts are encrypted
//! to, downloaded by version from the publisher's location (IBM's for `hpvs`), or given as
//! PEM, then checked: purpose, expiry (an error once expired, a warning under 180 days),
//! and optionally its issuing chain and a CRL.
//!
//! A data source is read on every plan, so the download happens at plan time (or at apply
//! when an input is only known then). `days_left` therefore moves daily; that is harmless
//! because nothing downstream should use it as an input, while `certificate` is the served
//! (or given) text verbatim and only changes when the certificate itself does, so resources
//! encrypting to it never see a diff from a re-read.

use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::contract::certs::{self, CertError, Certificate};
use crate::contract::image::VersionConstraint;
use crate::contract::token::Platform;
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, ToValue, Type, Value};

/// Versions of `hpvs` encryption certificates IBM had published at its default location when
/// this provider was released; `versions` replaces the list.
pub const HPVS_PUBLISHED_VERSIONS: [&str; 6] =
    ["1.0.24", "1.0.25", "1.0.26", "1.0.27", "1.0.28", "1.0.29"];

/// The `hyperprotect_encryption_certificate` data source.
pub struct EncryptionCertificateDataSource;

model! {
    /// The configuration and result of `hyperprotect_encryption_certificate`.
    pub struct EncryptionCertificateModel {
        pub platform: Known<String>,
        pub version: Known<String>,
        pub versions: Known<Vec<String>>,
        pub url_template: Known<String>,
        pub certificate: Known<String>,
        pub ca_certificate: Known<String>,
        pub crl: Known<String>,
        pub selected_version: Known<String>,
        pub url: Known<String>,
        pub not_after: Known<String>,
        pub days_left: Known<i64>,
        pub fingerprint: Known<String>,
    }
}

#[async_trait::async_trait]
impl DataSource for EncryptionCertificateDataSource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_encryption_certificate"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::optional("platform", Type::String).describe(
                    "Platform the certificate is for: `hpvs` (default), `ccrt`, `ccrv` or \
                     `ccco`. It picks the default `url_template` and `versions`; only `hpvs` \
                     has a published download location, the others need `url_template`.",
                ),
                Attribute::optional("version", Type::String).describe(
                    "Version constraint, e.g. `~> 1.0.28`, `>= 1.0.27, < 1.1`, `1.0.29` (exact) \
                     or `*` (default). The highest version among `versions` that matches and is \
                     published (a 404 skips to the next lower one) is downloaded. Use the \
                     version of the image the server boots.",
                ),
                Attribute::optional("versions", Type::list(Type::String)).describe(
                    "Candidate versions `version` chooses from. Defaults to the `hpvs` versions \
                     IBM had published when this provider was released; required for other \
                     platforms unless `version` is an exact version.",
                ),
                Attribute::optional("url_template", Type::String).describe(
                    "Download URL with `{major}`, `{minor}`, `{patch}` (or `{{.Major}}`, \
                     `{{.Minor}}`, `{{.Patch}}`) placeholders. Default for `hpvs`: IBM's \
                     location, `https://hpvsvpcubuntu.s3.us.cloud-object-storage.appdomain.cloud/\
                     s390x-{patch}/ibm-hyper-protect-container-runtime-{major}-{minor}-s390x-\
                     {patch}-encrypt.crt`. `file://` URLs work too.",
                ),
                Attribute::optional_computed("certificate", Type::String).describe(
                    "The encryption certificate (PEM). Set it to check a certificate you already \
                     have instead of downloading one (then `version`, `versions` and \
                     `url_template` must be unset); otherwise it is the downloaded PEM, \
                     verbatim. Feed this to the contract resources: it changes only when the \
                     certificate does.",
                ),
                Attribute::optional("ca_certificate", Type::String).describe(
                    "Optional PEM bundle of the CAs that issue the certificate, in any order, \
                     up to a self-signed root (for IBM: the `…-intermediate.crt` published \
                     beside the certificate, DigiCert's code-signing CA and DigiCert Trusted \
                     Root G4). When set, the certificate must chain to that root.",
                ),
                Attribute::optional("crl", Type::String).describe(
                    "Optional certificate revocation list of the certificate's issuer: PEM \
                     text, or an `http(s)://` / `file://` URL or path to a PEM or DER CRL. The \
                     CRL's signature and dates are checked and the certificate must not be \
                     listed. Needs `ca_certificate`.",
                ),
                Attribute::computed("selected_version", Type::String)
                    .describe("The version downloaded (null when `certificate` was given)."),
                Attribute::computed("url", Type::String)
                    .describe("Where the certificate was downloaded from (null when given)."),
                Attribute::computed("not_after", Type::String)
                    .describe("End of the certificate's validity (RFC 3339, UTC)."),
                Attribute::computed("days_left", Type::Number).describe(
                    "Whole days until `not_after` at the time of reading (it decreases daily: \
                     do not feed it into resources).",
                ),
                Attribute::computed("fingerprint", Type::String)
                    .describe("SHA-256 fingerprint of the certificate (DER, lowercase hex)."),
            ])
            .describe(
                "Downloads (by version) or checks the platform encryption certificate that \
                 contracts are encrypted to: purpose, expiry, and optionally chain and CRL.",
            ),
        )
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(EncryptionCertificateModel::fields())
    }

    fn validate(&self, _ctx: &Ctx, config: &Value, diags: &mut Diagnostics) {
        if let Ok(config) = EncryptionCertificateModel::build(config) {
            diags.extend(Diagnostics(check_config(&config)));
        }
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        let config = match EncryptionCertificateModel::build(config) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let problems = check_config(&config);
        if !problems.is_empty() {
            return Outcome::failed(Value::Null, Diagnostics(problems));
        }
        match read_certificate(&config, OffsetDateTime::now_utc()).await {
            Ok((state, warnings)) => Outcome {
                diagnostics: Diagnostics(warnings),
                ..Outcome::ok(state.to_value())
            },
            Err(d) => Outcome::failed(Value::Null, d),
        }
    }
}

/// Configuration errors found without network access (also run at validate, where unknown
/// values are skipped).
fn check_config(config: &EncryptionCertificateModel) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if config.certificate.is_set() {
        let download_inputs = [
            ("version", config.version.is_set()),
            ("versions", config.versions.is_set()),
            ("url_template", config.url_template.is_set()),
        ];
        for (name, _) in download_inputs.into_iter().filter(|(_, set)| *set) {
            out.push(
                Diagnostic::error(
                    "Conflicting certificate source",
                    format!(
                        "`{name}` selects a certificate to download, but `certificate` already \
                         gives one: set one or the other."
                    ),
                )
                .at(AttrPath::attr(name)),
            );
        }
    }
    if let Known::Value(p) = &config.platform {
        if let Err(e) = Platform::from_str(p) {
            out.push(
                Diagnostic::error("Unknown platform", e.to_string()).at(AttrPath::attr("platform")),
            );
        }
    }
    if let Known::Value(v) = &config.version {
        if let Err(e) = VersionConstraint::parse(v) {
            out.push(
                Diagnostic::error("Invalid version constraint", e.to_string())
                    .at(AttrPath::attr("version")),
            );
        }
    }
    if let Known::Value(items) = &config.versions {
        for (i, text) in items.iter().enumerate() {
            if let Err(e) = certs::parse_version(text) {
                out.push(
                    Diagnostic::error("Invalid version", e.to_string())
                        .at(AttrPath::attr("versions").then_index(i)),
                );
            }
        }
    }
    if config.crl.is_set() && config.ca_certificate.is_null() {
        out.push(
            Diagnostic::error(
                "CRL without its issuer",
                "Checking a CRL needs the certificate's issuer: set `ca_certificate` too.",
            )
            .at(AttrPath::attr("crl")),
        );
    }
    out
}

/// Where a problem with the certificate itself is reported: the attribute that brought it.
fn certificate_source(config: &EncryptionCertificateModel) -> AttrPath {
    if config.certificate.is_null() {
        AttrPath::attr("version")
    } else {
        AttrPath::attr("certificate")
    }
}

/// Gets and checks the certificate as of `now`; returns the state and any warnings.
pub async fn read_certificate(
    config: &EncryptionCertificateModel,
    now: OffsetDateTime,
) -> Result<(EncryptionCertificateModel, Vec<Diagnostic>), Diagnostic> {
    let source = certificate_source(config);
    let (pem, cert, version, url) = match &config.certificate {
        Known::Value(text) => {
            let cert = certs::parse_encryption_cert(text).map_err(|e| {
                Diagnostic::error("Invalid encryption certificate", e.to_string())
                    .at(source.clone())
            })?;
            (text.to_string(), cert, None, None)
        }
        _ => {
            let got = download(config).await?;
            (
                got.pem,
                got.cert,
                Some(got.version.to_string()),
                Some(got.url),
            )
        }
    };
    certs::check_encryption_purpose(&cert).map_err(|e| {
        Diagnostic::error("Wrong kind of certificate", e.to_string()).at(source.clone())
    })?;
    let status = certs::expiry_status(&cert, now);
    status.require_usable().map_err(|e| {
        Diagnostic::error("Encryption certificate expired", e.to_string()).at(source.clone())
    })?;
    let mut warnings = Vec::new();
    if let certs::ExpiryStatus::ExpiresSoon { .. } = status {
        warnings.push(
            Diagnostic::warning("Encryption certificate expires soon", status.to_string())
                .at(source.clone()),
        );
    }
    if let Known::Value(bundle) = &config.ca_certificate {
        check_issuer(config, &cert, bundle, now).await?;
    }
    let not_after = cert.not_after().format(&Rfc3339).map_err(|e| {
        Diagnostic::error("Unusable certificate dates", e.to_string()).at(source.clone())
    })?;
    let fingerprint = cert
        .x509()
        .digest(openssl::hash::MessageDigest::sha256())
        .map(hex::encode)
        .map_err(|e| Diagnostic::error("Cannot fingerprint the certificate", e.to_string()))?;
    let state = EncryptionCertificateModel {
        certificate: Known::Value(pem),
        selected_version: version.into(),
        url: url.into(),
        not_after: Known::Value(not_after),
        days_left: Known::Value(status.days_left()),
        fingerprint: Known::Value(fingerprint),
        ..config.clone()
    };
    Ok((state, warnings))
}

async fn download(
    config: &EncryptionCertificateModel,
) -> Result<certs::DownloadedCert, Diagnostic> {
    let platform = config
        .platform
        .as_deref()
        .value()
        .map(Platform::from_str)
        .transpose()
        .map_err(|e| {
            Diagnostic::error("Unknown platform", e.to_string()).at(AttrPath::attr("platform"))
        })?
        .unwrap_or_default();
    let template = match (config.url_template.as_deref().value(), platform) {
        (Some(t), _) => t.to_string(),
        (None, Platform::Hpvs) => certs::DEFAULT_CERT_URL_TEMPLATE.to_string(),
        (None, other) => {
            return Err(Diagnostic::error(
                "No download location",
                format!(
                    "IBM publishes no download location for `{other}` encryption certificates: \
                     set `url_template`, or give the certificate as `certificate`."
                ),
            )
            // `url_template` is unset, so Terraform could not show it: point at the platform.
            .at(AttrPath::attr("platform")));
        }
    };
    let constraint = config.version.as_deref().value().unwrap_or("*");
    let candidates: Vec<String> = match &config.versions {
        Known::Value(items) => items.clone(),
        _ => match (platform, certs::parse_version(constraint)) {
            // An exact version needs no list.
            (_, Ok(exact)) => vec![exact.to_string()],
            (Platform::Hpvs, Err(_)) => HPVS_PUBLISHED_VERSIONS
                .iter()
                .map(|v| v.to_string())
                .collect(),
            (other, Err(_)) => {
                return Err(Diagnostic::error(
                    "No candidate versions",
                    format!(
                        "`{constraint}` is a range, and there is no list of published `{other}` \
                         versions to choose from: set `versions`, or an exact `version`."
                    ),
                )
                // `versions` is unset: point at the range that needs it.
                .at(AttrPath::attr("version")));
            }
        },
    };
    certs::download_highest(&template, &candidates, constraint)
        .await
        .map_err(|e| {
            let (summary, at) = match &e {
                CertError::NoVersion { .. } | CertError::NoneDownloadable { .. } => {
                    ("No matching encryption certificate", "version")
                }
                CertError::Constraint(_) | CertError::Version { .. } => {
                    ("Invalid version", "version")
                }
                _ => ("Cannot download the encryption certificate", "url_template"),
            };
            Diagnostic::error(summary, e.to_string()).at(AttrPath::attr(at))
        })
}

/// Chain (and CRL) checks against the user's CA bundle.
async fn check_issuer(
    config: &EncryptionCertificateModel,
    cert: &Certificate,
    bundle: &str,
    now: OffsetDateTime,
) -> Result<(), Diagnostic> {
    let at_ca = |summary: &str, e: CertError| {
        Diagnostic::error(summary, e.to_string()).at(AttrPath::attr("ca_certificate"))
    };
    let chain = certs::chain_from_bundle(cert, bundle)
        .map_err(|e| at_ca("Invalid CA certificate bundle", e))?;
    let intermediates: Vec<&Certificate> = chain.intermediates.iter().collect();
    certs::verify_chain_at(cert, &intermediates, &chain.root, now)
        .map_err(|e| at_ca("Encryption certificate does not chain to the CA", e))?;
    let Known::Value(crl) = &config.crl else {
        return Ok(());
    };
    let issuer = &chain.intermediates[0];
    let checked = if crl.trim_start().starts_with("-----BEGIN") {
        certs::check_crl(cert, crl.as_bytes(), issuer, now)
    } else {
        certs::check_crl_at_location(cert, crl.trim(), issuer, now).await
    };
    checked.map(|_| ()).map_err(|e| {
        let summary = if matches!(e, CertError::Revoked { .. }) {
            "Encryption certificate revoked"
        } else {
            "CRL check failed"
        };
        Diagnostic::error(summary, e.to_string()).at(AttrPath::attr("crl"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::diag::Severity;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;

    /// A self-signed RSA certificate valid for `days` from now.
    fn certificate(days: u32) -> String {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = openssl::x509::X509::builder().unwrap();
        let mut n = openssl::x509::X509Name::builder().unwrap();
        n.append_entry_by_text("CN", "encryption").unwrap();
        let n = n.build();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        String::from_utf8(b.build().to_pem().unwrap()).unwrap()
    }

    fn config_with(pem: &str) -> Value {
        Value::object([("certificate", Value::string(pem))])
    }

    fn model(config: &Value) -> EncryptionCertificateModel {
        EncryptionCertificateModel::build(config).unwrap()
    }

    /// Re-reading on later days moves `days_left` but never `certificate`, so resources
    /// consuming the certificate get no diff; the warning and the error follow the clock.
    #[tokio::test]
    async fn days_left_drifts_daily_while_certificate_stays_byte_identical() {
        let pem = certificate(200);
        let config = model(&config_with(&pem));
        let now = OffsetDateTime::now_utc();
        let day = time::Duration::days(1);
        let (today, warnings) = read_certificate(&config, now).await.unwrap();
        assert!(warnings.is_empty());
        let (tomorrow, _) = read_certificate(&config, now + day).await.unwrap();
        assert_eq!(today.certificate, tomorrow.certificate);
        assert_eq!(today.certificate, Known::Value(pem.clone()));
        assert_eq!(today.fingerprint, tomorrow.fingerprint);
        let days = |v: &EncryptionCertificateModel| v.days_left.value().unwrap();
        assert_eq!(days(&today) - days(&tomorrow), 1);

        let (_, warnings) = read_certificate(&config, now + day * 30).await.unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].severity, Severity::Warning);
        assert_eq!(warnings[0].path, Some(AttrPath::attr("certificate")));
        assert!(
            warnings[0].detail.contains("will expire in"),
            "{}",
            warnings[0].detail
        );

        let err = read_certificate(&config, now + day * 201)
            .await
            .unwrap_err();
        assert_eq!(err.path, Some(AttrPath::attr("certificate")));
        assert!(err.detail.contains("already expired"), "{}", err.detail);
    }

    #[test]
    fn configuration_errors_point_at_their_attribute() {
        let mut config = config_with(&certificate(10));
        if let Value::Object(m) = &mut config {
            m.insert("version".into(), Value::string("~> 1.x"));
            m.insert("platform".into(), Value::string("nope"));
            m.insert("crl".into(), Value::string("x"));
            m.insert(
                "versions".into(),
                Value::list([Value::string("1.0.1"), Value::string("one")]),
            );
        }
        let paths: Vec<String> = check_config(&model(&config))
            .iter()
            .map(|d| d.path.as_ref().map(|p| p.to_string()).unwrap_or_default())
            .collect();
        for want in ["version", "platform", "crl", "versions[1]"] {
            assert!(
                paths.iter().any(|p| p.contains(want)),
                "{want} in {paths:?}"
            );
        }
        let schema = EncryptionCertificateDataSource.schema();
        assert!(schema
            .block
            .attributes
            .iter()
            .all(|a| !a.description.is_empty()));
    }
}
