//! Interop of the contract engine with the real `openssl` CLI, in both directions, using the
//! commands IBM documents for contracts (contract-format sheet §14): tokens, signatures,
//! contract-expiry certificates, passphrase-protected keys and attestation records.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hyperprotect::contract::attestation;
use hyperprotect::contract::document::{
    self, Contract, ContractInput, Encryption, SigningInput, WorkloadInput,
};
use hyperprotect::contract::expiry::{
    issue_signing_certificate, CertificateAuthority, CsrSource, SubjectFields, ValidityDays,
};
use hyperprotect::contract::keys::{self, KeyError};
use hyperprotect::contract::signing;
use hyperprotect::contract::token::{self, PasswordUse, Platform, TokenPrefix};
use tempfile::TempDir;

/// Runs `openssl` in `dir`, feeding `stdin`; returns stdout, failing the test with stderr.
fn openssl(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let (ok, out, err) = openssl_status(dir, args, stdin);
    assert!(
        ok,
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&err)
    );
    out
}

fn openssl_status(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (bool, Vec<u8>, Vec<u8>) {
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
    (out.status.success(), out.stdout, out.stderr)
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read_string(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// An RSA-4096 key and self-signed certificate standing in for IBM's encryption certificate,
/// made once by the CLI (slow to generate).
struct EncryptionCert {
    dir: TempDir,
}

fn encryption_cert() -> &'static EncryptionCert {
    static CERT: OnceLock<EncryptionCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:4096",
                "-nodes",
                "-keyout",
                "enc.key",
                "-out",
                "enc.crt",
                "-subj",
                "/CN=encrypt",
                "-days",
                "30",
            ],
            None,
        );
        EncryptionCert { dir }
    })
}

/// Splits a token into its two binary parts, as `cut -d. -f2 | base64 -d` does.
fn token_parts(token: &str) -> (String, Vec<u8>, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    (
        parts[0].to_owned(),
        STANDARD.decode(parts[1]).unwrap(),
        STANDARD.decode(parts[2]).unwrap(),
    )
}

const SECTION: &str = "type: env\nlogging:\n  logRouter:\n    hostname: x.logs.cloud.ibm.com\n    iamApiKey: not-a-real-key-0123456789\nenv:\n  GREETING: \"hello\\n\"\n";

#[test]
fn our_tokens_decrypt_with_the_openssl_cli() {
    let enc = encryption_cert();
    let cert = keys::load_public_key(&read_string(enc.dir.path(), "enc.crt")).unwrap();
    assert_eq!(cert.bits(), 4096);
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let key_path = enc.dir.path().join("enc.key");
    let key_path = key_path.to_str().unwrap();
    let has_rsautl = openssl_status(d, &["rsautl", "-help"], None).0;

    for platform in [Platform::Hpvs, Platform::Ccrt] {
        let token = token::encrypt(SECTION.as_bytes(), &cert, platform).unwrap();
        let (prefix, wrapped, salted) = token_parts(&token);
        assert_eq!(prefix, platform.token_prefix().as_str());
        assert_eq!(wrapped.len(), 512);
        assert_eq!(&salted[..8], b"Salted__");
        write(d, "password.enc", &wrapped);
        write(d, "section.enc", &salted);

        let password = openssl(
            d,
            &[
                "pkeyutl",
                "-decrypt",
                "-inkey",
                key_path,
                "-in",
                "password.enc",
            ],
            None,
        );
        assert_eq!(password.len(), 32);
        if has_rsautl {
            let again = openssl(
                d,
                &[
                    "rsautl",
                    "-decrypt",
                    "-inkey",
                    key_path,
                    "-in",
                    "password.enc",
                ],
                None,
            );
            assert_eq!(again, password);
        }
        // `echo -n "$PASSWORD" | openssl aes-256-cbc -d -pbkdf2 -in ... -pass stdin`
        let plaintext = openssl(
            d,
            &[
                "aes-256-cbc",
                "-d",
                "-pbkdf2",
                "-in",
                "section.enc",
                "-pass",
                "stdin",
            ],
            Some(&password),
        );
        assert_eq!(plaintext, SECTION.as_bytes());
    }
}

