//! Property tests: arbitrary documents and text are judged without panicking.

use proptest::prelude::*;
use serde_yaml_ng::{Mapping, Value};

use crate::contract::schema::{validate_section, validate_value, SectionKind};

const KEYS: &[&str] = &[
    "type",
    "workload",
    "env",
    "compose",
    "play",
    "archive",
    "resources",
    "templates",
    "kind",
    "auths",
    "username",
    "password",
    "images",
    "dct",
    "rhs",
    "notary",
    "publicKey",
    "volumes",
    "seed",
    "mount",
    "filesystem",
    "previousSeed",
    "logging",
    "logRouter",
    "syslog",
    "hostname",
    "iamApiKey",
    "port",
    "server",
    "cert",
    "key",
    "uv-secret-id",
    "kms",
    "apiKey",
    "crn",
    "grep11",
    "metadata",
    "kmsTimeout",
    "cacerts",
    "signingKey",
    "confidential-containers",
    "data",
    "us.icr.io",
    "",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        proptest::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |entries| {
                    let mut m = Mapping::new();
                    for (k, v) in entries {
                        m.insert(Value::String(k.to_string()), v);
                    }
                    Value::Mapping(m)
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary documents never panic, and every violation is rooted at the section.
    #[test]
    fn arbitrary_documents_are_judged_without_panicking(v in value()) {
        for kind in [SectionKind::Workload, SectionKind::Env] {
            if let Err(violations) = validate_value(kind, &v) {
                prop_assert!(!violations.is_empty());
                for violation in violations {
                    prop_assert!(violation.path.starts_with(kind.name()), "{violation}");
                }
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,200}") {
        let _ = validate_section(SectionKind::Workload, &text);
        let _ = validate_section(SectionKind::Env, &text);
    }
}
