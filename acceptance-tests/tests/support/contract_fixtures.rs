//! Key material, configurations and openssl-CLI checks shared by the contract-resource
//! acceptance suites. The encryption certificate and key come from mock-cloud's PKI; the
//! deployer's keys and CA are made here. Everything is written as PEM files the
//! configurations read with `file(...)`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509NameBuilder, X509};
use tempfile::TempDir;

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A plaintext workload with a marker that must never show up in a deployer's files.
pub const WORKLOAD_MARKER: &str = "cGVyc29uYS1tYXJrZXItN2YzYQ==";

pub fn workload_yaml(archive: &str) -> String {
    format!("type: workload\ncompose:\n  archive: {archive}\n")
}

pub fn env_yaml(hostname: &str) -> String {
    format!(
        "type: env\nlogging:\n  logRouter:\n    hostname: {hostname}\n    iamApiKey: not-a-real-iam-api-key\n"
    )
}

pub struct Fixtures {
    pub dir: TempDir,
    pub pki: Pki,
}

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).expect("RSA key")).expect("PKey")
}

fn name(cn: &str) -> openssl::x509::X509Name {
    let mut n = X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    n.build()
}

/// A self-signed certificate valid from `from` to `to` days from now.
fn certificate(key: &PKey<Private>, cn: &str, from: i64, to: i64, ca: bool) -> X509 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_issuer_name(&name(cn)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(now + from * 86_400).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to * 86_400).unwrap())
        .unwrap();
    if ca {
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
    }
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build()
}

impl Fixtures {
    /// Makes every file; `bits` is the encryption key size of the platform.
    pub fn new(bits: RsaBits) -> Fixtures {
        let pki = Pki::generate_in_memory(&PkiOptions {
            ca_bits: RsaBits::Rsa2048,
            encryption_bits: bits,
            attestation_bits: RsaBits::Rsa2048,
        })
        .expect("mock-cloud PKI");
        let dir = TempDir::new().unwrap();
        let f = Fixtures { dir, pki };
        let pem = |b: Vec<u8>| String::from_utf8(b).unwrap();
        f.write(
            "encryption.crt",
            pem(f.pki.encryption_cert.to_pem().unwrap()),
        );
        f.write(
            "encryption.key",
            pem(f.pki.encryption_key.private_key_to_pem_pkcs8().unwrap()),
        );
        f.write(
            "intermediate.crt",
            pem(f.pki.intermediate.to_pem().unwrap()),
        );
        let expired_key = rsa(2048);
        f.write(
            "expired.crt",
            pem(certificate(&expired_key, "expired", -30, -1, false)
                .to_pem()
                .unwrap()),
        );
        let signing = rsa(2048);
        f.write(
            "signing.key",
            pem(signing.private_key_to_pem_pkcs8().unwrap()),
        );
        f.write(
            "signing-encrypted.key",
            pem(signing
                .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), PASSPHRASE.as_bytes())
                .unwrap()),
        );
        f.write("signing.pub", pem(signing.public_key_to_pem().unwrap()));
        let attestation = rsa(2048);
        f.write(
            "attestation.pub",
            pem(attestation.public_key_to_pem().unwrap()),
        );
        let ca = rsa(2048);
        f.write("ca.key", pem(ca.private_key_to_pem_pkcs8().unwrap()));
        f.write(
            "ca.crt",
            pem(certificate(&ca, "deployer CA", -1, 3650, true)
                .to_pem()
                .unwrap()),
        );
        f
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `file("<absolute path>")` for a configuration.
    pub fn file(&self, name: &str) -> String {
        format!("file(\"{}\")", self.path(name).display())
    }

    pub fn write(&self, name: &str, text: impl AsRef<[u8]>) {
        std::fs::write(self.path(name), text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

pub fn provider_block() -> &'static str {
    r#"
terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
"#
}

/// Runs `openssl` in `dir`; returns stdout or panics with stderr.
pub fn openssl(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI must be installed for these tests");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// IBM's documented decryption of a section token with the platform key:
/// `cut -d. -f2 | base64 -d | openssl pkeyutl -decrypt -inkey key`, then
/// `cut -d. -f3 | base64 -d | openssl aes-256-cbc -d -pbkdf2 -pass stdin`.
pub fn decrypt_with_openssl(token: &str, key: &Path) -> String {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a token has three parts");
    std::fs::write(d.join("password.enc"), STANDARD.decode(parts[1]).unwrap()).unwrap();
    std::fs::write(d.join("body.enc"), STANDARD.decode(parts[2]).unwrap()).unwrap();
    let key = key.to_str().unwrap();
    let password = openssl(
        d,
        &["pkeyutl", "-decrypt", "-inkey", key, "-in", "password.enc"],
        None,
    );
    let plaintext = openssl(
        d,
        &[
            "aes-256-cbc",
            "-d",
            "-pbkdf2",
            "-in",
            "body.enc",
            "-pass",
            "stdin",
        ],
        Some(&password),
    );
    String::from_utf8(plaintext).unwrap()
}

/// `openssl dgst -sha256 -verify pub.pem -signature sig.bin` over workload‖env.
pub fn verify_with_openssl(workload: &str, env: &str, signature_b64: &str, public_key: &Path) {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("contract.txt"), format!("{workload}{env}")).unwrap();
    std::fs::write(
        d.join("signature.bin"),
        STANDARD.decode(signature_b64.trim()).unwrap(),
    )
    .unwrap();
    let out = openssl(
        d,
        &[
            "dgst",
            "-sha256",
            "-verify",
            public_key.to_str().unwrap(),
            "-signature",
            "signature.bin",
            "contract.txt",
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&out).contains("Verified OK"),
        "signature does not verify"
    );
}

/// The top-level values of a rendered contract.
pub fn sections(rendered: &str) -> serde_yaml_ng::Mapping {
    serde_yaml_ng::from_str(rendered).expect("rendered is a YAML map")
}

pub fn section<'a>(map: &'a serde_yaml_ng::Mapping, key: &str) -> &'a str {
    map.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in the contract"))
}
