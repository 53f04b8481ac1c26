//! Tests of the string-format predicates against the schema's patterns.

use super::CERT_PEM;
use crate::contract::schema::formats::{
    is_archive, is_b64_body, is_base64_text, is_dct_image, is_env_name, is_grep11_address,
    is_key_crn, is_mount, is_pem_many, is_pem_one, is_registry_key, is_rhs_image, is_seed, is_uri,
    is_uv_secret_id, is_volume_name,
};

#[test]
fn pem_and_base64_shapes_follow_the_schema_patterns() {
    let cert = |l: &str| l == "CERTIFICATE";
    assert!(is_pem_one(CERT_PEM, &cert));
    assert!(is_pem_one(&format!("{CERT_PEM}\n"), &cert));
    // Whitespace is required around the body.
    assert!(!is_pem_one(
        "-----BEGIN CERTIFICATE-----QUJD-----END CERTIFICATE-----",
        &cert
    ));
    assert!(!is_pem_one(&format!("{CERT_PEM}\n{CERT_PEM}"), &cert));
    assert!(is_pem_many(&format!("{CERT_PEM}\n{CERT_PEM}\n"), &cert));
    assert!(!is_pem_many(&format!(" {CERT_PEM}"), &cert));
    // Whitespace only after a whole group of four; padding only at the very end.
    assert!(is_b64_body("QUJD\nRA==") && is_b64_body("QUJD \n\tQUJD\n"));
    assert!(!is_b64_body("QUJ\nDRA==") && !is_b64_body("RA==\n") && !is_b64_body("RA==QUJD"));
    assert!(!is_b64_body(" QUJD") && !is_b64_body("QUJD=") && !is_b64_body("Q==="));
    assert!(!is_base64_text("") && is_base64_text("QUJD"));
}

#[test]
fn notary_uris_follow_rfc_3986() {
    for good in [
        "https://notary.us.icr.io",
        "urn:ibm:notary",
        "https:",
        "h+s.x-y:/a%20b?q#f",
    ] {
        assert!(is_uri(good), "{good}");
    }
    for bad in [
        "notary.us.icr.io",
        "1http://a",
        ":x",
        "https://a b",
        "https://a/<b>",
        "https://a/%zz",
        "https://a/%4",
    ] {
        assert!(!is_uri(bad), "{bad}");
    }
}

#[test]
fn grep11_address_follows_the_schema_pattern() {
    for good in [
        "g.example.com:9876",
        "192.168.1.100:1",
        "-odd-:12345",
        "a:0",
    ] {
        assert!(is_grep11_address(good), "{good}");
    }
    for bad in [
        "g.example.com",
        "g.example.com:123456",
        "g..com:1",
        ":1",
        "g_x.com:1",
    ] {
        assert!(!is_grep11_address(bad), "{bad}");
    }
}

#[test]
fn rule_helpers_match_the_schema_patterns() {
    assert!(is_seed("abcdefghijklmn!"));
    assert!(!is_seed("abcdefghijklmn"));
    assert!(!is_seed("abcdefghijklmn~"));
    assert!(is_mount("/a") && is_mount("/a/b") && !is_mount("/") && !is_mount("//a"));
    assert!(is_uv_secret_id("index-1") && is_uv_secret_id("index-8"));
    assert!(!is_uv_secret_id("index-0") && !is_uv_secret_id("index-10"));
    assert!(is_env_name("_A1") && !is_env_name("") && !is_env_name("A.B"));
    assert!(is_volume_name("a-b_c") && !is_volume_name("-a") && !is_volume_name("aB"));
    assert!(is_archive("H4sI") && is_archive("ab-+/cd===") && !is_archive("abcd===="));
    assert!(is_key_crn("crn:v12:bluemix:local:a:b:c:d:key:e:f"));
    assert!(!is_key_crn("crn:vx:bluemix:public:a:b:c:d:key:e"));
    assert!(!is_key_crn("crn:v1:bluemix:public::b:c:d:key:e"));
    assert!(is_rhs_image("quay.io/ns/img:v1.0@sha256:732efa374f1e6c964caeacab0bcb370385ee386041a14d4a32176462e3f75c7b"));
    assert!(!is_rhs_image("localhost/img"));
    // Label length: 63 at most for rhs, unbounded for dct; the total is unbounded in both.
    let long = "a".repeat(64);
    let many = vec!["abcdefghij"; 30].join(".");
    assert!(is_dct_image(&format!("{long}.io/myns/app")));
    assert!(is_dct_image(&format!("{many}/myns/app")));
    assert!(!is_rhs_image(&format!("{long}.io/ns/img")));
    assert!(is_rhs_image(&format!("{many}/ns/img")));
    assert!(!is_dct_image("-a.io/myns/app") && !is_dct_image("a-.io/myns/app"));
    assert!(is_registry_key("localhost:5000") && !is_registry_key("https://us.icr.io"));
}
