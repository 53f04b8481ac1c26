//! Unit tests of the section validator, by concern; shared fixtures and assertion helpers here.

mod env;
mod formats;
mod fuzz;
mod reporting;
mod workload;

use super::{validate_section, SchemaViolation, SectionKind};

const PUBKEY_B64: &str = "TFMwdExTMUNSVWRKVGlCUVZVSk1TVU1nUzBWWkxTMHRMUzBL";
const PUBKEY_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB\n-----END PUBLIC KEY-----\n";
const CERT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2FmZQ==\n-----END CERTIFICATE-----";
const KEY_PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIBszCCAVmgAwIBAgIUQ2FmZQ==\n-----END PRIVATE KEY-----";

fn violations(kind: SectionKind, yaml: &str) -> Vec<SchemaViolation> {
    match validate_section(kind, yaml) {
        Ok(()) => Vec::new(),
        Err(v) => v,
    }
}

/// Asserts that exactly one violation is reported, at `path`, with `rule` in its message.
#[track_caller]
fn expect_one(kind: SectionKind, yaml: &str, path: &str, rule: &str) {
    let v = violations(kind, yaml);
    assert_eq!(v.len(), 1, "expected one violation at {path}, got {v:#?}");
    assert_eq!(v[0].path, path, "{v:#?}");
    assert!(
        v[0].message.contains(rule),
        "message {:?} should contain {rule:?}",
        v[0].message
    );
}

#[track_caller]
fn expect_ok(kind: SectionKind, yaml: &str) {
    assert_eq!(violations(kind, yaml), Vec::<SchemaViolation>::new());
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

const COMPOSE_MIN: &str =
    "type: workload\ncompose:\n  archive: H4sIAAAAAAAAA+3OMQ6CQBBA0ak9xR5gZ==\n";

fn workload_with(extra: &str) -> String {
    format!("{COMPOSE_MIN}{extra}")
}

const ENV_MIN: &str = "type: env\nlogging:\n  logRouter:\n    hostname: abc.logs.cloud.ibm.com\n    iamApiKey: IamKeySecret0001\n";

fn env_with(extra: &str) -> String {
    format!("{ENV_MIN}{extra}")
}