/// IBM's encrypt pipeline with a given password file: pkeyutl (or rsautl) -encrypt -certin,
/// then `openssl enc -aes-256-cbc -pbkdf2 -pass stdin`.
fn cli_token(d: &Path, cert: &str, password: &[u8], plaintext: &[u8], use_rsautl: bool) -> String {
    write(d, "password", password);
    write(d, "section.yaml", plaintext);
    let wrapped = if use_rsautl {
        openssl(
            d,
            &[
                "rsautl", "-encrypt", "-inkey", cert, "-certin", "-in", "password",
            ],
            None,
        )
    } else {
        openssl(
            d,
            &[
                "pkeyutl",
                "-encrypt",
                "-inkey",
                cert,
                "-certin",
                "-pkeyopt",
                "rsa_padding_mode:pkcs1",
                "-in",
                "password",
            ],
            None,
        )
    };
    let salted = openssl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-pass",
            "stdin",
            "-in",
            "section.yaml",
        ],
        Some(password),
    );
    format!(
        "hyper-protect-basic.{}.{}",
        STANDARD.encode(wrapped),
        STANDARD.encode(salted)
    )
}

#[test]
fn openssl_cli_tokens_decrypt_with_ours() {
    let enc = encryption_cert();
    let key = keys::load_rsa_private_key(&read_string(enc.dir.path(), "enc.key"), None).unwrap();
    let cert = enc.dir.path().join("enc.crt");
    let cert = cert.to_str().unwrap();
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let has_rsautl = openssl_status(d, &["rsautl", "-help"], None).0;

    // Random passwords exactly as documented (`openssl rand 32`).
    for round in 0..3 {
        let password = openssl(d, &["rand", "32"], None);
        assert_eq!(password.len(), 32);
        let token = cli_token(
            d,
            cert,
            &password,
            SECTION.as_bytes(),
            has_rsautl && round == 0,
        );
        let opened = token::decrypt(&token, &key).unwrap();
        assert_eq!(opened.plaintext, SECTION.as_bytes());
        assert_eq!(opened.prefix, TokenPrefix::HyperProtectBasic);
        // The readings differ unless the first line is the password minus trailing NULs
        // (HMAC zero-pads its key).
        let first_line_len = password
            .iter()
            .position(|&b| b == b'\n' || b == 0)
            .unwrap_or(password.len());
        let significant_len = password.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let expected_use = if first_line_len < significant_len {
            PasswordUse::FirstLine
        } else {
            PasswordUse::Full
        };
        assert_eq!(opened.password_use, expected_use);
    }

    // Crafted passwords: the CLI only uses the bytes before the first 0x0A/0x00.
    let base: Vec<u8> = (0..32u8).map(|i| b'A' + (i % 26)).collect();
    for (pos, byte, expected_use) in [
        (7, b'\n', PasswordUse::FirstLine),
        (11, 0u8, PasswordUse::FirstLine),
        // Empty effective password.
        (0, b'\n', PasswordUse::FirstLine),
        // HMAC zero-pads its key, so a trailing NUL changes nothing: both readings agree.
        (31, 0u8, PasswordUse::Full),
    ] {
        let mut password = base.clone();
        password[pos] = byte;
        password[20] = b'\r'; // kept by the CLI
        let token = cli_token(d, cert, &password, SECTION.as_bytes(), false);
        let opened = token::decrypt(&token, &key).unwrap();
        assert_eq!(opened.plaintext, SECTION.as_bytes());
        assert_eq!(opened.password_use, expected_use, "byte {byte} at {pos}");
    }
}

/// The documented signing key: `openssl genrsa -aes128 -passout pass:... 2048` (4096 in IBM's
/// docs; 2048 here for speed).
fn signing_key_dir() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "genrsa",
                "-aes128",
                "-passout",
                "pass:test-passphrase",
                "-out",
                "private.pem",
                "2048",
            ],
            None,
        );
        openssl(
            d,
            &[
                "rsa",
                "-in",
                "private.pem",
                "-passin",
                "pass:test-passphrase",
                "-pubout",
                "-out",
                "public.pem",
            ],
            None,
        );
        dir
    })
}

