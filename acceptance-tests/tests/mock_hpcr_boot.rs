//! The mock-cloud Hyper Protect boot against contracts built the way IBM documents it: every
//! contract here is produced by the `openssl` CLI (`openssl rand`, `pkeyutl -encrypt -certin`,
//! `enc -aes-256-cbc -pbkdf2 -pass stdin`, `dgst -sha256 -sign`, `x509 -req -days N`), and the
//! attestation record is read back with the CLI too, so the emulator is checked against
//! OpenSSL rather than against itself.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use acceptance_tests::mock_cloud::hpcr::{boot, BootOutcome, BootReport};
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

// ---------------------------------------------------------------------------------------
// openssl CLI helpers

/// Runs `openssl args…` in `cwd`, feeding `stdin`; panics with stderr on failure.
fn ossl(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = ossl_status(cwd, args, stdin);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ossl_status(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI is installed");
    {
        let mut input = child.stdin.take().expect("stdin piped");
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write stdin");
        }
    }
    child.wait_with_output().expect("openssl runs")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(data))
}

/// 32 random bytes from `openssl rand 32` without 0x0A/0x00, so the ordinary tests are
/// deterministic about the §3 newline rule (tested on its own below).
fn random_password(work: &Path) -> Vec<u8> {
    for _ in 0..64 {
        let pw = ossl(work, &["rand", "32"], None);
        if !pw.contains(&b'\n') && !pw.contains(&0) {
            return pw;
        }
    }
    panic!("openssl rand kept producing newline bytes");
}

/// IBM's "Contract encryption" steps with a given password.
fn encrypt_with_password(prefix: &str, plain: &[u8], cert: &Path, password: &[u8]) -> String {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    fs::write(w.join("password"), password).unwrap();
    fs::write(w.join("section.yaml"), plain).unwrap();
    let cert = cert.to_str().unwrap();
    ossl(
        w,
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
            "-out",
            "password.enc",
        ],
        None,
    );
    ossl(
        w,
        &[
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-pass",
            "stdin",
            "-in",
            "section.yaml",
            "-out",
            "section.enc",
        ],
        Some(password),
    );
    format!(
        "{prefix}.{}.{}",
        B64.encode(fs::read(w.join("password.enc")).unwrap()),
        B64.encode(fs::read(w.join("section.enc")).unwrap())
    )
}

fn encrypt(plain: &str, cert: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let pw = random_password(work.path());
    encrypt_with_password("hyper-protect-basic", plain.as_bytes(), cert, &pw)
}

/// `openssl dgst -sha256 -sign` over workload ‖ env (no separator, no newline), base64.
fn sign(workload: &str, env: &str, key: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    fs::write(w.join("contract.txt"), format!("{workload}{env}")).unwrap();
    ossl(
        w,
        &[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            "-out",
            "sig.bin",
            "contract.txt",
        ],
        None,
    );
    B64.encode(fs::read(w.join("sig.bin")).unwrap())
}

// ---------------------------------------------------------------------------------------
// Fixture: a small RSA-2048 PKI brought by the test (written by the CLI into DIR/pki),
// a deployer signing key, a deployer CA for expiry certificates, and a stranger's cert.

struct Fixture {
    dir: PathBuf,
    pki: Pki,
    signing_key: PathBuf,
    signing_pub_pem: String,
    other_signing_key: PathBuf,
    other_cert: PathBuf,
    user_attestation_key: PathBuf,
    user_attestation_pub_pem: String,
}

