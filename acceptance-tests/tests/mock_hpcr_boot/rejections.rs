//! Contracts the boot rejects: bad or missing signatures, sections encrypted to another
//! certificate, schema violations, and expired signing certificates.

use std::fs;

use acceptance_tests::mock_cloud::hpcr::boot;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::contract::{
    assert_accepted, assert_rejected, env_section, escaped_pem_line, now, user_data, WORKLOAD,
};
use crate::fixture::fixture;
use crate::openssl_cli::{encrypt, ossl, sign};

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
