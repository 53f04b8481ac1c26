//! Cross-checks `contract::certs` against the `openssl` command line: a CA chain, CRLs and
//! dates produced by the CLI (the way IBM's documentation and most users produce them) must
//! be judged by our in-process checks exactly as `openssl verify` / `openssl x509` judge them.

use std::path::Path;
use std::process::Command;

use hyperprotect::contract::certs::{
    check_crl, expiry_status, parse_encryption_cert, verify_chain, verify_chain_at, CertError,
    Certificate, ExpiryStatus,
};
use time::OffsetDateTime;

/// Runs `openssl` with `args` split on whitespace (no argument here contains a space).
fn openssl(dir: &Path, args: &str) -> std::process::Output {
    Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .expect("the openssl CLI must be installed for this test")
}

#[track_caller]
fn run(dir: &Path, args: &str) -> String {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read_cert(dir: &Path, name: &str) -> Certificate {
    parse_encryption_cert(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

const EXTENSIONS: &str = "[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[leaf]
basicConstraints = critical,CA:FALSE
crlDistributionPoints = URI:http://crl.example.test/int.crl
[codesign]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
";

const CA_CONFIG: &str = "[ca]
default_ca = int
[int]
database = index.txt
crlnumber = crlnumber
default_md = sha512
default_crl_days = 7
";

/// root ← intermediate ← leaf, all made by the CLI, plus an impostor intermediate with the
/// same subject but another key.
fn make_chain(d: &Path) {
    std::fs::write(d.join("ext.cnf"), EXTENSIONS).unwrap();
    run(
        d,
        "req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days 30 \
            -subj /O=CLI_Test/CN=CLI_Root -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    for (name, serial) in [("int", 2), ("impostor", 3)] {
        run(
            d,
            &format!(
                "req -new -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr \
                         -subj /O=CLI_Test/CN=CLI_Signing_Service"
            ),
        );
        run(
            d,
            &format!(
                "x509 -req -in {name}.csr -CA root.crt -CAkey root.key -set_serial {serial} \
                         -days 30 -sha512 -extfile ext.cnf -extensions v3_ca -out {name}.crt"
            ),
        );
    }
    run(
        d,
        "req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr \
            -subj /O=CLI_Test/CN=Contract_Encryption",
    );
    run(
        d,
        "x509 -req -in leaf.csr -CA int.crt -CAkey int.key -set_serial 0x1234ABCD -days 10 \
            -sha512 -extfile ext.cnf -extensions leaf -out leaf.crt",
    );
}

#[test]
fn chain_verdicts_match_openssl_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_chain(d);
    let (root, int, impostor, leaf) = (
        read_cert(d, "root.crt"),
        read_cert(d, "int.crt"),
        read_cert(d, "impostor.crt"),
        read_cert(d, "leaf.crt"),
    );

    let cli_ok = |untrusted: &str| {
        let args = format!("verify -CAfile root.crt -untrusted {untrusted} leaf.crt");
        openssl(d, &args).status.success()
    };
    assert!(cli_ok("int.crt"));
    verify_chain(&leaf, &int, &root).unwrap();

    assert!(!cli_ok("impostor.crt"));
    let err = verify_chain(&leaf, &impostor, &root).unwrap_err();
    assert!(matches!(err, CertError::BadSignature { .. }), "{err}");

    // IBM's documented check (asn1parse + `openssl sha512 -verify` of the TBS body with the
    // intermediate's key) gives the same verdicts as ours.
    let parsed = run(d, "asn1parse -in leaf.crt");
    let last = parsed.lines().last().unwrap();
    let offset = last.split(':').next().unwrap().trim();
    run(
        d,
        &format!("asn1parse -in leaf.crt -out sig -strparse {offset} -noout"),
    );
    run(d, "asn1parse -in leaf.crt -out body -strparse 4 -noout");
    for (ca, expect) in [("int", true), ("impostor", false)] {
        run(
            d,
            &format!("x509 -in {ca}.crt -pubkey -noout -out {ca}.pub"),
        );
        let out = openssl(d, &format!("sha512 -verify {ca}.pub -signature sig body"));
        assert_eq!(out.status.success(), expect, "{ca}");
    }
    assert_eq!(leaf.issuer(), int.subject());
    assert_eq!(leaf.subject(), "O=CLI_Test, CN=Contract_Encryption");
    assert_eq!(leaf.crl_urls(), ["http://crl.example.test/int.crl"]);
    assert_eq!(
        run(d, "x509 -in leaf.crt -noout -serial").trim(),
        format!("serial={}", leaf.serial_hex())
    );
}

#[test]
fn dates_match_openssl_x509() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_chain(d);
    let leaf = read_cert(d, "leaf.crt");
    // e.g. `notAfter=Dec  8 05:40:00 2026 GMT`
    let text = run(d, "x509 -in leaf.crt -noout -enddate");
    let text = text
        .trim()
        .trim_start_matches("notAfter=")
        .replace("  ", " ");
    let format = time::macros::format_description!(
        "[month repr:short] [day padding:none] [hour]:[minute]:[second] [year] GMT"
    );
    let cli = time::PrimitiveDateTime::parse(&text, format)
        .unwrap()
        .assume_utc();
    assert_eq!(leaf.not_after(), cli);
    assert_eq!(
        leaf.not_after() - leaf.not_before(),
        time::Duration::days(10)
    );

    let an_hour_in = leaf.not_before() + time::Duration::hours(1);
    assert_eq!(
        expiry_status(&leaf, an_hour_in),
        ExpiryStatus::ExpiresSoon { days: 9, on: cli }
    );
    let after = leaf.not_after() + time::Duration::seconds(1);
    assert!(expiry_status(&leaf, after).require_usable().is_err());
    // The CLI agrees that the certificate is no longer valid then.
    let at = after.unix_timestamp();
    let args = format!("verify -attime {at} -CAfile root.crt -untrusted int.crt leaf.crt");
    assert!(!openssl(d, &args).status.success());
    let root = read_cert(d, "root.crt");
    let int = read_cert(d, "int.crt");
    assert!(matches!(
        verify_chain_at(&leaf, &[&int], &root, after),
        Err(CertError::OutsideValidity { .. })
    ));
}

#[test]
fn crls_from_openssl_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_chain(d);
    std::fs::write(d.join("ca.cnf"), CA_CONFIG).unwrap();
    std::fs::write(d.join("index.txt"), "").unwrap();
    std::fs::write(d.join("crlnumber"), "01\n").unwrap();
    let ca = "ca -config ca.cnf -keyfile int.key -cert int.crt";
    run(d, &format!("{ca} -gencrl -out empty.crl"));
    run(d, &format!("{ca} -revoke leaf.crt"));
    run(d, &format!("{ca} -gencrl -out revoked.crl"));
    run(d, "crl -in revoked.crl -outform DER -out revoked.der");
    let listing = run(d, "crl -in revoked.crl -noout -text");
    assert!(listing.contains("Serial Number: 1234ABCD"), "{listing}");

    let (root, int, leaf) = (
        read_cert(d, "root.crt"),
        read_cert(d, "int.crt"),
        read_cert(d, "leaf.crt"),
    );
    let now = OffsetDateTime::now_utc();
    let empty = std::fs::read(d.join("empty.crl")).unwrap();
    let check = check_crl(&leaf, &empty, &int, now).unwrap();
    assert_eq!(
        check.next_update - check.last_update,
        time::Duration::days(7)
    );

    for file in ["revoked.crl", "revoked.der"] {
        let bytes = std::fs::read(d.join(file)).unwrap();
        let err = check_crl(&leaf, &bytes, &int, now).unwrap_err();
        assert!(
            matches!(err, CertError::Revoked { ref serial, .. } if serial == "1234ABCD"),
            "{err}"
        );
    }
    // The CLI's own verdicts agree.
    let cli = |crl: &str| {
        let args = format!(
            "verify -crl_check -CRLfile {crl} -CAfile root.crt -untrusted int.crt leaf.crt"
        );
        openssl(d, &args).status.success()
    };
    assert!(cli("empty.crl"));
    assert!(!cli("revoked.crl"));

    // Checked against the wrong issuer, the same CRL is refused.
    assert!(matches!(
        check_crl(&leaf, &empty, &root, now),
        Err(CertError::CrlIssuerMismatch { .. })
    ));
    // After its next update, it is stale.
    assert!(matches!(
        check_crl(&leaf, &empty, &int, now + time::Duration::days(8)),
        Err(CertError::CrlStale { .. })
    ));
}