impl Fixture {
    fn enc_cert(&self) -> PathBuf {
        self.dir.join("pki/encryption.crt")
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn issue(dir: &Path, stem: &str, subject: &str, ca: &str, ext: Option<&str>) {
    let key = format!("{stem}.key");
    let csr = format!("{stem}.csr");
    let crt = format!("{stem}.crt");
    ossl(dir, &["genrsa", "-out", &key, "2048"], None);
    ossl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
        None,
    );
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "30",
        "-sha512",
        "-out",
        &crt,
    ];
    if let Some(e) = ext {
        args.extend_from_slice(&["-extfile", e]);
    }
    ossl(dir, &args, None);
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("mock-hpcr-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let pki_dir = dir.join("pki");
        fs::create_dir_all(&pki_dir).unwrap();
        let p = &pki_dir;
        fs::write(
            p.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        ossl(p, &["genrsa", "-out", "root.key", "2048"], None);
        ossl(
            p,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "root.key",
                "-subj",
                "/CN=Test-brought Root",
                "-days",
                "30",
                "-out",
                "root.crt",
            ],
            None,
        );
        issue(
            p,
            "intermediate",
            "/CN=Test-brought Intermediate",
            "root",
            Some("ca.ext"),
        );
        issue(
            p,
            "encryption",
            "/CN=Test-brought Hyper Protect encryption",
            "intermediate",
            None,
        );
        issue(
            p,
            "attestation",
            "/CN=Test-brought Hyper Protect attestation",
            "intermediate",
            None,
        );
        for f in [
            "ca.ext",
            "intermediate.csr",
            "encryption.csr",
            "attestation.csr",
        ] {
            fs::remove_file(p.join(f)).unwrap();
        }
        let d = &dir;
        ossl(d, &["genrsa", "-out", "signing.key", "2048"], None);
        ossl(
            d,
            &[
                "rsa",
                "-in",
                "signing.key",
                "-pubout",
                "-out",
                "signing.pub",
            ],
            None,
        );
        ossl(d, &["genrsa", "-out", "other-signing.key", "2048"], None);
        ossl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "other.key",
                "-out",
                "other.crt",
                "-subj",
                "/CN=Someone else's encryption cert",
                "-days",
                "30",
            ],
            None,
        );
        ossl(d, &["genrsa", "-out", "user-attestation.key", "2048"], None);
        ossl(
            d,
            &[
                "rsa",
                "-in",
                "user-attestation.key",
                "-pubout",
                "-out",
                "user-attestation.pub",
            ],
            None,
        );
        // The deployer's own CA for contract expiry (IBM "Contract expiry" step 2).
        ossl(d, &["genrsa", "-out", "personal_ca.key", "2048"], None);
        ossl(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "personal_ca.key",
                "-subj",
                "/CN=Deployer CA",
                "-days",
                "30",
                "-out",
                "personal_ca.crt",
            ],
            None,
        );
        let pki = Pki::load_or_create(&dir).expect("the brought PKI loads");
        Fixture {
            signing_key: dir.join("signing.key"),
            signing_pub_pem: fs::read_to_string(dir.join("signing.pub")).unwrap(),
            other_signing_key: dir.join("other-signing.key"),
            other_cert: dir.join("other.crt"),
            user_attestation_key: dir.join("user-attestation.key"),
            user_attestation_pub_pem: fs::read_to_string(dir.join("user-attestation.pub")).unwrap(),
            pki,
            dir,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Contract pieces

const WORKLOAD: &str = "type: workload
compose:
  archive: H4sIAAAAAAAAA+3OMQ6CQBCF4a05xZ5AZ4DF8xALGhNdjWtkE2cdbJpaGtoYkv5S/TvuYA+DZ/vAAAAAAAAAAD4zxt2pgfMACgAAA==
volumes:
  data:
    seed: workload-seed-Sup3rSecret
";

/// The env section, optionally with a `signingKey` line (already YAML-ready).
fn env_section(signing_key_line: Option<&str>) -> String {
    let mut s = String::from(
        "type: env
logging:
  logRouter:
    hostname: logs.eu-gb.logging.cloud.ibm.com
    iamApiKey: iam-api-key-Sup3rSecret
volumes:
  data:
    seed: env-seed-Sup3rSecret-0123
",
    );
    if let Some(line) = signing_key_line {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// `signingKey` as IBM's awk produces it: one line, literal `\n` escapes.
fn escaped_pem_line(pem: &str) -> String {
    format!(
        "signingKey: {}",
        pem.trim_end().split('\n').collect::<Vec<_>>().join("\\n")
    )
}

fn user_data(
    workload: &str,
    env: &str,
    signature: Option<&str>,
    attestation_key: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(a) = attestation_key {
        s.push_str(&format!("attestationPublicKey: {a}\n"));
    }
    s.push_str(&format!("env: {env}\n"));
    if let Some(sig) = signature {
        s.push_str(&format!("envWorkloadSignature: {sig}\n"));
    }
    s.push_str(&format!("workload: {workload}\n"));
    s
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn assert_accepted(r: &BootReport) {
    assert!(
        matches!(r.outcome, BootOutcome::Accepted { .. }),
        "expected acceptance, got {:?}\nconsole:\n{}",
        r.outcome,
        r.console.join("\n")
    );
    assert!(r.console.iter().any(|l| l == "# HPL11099I: bootloader end"));
    assert_eq!(
        r.console.last().map(String::as_str),
        Some("hpcr-catch-success[1421]: HPL10001I: Services succeeded -> systemd triggered hpl-catch-success service")
    );
    assert!(!r.console.iter().any(|l| l.starts_with("HPL11001E")));
}

/// Asserts a rejection whose reason contains every one of `needles`; returns the reason.
fn assert_rejected(r: &BootReport, needles: &[&str]) -> String {
    let reason = match &r.outcome {
        BootOutcome::Rejected { reason } => reason.clone(),
        other => panic!(
            "expected rejection, got {other:?}\nconsole:\n{}",
            r.console.join("\n")
        ),
    };
    let last = r.console.last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        format!(
            "HPL11001E INVALID_CONTRACT Unable to parse/decrypt contract: {reason} Boot aborted"
        )
    );
    for n in needles {
        assert!(reason.contains(n), "reason {reason:?} lacks {n:?}");
    }
    // No secret from the sections may reach the console.
    for l in &r.console {
        assert!(!l.contains("Sup3rSecret"), "secret leaked: {l}");
    }
    assert!(!r.console.iter().any(|l| l.contains("HPL11099I")));
    assert!(!r.console.iter().any(|l| l.contains("HPL10001I")));
    reason
}

// ---------------------------------------------------------------------------------------
// Acceptance

#[test]
fn encrypted_signed_contract_is_accepted() {
    let f = fixture();
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&escaped_pem_line(&f.signing_pub_pem))),
        &f.enc_cert(),
    );
    let sig = sign(&w, &e, &f.signing_key);
    let r = boot(&user_data(&w, &e, Some(&sig), None), &f.pki, now());
    assert_accepted(&r);
    assert_eq!(
        r.outcome,
        BootOutcome::Accepted { attestation: None },
        "no attestationPublicKey, no record"
    );
    for needle in [
        "# section workload: decrypted",
        "# section env: decrypted",
        "2 token decrypted, 0 encrypted token ignored",
        "# envWorkloadSignature verified with env.signingKey",
        "# contract validated (workload: compose)",
        "Sending logging probe to [https://logs.eu-gb.logging.cloud.ibm.com:443/logs/ingest]",
    ] {
        assert!(
            r.console.iter().any(|l| l.contains(needle)),
            "console lacks {needle:?}: {:?}",
            r.console
        );
    }

    // The `contract-basic` prefix (CCRT) decrypts the same way; base64 signingKey form.
    let w2 = encrypt_with_password(
        "contract-basic",
        WORKLOAD.as_bytes(),
        &f.enc_cert(),
        &random_password(&f.dir),
    );
    let e2 = encrypt(
        &env_section(Some(&format!(
            "signingKey: {}",
            B64.encode(&f.signing_pub_pem)
        ))),
        &f.enc_cert(),
    );
    let sig2 = sign(&w2, &e2, &f.signing_key);
    assert_accepted(&boot(
        &user_data(&w2, &e2, Some(&sig2), None),
        &f.pki,
        now(),
    ));
}

#[test]
fn plaintext_sections_are_accepted() {
    let f = fixture();
    let block = |t: &str| t.lines().map(|l| format!("  {l}\n")).collect::<String>();
    // workload as a YAML map, env as a literal block string holding YAML.
    let indented_env: String = env_section(None)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let indented_workload: String = WORKLOAD.lines().map(|l| format!("  {l}\n")).collect();
    let ud = format!("workload:\n{indented_workload}env: |\n{indented_env}");
    let r = boot(&ud, &f.pki, now());
    assert_accepted(&r);
    assert!(r
        .console
        .iter()
        .any(|l| l == "# section workload: not encrypted, used as is"));
    assert!(r
        .console
        .iter()
        .any(|l| l == "# section env: not encrypted, used as is"));

    // Mixed: encrypted workload, plaintext env, signed over the literal env text.
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let env_text = env_section(Some(&escaped_pem_line(&f.signing_pub_pem)));
    let sig = sign(&w, &env_text, &f.signing_key);
    let env_block: String = env_text.lines().map(|l| format!("  {l}\n")).collect();
    let ud = format!("workload: {w}\nenvWorkloadSignature: {sig}\nenv: |\n{env_block}");
    assert_accepted(&boot(&ud, &f.pki, now()));

    // IBM's current command signs with every CR/LF removed (`tr -d "\n\r"`): also accepted.
    let stripped_sig = sign(&w, &env_text.replace('\n', ""), &f.signing_key);
    let ud = format!("workload: {w}\nenvWorkloadSignature: {stripped_sig}\nenv: |\n{env_block}");
    assert_accepted(&boot(&ud, &f.pki, now()));
    // ...but not a signature over other text.
    let other_sig = sign(
        &w,
        &env_text.replace("Sup3rSecret", "Changed"),
        &f.signing_key,
    );
    let ud = format!("workload: {w}\nenvWorkloadSignature: {other_sig}\nenv: |\n{env_block}");
    assert_rejected(&boot(&ud, &f.pki, now()), &["does not verify"]);

    // A signed contract needs value strings: a YAML-map section cannot be signed.
    let ud = format!(
        "workload:\n{}envWorkloadSignature: {sig}\nenv: |\n{env_block}",
        block(WORKLOAD)
    );
    assert_rejected(
        &boot(&ud, &f.pki, now()),
        &["envWorkloadSignature", "YAML-map section"],
    );

    // A signature without env.signingKey cannot be checked: accepted, with a warning line.
    let e = encrypt(&env_section(None), &f.enc_cert());
    let r = boot(&user_data(&w, &e, Some(&sig), None), &f.pki, now());
    assert_accepted(&r);
    assert!(r
        .console
        .iter()
        .any(|l| l.starts_with("# WARNING: envWorkloadSignature present without env.signingKey")));
}

