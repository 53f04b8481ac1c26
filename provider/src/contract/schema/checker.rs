//! The rule-checking machinery: a [`Checker`] collecting violations and generic combinators
//! (maps with fixed keys, maps of named entries, one-of, string and number rules).

use serde_yaml_ng::{Mapping, Value};

use super::SchemaViolation;

#[derive(Default)]
pub(super) struct Checker {
    pub(super) out: Vec<SchemaViolation>,
}

impl Checker {
    pub(super) fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(SchemaViolation {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

pub(super) type Check<'f> = &'f dyn Fn(&mut Checker, &str, &Value);

/// One allowed key of a YAML map and the rule for its value.
pub(super) struct Field<'f> {
    name: &'static str,
    required: bool,
    check: Check<'f>,
}

pub(super) fn req<'f>(name: &'static str, check: Check<'f>) -> Field<'f> {
    Field {
        name,
        required: true,
        check,
    }
}

pub(super) fn opt<'f>(name: &'static str, check: Check<'f>) -> Field<'f> {
    Field {
        name,
        required: false,
        check,
    }
}

pub(super) fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{key:?}]")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

pub(super) fn as_map<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        other => {
            c.fail(path, format!("must be a map, found {}", kind_of(other)));
            None
        }
    }
}

pub(super) fn as_list<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v Vec<Value>> {
    match v {
        Value::Sequence(s) => Some(s),
        other => {
            c.fail(path, format!("must be a list, found {}", kind_of(other)));
            None
        }
    }
}

pub(super) fn as_str<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v str> {
    match v {
        Value::String(s) => Some(s),
        other => {
            c.fail(path, format!("must be a string, found {}", kind_of(other)));
            None
        }
    }
}

/// Iterates the string keys of a map; non-string keys are violations.
fn string_entries<'v>(c: &mut Checker, path: &str, m: &'v Mapping) -> Vec<(&'v str, &'v Value)> {
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        match k {
            Value::String(s) => out.push((s.as_str(), v)),
            other => c.fail(
                path,
                format!(
                    "keys must be strings, found a key that is {}",
                    kind_of(other)
                ),
            ),
        }
    }
    out
}

/// A map with a fixed set of keys. Returns the map for further cross-field rules.
pub(super) fn object<'v>(
    c: &mut Checker,
    path: &str,
    v: &'v Value,
    fields: &[Field<'_>],
) -> Option<&'v Mapping> {
    let m = as_map(c, path, v)?;
    for (key, value) in string_entries(c, path, m) {
        let p = child(path, key);
        match fields.iter().find(|f| f.name == key) {
            Some(f) => (f.check)(c, &p, value),
            None => {
                let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
                c.fail(
                    &p,
                    format!("unknown key (allowed here: {})", allowed.join(", ")),
                );
            }
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        if !m.contains_key(f.name) {
            c.fail(&child(path, f.name), "required key is missing");
        }
    }
    Some(m)
}

/// A map whose keys follow a naming rule and whose values share one rule.
pub(super) fn map_of(
    c: &mut Checker,
    path: &str,
    v: &Value,
    key_ok: &dyn Fn(&str) -> bool,
    key_rule: &str,
    check: Check<'_>,
) {
    let Some(m) = as_map(c, path, v) else {
        return;
    };
    for (key, value) in string_entries(c, path, m) {
        let p = child(path, key);
        if key_ok(key) {
            check(c, &p, value);
        } else {
            c.fail(&p, format!("invalid key: must be {key_rule}"));
        }
    }
}

/// Exactly one of `names` must be present in `m`.
pub(super) fn exactly_one(c: &mut Checker, path: &str, m: &Mapping, names: &[&str]) {
    let present: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| m.contains_key(*n))
        .collect();
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match present.len() {
        1 => {}
        0 => c.fail(
            path,
            format!("exactly one of {list} is required, found none"),
        ),
        _ => c.fail(
            path,
            format!(
                "exactly one of {list} is allowed, found {}",
                present.join(" and ")
            ),
        ),
    }
}

pub(super) fn string_rule(
    c: &mut Checker,
    path: &str,
    v: &Value,
    ok: &dyn Fn(&str) -> bool,
    rule: &str,
) {
    if let Some(s) = as_str(c, path, v) {
        if !ok(s) {
            c.fail(path, rule.to_string());
        }
    }
}

pub(super) fn any_string(c: &mut Checker, path: &str, v: &Value) {
    as_str(c, path, v);
}

pub(super) fn any_map(c: &mut Checker, path: &str, v: &Value) {
    as_map(c, path, v);
}

pub(super) fn integer_in(c: &mut Checker, path: &str, v: &Value, min: i64, max: i64) {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) if (min..=max).contains(&i) => {}
            _ => c.fail(path, format!("must be a whole number from {min} to {max}")),
        },
        other => c.fail(
            path,
            format!(
                "must be a whole number from {min} to {max}, found {}",
                kind_of(other)
            ),
        ),
    }
}

pub(super) fn port(c: &mut Checker, path: &str, v: &Value) {
    integer_in(c, path, v, 1, 65535);
}

pub(super) fn min_len(n: usize) -> impl Fn(&mut Checker, &str, &Value) {
    move |c: &mut Checker, path: &str, v: &Value| {
        string_rule(
            c,
            path,
            v,
            &|s| s.chars().count() >= n,
            &format!("must be at least {n} characters long"),
        )
    }
}