/// IBM's intermediate is a code-signing certificate: `openssl verify` of the encryption
/// certificate fails ("invalid CA certificate"), while IBM's procedure (verify the
/// intermediate, then the leaf's signature with the intermediate's key) succeeds. Ours
/// follows IBM.
#[test]
fn code_signing_intermediate_like_ibms() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_chain(d);
    run(
        d,
        "req -new -newkey rsa:2048 -nodes -keyout cs.key -out cs.csr -subj /O=IBM/CN=IBM",
    );
    run(
        d,
        "x509 -req -in cs.csr -CA root.crt -CAkey root.key -set_serial 9 -days 30 -sha512 \
            -extfile ext.cnf -extensions codesign -out cs.crt",
    );
    run(
        d,
        "req -new -newkey rsa:2048 -nodes -keyout enc.key -out enc.csr -subj /CN=Encryption",
    );
    run(
        d,
        "x509 -req -in enc.csr -CA cs.crt -CAkey cs.key -set_serial 10 -days 30 -sha512 \
            -out enc.crt",
    );
    assert!(
        !openssl(d, "verify -CAfile root.crt -untrusted cs.crt enc.crt")
            .status
            .success()
    );
    assert!(openssl(d, "verify -CAfile root.crt cs.crt")
        .status
        .success());
    let (root, cs, enc) = (
        read_cert(d, "root.crt"),
        read_cert(d, "cs.crt"),
        read_cert(d, "enc.crt"),
    );
    verify_chain(&enc, &cs, &root).unwrap();
    // And the same leaf against a code-signing certificate that did not sign it is refused.
    let int = read_cert(d, "int.crt");
    assert!(verify_chain(&enc, &int, &root).is_err());
}