#[test]
fn empty_or_malformed_user_data_is_rejected() {
    let f = fixture();
    assert_rejected(&boot("", &f.pki, now()), &["no contract"]);
    assert_rejected(
        &boot("workload: [unclosed\n", &f.pki, now()),
        &["not valid YAML", "line"],
    );
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(&env_section(None), &f.enc_cert());
    let mut ud = user_data(&w, &e, None, None);
    assert_accepted(&boot(&ud, &f.pki, now()));
    ud.push_str("extra: 1\n");
    assert_rejected(
        &boot(&ud, &f.pki, now()),
        &["unknown top-level key \"extra\""],
    );
    assert_rejected(
        &boot(&format!("workload: {w}\n"), &f.pki, now()),
        &["missing required top-level key env"],
    );
    // A duplicated key is ambiguous: which section would be signed and run?
    assert_rejected(
        &boot(
            &format!("workload: {w}\nenv: {e}\nenv: {e}\n"),
            &f.pki,
            now(),
        ),
        &["not valid YAML"],
    );
    assert_rejected(
        &boot("- workload\n- env\n", &f.pki, now()),
        &["must be a YAML map at the top level, found a sequence"],
    );
}

/// Truncations and byte changes of a plaintext and an encrypted contract: the boot never
/// panics, and whatever it says never quotes a section's secrets.
#[test]
fn mangled_contracts_never_panic_or_leak() {
    let f = fixture();
    let block = |t: &str| t.lines().map(|l| format!("  {l}\n")).collect::<String>();
    let plain = format!(
        "workload: |\n{}env: |\n{}",
        block(WORKLOAD),
        block(&env_section(None))
    );
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&escaped_pem_line(&f.signing_pub_pem))),
        &f.enc_cert(),
    );
    let signed = user_data(&w, &e, Some(&sign(&w, &e, &f.signing_key)), None);
    assert_accepted(&boot(&plain, &f.pki, now()));
    assert_accepted(&boot(&signed, &f.pki, now()));

    // A fixed-seed generator keeps failures reproducible.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % bound as u64).unwrap()
    };
    let replacements = [
        ":", " ", "\n", "-", "|", "'", "\"", "{", "[", "A", "é", "\t",
    ];
    let (mut accepted, mut rejected) = (0, 0);
    for original in [&plain, &signed] {
        for i in 0..120 {
            let mut text = original.to_string();
            let at = next(text.len());
            let at = (0..=at)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            if i % 3 == 0 {
                text.truncate(at);
            } else {
                let end = (at + 1..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(text.len());
                text.replace_range(at..end, replacements[next(replacements.len())]);
            }
            let r = boot(&text, &f.pki, now());
            for l in &r.console {
                assert!(!l.contains("Sup3rSecret"), "secret leaked: {l}");
            }
            match r.outcome {
                BootOutcome::Accepted { .. } => accepted += 1,
                BootOutcome::Rejected { .. } => rejected += 1,
            }
        }
    }
    // Most damage must be noticed (a change inside a YAML comment-free contract rarely isn't).
    assert!(
        rejected > accepted,
        "accepted {accepted}, rejected {rejected}"
    );
}

// ---------------------------------------------------------------------------------------
// Rejections

#[test]
fn bad_signature_is_rejected() {
    let f = fixture();
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&escaped_pem_line(&f.signing_pub_pem))),
        &f.enc_cert(),
    );
    // Control: the right signature is accepted, so the rejections below are about it.
    let good = sign(&w, &e, &f.signing_key);
    assert_accepted(&boot(&user_data(&w, &e, Some(&good), None), &f.pki, now()));

    let by_other_key = sign(&w, &e, &f.other_signing_key);
    assert_rejected(
        &boot(&user_data(&w, &e, Some(&by_other_key), None), &f.pki, now()),
        &["envWorkloadSignature", "does not verify"],
    );
    let swapped_order = sign(&e, &w, &f.signing_key);
    assert_rejected(
        &boot(
            &user_data(&w, &e, Some(&swapped_order), None),
            &f.pki,
            now(),
        ),
        &["envWorkloadSignature", "does not verify"],
    );
    // The workload replaced by another encryption of the same text: signature no longer fits.
    let w_again = encrypt(WORKLOAD, &f.enc_cert());
    assert_rejected(
        &boot(&user_data(&w_again, &e, Some(&good), None), &f.pki, now()),
        &["does not verify"],
    );
    assert_rejected(
        &boot(&user_data(&w, &e, Some("not*base64"), None), &f.pki, now()),
        &["envWorkloadSignature: is not valid base64"],
    );
}

#[test]
fn missing_signature_with_signing_key_is_rejected() {
    let f = fixture();
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&escaped_pem_line(&f.signing_pub_pem))),
        &f.enc_cert(),
    );
    assert_rejected(
        &boot(&user_data(&w, &e, None, None), &f.pki, now()),
        &["envWorkloadSignature", "missing", "env.signingKey"],
    );
}

#[test]
fn env_encrypted_to_the_wrong_certificate_is_rejected() {
    let f = fixture();
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(&env_section(None), &f.other_cert);
    let r = boot(&user_data(&w, &e, None, None), &f.pki, now());
    let reason = assert_rejected(&r, &["section env", "cannot decrypt"]);
    assert!(!reason.contains("section workload"));
    assert!(r
        .console
        .iter()
        .any(|l| l == "# section workload: decrypted"));
    // A token cut short is named too.
    let truncated = &w[..w.len() - 8];
    assert_rejected(
        &boot(
            &user_data(
                truncated,
                &encrypt(&env_section(None), &f.enc_cert()),
                None,
                None,
            ),
            &f.pki,
            now(),
        ),
        &["section workload", "cannot decrypt"],
    );
}

