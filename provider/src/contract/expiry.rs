//! Contract expiry (sheet §6): a certificate for the contract-signing key, issued by the
//! deployer's own CA for N days, goes into `env.signingKey`; its notAfter is the contract's
//! expiry date.
//!
//! Built in-process rather than via `openssl req`/`x509`, which avoids the reference
//! implementation's defects: the subject is built field by field (no stray `C` after the CN,
//! no `%!s(<nil>)` for absent fields), the digest is always SHA-256, a passphrase-protected
//! signing key works, and the PEM is returned as is (never base64-encoded twice).

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509NameBuilder, X509Ref, X509Req, X509};
use time::OffsetDateTime;

use super::keys::{self, KeyError};

/// Longest validity accepted (100 years); anything longer is surely a unit mistake.
pub const MAX_VALIDITY_DAYS: u32 = 36_500;

#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    #[error("subject field `{field}`: {reason}")]
    InvalidSubject {
        field: &'static str,
        reason: &'static str,
    },
    #[error("expiry of {given} days is out of range: must be 1 to {MAX_VALIDITY_DAYS} days")]
    Days { given: i64 },
    #[error("CA certificate: {0}")]
    CaCertificate(#[source] KeyError),
    #[error("CA private key: {0}")]
    CaKey(#[source] KeyError),
    #[error("the CA private key does not belong to the CA certificate")]
    CaKeyMismatch,
    #[error("the CA certificate expired on {not_after}; it cannot issue a signing certificate")]
    CaExpired { not_after: OffsetDateTime },
    #[error("the CSR is not valid PEM: {0}")]
    CsrMalformed(#[source] ErrorStack),
    #[error("the CSR's self-signature does not verify")]
    CsrSignature,
    #[error("the CSR's public key is not the contract-signing key")]
    CsrKeyMismatch,
    #[error("the signing certificate's public key is not the contract-signing key")]
    CertificateKeyMismatch,
    #[error("the signing certificate expired on {not_after}: the contract would not boot")]
    Expired { not_after: OffsetDateTime },
    #[error("the signing certificate is not valid before {not_before}")]
    NotYetValid { not_before: OffsetDateTime },
    #[error("OpenSSL failed while {operation}: {source}")]
    Crypto {
        operation: &'static str,
        #[source]
        source: ErrorStack,
    },
}

fn crypto(operation: &'static str) -> impl FnOnce(ErrorStack) -> ExpiryError {
    move |source| ExpiryError::Crypto { operation, source }
}

/// Subject of the signing certificate when no CSR is given. Empty optional fields are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectFields {
    /// Two-letter ISO country code (`C`).
    pub country: Option<String>,
    /// `ST`.
    pub state: Option<String>,
    /// `L`.
    pub locality: Option<String>,
    /// `O`.
    pub organisation: Option<String>,
    /// `OU`.
    pub unit: Option<String>,
    /// `CN` (required).
    pub common_name: String,
    /// `emailAddress`.
    pub email: Option<String>,
}

impl SubjectFields {
    pub fn new(common_name: impl Into<String>) -> Self {
        Self {
            common_name: common_name.into(),
            ..Self::default()
        }
    }

    /// Checks the fields against X.520 upper bounds and builds the X.509 name.
    pub fn to_x509_name(&self) -> Result<X509Name, ExpiryError> {
        fn present(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|s| !s.is_empty())
        }
        let invalid = |field, reason| ExpiryError::InvalidSubject { field, reason };
        let cn = self.common_name.trim();
        if cn.is_empty() {
            return Err(invalid("common_name", "is required"));
        }
        let mut name = X509NameBuilder::new().map_err(crypto("building the subject"))?;
        let fields: [(&'static str, Nid, Option<&str>, usize); 7] = [
            ("country", Nid::COUNTRYNAME, present(&self.country), 2),
            ("state", Nid::STATEORPROVINCENAME, present(&self.state), 128),
            ("locality", Nid::LOCALITYNAME, present(&self.locality), 128),
            (
                "organisation",
                Nid::ORGANIZATIONNAME,
                present(&self.organisation),
                64,
            ),
            ("unit", Nid::ORGANIZATIONALUNITNAME, present(&self.unit), 64),
            ("common_name", Nid::COMMONNAME, Some(cn), 64),
            ("email", Nid::PKCS9_EMAILADDRESS, present(&self.email), 128),
        ];
        for (field, nid, value, max) in fields {
            let Some(value) = value else { continue };
            if field == "country"
                && !(value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()))
            {
                return Err(invalid(field, "must be a two-letter country code"));
            }
            if field == "email" && !(value.is_ascii() && value.contains('@')) {
                return Err(invalid(field, "must be an ASCII e-mail address"));
            }
            if value.chars().count() > max {
                return Err(invalid(field, "is longer than X.520 allows"));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(field, "contains control characters"));
            }
            name.append_entry_by_nid(nid, value)
                .map_err(|_| invalid(field, "is not accepted by OpenSSL"))?;
        }
        Ok(name.build())
    }
}

