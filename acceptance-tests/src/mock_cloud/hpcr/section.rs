//! A contract section (`workload`, `env`) as found in `user_data`: a YAML map, a string
//! holding YAML, or an encrypted token, decrypted with the platform key and parsed.

use serde_yaml_ng::{Mapping, Value};

use super::token::{decrypt_token, looks_like_token, token_prefix, TOKEN_PREFIXES};
use super::{kind, yaml_where, Reject};
use crate::mock_cloud::pki::Pki;

/// A contract section as found in `user_data`, and its parsed content.
pub(super) struct Section {
    /// The value as it stands in `user_data`: what is hashed and signed.
    pub(super) raw: RawValue,
    pub(super) doc: Mapping,
    pub(super) encrypted: bool,
}

pub(super) enum RawValue {
    Str(String),
    Map(Mapping),
}

impl RawValue {
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            RawValue::Str(s) => Some(s),
            RawValue::Map(_) => None,
        }
    }

    pub(super) fn bytes_for_hash(&self) -> Result<Vec<u8>, Reject> {
        match self {
            RawValue::Str(s) => Ok(s.as_bytes().to_vec()),
            RawValue::Map(m) => serde_yaml_ng::to_string(m)
                .map(String::into_bytes)
                .map_err(|e| Reject::Internal(format!("cannot re-serialise a section: {e}"))),
        }
    }
}

pub(super) fn load_section(
    name: &'static str,
    value: &Value,
    pki: &Pki,
    console: &mut Vec<String>,
) -> Result<Section, Reject> {
    let section_err = |reason: String| Reject::Section {
        section: name,
        reason,
    };
    match value {
        Value::Mapping(m) => {
            console.push(format!("# section {name}: not encrypted, used as is"));
            Ok(Section {
                raw: RawValue::Map(m.clone()),
                doc: m.clone(),
                encrypted: false,
            })
        }
        Value::String(s) => {
            let trimmed = s.trim();
            let encrypted = token_prefix(trimmed).is_some();
            let text = if encrypted {
                let plain = decrypt_token(trimmed, &pki.encryption_key)
                    .map_err(|e| section_err(format!("cannot decrypt: {e}")))?;
                console.push(format!("# section {name}: decrypted"));
                String::from_utf8(plain)
                    .map_err(|_| section_err("decrypted text is not UTF-8".into()))?
            } else {
                if looks_like_token(trimmed) {
                    return Err(section_err(format!(
                        "looks like an encrypted token with an unknown prefix (expected {})",
                        TOKEN_PREFIXES.map(|p| p.trim_end_matches('.')).join(" or ")
                    )));
                }
                console.push(format!("# section {name}: not encrypted, used as is"));
                s.clone()
            };
            let doc: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| section_err(format!("text is not valid YAML{}", yaml_where(&e))))?;
            match doc {
                Value::Mapping(m) => Ok(Section {
                    raw: RawValue::Str(s.clone()),
                    doc: m,
                    encrypted,
                }),
                other => Err(section_err(format!(
                    "must be a YAML map, found {}",
                    kind(&other)
                ))),
            }
        }
        other => Err(section_err(format!(
            "must be a YAML map, a string holding YAML, or an encrypted token; found {}",
            kind(other)
        ))),
    }
}
