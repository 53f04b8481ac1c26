//! Unit tests of the boot emulation's pieces: the openssl password rule, schema helpers and
//! patterns, URIs, and the token format round trip.

use openssl::pkey::PKey;

use super::env::is_hostname;
use super::patterns::{
    Pattern, ALL_PATTERNS, BASE64_CERT, BASE64_MATERIAL, BASE64_MATERIAL_OR_MASKED, DCT_IMAGE,
    GREP11_ADDRESS, KEY_CRN, PEM_CA_CERTS, PEM_CERT, PEM_PRIVATE_KEY, REGISTRY_KEY, RHS_IMAGE,
    VOLUME_NAME,
};
use super::schema::{is_seed, join};
use super::token::{decrypt_token, encrypt_token, openssl_stdin_password};
use super::workload::is_uri;

#[test]
fn stdin_password_stops_at_newline_or_nul_and_keeps_cr() {
    assert_eq!(openssl_stdin_password(b"ab\rc\nde"), b"ab\rc");
    assert_eq!(openssl_stdin_password(b"ab\0c\nde"), b"ab");
    assert_eq!(openssl_stdin_password(b"\nabc"), b"");
    assert_eq!(openssl_stdin_password(b"abc"), b"abc");
}

#[test]
fn schema_helpers() {
    assert!(is_seed("abcdefghijklmno"));
    assert!(!is_seed("abcdefghijklmn"));
    assert!(!is_seed("abcdefghijklmno "));
    assert!(is_hostname("logs.eu-gb.logging.cloud.ibm.com"));
    assert!(!is_hostname("-bad.example"));
    assert!(!is_hostname("a..b"));
    assert_eq!(join("env.auths", "us.icr.io"), "env.auths[\"us.icr.io\"]");
    assert_eq!(join("env", "logging"), "env.logging");
}

#[test]
fn every_schema_pattern_compiles() {
    for p in ALL_PATTERNS {
        assert!(p.is_match("").is_ok(), "{}", p.source);
    }
}

fn matches(p: &Pattern, s: &str) -> bool {
    p.is_match(s).expect("pattern compiles")
}

#[test]
fn pem_patterns_follow_the_schema() {
    let body = "MIIBszCCAVmgAwIBAgIU\nAbCd+/==";
    let cert = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
    assert!(matches(&PEM_CERT, &cert));
    assert!(matches(&PEM_CA_CERTS, &cert));
    // A bundle is fine for `server`, not for `cert`.
    let bundle = format!("{cert}{cert}");
    assert!(matches(&PEM_CA_CERTS, &bundle));
    assert!(!matches(&PEM_CERT, &bundle));
    // The schema wants whitespace between the armour and the body.
    assert!(!matches(
        &PEM_CERT,
        "-----BEGIN CERTIFICATE-----AAAA\n-----END CERTIFICATE-----"
    ));
    // Leading text, other labels and non-base64 bodies do not match.
    assert!(!matches(&PEM_CA_CERTS, &format!(" {cert}")));
    assert!(!matches(
        &PEM_CERT,
        &cert.replace("CERTIFICATE", "PUBLIC KEY")
    ));
    assert!(!matches(&PEM_CERT, &cert.replace("AbCd", "Ab!d")));
    for label in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let key = format!("-----BEGIN {label}-----\nAAAA\n-----END {label}-----");
        assert!(matches(&PEM_PRIVATE_KEY, &key), "{label}");
    }
    assert!(!matches(
        &PEM_PRIVATE_KEY,
        "-----BEGIN rsa PRIVATE KEY-----\nAAAA\n-----END rsa PRIVATE KEY-----"
    ));
    // Base64 form: groups of four, whitespace only between groups.
    assert!(matches(&BASE64_CERT, "QUJDRA=="));
    assert!(matches(&BASE64_CERT, "QUJD RA=="));
    assert!(!matches(&BASE64_CERT, "QUJ DRA=="));
    assert!(!matches(&BASE64_CERT, "QUJDRA==\n"));
    assert!(!matches(&BASE64_CERT, "not pem!"));
}