#[test]
fn schema_violations_are_rejected_with_their_yaml_path() {
    let f = fixture();
    let env_ok = env_section(None);
    let cases: Vec<(String, String, Vec<&str>)> = vec![
        (
            WORKLOAD.into(),
            env_ok.replace("    hostname: logs.eu-gb.logging.cloud.ibm.com\n", ""),
            vec!["schema: env.logging.logRouter.hostname: required property is missing"],
        ),
        (
            WORKLOAD.into(),
            env_ok.replace(
                "logging:\n",
                "logging:\n  syslog:\n    hostname: syslog.example.com\n    server: x\n",
            ),
            vec!["env.logging: must have exactly one of logRouter, syslog"],
        ),
        (
            WORKLOAD.into(),
            env_ok.replace("logging:", "loging:"),
            vec!["env.loging: unknown property"],
        ),
        (
            WORKLOAD.replace("workload-seed-Sup3rSecret", "short-Sup3rSecret"[..9].as_ref()),
            env_ok.clone(),
            vec!["workload.volumes.data.seed: must be at least 15 characters"],
        ),
        (
            WORKLOAD.replace("type: workload", "type: env"),
            env_ok.clone(),
            vec!["workload.type: must be \"workload\""],
        ),
        (
            format!("{WORKLOAD}play:\n  archive: AAAA\n"),
            env_ok.clone(),
            vec!["schema: workload: must have exactly one of compose, play, confidential-containers, found compose and play"],
        ),
        (
            WORKLOAD.into(),
            env_ok.replace("    seed: env-seed-Sup3rSecret-0123\n", "    seed: env-seed-Sup3rSecret-0123\n    uv-secret-id: index-1\n"),
            vec!["env.volumes.data: must have exactly one of seed, uv-secret-id"],
        ),
        (
            WORKLOAD.into(),
            format!("{env_ok}env:\n  1BAD: x\n"),
            vec!["env.env.1BAD: variable names must match"],
        ),
    ];
    // Both plaintext and encrypted: validation happens after decryption.
    for (workload, env, needles) in &cases {
        let ud_plain = format!(
            "workload: |\n{}env: |\n{}",
            workload
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>(),
            env.lines().map(|l| format!("  {l}\n")).collect::<String>()
        );
        assert_rejected(&boot(&ud_plain, &f.pki, now()), needles);
    }
    let (workload, env, needles) = &cases[0];
    let ud = user_data(
        &encrypt(workload, &f.enc_cert()),
        &encrypt(env, &f.enc_cert()),
        None,
        None,
    );
    assert_rejected(&boot(&ud, &f.pki, now()), needles);
}

/// `Nov 29 05:33:00 2026 GMT` (openssl `-enddate`) → `2026-11-29 05:33:00 UTC`.
fn openssl_date_to_iso(s: &str) -> String {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = months.iter().position(|m| *m == parts[0]).unwrap() + 1;
    let day: u32 = parts[1].parse().unwrap();
    format!("{}-{month:02}-{day:02} {} UTC", parts[3], parts[2])
}

#[test]
fn expired_signing_certificate_is_rejected() {
    let f = fixture();
    let work = tempfile::tempdir().unwrap();
    let w_dir = work.path();
    // IBM "Contract expiry": CSR for the signing key, signed by the deployer CA, -days 1.
    ossl(
        w_dir,
        &[
            "req",
            "-new",
            "-key",
            f.signing_key.to_str().unwrap(),
            "-subj",
            "/CN=deployer",
            "-out",
            "csr.pem",
        ],
        None,
    );
    ossl(
        w_dir,
        &[
            "x509",
            "-req",
            "-in",
            "csr.pem",
            "-CA",
            f.file("personal_ca.crt").to_str().unwrap(),
            "-CAkey",
            f.file("personal_ca.key").to_str().unwrap(),
            "-CAcreateserial",
            "-CAserial",
            "ca.srl",
            "-out",
            "certificate.pem",
            "-days",
            "1",
        ],
        None,
    );
    let cert_pem = fs::read_to_string(w_dir.join("certificate.pem")).unwrap();
    let end = String::from_utf8(ossl(
        w_dir,
        &["x509", "-enddate", "-noout", "-in", "certificate.pem"],
        None,
    ))
    .unwrap();
    let expiry = openssl_date_to_iso(end.trim().trim_start_matches("notAfter="));

    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&format!("signingKey: {}", B64.encode(&cert_pem)))),
        &f.enc_cert(),
    );
    let sig = sign(&w, &e, &f.signing_key);
    let ud = user_data(&w, &e, Some(&sig), None);

    let today = boot(&ud, &f.pki, now());
    assert_accepted(&today);
    assert!(
        today
            .console
            .iter()
            .any(|l| l == &format!("# contract expires on {expiry}")),
        "{:?}",
        today.console
    );
    let later = boot(&ud, &f.pki, now() + time::Duration::days(2));
    assert_rejected(
        &later,
        &[&format!("env.signingKey: the contract expired on {expiry}")],
    );
    let before = boot(&ud, &f.pki, now() - time::Duration::days(2));
    assert_rejected(&before, &["not valid before"]);

    // contract-go's doubly base64-encoded certificate is not a form the platform reads.
    let e3 = encrypt(
        &env_section(Some(&format!(
            "signingKey: {}",
            B64.encode(B64.encode(&cert_pem))
        ))),
        &f.enc_cert(),
    );
    let sig3 = sign(&w, &e3, &f.signing_key);
    assert_rejected(
        &boot(&user_data(&w, &e3, Some(&sig3), None), &f.pki, now()),
        &["env.signingKey: base64 does not decode to PEM text"],
    );

    // Same certificate as escaped PEM in the env section also works.
    let e2 = encrypt(
        &env_section(Some(&escaped_pem_line(&cert_pem))),
        &f.enc_cert(),
    );
    let sig2 = sign(&w, &e2, &f.signing_key);
    assert_accepted(&boot(&user_data(&w, &e2, Some(&sig2), None), &f.pki, now()));
}

// ---------------------------------------------------------------------------------------
// The §3 password trap

#[test]
fn password_with_newline_or_nul_is_cut_like_openssl() {
    let f = fixture();
    let env = encrypt(&env_section(None), &f.enc_cert());
    let crafted: [&[u8]; 4] = [
        b"0123456789abcdef\n0123456789abcde",   // newline in the middle
        b"\nabcdefghijklmnopqrstuvwxyz01234",   // empty effective password
        b"0123456789\x000123456789abcdef01234", // NUL ends the C string
        b"0123456789abcdef\r0123456789abcde",   // CR is kept
    ];
    for pw in crafted {
        assert_eq!(pw.len(), 32);
        let w = encrypt_with_password(
            "hyper-protect-basic",
            WORKLOAD.as_bytes(),
            &f.enc_cert(),
            pw,
        );
        let r = boot(&user_data(&w, &env, None, None), &f.pki, now());
        assert_accepted(&r);
    }

    // A token keyed from the *full* password (what a byte-exact implementation writes) does
    // not decrypt under openssl's rule: PBKDF2 via `openssl kdf`, then `enc -K -iv -nosalt`.
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pw: &[u8] = b"0123456789abcdef\n0123456789abcde";
    let salt = "0102030405060708";
    let key_iv = ossl(
        d,
        &[
            "kdf",
            "-keylen",
            "48",
            "-binary",
            "-kdfopt",
            "digest:SHA256",
            "-kdfopt",
            &format!("hexpass:{}", hex::encode(pw)),
            "-kdfopt",
            &format!("hexsalt:{salt}"),
            "-kdfopt",
            "iter:10000",
            "PBKDF2",
        ],
        None,
    );
    assert_eq!(key_iv.len(), 48);
    fs::write(d.join("section.yaml"), WORKLOAD).unwrap();
    fs::write(d.join("password"), pw).unwrap();
    let ct = ossl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-nosalt",
            "-K",
            &hex::encode(&key_iv[..32]),
            "-iv",
            &hex::encode(&key_iv[32..]),
            "-in",
            "section.yaml",
        ],
        None,
    );
    let rsa = ossl(
        d,
        &[
            "pkeyutl",
            "-encrypt",
            "-inkey",
            f.enc_cert().to_str().unwrap(),
            "-certin",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-in",
            "password",
        ],
        None,
    );
    let mut aes = b"Salted__".to_vec();
    aes.extend_from_slice(&hex::decode(salt).unwrap());
    aes.extend_from_slice(&ct);
    let full_pw_token = format!(
        "hyper-protect-basic.{}.{}",
        B64.encode(rsa),
        B64.encode(aes)
    );
    assert_rejected(
        &boot(&user_data(&full_pw_token, &env, None, None), &f.pki, now()),
        &["section workload"],
    );
}

