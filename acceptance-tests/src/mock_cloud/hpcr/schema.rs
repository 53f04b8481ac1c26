//! Shared checks of the contract schema (contract-go schema 1.0.116, the rules the platform
//! enforces at boot): YAML accessors, key rules and value rules used by both sections.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_yaml_ng::{Mapping, Value};

use super::patterns::{Pattern, REGISTRY_KEY, VOLUME_NAME};
use super::{kind, shorten, Reject};

pub(super) fn schema(path: impl Into<String>, rule: impl Into<String>) -> Reject {
    Reject::Schema {
        path: path.into(),
        rule: rule.into(),
    }
}

/// A string that must match one of `patterns`; `rule` says which forms are allowed (never
/// the value, which may be a key or certificate).
pub(super) fn check_pattern(
    v: &Value,
    path: &str,
    patterns: &[&Pattern],
    rule: &str,
) -> Result<(), Reject> {
    let s = as_str(v, path)?;
    for p in patterns {
        if p.is_match(s)? {
            return Ok(());
        }
    }
    Err(schema(path, rule))
}

/// A map key that must match `pattern` (the schema's `patternProperties` with
/// `additionalProperties: false`).
pub(super) fn check_key(
    key: &str,
    path: &str,
    pattern: &Pattern,
    rule: &str,
) -> Result<(), Reject> {
    if pattern.is_match(key)? {
        Ok(())
    } else {
        Err(schema(
            join(path, key),
            format!("invalid key: must be {rule}"),
        ))
    }
}

/// `contentEncoding: base64`: standard alphabet, padded, line breaks allowed.
pub(super) fn check_base64(v: &Value, path: &str) -> Result<(), Reject> {
    let compact: String = as_str(v, path)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if compact.is_empty() || B64.decode(compact.as_bytes()).is_err() {
        return Err(schema(path, "must be base64 (standard alphabet, padded)"));
    }
    Ok(())
}

/// `a.b` for identifier-like keys, `a["x.y"]` otherwise, so paths stay unambiguous.
pub(super) fn join(path: &str, key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        format!("{path}.{key}")
    } else {
        format!("{path}[{:?}]", shorten(key))
    }
}

/// The entries of a map with string keys; any other key is a schema error.
pub(super) fn entries<'a>(m: &'a Mapping, path: &str) -> Result<Vec<(&'a str, &'a Value)>, Reject> {
    m.iter()
        .map(|(k, v)| match k.as_str() {
            Some(k) => Ok((k, v)),
            None => Err(schema(
                path,
                format!("keys must be strings, found {}", kind(k)),
            )),
        })
        .collect()
}

pub(super) fn as_map<'a>(v: &'a Value, path: &str) -> Result<&'a Mapping, Reject> {
    match v {
        Value::Mapping(m) => Ok(m),
        other => Err(schema(
            path,
            format!("must be a map, found {}", kind(other)),
        )),
    }
}

pub(super) fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str, Reject> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(schema(
            path,
            format!("must be a string, found {}", kind(other)),
        )),
    }
}

pub(super) fn as_seq<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], Reject> {
    match v {
        Value::Sequence(s) => Ok(s),
        other => Err(schema(
            path,
            format!("must be a sequence, found {}", kind(other)),
        )),
    }
}

pub(super) fn only_keys(m: &Mapping, path: &str, allowed: &[&str]) -> Result<(), Reject> {
    for (k, _) in entries(m, path)? {
        if !allowed.contains(&k) {
            return Err(schema(
                join(path, k),
                format!("unknown property (allowed: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

pub(super) fn required<'a>(m: &'a Mapping, path: &str, key: &str) -> Result<&'a Value, Reject> {
    m.get(key)
        .ok_or_else(|| schema(join(path, key), "required property is missing"))
}

/// Exactly one of `keys` present; returns it.
pub(super) fn exactly_one<'a>(
    m: &Mapping,
    path: &str,
    keys: &[&'a str],
) -> Result<&'a str, Reject> {
    let present: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err(schema(
            path,
            format!("must have exactly one of {}, found none", keys.join(", ")),
        )),
        many => Err(schema(
            path,
            format!(
                "must have exactly one of {}, found {}",
                keys.join(", "),
                many.join(" and ")
            ),
        )),
    }
}

pub(super) fn check_type(m: &Mapping, path: &str, expected: &str) -> Result<(), Reject> {
    let t = as_str(required(m, path, "type")?, &join(path, "type"))?;
    if t != expected {
        return Err(schema(
            join(path, "type"),
            format!("must be {expected:?}, found {:?}", shorten(t)),
        ));
    }
    Ok(())
}

pub(super) fn is_seed(s: &str) -> bool {
    s.chars().count() >= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@#$%^&*(),.?\":{}|<>_-".contains(c))
}

pub(super) fn check_seed(v: &Value, path: &str) -> Result<(), Reject> {
    if !is_seed(as_str(v, path)?) {
        return Err(schema(
            path,
            "must be at least 15 characters from [a-zA-Z0-9!@#$%^&*(),.?\":{}|<>_-]",
        ));
    }
    Ok(())
}

/// The schema's `tgz` pattern `^[-A-Za-z0-9+/]*={0,3}$` with minLength 4 (also used for
/// `cacerts` values); `what` names the content in the reason.
pub(super) fn check_archive_like(v: &Value, path: &str, what: &str) -> Result<(), Reject> {
    let s = as_str(v, path)?;
    let body = s.trim_end_matches('=');
    let ok = s.len() >= 4
        && s.len() - body.len() <= 3
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'-');
    if !ok {
        return Err(schema(
            path,
            format!("must be base64 of {what} (at least 4 characters)"),
        ));
    }
    Ok(())
}

pub(super) fn check_archive(v: &Value, path: &str) -> Result<(), Reject> {
    check_archive_like(v, path, "a tgz archive")
}

pub(super) fn check_env_vars(v: &Value, path: &str) -> Result<(), Reject> {
    for (k, val) in entries(as_map(v, path)?, path)? {
        let valid_name = k
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid_name {
            return Err(schema(
                join(path, k),
                "variable names must match ^[A-Za-z_][A-Za-z0-9_]*$",
            ));
        }
        as_str(val, &join(path, k))?;
    }
    Ok(())
}

pub(super) fn check_auths(v: &Value, path: &str) -> Result<(), Reject> {
    for (host, cred) in entries(as_map(v, path)?, path)? {
        check_key(
            host,
            path,
            &REGISTRY_KEY,
            "a registry host name or IPv4 address (optionally with :port) or https://index.docker.io/v1/",
        )?;
        let p = join(path, host);
        let cred = as_map(cred, &p)?;
        only_keys(cred, &p, &["username", "password"])?;
        for field in ["username", "password"] {
            let fp = join(&p, field);
            if as_str(required(cred, &p, field)?, &fp)?.chars().count() < 3 {
                return Err(schema(fp, "must be at least 3 characters"));
            }
        }
    }
    Ok(())
}

pub(super) fn check_volume_name(name: &str, path: &str) -> Result<(), Reject> {
    if VOLUME_NAME.is_match(name)? {
        Ok(())
    } else {
        Err(schema(
            join(path, name),
            "volume names must match ^[a-z_][a-z0-9-_]*$",
        ))
    }
}
