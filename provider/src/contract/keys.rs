//! Loading the keys and certificates a contract needs, from the text forms users hand over:
//! PEM private keys (PKCS#1 or PKCS#8, optionally passphrase-protected, including legacy
//! `Proc-Type: 4,ENCRYPTED`), public keys as PEM `PUBLIC KEY` / `CERTIFICATE` or base64 of
//! either, and certificates.
//!
//! Encrypted keys are detected before OpenSSL sees them so that a missing passphrase is a
//! clear error, never an interactive prompt on the terminal.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::error::ErrorStack;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use openssl::x509::{X509Ref, X509};

/// Problems with key or certificate material. Messages never contain key bytes or passphrases.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("expected PEM text (a `-----BEGIN ...-----` block) for the {expected}")]
    NotPem { expected: &'static str },
    #[error("expected a PEM {expected}, found a `{found}` block")]
    UnexpectedPem {
        expected: &'static str,
        found: String,
    },
    #[error("the private key is passphrase-protected but no passphrase was given")]
    PassphraseRequired,
    #[error("cannot decrypt the private key: wrong passphrase (or corrupted key)")]
    WrongPassphrase,
    #[error("the key is {found}, but an RSA key is required")]
    NotRsa { found: String },
    #[error("the {what} is malformed: {source}")]
    Malformed {
        what: &'static str,
        #[source]
        source: ErrorStack,
    },
    #[error("expected a PEM `PUBLIC KEY` or `CERTIFICATE`, or base64 of one: {reason}")]
    NotPublicKey { reason: &'static str },
    #[error("the private key does not match the certificate's public key")]
    CertificateMismatch,
    #[error("OpenSSL failed while {operation}: {source}")]
    Crypto {
        operation: &'static str,
        #[source]
        source: ErrorStack,
    },
}

/// Human name of a key type for error messages.
pub fn key_type_name(id: Id) -> &'static str {
    match id {
        Id::RSA => "RSA",
        Id::RSA_PSS => "RSA-PSS",
        Id::EC => "EC",
        Id::ED25519 => "Ed25519",
        Id::ED448 => "Ed448",
        Id::DSA => "DSA",
        Id::DH => "DH",
        _ => "an unsupported key type",
    }
}