// ---------------------------------------------------------------------------------------
// Attestation

/// Decrypts a record token with the CLI (IBM "Attestation" step 2) and verifies
/// `se-signature.bin` against the platform's attestation certificate (step 3).
fn open_record(f: &Fixture, token: &str, signature_b64: &str) -> (String, Vec<u8>) {
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "hyper-protect-basic");
    fs::write(d.join("pw.enc"), B64.decode(parts[1]).unwrap()).unwrap();
    fs::write(d.join("record.enc"), B64.decode(parts[2]).unwrap()).unwrap();
    let password = ossl(
        d,
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            f.user_attestation_key.to_str().unwrap(),
            "-in",
            "pw.enc",
        ],
        None,
    );
    ossl(
        d,
        &[
            "aes-256-cbc",
            "-d",
            "-pbkdf2",
            "-in",
            "record.enc",
            "-pass",
            "stdin",
            "-out",
            "se-checksums.txt",
        ],
        Some(&password),
    );
    let pubkey = ossl(
        d,
        &[
            "x509",
            "-pubkey",
            "-noout",
            "-in",
            f.dir.join("pki/attestation.crt").to_str().unwrap(),
        ],
        None,
    );
    fs::write(d.join("attestation.pub"), pubkey).unwrap();
    fs::write(
        d.join("se-signature.bin"),
        B64.decode(signature_b64).unwrap(),
    )
    .unwrap();
    let verify = [
        "dgst",
        "-sha256",
        "-verify",
        "attestation.pub",
        "-signature",
        "se-signature.bin",
        "se-checksums.txt",
    ];
    let out = ossl(d, &verify, None);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
    let record = fs::read_to_string(d.join("se-checksums.txt")).unwrap();
    // The signature covers the exact bytes: one changed byte fails verification.
    fs::write(d.join("se-checksums.txt"), record.replacen("25.", "26.", 1)).unwrap();
    assert!(!ossl_status(d, &verify, None).status.success());
    (record, password)
}

fn checksums(record: &str) -> BTreeMap<String, String> {
    record
        .lines()
        .filter_map(|l| {
            let (h, name) = l.trim().split_once(' ')?;
            (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (name.trim().to_string(), h.to_string()))
        })
        .collect()
}

#[test]
fn attestation_record_decrypts_and_verifies_with_openssl() {
    let f = fixture();
    let w = encrypt(WORKLOAD, &f.enc_cert());
    let e = encrypt(
        &env_section(Some(&escaped_pem_line(&f.signing_pub_pem))),
        &f.enc_cert(),
    );
    let sig = sign(&w, &e, &f.signing_key);
    // base64 of PEM, an encrypted token, and PEM as a literal block (value keeps its newlines).
    let pem_block: String = f
        .user_attestation_pub_pem
        .lines()
        .map(|l| format!("\n  {l}"))
        .collect();
    let forms = [
        (B64.encode(&f.user_attestation_pub_pem), None),
        (encrypt(&f.user_attestation_pub_pem, &f.enc_cert()), None),
        (
            f.user_attestation_pub_pem.clone(),
            Some(format!("|{pem_block}")),
        ),
    ];
    for (apk, yaml_form) in forms {
        let ud = user_data(
            &w,
            &e,
            Some(&sig),
            Some(yaml_form.as_deref().unwrap_or(&apk)),
        );
        let r = boot(&ud, &f.pki, now());
        assert_accepted(&r);
        let BootOutcome::Accepted {
            attestation: Some(att),
        } = &r.outcome
        else {
            panic!("no attestation record: {:?}", r.outcome);
        };
        let (record, password) = open_record(f, &att.record, &att.signature);
        assert_eq!(password.len(), 32);
        assert!(password.iter().all(|b| b.is_ascii_graphic()));
        assert_eq!(record.lines().next(), Some("25.11.0"));
        let sums = checksums(&record);
        assert_eq!(sums["contract:workload"], sha256_hex(w.as_bytes()));
        assert_eq!(sums["contract:env"], sha256_hex(e.as_bytes()));
        assert_eq!(
            sums["contract:envWorkloadSignature"],
            sha256_hex(sig.as_bytes())
        );
        assert_eq!(
            sums["contract:attestationPublicKey"],
            sha256_hex(apk.as_bytes())
        );
        assert_eq!(sums["cidata/user-data"], sha256_hex(ud.as_bytes()));
        assert!(sums.contains_key("root.tar.gz") && sums.contains_key("baseimage"));
        assert!(r
            .console
            .iter()
            .any(|l| l.starts_with("# attestation record written")));
        let expected_tokens = if apk.starts_with("hyper-protect-basic.") {
            "3 token decrypted, 0 encrypted token ignored"
        } else {
            "2 token decrypted, 0 encrypted token ignored"
        };
        assert!(
            r.console.iter().any(|l| l == expected_tokens),
            "{:?}",
            r.console
        );
    }

    // A public key that is not one is a rejection, not a silent skip.
    let ud = user_data(&w, &e, Some(&sig), Some("bm90IGEga2V5"));
    assert_rejected(&boot(&ud, &f.pki, now()), &["attestationPublicKey"]);
    // Without signature the record has no envWorkloadSignature line.
    let ud = user_data(
        &w,
        &encrypt(&env_section(None), &f.enc_cert()),
        None,
        Some(&B64.encode(&f.user_attestation_pub_pem)),
    );
    let r = boot(&ud, &f.pki, now());
    let BootOutcome::Accepted {
        attestation: Some(att),
    } = &r.outcome
    else {
        panic!("{:?}", r.outcome);
    };
    let (record, _) = open_record(f, &att.record, &att.signature);
    assert!(!checksums(&record).contains_key("contract:envWorkloadSignature"));
}

