//! The emulator's PKI: the default one generated once and chaining to its root, and a
//! user-provided encryption pair kept as brought.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use acceptance_tests::mock_cloud::hpcr::boot;
use acceptance_tests::mock_cloud::pki::{Pki, PkiOptions, RsaBits};

use crate::contract::{assert_accepted, env_section, now, user_data, WORKLOAD};
use crate::openssl_cli::{encrypt, ossl};

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