/// Validity of the signing certificate in days (1 ..= [`MAX_VALIDITY_DAYS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidityDays(u32);

impl ValidityDays {
    pub fn new(days: i64) -> Result<Self, ExpiryError> {
        u32::try_from(days)
            .ok()
            .filter(|d| (1..=MAX_VALIDITY_DAYS).contains(d))
            .map(Self)
            .ok_or(ExpiryError::Days { given: days })
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The deployer's CA: a certificate and its (matching) private key.
pub struct CertificateAuthority {
    cert: X509,
    key: PKey<Private>,
}

impl CertificateAuthority {
    /// Pairs a CA certificate with its key; fails if they do not match or the CA has expired.
    pub fn new(cert: X509, key: PKey<Private>) -> Result<Self, ExpiryError> {
        keys::check_key_matches_certificate(&key, &cert).map_err(|e| match e {
            KeyError::CertificateMismatch => ExpiryError::CaKeyMismatch,
            other => ExpiryError::CaCertificate(other),
        })?;
        let not_after = not_after(&cert)?;
        if not_after <= OffsetDateTime::now_utc() {
            return Err(ExpiryError::CaExpired { not_after });
        }
        Ok(Self { cert, key })
    }

    /// Loads the CA from PEM text; the key may be passphrase-protected.
    pub fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        key_passphrase: Option<&[u8]>,
    ) -> Result<Self, ExpiryError> {
        let cert = keys::load_certificate(cert_pem).map_err(ExpiryError::CaCertificate)?;
        let key = keys::load_private_key(key_pem, key_passphrase).map_err(ExpiryError::CaKey)?;
        Self::new(cert, key)
    }

    pub fn certificate(&self) -> &X509Ref {
        &self.cert
    }
}

/// Where the signing certificate's subject comes from.
#[derive(Clone, Copy, Debug)]
pub enum CsrSource<'a> {
    /// Build the subject from fields.
    Subject(&'a SubjectFields),
    /// A user-made CSR (PEM) for the signing key; its subject is used.
    Pem(&'a str),
}

/// An issued signing certificate.
pub struct SigningCertificate {
    pub certificate: X509,
    /// PEM text, to be put into `env.signingKey`.
    pub pem: String,
    /// The contract's expiry date.
    pub not_after: OffsetDateTime,
}

/// Converts an ASN.1 time to a UTC date-time.
pub fn asn1_to_datetime(t: &Asn1TimeRef) -> Result<OffsetDateTime, ExpiryError> {
    let epoch = Asn1Time::from_unix(0).map_err(crypto("reading a certificate date"))?;
    let diff = epoch
        .diff(t)
        .map_err(crypto("reading a certificate date"))?;
    let secs = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| ExpiryError::Crypto {
        operation: "reading a certificate date",
        source: ErrorStack::get(),
    })
}

/// Whether a contract expiring at `expires_at` is due for renewal at `now`: from
/// `renew_before_days` days before its expiry on (0 = only once expired), so the server using
/// it can be re-created before the contract stops booting.
pub fn renewal_due(
    expires_at: OffsetDateTime,
    renew_before_days: u32,
    now: OffsetDateTime,
) -> bool {
    now >= expires_at - time::Duration::days(i64::from(renew_before_days))
}

/// The certificate's notAfter.
pub fn not_after(cert: &X509Ref) -> Result<OffsetDateTime, ExpiryError> {
    asn1_to_datetime(cert.not_after())
}

/// Issues a certificate for `signing_key`, signed by `ca` with SHA-256, valid from now for
/// `days`, with a random positive 159-bit serial.
pub fn issue_signing_certificate(
    signing_key: &PKeyRef<Private>,
    source: CsrSource<'_>,
    ca: &CertificateAuthority,
    days: ValidityDays,
) -> Result<SigningCertificate, ExpiryError> {
    let subject = match source {
        CsrSource::Subject(fields) => fields.to_x509_name()?,
        CsrSource::Pem(pem) => {
            let req =
                X509Req::from_pem(pem.trim().as_bytes()).map_err(ExpiryError::CsrMalformed)?;
            let req_key = req.public_key().map_err(ExpiryError::CsrMalformed)?;
            if !req.verify(&req_key).unwrap_or(false) {
                return Err(ExpiryError::CsrSignature);
            }
            if !req_key.public_eq(signing_key) {
                return Err(ExpiryError::CsrKeyMismatch);
            }
            req.subject_name()
                .to_owned()
                .map_err(crypto("copying the CSR subject"))?
        }
    };

    let step = "building the signing certificate";
    let mut b = X509::builder().map_err(crypto(step))?;
    b.set_version(2).map_err(crypto(step))?;
    let mut serial = BigNum::new().map_err(crypto(step))?;
    serial
        .rand(159, MsbOption::MAYBE_ZERO, false)
        .map_err(crypto("generating the serial number"))?;
    let serial = serial.to_asn1_integer().map_err(crypto(step))?;
    b.set_serial_number(&serial).map_err(crypto(step))?;
    b.set_subject_name(&subject).map_err(crypto(step))?;
    b.set_issuer_name(ca.cert.subject_name())
        .map_err(crypto(step))?;
    b.set_pubkey(signing_key).map_err(crypto(step))?;
    let not_before = Asn1Time::days_from_now(0).map_err(crypto(step))?;
    b.set_not_before(&not_before).map_err(crypto(step))?;
    let not_after_time = Asn1Time::days_from_now(days.get()).map_err(crypto(step))?;
    b.set_not_after(&not_after_time).map_err(crypto(step))?;

    let bc = BasicConstraints::new()
        .critical()
        .build()
        .map_err(crypto(step))?;
    let ku = KeyUsage::new()
        .critical()
        .digital_signature()
        .build()
        .map_err(crypto(step))?;
    b.append_extension(bc).map_err(crypto(step))?;
    b.append_extension(ku).map_err(crypto(step))?;
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .map_err(crypto(step))?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .issuer(false)
        .build(&b.x509v3_context(Some(&ca.cert), None))
        .map_err(crypto(step))?;
    b.append_extension(ski).map_err(crypto(step))?;
    b.append_extension(aki).map_err(crypto(step))?;
    b.sign(&ca.key, MessageDigest::sha256())
        .map_err(crypto("signing the certificate with the CA key"))?;
    let certificate = b.build();

    let pem = certificate
        .to_pem()
        .map_err(crypto("encoding the certificate"))?;
    let pem = String::from_utf8(pem).map_err(|_| ExpiryError::Crypto {
        operation: "encoding the certificate",
        source: ErrorStack::get(),
    })?;
    let not_after = not_after(&certificate)?;
    Ok(SigningCertificate {
        certificate,
        pem,
        not_after,
    })
}

/// Checks a signing certificate before it goes into a contract: it certifies `signing_key`
/// and is valid at `now`. Returns its notAfter (the contract expiry).
pub fn check_signing_certificate(
    cert: &X509Ref,
    signing_key: &PKeyRef<Private>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, ExpiryError> {
    keys::check_key_matches_certificate(signing_key, cert).map_err(|e| match e {
        KeyError::CertificateMismatch => ExpiryError::CertificateKeyMismatch,
        other => ExpiryError::CaCertificate(other),
    })?;
    let not_before = asn1_to_datetime(cert.not_before())?;
    if now < not_before {
        return Err(ExpiryError::NotYetValid { not_before });
    }
    let not_after = not_after(cert)?;
    if now > not_after {
        return Err(ExpiryError::Expired { not_after });
    }
    Ok(not_after)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::rsa::Rsa;
    use openssl::x509::X509VerifyResult;
    use std::sync::OnceLock;

    fn signing_key() -> &'static PKey<Private> {
        static KEY: OnceLock<PKey<Private>> = OnceLock::new();
        KEY.get_or_init(|| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
    }

    /// A self-signed CA valid between the two unix times.
    pub(crate) fn make_ca(from: i64, to: i64) -> (X509, PKey<Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Personal CA").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(from).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    fn ca() -> CertificateAuthority {
        let (cert, key) = make_ca(now() - 3600, now() + 400 * 86_400);
        CertificateAuthority::new(cert, key).unwrap()
    }

    fn full_subject() -> SubjectFields {
        SubjectFields {
            country: Some("DE".into()),
            state: Some("Baden-Wuerttemberg".into()),
            locality: Some("Boeblingen".into()),
            organisation: Some("Example".into()),
            unit: Some("Ops".into()),
            common_name: "deployer.example.com".into(),
            email: Some("ops@example.com".into()),
        }
    }

    #[test]
    fn renewal_is_due_from_renew_before_days_ahead_of_expiry() {
        let expires = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let day = time::Duration::days(1);
        assert!(!renewal_due(expires, 10, expires - day * 11));
        assert!(renewal_due(expires, 10, expires - day * 10));
        assert!(renewal_due(expires, 10, expires - day * 9));
        assert!(!renewal_due(
            expires,
            0,
            expires - time::Duration::seconds(1)
        ));
        assert!(renewal_due(expires, 0, expires));
    }

    #[test]
    fn issues_certificate_from_subject() {
        let ca = ca();
        let subject = full_subject();
        let issued = issue_signing_certificate(
            signing_key(),
            CsrSource::Subject(&subject),
            &ca,
            ValidityDays::new(30).unwrap(),
        )
        .unwrap();
        let cert = &issued.certificate;
        assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(ca.certificate().issued(cert), X509VerifyResult::OK);
        assert!(cert
            .verify(&ca.certificate().public_key().unwrap())
            .unwrap());
        let cn: Vec<String> = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .map(|e| e.data().to_string().unwrap())
            .collect();
        assert_eq!(cn, ["deployer.example.com"]);
        assert_eq!(cert.subject_name().entries().count(), 7);
        let expected = OffsetDateTime::now_utc() + time::Duration::days(30);
        assert!((issued.not_after - expected).whole_seconds().abs() < 120);
        assert_eq!(
            cert.signature_algorithm().object().nid(),
            Nid::SHA256WITHRSAENCRYPTION
        );
        check_signing_certificate(cert, signing_key(), OffsetDateTime::now_utc()).unwrap();
        let minimal = issue_signing_certificate(
            signing_key(),
            CsrSource::Subject(&SubjectFields::new("only-cn")),
            &ca,
            ValidityDays::new(1).unwrap(),
        )
        .unwrap();
        assert_eq!(minimal.certificate.subject_name().entries().count(), 1);
    }

    #[test]
    fn issues_certificate_from_csr() {
        let ca = ca();
        let mut req = X509Req::builder().unwrap();
        req.set_subject_name(&full_subject().to_x509_name().unwrap())
            .unwrap();
        req.set_pubkey(signing_key()).unwrap();
        req.sign(signing_key(), MessageDigest::sha256()).unwrap();
        let pem = String::from_utf8(req.build().to_pem().unwrap()).unwrap();
        let days = ValidityDays::new(10).unwrap();
        let issued =
            issue_signing_certificate(signing_key(), CsrSource::Pem(&pem), &ca, days).unwrap();
        assert!(issued
            .certificate
            .public_key()
            .unwrap()
            .public_eq(signing_key()));

        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let err = issue_signing_certificate(&other, CsrSource::Pem(&pem), &ca, days)
            .err()
            .unwrap();
        assert!(matches!(err, ExpiryError::CsrKeyMismatch), "{err}");
        assert!(matches!(
            issue_signing_certificate(signing_key(), CsrSource::Pem("nope"), &ca, days),
            Err(ExpiryError::CsrMalformed(_))
        ));
        // A CSR whose signature was made by another key than the one it carries.
        let mut forged = X509Req::builder().unwrap();
        forged
            .set_subject_name(&full_subject().to_x509_name().unwrap())
            .unwrap();
        forged.set_pubkey(signing_key()).unwrap();
        forged.sign(&other, MessageDigest::sha256()).unwrap();
        let forged = String::from_utf8(forged.build().to_pem().unwrap()).unwrap();
        assert!(matches!(
            issue_signing_certificate(signing_key(), CsrSource::Pem(&forged), &ca, days),
            Err(ExpiryError::CsrSignature)
        ));
    }

    #[test]
    fn subject_and_days_validation() {
        let mut s = full_subject();
        s.country = Some("DEU".into());
        let err = s.to_x509_name().err().unwrap();
        assert!(err.to_string().contains("`country`"), "{err}");
        let mut s = full_subject();
        s.common_name = "  ".into();
        assert!(s
            .to_x509_name()
            .err()
            .unwrap()
            .to_string()
            .contains("common_name"));
        let mut s = full_subject();
        s.unit = Some("x".repeat(65));
        assert!(s
            .to_x509_name()
            .err()
            .unwrap()
            .to_string()
            .contains("`unit`"));
        let mut s = full_subject();
        s.state = Some(String::new());
        assert_eq!(s.to_x509_name().unwrap().entries().count(), 6);
        for bad in [0, -1, 36_501, i64::MAX] {
            let err = ValidityDays::new(bad).unwrap_err();
            assert!(err.to_string().contains(&bad.to_string()), "{err}");
        }
        assert_eq!(ValidityDays::new(365).unwrap().get(), 365);
    }

    #[test]
    fn ca_checks() {
        let (cert, _) = make_ca(now() - 3600, now() + 86_400);
        let (_, other_key) = make_ca(now() - 3600, now() + 86_400);
        assert!(matches!(
            CertificateAuthority::new(cert, other_key),
            Err(ExpiryError::CaKeyMismatch)
        ));
        let (cert, key) = make_ca(now() - 10 * 86_400, now() - 86_400);
        assert!(matches!(
            CertificateAuthority::new(cert, key),
            Err(ExpiryError::CaExpired { .. })
        ));
        let (cert, key) = make_ca(now() - 3600, now() + 86_400);
        let cert_pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
        let key_pem = String::from_utf8(
            key.private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_128_cbc(), b"pw")
                .unwrap(),
        )
        .unwrap();
        assert!(CertificateAuthority::from_pem(&cert_pem, &key_pem, Some(b"pw")).is_ok());
        assert!(matches!(
            CertificateAuthority::from_pem(&cert_pem, &key_pem, Some(b"bad")),
            Err(ExpiryError::CaKey(KeyError::WrongPassphrase))
        ));
        assert!(matches!(
            CertificateAuthority::from_pem(&cert_pem, &key_pem, None),
            Err(ExpiryError::CaKey(KeyError::PassphraseRequired))
        ));
    }

    #[test]
    fn expired_and_mismatched_signing_certificate() {
        let ca = ca();
        let issued = issue_signing_certificate(
            signing_key(),
            CsrSource::Subject(&SubjectFields::new("x")),
            &ca,
            ValidityDays::new(2).unwrap(),
        )
        .unwrap();
        let later = OffsetDateTime::now_utc() + time::Duration::days(3);
        let err = check_signing_certificate(&issued.certificate, signing_key(), later).unwrap_err();
        assert!(matches!(err, ExpiryError::Expired { .. }), "{err}");
        let earlier = OffsetDateTime::now_utc() - time::Duration::days(1);
        assert!(matches!(
            check_signing_certificate(&issued.certificate, signing_key(), earlier),
            Err(ExpiryError::NotYetValid { .. })
        ));
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        assert!(matches!(
            check_signing_certificate(&issued.certificate, &other, OffsetDateTime::now_utc()),
            Err(ExpiryError::CertificateKeyMismatch)
        ));
    }
}
