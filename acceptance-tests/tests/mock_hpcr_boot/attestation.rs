//! The attestation record, decrypted and verified with the openssl CLI as IBM's
//! "Attestation" steps do.

use std::collections::BTreeMap;
use std::fs;

use acceptance_tests::mock_cloud::hpcr::{boot, BootOutcome};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::contract::{
    assert_accepted, assert_rejected, env_section, escaped_pem_line, now, user_data, WORKLOAD,
};
use crate::fixture::{fixture, Fixture};
use crate::openssl_cli::{encrypt, ossl, ossl_status, sha256_hex, sign};

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
