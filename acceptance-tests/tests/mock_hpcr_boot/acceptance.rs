//! Contracts the boot accepts: encrypted and signed, plaintext, and mangled ones that must
//! never panic or leak a secret.

use acceptance_tests::mock_cloud::hpcr::{boot, BootOutcome};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::contract::{
    assert_accepted, assert_rejected, env_section, escaped_pem_line, now, user_data, WORKLOAD,
};
use crate::fixture::fixture;
use crate::openssl_cli::{encrypt, encrypt_with_password, random_password, sign};

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
