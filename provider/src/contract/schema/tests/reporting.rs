//! Tests of how violations are reported (every one, with its path), YAML syntax errors,
//! non-map sections, secrets kept out of messages, and the volume passphrase.

use serde_yaml_ng::Value;

use super::*;
use crate::contract::schema::{validate_value, volume_passphrase};

#[test]
fn every_violation_is_reported() {
    let yaml = "type: workload\ncompose:\n  archive: x\nvolumes:\n  data:\n    seed: short\n    filesystem: zfs\nenv:\n  9X: y\nbogus: true\n";
    let v = violations(SectionKind::Workload, yaml);
    let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
    for expected in [
        "workload.compose.archive",
        "workload.volumes.data.seed",
        "workload.volumes.data.filesystem",
        "workload.env.9X",
        "workload.bogus",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
    assert_eq!(v.len(), 5, "{v:#?}");
}

#[test]
fn yaml_syntax_errors_report_line_and_column() {
    let v = violations(
        SectionKind::Workload,
        "type: workload\ncompose:\n  archive: [unclosed\n  other: 1\n",
    );
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].path, "workload");
    assert!(
        v[0].message.starts_with("YAML syntax error at line "),
        "{}",
        v[0].message
    );
    let v = violations(SectionKind::Env, "type: env\nlogging:\n\t- bad tab\n");
    assert!(v[0].message.contains("line 3"), "{}", v[0].message);
    // A duplicated key names neither key nor value.
    let v = violations(
        SectionKind::Env,
        "type: env\nenv:\n  SECRET_TOKEN_ABC: a\n  SECRET_TOKEN_ABC: b\n",
    );
    assert_eq!(v.len(), 1);
    assert!(
        v[0].message.starts_with("YAML syntax error"),
        "{}",
        v[0].message
    );
    assert!(
        !v[0].message.contains("SECRET_TOKEN_ABC"),
        "{}",
        v[0].message
    );
}

#[test]
fn strings_are_parsed_once_not_recursively() {
    // A YAML document that is itself a (quoted) string must not be unwrapped again.
    expect_one(
        SectionKind::Workload,
        "'just text'",
        "workload",
        "must be a YAML map, found a string",
    );
    let nested = Value::String("\"type: workload\"".to_string());
    let v = validate_value(SectionKind::Workload, &nested).unwrap_err();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].message, "must be a YAML map, found a string");
    expect_one(
        SectionKind::Env,
        "hyper-protect-basic.QUJD.QUJD",
        "env",
        "looks like an encrypted section",
    );
}

#[test]
fn empty_or_non_map_sections() {
    expect_one(SectionKind::Workload, "", "workload", "section is empty");
    expect_one(SectionKind::Env, "", "env", "section is empty");
    expect_one(
        SectionKind::Env,
        "- a\n- b\n",
        "env",
        "must be a map, found a list",
    );
}

#[test]
fn secret_values_never_appear_in_messages() {
    let secrets = [
        "tooShortSeedZ",
        "RegistryPw",
        "KeyZZ987",
        "shortPrevSd",
        "IamKeyZ",
        "hunter22hunter22hunter22 spaces",
        "Pr1vEnvValue",
    ];
    let workload = "type: workload\ncompose:\n  archive: H4sIAAAA\nauths:\n  us.icr.io:\n    username: x\n    password: RegistryPw\n    extra: RegistryPw\nvolumes:\n  data:\n    seed: tooShortSeedZ\n    previousSeed: shortPrevSd\n  other:\n    seed: \"hunter22hunter22hunter22 spaces\"\nenv:\n  \"bad key\": Pr1vEnvValue\n  OK: [Pr1vEnvValue]\n";
    let env = "type: env\nlogging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: [IamKeyZ]\nvolumes:\n  data:\n    seed: tooShortSeedZ\n    kms:\n      - apiKey: KeyZZ987\n        crn: KeyZZ987\n";
    let mut all = violations(SectionKind::Workload, workload);
    let n = all.len();
    assert!(n >= 6, "{all:#?}");
    all.extend(violations(SectionKind::Env, env));
    assert!(all.len() >= n + 4, "{all:#?}");
    for v in &all {
        let text = v.to_string();
        for s in secrets {
            assert!(!text.contains(s), "secret {s:?} leaked in {text:?}");
        }
    }
}

#[test]
fn luks_passphrase_is_sha256_hex_of_both_seeds() {
    // Reference values from `printf '<a><b>' | sha256sum`.
    assert_eq!(
        volume_passphrase("seed1", "seed2"),
        "b98a46c16f5abb0bcee8285a57bf8e0c376f3dda59f20df344fd1a88acd650c3"
    );
    assert_eq!(
        volume_passphrase("WorkloadSeedSecret123", "EnvSeedSecret4567"),
        "142c0c6a4ddb3e1ee3c32bd4c43499b69dac25d0b228abc528bf5cab56315589"
    );
    assert_ne!(volume_passphrase("a", "bc"), volume_passphrase("b", "ac"));
}
