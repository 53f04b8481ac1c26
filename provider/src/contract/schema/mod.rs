//! Validation of plaintext contract sections (`workload`, `env`) against the rules of the
//! HPCR contract schema (fact sheet §8), written as our own typed rules rather than a copied
//! JSON schema.
//!
//! Every violation is reported (not just the first), each with the YAML path of the offending
//! value (`workload.volumes.data.seed`, `env.logging`, `workload.play.resources[1].kind`) and
//! the rule it breaks. Values are never quoted in messages: sections hold passwords, seeds,
//! API keys and private keys, and the messages end up in Terraform diagnostics and logs.
//!
//! Also home of the LUKS passphrase rule for data volumes ([`volume_passphrase`]).

mod checker;
mod env;
mod formats;
mod shared;
#[cfg(test)]
mod tests;
mod workload;

use serde_yaml_ng::Value;

use checker::Checker;
use env::check_env;
use workload::check_workload;

/// Which section a plaintext YAML document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    Workload,
    Env,
}

impl SectionKind {
    /// The section's key in the contract, also the root of every reported path.
    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Workload => "workload",
            SectionKind::Env => "env",
        }
    }
}

/// One broken rule: the YAML path (e.g. `workload.volumes.data.seed`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaViolation {
    pub path: String,
    pub message: String,
}

/// Validates one plaintext section (YAML text). Returns every violation found.
pub fn validate_section(kind: SectionKind, yaml: &str) -> Result<(), Vec<SchemaViolation>> {
    let value: Value = match serde_yaml_ng::from_str(yaml) {
        Ok(v) => v,
        Err(e) => return Err(vec![syntax_violation(kind.name(), &e)]),
    };
    check_section(kind, &value)
}

/// Validates a section already parsed as YAML. A string value is taken as YAML text holding
/// the section (the `workload: |` literal form of a contract document), parsed once: a
/// string inside that text is an error, not another level of YAML.
pub fn validate_value(kind: SectionKind, value: &Value) -> Result<(), Vec<SchemaViolation>> {
    match value {
        Value::String(text) => validate_section(kind, text),
        other => check_section(kind, other),
    }
}

fn check_section(kind: SectionKind, value: &Value) -> Result<(), Vec<SchemaViolation>> {
    let mut c = Checker::default();
    if let Value::String(s) = value {
        let hint = if s.starts_with("hyper-protect-basic.") || s.starts_with("contract-basic.") {
            "this looks like an encrypted section; only plaintext sections can be validated"
        } else {
            "must be a YAML map, found a string"
        };
        c.fail(kind.name(), hint);
        return Err(c.out);
    }
    match kind {
        SectionKind::Workload => check_workload(&mut c, value),
        SectionKind::Env => check_env(&mut c, value),
    }
    if c.out.is_empty() {
        Ok(())
    } else {
        Err(c.out)
    }
}

/// LUKS passphrase of a data volume: lowercase hex SHA-256 of the workload seed immediately
/// followed by the env seed (IBM: `echo -n "seed1seed2" | sha256sum`).
pub fn volume_passphrase(workload_seed: &str, env_seed: &str) -> String {
    let mut h = openssl::sha::Sha256::new();
    h.update(workload_seed.as_bytes());
    h.update(env_seed.as_bytes());
    hex::encode(h.finish())
}

fn syntax_violation(root: &str, e: &serde_yaml_ng::Error) -> SchemaViolation {
    // The library's text may quote scalars from the document (e.g. a duplicated key), so
    // quoted spans are blanked; the location is reported separately.
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    let message = match e.location() {
        Some(loc) => format!(
            "YAML syntax error at line {} column {}: {}",
            loc.line(),
            loc.column(),
            redact_quoted(text)
        ),
        None => format!("YAML syntax error: {}", redact_quoted(text)),
    };
    SchemaViolation {
        path: root.to_string(),
        message,
    }
}

fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for ch in text.chars() {
        if ch == '"' || ch == '`' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(ch);
        }
    }
    out
}