// ---------------------------------------------------------------------------------------
// PKI

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn default_pki_is_generated_once_and_chains_to_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let pki = Pki::load_or_create(dir.path()).unwrap();
    eprintln!("default PKI generated in {:?}", started.elapsed());
    let p = dir.path().join("pki");
    let files = read_all(&p);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "attestation.crt",
            "attestation.key",
            "encryption.crt",
            "encryption.key",
            "intermediate.crt",
            "intermediate.key",
            "root.crt",
            "root.key"
        ]
    );
    #[cfg(unix)]
    for name in names.iter().filter(|n| n.ends_with(".key")) {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(p.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    for leaf in ["encryption.crt", "attestation.crt"] {
        let out = ossl(
            &p,
            &[
                "verify",
                "-CAfile",
                "root.crt",
                "-untrusted",
                "intermediate.crt",
                leaf,
            ],
            None,
        );
        assert_eq!(String::from_utf8_lossy(&out).trim(), format!("{leaf}: OK"));
    }
    let text = String::from_utf8(ossl(
        &p,
        &["x509", "-in", "encryption.crt", "-noout", "-text"],
        None,
    ))
    .unwrap();
    assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
    assert!(text.contains("Signature Algorithm: sha512WithRSAEncryption"));
    assert!(text.contains("Hyper Protect Container Runtime Encryption"));
    let not_after = pki.encryption_cert.not_after();
    let in_364 = openssl::asn1::Asn1Time::days_from_now(364).unwrap();
    let in_366 = openssl::asn1::Asn1Time::days_from_now(366).unwrap();
    assert!(not_after > in_364 && not_after < in_366);

    // Reload: same files, same certificates, nothing regenerated.
    let started = std::time::Instant::now();
    let again = Pki::load_or_create(dir.path()).unwrap();
    eprintln!("default PKI reloaded in {:?}", started.elapsed());
    assert_eq!(read_all(&p), files);
    assert_eq!(
        again.encryption_cert.to_der().unwrap(),
        pki.encryption_cert.to_der().unwrap()
    );
    assert_eq!(again.root.to_der().unwrap(), pki.root.to_der().unwrap());
    assert!(again.attestation_key.public_eq(&pki.attestation_key));

    // A contract encrypted by the CLI to the generated certificate boots; RSA-4096 gives the
    // 684-character RSA part.
    let cert = p.join("encryption.crt");
    let w = encrypt(WORKLOAD, &cert);
    assert_eq!(w.split('.').nth(1).unwrap().len(), 684);
    let e = encrypt(&env_section(None), &cert);
    let started = std::time::Instant::now();
    let r = boot(&user_data(&w, &e, None, None), &again, now());
    eprintln!(
        "RSA-4096 boot (2 encrypted sections) took {:?}",
        started.elapsed()
    );
    assert_accepted(&r);
}

#[test]
fn user_provided_encryption_pair_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pki");
    fs::create_dir_all(&p).unwrap();
    ossl(
        &p,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "encryption.key",
            "-out",
            "encryption.crt",
            "-subj",
            "/CN=My own HPCR encryption cert",
            "-days",
            "10",
        ],
        None,
    );
    let brought_crt = fs::read(p.join("encryption.crt")).unwrap();
    let brought_key = fs::read(p.join("encryption.key")).unwrap();
    let small = PkiOptions {
        ca_bits: RsaBits::Rsa2048,
        encryption_bits: RsaBits::Rsa2048,
        attestation_bits: RsaBits::Rsa2048,
    };
    let pki = Pki::load_or_create_with(dir.path(), &small).unwrap();
    assert_eq!(fs::read(p.join("encryption.crt")).unwrap(), brought_crt);
    assert_eq!(fs::read(p.join("encryption.key")).unwrap(), brought_key);
    assert_eq!(
        pki.encryption_cert.to_pem().unwrap(),
        openssl::x509::X509::from_pem(&brought_crt)
            .unwrap()
            .to_pem()
            .unwrap()
    );
    for f in [
        "root.crt",
        "intermediate.crt",
        "attestation.crt",
        "attestation.key",
    ] {
        assert!(p.join(f).exists(), "{f} not generated");
    }
    let out = ossl(
        &p,
        &[
            "verify",
            "-CAfile",
            "root.crt",
            "-untrusted",
            "intermediate.crt",
            "attestation.crt",
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "attestation.crt: OK");
    let cert = p.join("encryption.crt");
    let ud = user_data(
        &encrypt(WORKLOAD, &cert),
        &encrypt(&env_section(None), &cert),
        None,
        None,
    );
    assert_accepted(&boot(&ud, &pki, now()));

    // A certificate without its key cannot be used.
    fs::remove_file(p.join("attestation.key")).unwrap();
    let e = Pki::load_or_create_with(dir.path(), &small).err().unwrap();
    assert!(e.to_string().contains("attestation.key"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Schema 1.0.116 rules, one test each: the broken form is refused at its YAML path (without
// echoing the value), the matching valid form boots.

/// `user_data` with both sections as literal (`|`) plaintext blocks.
fn literal_user_data(workload: &str, env: &str) -> String {
    let block = |t: &str| t.lines().map(|l| format!("  {l}\n")).collect::<String>();
    format!("workload: |\n{}env: |\n{}", block(workload), block(env))
}

/// `key: |` followed by `text` indented to `indent` spaces, for multi-line PEM values.
fn yaml_block(key: &str, text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut s = format!("{pad}{key}: |\n");
    for l in text.trim_end().lines() {
        s.push_str(&format!("{pad}  {l}\n"));
    }
    s
}

/// Each broken `(workload, env)` is rejected with reason `schema: <path>: …` (and nothing
/// of its values on the console); each valid pair boots.
fn check_rule(broken: &[(String, String, &str)], valid: &[(String, String)]) {
    let f = fixture();
    for (workload, env, path) in broken {
        let r = boot(&literal_user_data(workload, env), &f.pki, now());
        let reason = assert_rejected(&r, &[]);
        assert!(
            reason.starts_with(&format!("schema: {path}: ")),
            "expected schema: {path}: …, got {reason:?}"
        );
    }
    for (workload, env) in valid {
        assert_accepted(&boot(&literal_user_data(workload, env), &f.pki, now()));
    }
}

const LOGROUTER_ENV: &str = "type: env
logging:
  logRouter:
    hostname: logs.eu-gb.logging.cloud.ibm.com
    iamApiKey: iam-api-key-Sup3rSecret
";

/// An env logging to syslog with the given extra `syslog:` lines.
fn syslog_env(lines: &str) -> String {
    format!("type: env\nlogging:\n  syslog:\n    hostname: syslog.example.com\n{lines}")
}

fn pki_pem(name: &str) -> String {
    fs::read_to_string(fixture().dir.join("pki").join(name)).unwrap()
}

#[test]
fn syslog_server_must_be_pem_ca_certificates_or_base64() {
    let root = pki_pem("root.crt");
    let bundle = format!("{root}{}", pki_pem("intermediate.crt"));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.server";
    check_rule(
        &[
            (
                w(),
                syslog_env("    server: not a certificate Sup3rSecret\n"),
                path,
            ),
            // A private key is not a CA certificate, and a PEM key is not base64 either.
            (
                w(),
                syslog_env(&yaml_block(
                    "server",
                    &fs::read_to_string(fixture().file("other.key")).unwrap(),
                    4,
                )),
                path,
            ),
            (
                w(),
                syslog_env(&yaml_block(
                    "server",
                    &root.replace("CERTIFICATE", "CERT"),
                    4,
                )),
                path,
            ),
        ],
        &[
            (w(), syslog_env(&yaml_block("server", &root, 4))),
            (w(), syslog_env(&yaml_block("server", &bundle, 4))),
            (
                w(),
                syslog_env(&format!("    server: {}\n", B64.encode(&bundle))),
            ),
        ],
    );
    let r = boot(
        &literal_user_data(WORKLOAD, &syslog_env(&yaml_block("server", &root, 4))),
        &fixture().pki,
        now(),
    );
    assert!(r.console.iter().any(|l| l
        == "hpcr-logging[1124]: Sending logging probe to [syslog://syslog.example.com:514] ..."));
}

#[test]
fn syslog_cert_must_be_one_pem_certificate_or_base64() {
    let root = pki_pem("root.crt");
    let server = format!("    server: {}\n", B64.encode(&root));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.cert";
    check_rule(
        &[
            (
                w(),
                syslog_env(&format!("{server}    cert: 'not pem! Sup3rSecret'\n")),
                path,
            ),
            // `cert` takes one certificate; only `server` takes a bundle.
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("cert", &format!("{root}{}", pki_pem("encryption.crt")), 4)
                )),
                path,
            ),
        ],
        &[
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("cert", &pki_pem("encryption.crt"), 4)
                )),
            ),
            (
                w(),
                syslog_env(&format!(
                    "{server}    cert: {}\n",
                    B64.encode(pki_pem("encryption.crt"))
                )),
            ),
        ],
    );
}

