//! AutoMTLS with OpenSSL: a fresh self-signed server certificate per launch, and an acceptor
//! that lets in only the client certificate Terraform handed us in `PLUGIN_CLIENT_CERT`.
//!
//! OpenSSL rather than rustls+ring because Terraform's client certificate is ECDSA P-521 /
//! SHA-512, which ring cannot verify: Go would then send no certificate at all. OpenSSL's
//! default signature algorithms include `ecdsa_secp521r1_sha512`, and it checks the
//! handshake signature (CertificateVerify) itself; we add the byte-for-byte pin.

use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    select_next_proto, AlpnError, SslAcceptor, SslMethod, SslVerifyMode, SslVersion,
};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509NameBuilder, X509};
use thiserror::Error;

/// ALPN wire format of the one protocol we speak.
const ALPN_H2: &[u8] = b"\x02h2";

/// Seconds the certificate is backdated, as go-plugin does, to absorb clock skew.
const BACKDATE_SECS: i64 = 30;
/// go-plugin's validity (262 980 h, about 30 years); the key never leaves this process.
const VALIDITY_SECS: i64 = 262_980 * 3600;

/// The server's per-launch identity. The private key is only reachable through the acceptor.
pub(super) struct ServerIdentity {
    cert: X509,
    key: PKey<Private>,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerIdentity")
            .field("subject", &self.cert.subject_name())
            .field("key", &"<sensitive>")
            .finish()
    }
}

/// TLS set-up failures; OpenSSL's error stack never contains key material.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("generating the server's TLS key and certificate failed: {0}")]
    Identity(#[source] ErrorStack),
    #[error("configuring the TLS acceptor failed: {0}")]
    Acceptor(#[source] ErrorStack),
    #[error("the system clock is before 1970")]
    Clock,
}

impl ServerIdentity {
    /// A new EC P-256 key and a self-signed certificate shaped like go-plugin's own
    /// (CN and SAN `localhost`, CA:TRUE so the client can use it as its only root, EKU
    /// serverAuth + clientAuth). P-256 because generating it takes microseconds, unlike RSA.
    pub(super) fn generate() -> Result<Self, TlsError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TlsError::Clock)?
            .as_secs();
        let now = i64::try_from(now).map_err(|_| TlsError::Clock)?;
        Self::generate_at(now).map_err(TlsError::Identity)
    }

    fn generate_at(now: i64) -> Result<Self, ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let key = PKey::from_ec_key(EcKey::generate(&group)?)?;

        let mut name = X509NameBuilder::new()?;
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "HashiCorp")?;
        name.append_entry_by_nid(Nid::COMMONNAME, "localhost")?;
        let name = name.build();

        let mut serial = BigNum::new()?;
        serial.rand(127, MsbOption::MAYBE_ZERO, false)?;

        let mut builder = X509::builder()?;
        builder.set_version(2)?;
        builder.set_serial_number(Asn1Integer::from_bn(&serial)?.as_ref())?;
        builder.set_subject_name(&name)?;
        builder.set_issuer_name(&name)?;
        builder.set_pubkey(&key)?;
        builder.set_not_before(Asn1Time::from_unix(now - BACKDATE_SECS)?.as_ref())?;
        builder.set_not_after(Asn1Time::from_unix(now + VALIDITY_SECS)?.as_ref())?;
        builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        builder.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .key_agreement()
                .key_cert_sign()
                .build()?,
        )?;
        builder.append_extension(
            ExtendedKeyUsage::new()
                .server_auth()
                .client_auth()
                .build()?,
        )?;
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .build(&builder.x509v3_context(None, None))?;
        builder.append_extension(san)?;
        builder.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            cert: builder.build(),
            key,
        })
    }

    /// The certificate, as DER (what the handshake line carries).
    pub(super) fn cert_der(&self) -> Result<Vec<u8>, TlsError> {
        self.cert.to_der().map_err(TlsError::Identity)
    }

    /// An acceptor presenting this identity that requires a client certificate equal (DER) to
    /// `client_cert`, TLS 1.2 or later, and selects ALPN `h2`.
    pub(super) fn acceptor(&self, client_cert: &X509) -> Result<SslAcceptor, TlsError> {
        let pinned = client_cert.to_der().map_err(TlsError::Acceptor)?;
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
            .map_err(TlsError::Acceptor)?;
        builder
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(TlsError::Acceptor)?;
        builder
            .set_private_key(&self.key)
            .map_err(TlsError::Acceptor)?;
        builder
            .set_certificate(&self.cert)
            .map_err(TlsError::Acceptor)?;
        builder.check_private_key().map_err(TlsError::Acceptor)?;
        // The pinned certificate is the only trust anchor, so OpenSSL's own chain check passes
        // for it alone; the callback then insists on exactly that leaf.
        builder
            .cert_store_mut()
            .add_cert(client_cert.clone())
            .map_err(TlsError::Acceptor)?;
        builder.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |chain_ok, ctx| {
                if ctx.error_depth() != 0 {
                    return chain_ok;
                }
                chain_ok
                    && ctx
                        .current_cert()
                        .and_then(|cert| cert.to_der().ok())
                        .is_some_and(|der| der == pinned)
            },
        );
        builder.set_alpn_select_callback(|_, offered| {
            select_next_proto(ALPN_H2, offered).ok_or(AlpnError::NOACK)
        });
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::X509VerifyResult;

    #[test]
    fn certificate_follows_go_plugin_template() {
        let now = 1_795_844_400;
        let identity = ServerIdentity::generate_at(now).expect("identity");
        let cert = X509::from_der(&identity.cert_der().expect("der")).expect("parses");
        let sans: Vec<_> = cert
            .subject_alt_names()
            .expect("SAN present")
            .iter()
            .filter_map(|n| n.dnsname().map(str::to_owned))
            .collect();
        assert_eq!(sans, ["localhost"]);
        let cn = cert
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .next()
            .expect("CN")
            .data()
            .to_string()
            .expect("utf8");
        assert_eq!(cn, "localhost");
        let backdated = Asn1Time::from_unix(now - BACKDATE_SECS).expect("time");
        assert_eq!(
            cert.not_before().compare(&backdated).expect("cmp"),
            std::cmp::Ordering::Equal
        );
        // Self-signed, and usable as its own trust anchor, which is how Terraform pins it.
        assert_eq!(cert.issued(&cert), X509VerifyResult::OK);
        assert!(cert
            .verify(&cert.public_key().expect("key"))
            .expect("verify"));
        let text = String::from_utf8(cert.to_text().expect("text")).expect("utf8");
        assert!(text.contains("CA:TRUE"), "{text}");
        assert!(
            text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
            "{text}"
        );
        assert!(
            text.contains("Digital Signature, Key Encipherment, Key Agreement, Certificate Sign"),
            "{text}"
        );
        assert!(text.contains("prime256v1"), "{text}");
    }

    #[test]
    fn every_launch_gets_a_fresh_key() {
        let a = ServerIdentity::generate().expect("a");
        let b = ServerIdentity::generate().expect("b");
        assert_ne!(a.cert_der().expect("a"), b.cert_der().expect("b"));
        let debug = format!("{a:?}");
        assert!(debug.contains("<sensitive>") && !debug.contains("PRIVATE"));
    }
}