/// Undoes the one-line `\n`-escaped PEM form of IBM's awk recipe, so both forms load.
fn unescape_pem(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("-----BEGIN") && text.contains("\\n") {
        std::borrow::Cow::Owned(text.replace("\\n", "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The label of the first PEM block (`PUBLIC KEY`, `RSA PRIVATE KEY`, ...), if any.
pub fn pem_label(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let len = text[start..].find("-----")?;
    Some(&text[start..start + len])
}

/// Whether a PEM private key needs a passphrase (PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy
/// PKCS#1 block with a `Proc-Type: 4,ENCRYPTED` header).
pub fn is_encrypted_private_key(pem: &str) -> bool {
    match pem_label(pem) {
        Some("ENCRYPTED PRIVATE KEY") => true,
        Some(_) => pem.contains("Proc-Type: 4,ENCRYPTED"),
        None => false,
    }
}

/// Loads a PEM private key of any type; `passphrase` is used only if the key is encrypted.
pub fn load_private_key(pem: &str, passphrase: Option<&[u8]>) -> Result<PKey<Private>, KeyError> {
    let pem = unescape_pem(pem.trim());
    let label = pem_label(&pem).ok_or(KeyError::NotPem {
        expected: "private key",
    })?;
    if !label.ends_with("PRIVATE KEY") {
        return Err(KeyError::UnexpectedPem {
            expected: "private key",
            found: label.to_owned(),
        });
    }
    if is_encrypted_private_key(&pem) {
        let pass = passphrase
            .filter(|p| !p.is_empty())
            .ok_or(KeyError::PassphraseRequired)?;
        PKey::private_key_from_pem_passphrase(pem.as_bytes(), pass)
            .map_err(|_| KeyError::WrongPassphrase)
    } else {
        // The callback refuses to supply a passphrase, so OpenSSL can never prompt.
        PKey::private_key_from_pem_callback(pem.as_bytes(), |_| Ok(0)).map_err(|source| {
            KeyError::Malformed {
                what: "private key",
                source,
            }
        })
    }
}

/// As [`load_private_key`], and the key must be RSA.
pub fn load_rsa_private_key(
    pem: &str,
    passphrase: Option<&[u8]>,
) -> Result<PKey<Private>, KeyError> {
    let key = load_private_key(pem, passphrase)?;
    require_rsa(&key)?;
    Ok(key)
}

/// Fails unless `key` is an RSA key.
pub fn require_rsa<T>(key: &PKeyRef<T>) -> Result<(), KeyError> {
    if key.id() == Id::RSA {
        Ok(())
    } else {
        Err(KeyError::NotRsa {
            found: key_type_name(key.id()).to_owned(),
        })
    }
}

fn public_from_pem(pem: &str) -> Result<PKey<Public>, KeyError> {
    let malformed = |what| move |source| KeyError::Malformed { what, source };
    match pem_label(pem) {
        Some("PUBLIC KEY") => {
            PKey::public_key_from_pem(pem.as_bytes()).map_err(malformed("public key"))
        }
        Some("RSA PUBLIC KEY") => Rsa::public_key_from_pem_pkcs1(pem.as_bytes())
            .and_then(PKey::from_rsa)
            .map_err(malformed("RSA public key")),
        Some("CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE") => {
            X509::from_pem(pem.as_bytes())
                .and_then(|c| c.public_key())
                .map_err(malformed("certificate"))
        }
        Some(other) => Err(KeyError::UnexpectedPem {
            expected: "`PUBLIC KEY` or `CERTIFICATE`",
            found: other.to_owned(),
        }),
        None => Err(KeyError::NotPublicKey {
            reason: "no PEM block found",
        }),
    }
}

/// Loads a public key from a PEM `PUBLIC KEY` (or PKCS#1 `RSA PUBLIC KEY`), a PEM
/// `CERTIFICATE`, the one-line `\n`-escaped form of those, or base64 of any of them.
pub fn load_public_key(text: &str) -> Result<PKey<Public>, KeyError> {
    let text = unescape_pem(text.trim());
    if text.contains("-----BEGIN") {
        return public_from_pem(&text);
    }
    let compact: String = text.split_ascii_whitespace().collect();
    let decoded = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| KeyError::NotPublicKey {
            reason: "neither PEM nor valid base64",
        })?;
    match std::str::from_utf8(&decoded) {
        Ok(inner) if inner.contains("-----BEGIN") => public_from_pem(&unescape_pem(inner.trim())),
        // base64 of DER: SubjectPublicKeyInfo or a certificate.
        _ => PKey::public_key_from_der(&decoded)
            .or_else(|_| X509::from_der(&decoded).and_then(|c| c.public_key()))
            .map_err(|_| KeyError::NotPublicKey {
                reason: "the base64 decodes to neither PEM nor a DER key/certificate",
            }),
    }
}

/// Loads a certificate from PEM, the `\n`-escaped form, or base64 of the PEM.
pub fn load_certificate(text: &str) -> Result<X509, KeyError> {
    let text = unescape_pem(text.trim());
    let pem: std::borrow::Cow<'_, str> = if text.contains("-----BEGIN") {
        text
    } else {
        let compact: String = text.split_ascii_whitespace().collect();
        let decoded = STANDARD
            .decode(compact.as_bytes())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or(KeyError::NotPem {
                expected: "certificate",
            })?;
        std::borrow::Cow::Owned(unescape_pem(decoded.trim()).into_owned())
    };
    match pem_label(&pem) {
        Some("CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE") => {
            X509::from_pem(pem.as_bytes()).map_err(|source| KeyError::Malformed {
                what: "certificate",
                source,
            })
        }
        Some(other) => Err(KeyError::UnexpectedPem {
            expected: "certificate",
            found: other.to_owned(),
        }),
        None => Err(KeyError::NotPem {
            expected: "certificate",
        }),
    }
}

/// The SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`) of a key.
pub fn public_key_pem<T: HasPublic>(key: &PKeyRef<T>) -> Result<String, KeyError> {
    let pem = key.public_key_to_pem().map_err(|source| KeyError::Crypto {
        operation: "encoding the public key as PEM",
        source,
    })?;
    // OpenSSL emits ASCII PEM; a failure here would be an OpenSSL bug, reported not panicked.
    String::from_utf8(pem).map_err(|_| KeyError::Crypto {
        operation: "encoding the public key as PEM",
        source: ErrorStack::get(),
    })
}

/// Converts any key to its public half.
pub fn to_public<T: HasPublic>(key: &PKeyRef<T>) -> Result<PKey<Public>, KeyError> {
    let der = key.public_key_to_der().map_err(|source| KeyError::Crypto {
        operation: "extracting the public key",
        source,
    })?;
    PKey::public_key_from_der(&der).map_err(|source| KeyError::Crypto {
        operation: "extracting the public key",
        source,
    })
}

/// Fails unless `key` is the private half of the certificate's public key.
pub fn check_key_matches_certificate(
    key: &PKeyRef<Private>,
    cert: &X509Ref,
) -> Result<(), KeyError> {
    let cert_key = cert.public_key().map_err(|source| KeyError::Malformed {
        what: "certificate public key",
        source,
    })?;
    if cert_key.public_eq(key) {
        Ok(())
    } else {
        Err(KeyError::CertificateMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::symm::Cipher;
    use std::sync::OnceLock;

    fn rsa() -> &'static Rsa<Private> {
        static KEY: OnceLock<Rsa<Private>> = OnceLock::new();
        KEY.get_or_init(|| Rsa::generate(2048).unwrap())
    }

    fn pkey() -> PKey<Private> {
        PKey::from_rsa(rsa().clone()).unwrap()
    }

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    fn self_signed(key: &PKey<Private>) -> X509 {
        let mut b = X509::builder().unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(key, openssl::hash::MessageDigest::sha256()).unwrap();
        b.build()
    }

    #[test]
    fn loads_pkcs1_and_pkcs8_plain() {
        let pkcs1 = s(rsa().private_key_to_pem().unwrap());
        assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
        let pkcs8 = s(pkey().private_key_to_pem_pkcs8().unwrap());
        assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
        for pem in [&pkcs1, &pkcs8] {
            let k = load_rsa_private_key(pem, None).unwrap();
            assert!(k.public_eq(&pkey()));
        }
        // A passphrase given for a plain key is simply not needed.
        assert!(load_private_key(&pkcs8, Some(b"unused")).is_ok());
    }

    #[test]
    fn loads_encrypted_pkcs8_and_legacy() {
        let pkcs8 = s(pkey()
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"correct horse")
            .unwrap());
        let legacy = s(rsa()
            .private_key_to_pem_passphrase(Cipher::aes_128_cbc(), b"correct horse")
            .unwrap());
        assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"));
        for pem in [&pkcs8, &legacy] {
            assert!(is_encrypted_private_key(pem));
            let k = load_rsa_private_key(pem, Some(b"correct horse")).unwrap();
            assert!(k.public_eq(&pkey()));
            let err = load_rsa_private_key(pem, Some(b"battery staple")).unwrap_err();
            assert!(matches!(err, KeyError::WrongPassphrase), "{err}");
            assert!(!err.to_string().contains("battery"));
            let err = load_rsa_private_key(pem, None).unwrap_err();
            assert!(matches!(err, KeyError::PassphraseRequired), "{err}");
            let err = load_rsa_private_key(pem, Some(b"")).unwrap_err();
            assert!(matches!(err, KeyError::PassphraseRequired), "{err}");
        }
    }

    #[test]
    fn not_pem_and_wrong_block() {
        let err = load_private_key("hello", None).unwrap_err();
        assert!(matches!(err, KeyError::NotPem { .. }), "{err}");
        let public = public_key_pem(&pkey()).unwrap();
        let err = load_private_key(&public, None).unwrap_err();
        assert!(err.to_string().contains("`PUBLIC KEY`"), "{err}");
        let broken = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            load_private_key(broken, None),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn rsa_required() {
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let pem = s(PKey::from_ec_key(ec)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap());
        assert!(load_private_key(&pem, None).is_ok());
        let err = load_rsa_private_key(&pem, None).unwrap_err();
        assert!(matches!(err, KeyError::NotRsa { .. }) && err.to_string().contains("EC"));
    }

    #[test]
    fn public_key_forms() {
        let key = pkey();
        let spki = public_key_pem(&key).unwrap();
        assert!(spki.starts_with("-----BEGIN PUBLIC KEY-----"));
        let cert = s(self_signed(&key).to_pem().unwrap());
        let escaped = spki.trim_end().replace('\n', "\\n");
        let pkcs1 = s(rsa().public_key_to_pem_pkcs1().unwrap());
        let der_b64 = STANDARD.encode(key.public_key_to_der().unwrap());
        for text in [
            spki.clone(),
            cert.clone(),
            STANDARD.encode(&spki),
            STANDARD.encode(&cert),
            escaped,
            pkcs1,
            der_b64,
        ] {
            let public = load_public_key(&text).unwrap();
            assert!(public.public_eq(&key), "{text}");
        }
        assert!(matches!(
            load_public_key("not a key"),
            Err(KeyError::NotPublicKey { .. })
        ));
        assert!(matches!(
            load_public_key(&STANDARD.encode("hello")),
            Err(KeyError::NotPublicKey { .. })
        ));
        let private = s(key.private_key_to_pem_pkcs8().unwrap());
        assert!(matches!(
            load_public_key(&private),
            Err(KeyError::UnexpectedPem { .. })
        ));
    }

    #[test]
    fn certificate_loading_and_matching() {
        let key = pkey();
        let cert_pem = s(self_signed(&key).to_pem().unwrap());
        let cert = load_certificate(&cert_pem).unwrap();
        let cert2 = load_certificate(&STANDARD.encode(&cert_pem)).unwrap();
        assert_eq!(cert.to_der().unwrap(), cert2.to_der().unwrap());
        check_key_matches_certificate(&key, &cert).unwrap();
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let err = check_key_matches_certificate(&other, &cert).unwrap_err();
        assert!(matches!(err, KeyError::CertificateMismatch), "{err}");
        assert!(matches!(
            load_certificate(&public_key_pem(&key).unwrap()),
            Err(KeyError::UnexpectedPem { .. })
        ));
        assert!(matches!(
            load_certificate("zzz"),
            Err(KeyError::NotPem { .. })
        ));
    }
}