#[test]
fn syslog_key_must_be_a_pem_private_key_or_base64() {
    let f = fixture();
    let server = format!("    server: {}\n", B64.encode(pki_pem("root.crt")));
    let pkcs8 = fs::read_to_string(f.file("other.key")).unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let work = tempfile::tempdir().unwrap();
    let traditional = String::from_utf8(ossl(
        work.path(),
        &[
            "rsa",
            "-in",
            f.file("other.key").to_str().unwrap(),
            "-traditional",
        ],
        None,
    ))
    .unwrap();
    assert!(traditional.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.key";
    let bad_key = syslog_env(&format!("{server}    key: 'not pem! Sup3rSecret'\n"));
    check_rule(
        &[
            (w(), bad_key.clone(), path),
            // A certificate where the key belongs.
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("key", &pki_pem("root.crt"), 4)
                )),
                path,
            ),
        ],
        &[
            (
                w(),
                syslog_env(&format!("{server}{}", yaml_block("key", &pkcs8, 4))),
            ),
            (
                w(),
                syslog_env(&format!("{server}{}", yaml_block("key", &traditional, 4))),
            ),
            (
                w(),
                syslog_env(&format!("{server}    key: {}\n", B64.encode(&pkcs8))),
            ),
        ],
    );
    // Encrypted sections are validated after decryption, with the same reason.
    let ud = user_data(
        &encrypt(WORKLOAD, &f.enc_cert()),
        &encrypt(&bad_key, &f.enc_cert()),
        None,
        None,
    );
    let plain_reason = assert_rejected(
        &boot(&literal_user_data(WORKLOAD, &bad_key), &f.pki, now()),
        &[],
    );
    assert_eq!(
        assert_rejected(&boot(&ud, &f.pki, now()), &[path]),
        plain_reason
    );
}

#[test]
fn play_resources_and_templates_must_be_pods_or_config_maps() {
    let item = |kind: &str| {
        format!("    - apiVersion: v1\n      kind: {kind}\n      metadata:\n        name: x\n")
    };
    let play = |lists: &str| format!("type: workload\nplay:\n{lists}");
    let e = || LOGROUTER_ENV.to_owned();
    check_rule(
        &[
            (
                play(&format!(
                    "  resources:\n{}{}",
                    item("Pod"),
                    item("Deployment")
                )),
                e(),
                "workload.play.resources[1].kind",
            ),
            (
                play(&format!("  templates:\n{}", item("pod"))),
                e(),
                "workload.play.templates[0].kind",
            ),
            (
                play("  resources:\n    - apiVersion: v1\n      metadata:\n        name: x\n"),
                e(),
                "workload.play.resources[0].kind",
            ),
            (
                play("  resources:\n    - Pod\n"),
                e(),
                "workload.play.resources[0]",
            ),
        ],
        &[
            (
                play(&format!(
                    "  resources:\n{}{}",
                    item("Pod"),
                    item("ConfigMap")
                )),
                e(),
            ),
            (play(&format!("  templates:\n{}", item("ConfigMap"))), e()),
        ],
    );
}

#[test]
fn play_takes_any_combination_of_resources_templates_and_archive() {
    let pod = "    - apiVersion: v1\n      kind: Pod\n      metadata:\n        name: x\n";
    let e = || LOGROUTER_ENV.to_owned();
    check_rule(
        &[(
            "type: workload\nplay:\n  resources: []\n  compose: x\n".to_owned(),
            e(),
            "workload.play.compose",
        )],
        &[
            (
                format!("type: workload\nplay:\n  resources:\n{pod}  templates:\n{pod}  archive: QUJDRA==\n"),
                e(),
            ),
            ("type: workload\nplay: {}\n".to_owned(), e()),
        ],
    );
}