#[test]
fn key_patterns_follow_the_schema() {
    for ok in [
        "us.icr.io",
        "localhost:5000",
        "10.0.0.1:443",
        "https://index.docker.io/v1/",
    ] {
        assert!(matches(&REGISTRY_KEY, ok), "{ok}");
    }
    // Host labels start with a letter; octets have no leading zero.
    for bad in [
        "not a host",
        "1abc.io",
        "us.icr.io/",
        "010.0.0.1",
        "https://us.icr.io/v1/",
    ] {
        assert!(!matches(&REGISTRY_KEY, bad), "{bad}");
    }
    assert!(matches(&DCT_IMAGE, "us.icr.io/myns/app"));
    assert!(matches(&DCT_IMAGE, "docker.io/library/busybox"));
    for bad in [
        "app:latest",
        "us.icr.io/ns/app",
        "us.icr.io/myns/app:1",
        "us.icr.io/myns/App",
    ] {
        assert!(!matches(&DCT_IMAGE, bad), "{bad}");
    }
    let digest = "0123456789abcdef".repeat(4);
    assert!(matches(&RHS_IMAGE, "us.icr.io/ns/app"));
    assert!(matches(
        &RHS_IMAGE,
        &format!("us.icr.io/a/b:v1.2@sha256:{digest}")
    ));
    for bad in [
        "localhost/app",
        "us.icr.io",
        "us.icr.io/app:v1:2",
        "us.icr.io/App",
    ] {
        assert!(!matches(&RHS_IMAGE, bad), "{bad}");
    }
    assert!(matches(&VOLUME_NAME, "data_1-x"));
    assert!(matches(&VOLUME_NAME, "_x"));
    assert!(!matches(&VOLUME_NAME, "Data"));
    assert!(!matches(&VOLUME_NAME, "1data"));
}

#[test]
fn value_patterns_follow_the_schema() {
    let crn = "crn:v1:bluemix:public:hs-crypto:us-south:a/0123:inst:key:0123:x";
    assert!(matches(&KEY_CRN, crn));
    assert!(!matches(&KEY_CRN, &crn.replace("bluemix", "nowhere")));
    assert!(!matches(&KEY_CRN, &crn.replace(":key:", ":secret:")));
    assert!(!matches(&KEY_CRN, &crn.replace("v1", "v")));
    assert!(!matches(&KEY_CRN, &format!("{crn}\n")));
    for ok in ["grep11.example.com:9876", "192.168.1.100:9876", "h:1"] {
        assert!(matches(&GREP11_ADDRESS, ok), "{ok}");
    }
    for bad in ["grep11.example.com", "host:123456", "host :1"] {
        assert!(!matches(&GREP11_ADDRESS, bad), "{bad}");
    }
    assert!(matches(&BASE64_MATERIAL, "Q0VSVA=="));
    assert!(!matches(&BASE64_MATERIAL, "Q0VS VA=="));
    assert!(!matches(&BASE64_MATERIAL, "****"));
    assert!(matches(&BASE64_MATERIAL_OR_MASKED, "****"));
    assert!(!matches(&BASE64_MATERIAL_OR_MASKED, "**=="));
}

#[test]
fn uris_need_a_scheme_not_an_authority() {
    for ok in [
        "https://notary.us.icr.io",
        "urn:ietf:rfc:3986",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "mailto:a@b.c",
        "https://h/p%20q",
    ] {
        assert!(is_uri(ok), "{ok}");
    }
    for bad in [
        "not a uri",
        "notary.us.icr.io",
        "1https://h",
        "https://h/p q",
        "https://h/%zz",
        ":x",
    ] {
        assert!(!is_uri(bad), "{bad}");
    }
}

#[test]
fn token_roundtrip_with_own_encryption() {
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let private = PKey::from_rsa(rsa).unwrap();
    let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
    let token = encrypt_token("hyper-protect-basic", b"type: env\n", &public).unwrap();
    assert!(token.starts_with("hyper-protect-basic."));
    assert_eq!(decrypt_token(&token, &private).unwrap(), b"type: env\n");
    let mut broken = token.clone();
    broken.push_str("AAAA");
    assert!(decrypt_token(&broken, &private).is_err());
}