#[test]
fn passphrase_protected_keys_from_the_cli() {
    let d = signing_key_dir().path();
    let pem = read_string(d, "private.pem");
    assert!(keys::is_encrypted_private_key(&pem));
    let key = keys::load_rsa_private_key(&pem, Some(b"test-passphrase")).unwrap();
    let public = keys::load_public_key(&read_string(d, "public.pem")).unwrap();
    assert!(public.public_eq(&key));
    let err = keys::load_rsa_private_key(&pem, Some(b"wrong")).unwrap_err();
    assert!(matches!(err, KeyError::WrongPassphrase), "{err}");
    assert!(err.to_string().contains("wrong passphrase"));
    let err = keys::load_rsa_private_key(&pem, None).unwrap_err();
    assert!(matches!(err, KeyError::PassphraseRequired), "{err}");

    // Legacy PKCS#1 encryption (`Proc-Type: 4,ENCRYPTED`).
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "private.pem",
            "-passin",
            "pass:test-passphrase",
            "-aes128",
            "-traditional",
            "-passout",
            "pass:legacy-pass",
            "-out",
            "legacy.pem",
        ],
        None,
    );
    let legacy = read_string(d, "legacy.pem");
    assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"), "{legacy}");
    let k = keys::load_rsa_private_key(&legacy, Some(b"legacy-pass")).unwrap();
    assert!(k.public_eq(&key));
    assert!(matches!(
        keys::load_rsa_private_key(&legacy, Some(b"test-passphrase")),
        Err(KeyError::WrongPassphrase)
    ));
}