#[test]
fn auths_keys_must_be_registry_hosts() {
    let cred = "    username: iamapikey\n    password: registry-Sup3rSecret\n";
    let auths = |host: &str| format!("auths:\n  {host}:\n{cred}");
    let workload = |host: &str| format!("{WORKLOAD}{}", auths(host));
    let env = |host: &str| format!("{LOGROUTER_ENV}{}", auths(host));
    check_rule(
        &[
            (
                workload("not a host"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"not a host\"]",
            ),
            (
                workload("us.icr.io/namespace"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"us.icr.io/namespace\"]",
            ),
            (
                workload("'https://us.icr.io/v1/'"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"https://us.icr.io/v1/\"]",
            ),
            (
                WORKLOAD.into(),
                env("1registry.example.com"),
                "env.auths[\"1registry.example.com\"]",
            ),
        ],
        &[
            (workload("us.icr.io"), env("de.icr.io")),
            (workload("localhost:5000"), env("'10.0.0.1:5000'")),
            (
                workload("'https://index.docker.io/v1/'"),
                LOGROUTER_ENV.into(),
            ),
        ],
    );
}

#[test]
fn dct_keys_must_be_image_names_and_public_keys_base64() {
    let key = B64.encode("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n");
    let dct = |image: &str, notary: &str, public_key: &str| {
        format!("{WORKLOAD}images:\n  dct:\n    {image}:\n      notary: {notary}\n      publicKey: {public_key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let notary = "https://notary.us.icr.io";
    check_rule(
        &[
            (
                dct("app:latest", notary, &key),
                e(),
                "workload.images.dct[\"app:latest\"]",
            ),
            (
                dct("us.icr.io/ns/app", notary, &key),
                e(),
                "workload.images.dct[\"us.icr.io/ns/app\"]",
            ),
            (
                dct("us.icr.io/myns/app", notary, "'not base64!'"),
                e(),
                "workload.images.dct[\"us.icr.io/myns/app\"].publicKey",
            ),
        ],
        &[(dct("us.icr.io/myns/app", notary, &key), e())],
    );
}

#[test]
fn dct_notary_is_any_uri_with_a_scheme() {
    let key = B64.encode("public key");
    let dct = |notary: &str| {
        format!("{WORKLOAD}images:\n  dct:\n    us.icr.io/myns/app:\n      notary: '{notary}'\n      publicKey: {key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let path = "workload.images.dct[\"us.icr.io/myns/app\"].notary";
    check_rule(
        &[
            (dct("not a uri"), e(), path),
            (dct("notary.us.icr.io"), e(), path),
            (dct("https://notary.us.icr.io/a b"), e(), path),
        ],
        &[
            (dct("https://notary.us.icr.io"), e()),
            (dct("urn:example:notary:us-south"), e()),
        ],
    );
}

#[test]
fn rhs_keys_must_be_image_references_and_public_keys_base64() {
    let key = B64.encode("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n");
    let rhs = |image: &str, public_key: &str| {
        format!("{WORKLOAD}images:\n  rhs:\n    {image}:\n      publicKey: {public_key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let digest = "0123456789abcdef".repeat(4);
    check_rule(
        &[
            (
                rhs("us.icr.io/ns/app", "'not base64!'"),
                e(),
                "workload.images.rhs[\"us.icr.io/ns/app\"].publicKey",
            ),
            (
                rhs("localhost/app", &key),
                e(),
                "workload.images.rhs[\"localhost/app\"]",
            ),
        ],
        &[
            (rhs("us.icr.io/ns/app", &key), e()),
            (
                rhs(&format!("'us.icr.io/ns/app:v1.0@sha256:{digest}'"), &key),
                e(),
            ),
        ],
    );
}

#[test]
fn cacerts_values_must_be_base64() {
    let cacerts = |value: &str| format!("{LOGROUTER_ENV}cacerts:\n  - myca: {value}\n");
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[
            (
                w(),
                cacerts("'not base64! Sup3rSecret'"),
                "env.cacerts[0].myca",
            ),
            (w(), cacerts("QQ"), "env.cacerts[0].myca"),
            (
                w(),
                format!("{LOGROUTER_ENV}cacerts:\n  - QUJDRA==\n"),
                "env.cacerts[0]",
            ),
        ],
        &[
            (w(), cacerts(&B64.encode(pki_pem("root.crt")))),
            // The schema's name pattern `^[a-zA-Z0-9]*` is unanchored: any name is allowed.
            (
                w(),
                format!("{LOGROUTER_ENV}cacerts:\n  - my-ca.pem: QUJDRA==\n"),
            ),
        ],
    );
}

#[test]
fn env_volume_names_follow_the_volume_name_pattern() {
    let vol = |name: &str| {
        format!("{LOGROUTER_ENV}volumes:\n  {name}:\n    seed: env-seed-Sup3rSecret-0123\n")
    };
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[
            (w(), vol("Data"), "env.volumes.Data"),
            (w(), vol("1data"), "env.volumes.1data"),
            (w(), vol("'data.1'"), "env.volumes[\"data.1\"]"),
        ],
        &[(w(), vol("data")), (w(), vol("_data-1"))],
    );
}

#[test]
fn kms_crn_must_be_a_root_key_crn() {
    let crn = "crn:v1:bluemix:public:hs-crypto:us-south:a/0123abcd:0123-abcd:key:0123-4567";
    let kms = |crn: &str| {
        format!("{LOGROUTER_ENV}volumes:\n  data:\n    seed: env-seed-Sup3rSecret-0123\n    kms:\n      - apiKey: kms-api-key-Sup3rSecret\n        crn: '{crn}'\n")
    };
    let w = || WORKLOAD.to_owned();
    let path = "env.volumes.data.kms[0].crn";
    check_rule(
        &[
            (w(), kms(&crn.replace("bluemix", "nowhere")), path),
            (w(), kms(&crn.replace(":key:", ":secret:")), path),
            (w(), kms(&crn.replace(":us-south:", "::")), path),
            (w(), kms(&crn.replace("v1", "version1")), path),
        ],
        &[
            (w(), kms(crn)),
            (
                w(),
                kms(&crn
                    .replace("bluemix:public", "staging:dedicated")
                    .replace("v1", "v22")),
            ),
        ],
    );
}

#[test]
fn grep11_needs_address_certificates_key_and_metadata() {
    let fields = [
        ("address", "grep11.example.com:9876"),
        ("clientCert", "Q0VSVA=="),
        ("clientKey", "S0VZ"),
        ("caCert", "Q0E="),
    ];
    let grep11 = |skip: Option<&str>, overrides: &[(&str, &str)], metadata: &str| {
        let mut s =
            format!("{LOGROUTER_ENV}volumes:\n  data:\n    uv-secret-id: index-1\n    grep11:\n");
        for (k, v) in fields {
            if Some(k) == skip {
                continue;
            }
            let v = overrides
                .iter()
                .find(|(o, _)| *o == k)
                .map_or(v, |(_, o)| o);
            s.push_str(&format!("      {k}: '{v}'\n"));
        }
        s.push_str(metadata);
        s
    };
    let meta = "      metadata:\n        aesKeyBlob: Qk9MQg==\n";
    let w = || WORKLOAD.to_owned();
    let gp = "env.volumes.data.grep11";
    let mut broken: Vec<(String, String, String)> = fields
        .iter()
        .map(|(k, _)| (w(), grep11(Some(k), &[], meta), format!("{gp}.{k}")))
        .collect();
    broken.extend([
        (w(), grep11(None, &[], ""), format!("{gp}.metadata")),
        (
            w(),
            grep11(
                None,
                &[],
                "      metadata:\n        previousaesKeyBlob: Qk9MQg==\n",
            ),
            format!("{gp}.metadata.aesKeyBlob"),
        ),
        (
            w(),
            grep11(None, &[("address", "grep11.example.com")], meta),
            format!("{gp}.address"),
        ),
        (
            w(),
            grep11(None, &[("clientKey", "Sup3rSecret key!")], meta),
            format!("{gp}.clientKey"),
        ),
        (
            w(),
            grep11(None, &[], &format!("{meta}      extra: x\n")),
            format!("{gp}.extra"),
        ),
    ]);
    let broken: Vec<(String, String, &str)> = broken
        .iter()
        .map(|(w, e, p)| (w.clone(), e.clone(), p.as_str()))
        .collect();
    check_rule(
        &broken,
        &[
            (w(), grep11(None, &[], meta)),
            // The guest masks consumed blobs with `*`.
            (
                w(),
                grep11(
                    None,
                    &[("address", "192.168.1.100:9876")],
                    "      metadata:\n        aesKeyBlob: '****'\n        previousaesKeyBlob: UFJFVkJPTEI=\n",
                ),
            ),
        ],
    );
}

#[test]
fn env_confidential_containers_is_allowed_as_a_map() {
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[(
            w(),
            format!("{LOGROUTER_ENV}confidential-containers: yes\n"),
            "env.confidential-containers",
        )],
        &[
            (
                w(),
                format!("{LOGROUTER_ENV}confidential-containers: {{}}\n"),
            ),
            (
                w(),
                format!("{LOGROUTER_ENV}confidential-containers:\n  initdata: x\n"),
            ),
        ],
    );
}
