//! openssl CLI helpers: IBM's documented commands for encrypting and signing contract
//! sections, run through the `openssl` binary.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

/// Runs `openssl args…` in `cwd`, feeding `stdin`; panics with stderr on failure.
pub(crate) fn ossl(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let out = ossl_status(cwd, args, stdin);
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub(crate) fn ossl_status(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
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

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(data))
}

/// 32 random bytes from `openssl rand 32` without 0x0A/0x00, so the ordinary tests are
/// deterministic about the §3 newline rule (tested on its own in `password_trap`).
pub(crate) fn random_password(work: &Path) -> Vec<u8> {
    for _ in 0..64 {
        let pw = ossl(work, &["rand", "32"], None);
        if !pw.contains(&b'\n') && !pw.contains(&0) {
            return pw;
        }
    }
    panic!("openssl rand kept producing newline bytes");
}

/// IBM's "Contract encryption" steps with a given password.
pub(crate) fn encrypt_with_password(
    prefix: &str,
    plain: &[u8],
    cert: &Path,
    password: &[u8],
) -> String {
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

pub(crate) fn encrypt(plain: &str, cert: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    let pw = random_password(work.path());
    encrypt_with_password("hyper-protect-basic", plain.as_bytes(), cert, &pw)
}

/// `openssl dgst -sha256 -sign` over workload ‖ env (no separator, no newline), base64.
pub(crate) fn sign(workload: &str, env: &str, key: &Path) -> String {
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