#[test]
fn signatures_interoperate_with_openssl_dgst() {
    let d = signing_key_dir().path();
    let key = keys::load_rsa_private_key(&read_string(d, "private.pem"), Some(b"test-passphrase"))
        .unwrap();
    let public = keys::load_public_key(&read_string(d, "public.pem")).unwrap();
    let enc = encryption_cert();
    let cert = keys::load_public_key(&read_string(enc.dir.path(), "enc.crt")).unwrap();
    let workload = token::encrypt(b"type: workload\n", &cert, Platform::Hpvs).unwrap();
    let env = token::encrypt(SECTION.as_bytes(), &cert, Platform::Hpvs).unwrap();
    let dir = TempDir::new().unwrap();
    let t = dir.path();
    // contract.txt = workload value + env value, no separator, no final newline.
    write(t, "contract.txt", format!("{workload}{env}"));

    // Ours → `openssl dgst -sha256 -verify`.
    let ours = signing::sign(&workload, &env, &key).unwrap();
    write(t, "ours.sig", STANDARD.decode(&ours).unwrap());
    let public_path = d.join("public.pem");
    let out = openssl(
        t,
        &[
            "dgst",
            "-sha256",
            "-verify",
            public_path.to_str().unwrap(),
            "-signature",
            "ours.sig",
            "contract.txt",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");

    // `openssl dgst -sha256 -sign private.pem | openssl enc -base64` → ours.
    let private_path = d.join("private.pem");
    let raw = openssl(
        t,
        &[
            "dgst",
            "-sha256",
            "-sign",
            private_path.to_str().unwrap(),
            "-passin",
            "pass:test-passphrase",
            "contract.txt",
        ],
        None,
    );
    let b64 = openssl(t, &["enc", "-base64"], Some(&raw));
    let b64 = String::from_utf8(b64).unwrap();
    assert!(
        b64.trim().contains('\n'),
        "openssl wraps base64 at 64 columns"
    );
    signing::verify(&workload, &env, &b64, &public).unwrap();
    // PKCS#1 v1.5 signatures are deterministic: both tools produce the same bytes.
    assert_eq!(STANDARD.decode(&ours).unwrap(), raw);
    assert!(signing::verify(&workload, &format!("{env}\n"), &b64, &public).is_err());
}

#[test]
fn expiry_certificates_accepted_by_openssl() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // The deployer's CA, key passphrase-protected.
    openssl(
        d,
        &[
            "genrsa",
            "-aes128",
            "-passout",
            "pass:ca-pass",
            "-out",
            "personal_ca.key",
            "2048",
        ],
        None,
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "personal_ca.key",
            "-passin",
            "pass:ca-pass",
            "-out",
            "personal_ca.crt",
            "-subj",
            "/CN=Personal CA",
            "-days",
            "400",
        ],
        None,
    );
    let ca = CertificateAuthority::from_pem(
        &read_string(d, "personal_ca.crt"),
        &read_string(d, "personal_ca.key"),
        Some(b"ca-pass"),
    )
    .unwrap();
    let kd = signing_key_dir().path();
    let key = keys::load_rsa_private_key(&read_string(kd, "private.pem"), Some(b"test-passphrase"))
        .unwrap();

    let subject = SubjectFields {
        country: Some("DE".into()),
        state: Some("BW".into()),
        locality: Some("Boeblingen".into()),
        organisation: Some("Example Org".into()),
        unit: Some("Deployers".into()),
        common_name: "deployer.example.com".into(),
        email: Some("ops@example.com".into()),
    };
    let days = 90u32;
    let issued = issue_signing_certificate(
        &key,
        CsrSource::Subject(&subject),
        &ca,
        ValidityDays::new(days.into()).unwrap(),
    )
    .unwrap();
    write(d, "certificate.pem", &issued.pem);

    let text = String::from_utf8(openssl(
        d,
        &["x509", "-in", "certificate.pem", "-text", "-noout"],
        None,
    ))
    .unwrap();
    assert!(
        text.contains(
            "Subject: C = DE, ST = BW, L = Boeblingen, O = Example Org, OU = Deployers, CN = deployer.example.com, emailAddress = ops@example.com"
        ),
        "{text}"
    );
    assert!(text.contains("Issuer: CN = Personal CA"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption"), "{text}");

    // notAfter ≈ now + N days: not expiring 5 minutes before, expiring 5 minutes after.
    let before = (u64::from(days) * 86_400 - 300).to_string();
    let after = (u64::from(days) * 86_400 + 300).to_string();
    assert!(
        openssl_status(
            d,
            &[
                "x509",
                "-in",
                "certificate.pem",
                "-noout",
                "-checkend",
                &before
            ],
            None
        )
        .0
    );
    assert!(
        !openssl_status(
            d,
            &[
                "x509",
                "-in",
                "certificate.pem",
                "-noout",
                "-checkend",
                &after
            ],
            None
        )
        .0
    );
    let out = openssl(
        d,
        &["verify", "-CAfile", "personal_ca.crt", "certificate.pem"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "certificate.pem: OK");

    // From a CSR made by `openssl req -new -key private.pem`.
    let private_path = kd.join("private.pem");
    openssl(
        d,
        &[
            "req",
            "-new",
            "-key",
            private_path.to_str().unwrap(),
            "-passin",
            "pass:test-passphrase",
            "-subj",
            "/C=US/O=From CSR/CN=csr.example.com",
            "-out",
            "csr.pem",
        ],
        None,
    );
    let issued = issue_signing_certificate(
        &key,
        CsrSource::Pem(&read_string(d, "csr.pem")),
        &ca,
        ValidityDays::new(1).unwrap(),
    )
    .unwrap();
    write(d, "from_csr.pem", &issued.pem);
    let subject = openssl(
        d,
        &["x509", "-in", "from_csr.pem", "-noout", "-subject"],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&subject).trim(),
        "subject=C = US, O = From CSR, CN = csr.example.com"
    );
    let out = openssl(
        d,
        &["verify", "-CAfile", "personal_ca.crt", "from_csr.pem"],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "from_csr.pem: OK");

    // A contract carrying it: signingKey is the certificate PEM, and the signature verifies.
    let enc = encryption_cert();
    let recipient = keys::load_public_key(&read_string(enc.dir.path(), "enc.crt")).unwrap();
    let built = document::build(&ContractInput {
        workload: WorkloadInput::Plaintext(
            "type: workload\ncompose:\n  archive: QUJDRA==\n".into(),
        ),
        env: SECTION,
        signing: Some(SigningInput {
            key: &key,
            certificate: Some(&issued.certificate),
        }),
        attestation_public_key: None,
        encryption: Encryption::Encrypt {
            recipient: &recipient,
            platform: Platform::Hpvs,
            encrypt_attestation_key: true,
        },
    })
    .unwrap();
    assert_eq!(built.expires, Some(issued.not_after));
    let contract = Contract::parse(&built.yaml).unwrap();
    contract.verify_signature(&key).unwrap();
}

/// sha256 of a file by the CLI (`openssl dgst -sha256 -r`), independent of our code.
fn cli_sha256(d: &Path, bytes: &[u8]) -> String {
    write(d, "hash-input", bytes);
    let out = openssl(d, &["dgst", "-sha256", "-r", "hash-input"], None);
    String::from_utf8(out).unwrap()[..64].to_owned()
}

#[test]
fn attestation_record_from_openssl_cli_verifies() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // Stand-ins for the image's attestation certificate and the auditor's key pair.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "attestation.key",
            "-out",
            "attestation.crt",
            "-subj",
            "/CN=attestation",
            "-days",
            "30",
        ],
        None,
    );
    openssl(
        d,
        &[
            "genrsa",
            "-aes128",
            "-passout",
            "pass:auditor",
            "-out",
            "auditor.pem",
            "2048",
        ],
        None,
    );
    openssl(
        d,
        &[
            "rsa",
            "-in",
            "auditor.pem",
            "-passin",
            "pass:auditor",
            "-pubout",
            "-out",
            "auditor.pub",
        ],
        None,
    );

    let user_data = "envWorkloadSignature: c2ln\nenv: hyper-protect-basic.RU5W.RU5W\nworkload: hyper-protect-basic.V09S.V09S\n";
    let contract = Contract::parse(user_data).unwrap();
    let shared = cli_sha256(d, b"same content");
    let record = format!(
        "24.3.3\nMachine Type/Plant/Serial: 8561/02/5C5E8\n{shared} root.tar.gz\n{shared} baseimage\n{} cidata/user-data\n{} contract:workload\n{} contract:env\n{} contract:envWorkloadSignature",
        cli_sha256(d, user_data.as_bytes()),
        cli_sha256(d, contract.workload.as_bytes()),
        cli_sha256(d, contract.env.as_bytes()),
        cli_sha256(d, contract.env_workload_signature.as_ref().unwrap().as_bytes()),
    );
    write(d, "se-checksums.txt", &record);
    openssl(
        d,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "attestation.key",
            "-out",
            "se-signature.bin",
            "se-checksums.txt",
        ],
        None,
    );
    // Encrypted "by the same process as contract encryption", 32-char printable password.
    let password = openssl(d, &["rand", "-base64", "24"], None);
    let password = String::from_utf8(password).unwrap().trim().to_owned();
    assert_eq!(password.len(), 32);
    write(d, "password", &password);
    let wrapped = openssl(
        d,
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "auditor.pub",
            "-in",
            "password",
        ],
        None,
    );
    let salted = openssl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-pass",
            "stdin",
            "-in",
            "se-checksums.txt",
        ],
        Some(password.as_bytes()),
    );
    let enc_record = format!(
        "hyper-protect-basic.{}.{}",
        STANDARD.encode(wrapped),
        STANDARD.encode(salted)
    );
    // Sanity: the CLI itself verifies its own signature (IBM step 3).
    openssl(
        d,
        &[
            "x509",
            "-pubkey",
            "-noout",
            "-in",
            "attestation.crt",
            "-out",
            "attestation.pub",
        ],
        None,
    );
    let out = openssl(
        d,
        &[
            "sha256",
            "-verify",
            "attestation.pub",
            "-signature",
            "se-signature.bin",
            "se-checksums.txt",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");

    let auditor =
        keys::load_rsa_private_key(&read_string(d, "auditor.pem"), Some(b"auditor")).unwrap();
    let attestation_key = keys::load_public_key(&read_string(d, "attestation.crt")).unwrap();
    let signature = std::fs::read(d.join("se-signature.bin")).unwrap();
    assert_eq!(signature.len(), 256);
    let audit = attestation::audit(
        enc_record.as_bytes(),
        Some(&auditor),
        Some((&signature, &attestation_key)),
        Some(user_data),
    )
    .unwrap();
    assert!(audit.signature_verified);
    assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    assert_eq!(audit.record.version.as_deref(), Some("24.3.3"));
    assert_eq!(audit.record.entries.len(), 6);
    assert_eq!(audit.text, record);

    // The same signature as base64 (the Terraform input form) also verifies.
    let b64 = STANDARD.encode(&signature);
    attestation::verify_record_signature(record.as_bytes(), b64.as_bytes(), &attestation_key)
        .unwrap();

    // A different deployed contract is reported entry by entry.
    let other = user_data.replace("V09S.V09S", "V09S.V1BT");
    let audit = attestation::audit(
        enc_record.as_bytes(),
        Some(&auditor),
        Some((&signature, &attestation_key)),
        Some(&other),
    )
    .unwrap();
    let names: Vec<String> = audit
        .findings
        .iter()
        .map(|f| match f {
            attestation::Finding::Mismatch { name, .. } => name.clone(),
            other => panic!("unexpected finding {other}"),
        })
        .collect();
    assert_eq!(names, ["contract:workload", "cidata/user-data"]);

    // A signature over a modified record fails.
    let tampered = record.replace("24.3.3", "24.3.4");
    assert!(matches!(
        attestation::verify_record_signature(tampered.as_bytes(), &signature, &attestation_key),
        Err(attestation::AttestationError::SignatureMismatch)
    ));
}
