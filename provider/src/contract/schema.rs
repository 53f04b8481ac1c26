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

use base64::Engine as _;
use serde_yaml_ng::{Mapping, Value};

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

#[derive(Default)]
struct Checker {
    out: Vec<SchemaViolation>,
}

impl Checker {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.out.push(SchemaViolation {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

type Check<'f> = &'f dyn Fn(&mut Checker, &str, &Value);

/// One allowed key of a YAML map and the rule for its value.
struct Field<'f> {
    name: &'static str,
    required: bool,
    check: Check<'f>,
}

fn req<'f>(name: &'static str, check: Check<'f>) -> Field<'f> {
    Field {
        name,
        required: true,
        check,
    }
}

fn opt<'f>(name: &'static str, check: Check<'f>) -> Field<'f> {
    Field {
        name,
        required: false,
        check,
    }
}

fn child(path: &str, key: &str) -> String {
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

fn as_map<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v Mapping> {
    match v {
        Value::Mapping(m) => Some(m),
        other => {
            c.fail(path, format!("must be a map, found {}", kind_of(other)));
            None
        }
    }
}

fn as_list<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v Vec<Value>> {
    match v {
        Value::Sequence(s) => Some(s),
        other => {
            c.fail(path, format!("must be a list, found {}", kind_of(other)));
            None
        }
    }
}

fn as_str<'v>(c: &mut Checker, path: &str, v: &'v Value) -> Option<&'v str> {
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
fn object<'v>(
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
fn map_of(
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
fn exactly_one(c: &mut Checker, path: &str, m: &Mapping, names: &[&str]) {
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

fn string_rule(c: &mut Checker, path: &str, v: &Value, ok: &dyn Fn(&str) -> bool, rule: &str) {
    if let Some(s) = as_str(c, path, v) {
        if !ok(s) {
            c.fail(path, rule.to_string());
        }
    }
}

fn any_string(c: &mut Checker, path: &str, v: &Value) {
    as_str(c, path, v);
}

fn any_map(c: &mut Checker, path: &str, v: &Value) {
    as_map(c, path, v);
}

fn integer_in(c: &mut Checker, path: &str, v: &Value, min: i64, max: i64) {
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

fn port(c: &mut Checker, path: &str, v: &Value) {
    integer_in(c, path, v, 1, 65535);
}

fn min_len(n: usize) -> impl Fn(&mut Checker, &str, &Value) {
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

// ---------------------------------------------------------------------------------------
// Value rules (hand-written equivalents of the schema's patterns)
// ---------------------------------------------------------------------------------------

/// `^[A-Za-z_][A-Za-z0-9_]*$`
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `^[a-z_][a-z0-9-_]*$`
fn is_volume_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `^[a-zA-Z0-9!@#$%^&*(),.?":{}|<>_-]{15,}$`
fn is_seed(s: &str) -> bool {
    s.chars().count() >= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@#$%^&*(),.?\":{}|<>_-".contains(c))
}

const SEED_RULE: &str =
    "must be at least 15 characters, each a letter, digit or one of !@#$%^&*(),.?\":{}|<>_-";

/// `^(/[^/]+)+$`
fn is_mount(s: &str) -> bool {
    s.len() > 1 && s.starts_with('/') && s[1..].split('/').all(|seg| !seg.is_empty())
}

/// `^index-[1-8]$`
fn is_uv_secret_id(s: &str) -> bool {
    matches!(s.strip_prefix("index-"), Some(d) if d.len() == 1 && ('1'..='8').contains(&d.chars().next().unwrap_or('0')))
}

/// DNS host name (RFC 1123 labels) or IPv4 address.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The schema's `grep11Address`: `^((([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+)|(<IPv4>)):[0-9]{1,5}$`.
/// Its IPv4 branch only admits strings the name branch admits too, so dot-separated runs of
/// letters, digits and `-` before a 1 to 5 digit port is the whole rule.
fn is_grep11_address(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// One label of the schema's registry host pattern: `[a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9]`.
/// Labels start with a letter, so `1registry.example.com` is not a registry host here.
fn is_registry_label(label: &str) -> bool {
    let b = label.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphabetic()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// `0`-`255` without leading zeros, as the schema's IPv4 octet alternatives spell it.
fn is_ipv4_octet(o: &str) -> bool {
    !o.is_empty()
        && o.len() <= 3
        && o.bytes().all(|b| b.is_ascii_digit())
        && (o == "0" || !o.starts_with('0'))
        && o.parse::<u16>().is_ok_and(|n| n <= 255)
}

/// The schema's `auths` key pattern: host name labels (each starting with a letter) or a
/// dotted IPv4 address, either with an optional `:<digits>` port, or Docker Hub's legacy key
/// `https://index.docker.io/v1/`. No length limits: the pattern has none.
fn is_registry_key(s: &str) -> bool {
    if s == "https://index.docker.io/v1/" {
        return true;
    }
    let host = match s.split_once(':') {
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        None => s,
    };
    let labels: Vec<&str> = host.split('.').collect();
    labels.iter().all(|l| is_registry_label(l))
        || (labels.len() == 4 && labels.iter().all(|o| is_ipv4_octet(o)))
}

/// Image name for DCT: `registry/namespace/name`.
fn is_dct_image(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    let seg = |p: &str, min: usize, max: usize| {
        (min..=max).contains(&p.len())
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    parts.len() == 3
        && parts[0]
            .split('.')
            .all(|l| is_image_host_label(l, usize::MAX))
        && seg(parts[1], 3, 30)
        && seg(parts[2], 2, 255)
}

/// A host label of the schema's image-name patterns: letters, digits and `-`, starting and
/// ending with a letter or digit, at most `max` characters (63 for `rhs`, unbounded for `dct`).
fn is_image_host_label(label: &str, max: usize) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Image reference for Red Hat simple signing: `host.domain/path[:tag][@sha256:digest]`.
fn is_rhs_image(s: &str) -> bool {
    let (rest, digest) = match s.split_once("@sha256:") {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        if d.len() != 64
            || !d
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return false;
        }
    }
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    let (path, tag) = match path.rsplit_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (path, None),
    };
    if let Some(t) = tag {
        let ok = (3..=128).contains(&t.len())
            && t.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return false;
        }
    }
    host.contains('.')
        && host.split('.').all(|l| is_image_host_label(l, 63))
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
}

/// Base64 (standard alphabet, padded), line breaks and spaces allowed.
fn is_base64(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    !compact.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .is_ok()
}

/// The schema's archive pattern `^[-A-Za-z0-9+/]*={0,3}$`, minLength 4.
fn is_archive(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    s.len() >= 4
        && s.len() - body.len() <= 3
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '-')
}

/// RE2's `\s` (`[\t\n\f\r ]`), which the schema's patterns use; the same set as
/// `u8::is_ascii_whitespace`.
fn is_re2_space(c: char) -> bool {
    c.is_ascii_whitespace()
}

fn is_b64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

/// The schema's base64 body `(?:[A-Za-z0-9+/]{4}\s*)*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?`
/// matched against all of `s`: whitespace only after a whole group of four, padding only at
/// the end.
fn is_b64_body(s: &str) -> bool {
    let mut chunks = s.split(is_re2_space).filter(|c| !c.is_empty()).peekable();
    // Whitespace is only allowed right after a group of four, and never first.
    if s.starts_with(is_re2_space) {
        return false;
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let body = chunk.trim_end_matches('=');
        let pad = chunk.len() - body.len();
        if !body.chars().all(is_b64_char) {
            return false;
        }
        // A padded tail ends the text: no whitespace may follow it.
        let tail_ends = last && !s.ends_with(is_re2_space);
        let ok = match pad {
            0 => body.len() % 4 == 0,
            1 => tail_ends && body.len() % 4 == 3,
            2 => tail_ends && body.len() % 4 == 2,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The schema's `base64cert` (and `Base64SigningKey`) pattern, except that an empty string
/// (which the pattern matches) is refused: it carries no certificate or key.
fn is_base64_text(s: &str) -> bool {
    !s.is_empty() && is_b64_body(s)
}

/// Matches one PEM block of the schema's form at the start of `s`:
/// `-----BEGIN <label>-----\s+<body>\s+-----END <label>-----\s*`. Returns the rest of `s`.
/// As in the schema, the BEGIN and END labels are each checked by `label_ok`, not compared.
fn pem_block<'s>(s: &'s str, label_ok: &dyn Fn(&str) -> bool) -> Option<&'s str> {
    let after_begin = s.strip_prefix("-----BEGIN ")?;
    let (label, rest) = after_begin.split_once("-----")?;
    if !label_ok(label) {
        return None;
    }
    // The body holds no `-`, so it ends where the END line starts.
    let end_at = rest.find('-')?;
    let (between, rest) = rest.split_at(end_at);
    let after_end = rest.strip_prefix("-----END ")?;
    let (end_label, rest) = after_end.split_once("-----")?;
    if !label_ok(end_label) {
        return None;
    }
    let inner = between.trim_matches(is_re2_space);
    let lead = between.len() - between.trim_start_matches(is_re2_space).len();
    let trail = between.len() - between.trim_end_matches(is_re2_space).len();
    let spaced = if inner.is_empty() {
        // `\s+` on both sides of an empty body.
        between.len() >= 2
    } else {
        lead >= 1 && trail >= 1
    };
    (spaced && is_b64_body(inner)).then(|| rest.trim_start_matches(is_re2_space))
}

/// Exactly one PEM block (the schema's `certificate`, `privkey`, `publicKeySigningKey`).
fn is_pem_one(s: &str, label_ok: &dyn Fn(&str) -> bool) -> bool {
    pem_block(s, label_ok).is_some_and(str::is_empty)
}

/// One or more PEM blocks (the schema's `cacertificate`).
fn is_pem_many(s: &str, label_ok: &dyn Fn(&str) -> bool) -> bool {
    let mut rest = s;
    loop {
        match pem_block(rest, label_ok) {
            Some("") => return true,
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// `(?:[A-Z]+\s+)?PRIVATE KEY`
fn is_private_key_label(label: &str) -> bool {
    match label.strip_suffix("PRIVATE KEY") {
        Some("") => true,
        Some(qualifier) => {
            let word = qualifier.trim_end_matches(is_re2_space);
            word.len() < qualifier.len()
                && !word.is_empty()
                && word.chars().all(|c| c.is_ascii_uppercase())
        }
        None => false,
    }
}

/// A legacy OpenSSL-encrypted PEM key (`Proc-Type: 4,ENCRYPTED` / `DEK-Info:` headers).
fn is_legacy_encrypted_pem(s: &str) -> bool {
    s.contains("Proc-Type:") || s.contains("DEK-Info:")
}

/// The schema's `format: uri`: an RFC 3986 URI, so a scheme (letter, then letters, digits,
/// `+ - .`), `:`, then only URI characters (`%` starting a two-digit hex escape). The part
/// after the scheme may be empty (`hier-part` can be `path-empty`).
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.chars();
    let scheme_ok = matches!(sc.next(), Some(c) if c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if bytes[i].is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&bytes[i])
        {
            i += 1;
        } else {
            return false;
        }
    }
    scheme_ok
}

/// `^crn:(v\d+):(bluemix|staging):(public|dedicated|local):([^:]+):([^:]+):([^:]+):([^:]+):key:(.+)$`
fn is_key_crn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(10, ':').collect();
    parts.len() == 10
        && parts[0] == "crn"
        && parts[1].len() > 1
        && parts[1].starts_with('v')
        && parts[1][1..].chars().all(|c| c.is_ascii_digit())
        && matches!(parts[2], "bluemix" | "staging")
        && matches!(parts[3], "public" | "dedicated" | "local")
        && parts[4..8].iter().all(|p| !p.is_empty())
        && parts[8] == "key"
        && !parts[9].is_empty()
}

/// `^[A-Za-z0-9+/=]+$` (GREP11 material), optionally the masked form `^\*+$`.
fn is_base64_material(s: &str, masked_ok: bool) -> bool {
    (!s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        || (masked_ok && !s.is_empty() && s.chars().all(|c| c == '*'))
}

// ---------------------------------------------------------------------------------------
// Shared parts
// ---------------------------------------------------------------------------------------

fn check_type(expected: &'static str) -> impl Fn(&mut Checker, &str, &Value) {
    move |c: &mut Checker, path: &str, v: &Value| {
        if let Some(s) = as_str(c, path, v) {
            if s != expected {
                c.fail(path, format!("must be `{expected}`"));
            }
        }
    }
}

fn check_env_vars(c: &mut Checker, path: &str, v: &Value) {
    map_of(
        c,
        path,
        v,
        &is_env_name,
        "a variable name matching ^[A-Za-z_][A-Za-z0-9_]*$",
        &any_string,
    );
}

fn check_auths(c: &mut Checker, path: &str, v: &Value) {
    map_of(
        c,
        path,
        v,
        &is_registry_key,
        "a registry host name (optionally with :port) or https://index.docker.io/v1/",
        &|c, p, v| {
            object(
                c,
                p,
                v,
                &[req("username", &min_len(3)), req("password", &min_len(3))],
            );
        },
    );
}

fn archive(c: &mut Checker, path: &str, v: &Value) {
    string_rule(
        c,
        path,
        v,
        &is_archive,
        "must be a base64 tar.gz archive (at least 4 characters of A-Z a-z 0-9 + / -, then up to 3 `=`)",
    );
}

fn seed(c: &mut Checker, path: &str, v: &Value) {
    string_rule(c, path, v, &is_seed, SEED_RULE);
}

fn base64_string(c: &mut Checker, path: &str, v: &Value) {
    string_rule(
        c,
        path,
        v,
        &is_base64,
        "must be base64 (standard alphabet, padded)",
    );
}

// ---------------------------------------------------------------------------------------
// workload
// ---------------------------------------------------------------------------------------

fn check_workload(c: &mut Checker, v: &Value) {
    let root = "workload";
    if v.is_null() {
        c.fail(
            root,
            "section is empty: expected a map with `type: workload`",
        );
        return;
    }
    let Some(m) = object(
        c,
        root,
        v,
        &[
            req("type", &check_type("workload")),
            opt("compose", &check_compose),
            opt("play", &check_play),
            opt("confidential-containers", &any_map),
            opt("auths", &check_auths),
            opt("images", &check_images),
            opt("volumes", &check_workload_volumes),
            opt("env", &check_env_vars),
        ],
    ) else {
        return;
    };
    exactly_one(c, root, m, &["compose", "play", "confidential-containers"]);
}

fn check_compose(c: &mut Checker, path: &str, v: &Value) {
    object(c, path, v, &[req("archive", &archive)]);
}

fn check_play(c: &mut Checker, path: &str, v: &Value) {
    object(
        c,
        path,
        v,
        &[
            opt("resources", &check_k8s_list),
            opt("templates", &check_k8s_list),
            opt("archive", &archive),
        ],
    );
}

/// `play.resources` / `play.templates`: Kubernetes objects of kind Pod or ConfigMap. The rest of
/// each object is Kubernetes' business (podman validates it), so only `kind` is checked here.
fn check_k8s_list(c: &mut Checker, path: &str, v: &Value) {
    let Some(items) = as_list(c, path, v) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(m) = as_map(c, &p, item) else {
            continue;
        };
        let kp = child(&p, "kind");
        match m.get("kind") {
            None => c.fail(
                &kp,
                "required key is missing (must be `Pod` or `ConfigMap`)",
            ),
            Some(Value::String(k)) if k == "Pod" || k == "ConfigMap" => {}
            Some(_) => c.fail(&kp, "must be `Pod` or `ConfigMap`"),
        }
    }
}

fn check_images(c: &mut Checker, path: &str, v: &Value) {
    object(
        c,
        path,
        v,
        &[
            opt("dct", &|c, p, v| {
                map_of(
                    c,
                    p,
                    v,
                    &is_dct_image,
                    "an image name `registry/namespace/name` without tag",
                    &|c, p, v| {
                        object(
                            c,
                            p,
                            v,
                            &[
                                req("notary", &|c, p, v| {
                                    string_rule(
                                        c,
                                        p,
                                        v,
                                        &is_uri,
                                        "must be a URI (e.g. https://notary.docker.io)",
                                    )
                                }),
                                req("publicKey", &base64_string),
                            ],
                        );
                    },
                )
            }),
            opt("rhs", &|c, p, v| {
                map_of(
                    c,
                    p,
                    v,
                    &is_rhs_image,
                    "an image reference `host.domain/path[:tag][@sha256:digest]`",
                    &|c, p, v| {
                        object(c, p, v, &[req("publicKey", &base64_string)]);
                    },
                )
            }),
        ],
    );
}

fn check_workload_volumes(c: &mut Checker, path: &str, v: &Value) {
    map_of(
        c,
        path,
        v,
        &is_volume_name,
        "a volume name matching ^[a-z_][a-z0-9-_]*$",
        &|c, p, v| {
            object(
                c,
                p,
                v,
                &[
                    req("seed", &seed),
                    opt("mount", &|c, p, v| {
                        string_rule(c, p, v, &is_mount, "must be an absolute path like /mnt/data (no empty segments, no trailing /)")
                    }),
                    opt("filesystem", &|c, p, v| {
                        string_rule(
                            c,
                            p,
                            v,
                            &|s| matches!(s, "xfs" | "ext4" | "btrfs"),
                            "must be one of xfs, ext4, btrfs",
                        )
                    }),
                    opt("previousSeed", &seed),
                ],
            );
        },
    );
}

// ---------------------------------------------------------------------------------------
// env
// ---------------------------------------------------------------------------------------

fn check_env(c: &mut Checker, v: &Value) {
    let root = "env";
    if v.is_null() {
        c.fail(root, "section is empty: expected a map with `type: env`");
        return;
    }
    object(
        c,
        root,
        v,
        &[
            req("type", &check_type("env")),
            req("logging", &check_logging),
            opt("volumes", &check_env_volumes),
            opt("env", &check_env_vars),
            opt("auths", &check_auths),
            opt("cacerts", &check_cacerts),
            opt("signingKey", &check_signing_key),
            // Present in schema 1.0.116 for the confidential-containers runtime.
            opt("confidential-containers", &any_map),
        ],
    );
}

fn check_logging(c: &mut Checker, path: &str, v: &Value) {
    let hostname = |c: &mut Checker, p: &str, v: &Value| {
        string_rule(c, p, v, &is_hostname, "must be a host name or IPv4 address")
    };
    let Some(m) = object(
        c,
        path,
        v,
        &[
            opt("logRouter", &|c, p, v| {
                object(
                    c,
                    p,
                    v,
                    &[
                        req("hostname", &hostname),
                        req("iamApiKey", &min_len(1)),
                        opt("port", &port),
                    ],
                );
            }),
            opt("syslog", &|c, p, v| {
                object(
                    c,
                    p,
                    v,
                    &[
                        req("hostname", &hostname),
                        req("server", &|c, p, v| {
                            string_rule(
                                c,
                                p,
                                v,
                                &|s| is_pem_many(s, &|l| l == "CERTIFICATE") || is_base64_text(s),
                                "must be PEM CA certificate(s) or base64 of them",
                            )
                        }),
                        opt("port", &port),
                        opt("cert", &|c, p, v| {
                            string_rule(
                                c,
                                p,
                                v,
                                &|s| is_pem_one(s, &|l| l == "CERTIFICATE") || is_base64_text(s),
                                "must be a PEM certificate or base64 of it",
                            )
                        }),
                        opt("key", &check_syslog_key),
                    ],
                );
            }),
        ],
    ) else {
        return;
    };
    exactly_one(c, path, m, &["logRouter", "syslog"]);
}

fn check_syslog_key(c: &mut Checker, path: &str, v: &Value) {
    let Some(s) = as_str(c, path, v) else {
        return;
    };
    if is_pem_one(s, &is_private_key_label) || is_base64_text(s) {
        return;
    }
    if is_legacy_encrypted_pem(s) {
        // The schema's `privkey` body admits no headers, and the guest has no passphrase to
        // open such a key with.
        c.fail(
            path,
            "must be an unencrypted PEM private key or base64 of it: this key has \
             Proc-Type/DEK-Info encryption headers, which the schema does not accept and the \
             guest could not decrypt",
        );
    } else {
        c.fail(path, "must be a PEM private key or base64 of it");
    }
}

fn check_env_volumes(c: &mut Checker, path: &str, v: &Value) {
    map_of(
        c,
        path,
        v,
        &is_volume_name,
        "a volume name matching ^[a-z_][a-z0-9-_]*$",
        &check_env_volume,
    );
}

fn check_env_volume(c: &mut Checker, path: &str, v: &Value) {
    let uv_id = |c: &mut Checker, p: &str, v: &Value| {
        string_rule(c, p, v, &is_uv_secret_id, "must be index-1 … index-8")
    };
    let Some(m) = object(
        c,
        path,
        v,
        &[
            opt("seed", &seed),
            opt("uv-secret-id", &uv_id),
            opt("previousSeed", &seed),
            opt("uv-previous-secret-id", &uv_id),
            opt("kms", &check_kms),
            opt("grep11", &check_grep11),
            opt("kmsTimeout", &|c, p, v| integer_in(c, p, v, 0, 20)),
            opt("apiKey", &min_len(10)),
            opt("volumeName", &min_len(1)),
            opt("volumeID", &min_len(3)),
        ],
    ) else {
        return;
    };
    exactly_one(c, path, m, &["seed", "uv-secret-id"]);
    // The schema's `if: {required: [uv-previous-secret-id]} then: {required: [uv-secret-id]}`:
    // the previous UV secret is only meaningful when rotating from one UV secret to another.
    if m.contains_key("uv-previous-secret-id") && !m.contains_key("uv-secret-id") {
        c.fail(
            &child(path, "uv-previous-secret-id"),
            "needs `uv-secret-id` next to it (the schema requires uv-secret-id whenever \
             uv-previous-secret-id is set)",
        );
    }
}

fn check_kms(c: &mut Checker, path: &str, v: &Value) {
    let Some(items) = as_list(c, path, v) else {
        return;
    };
    if items.is_empty() || items.len() > 5 {
        c.fail(
            path,
            format!("must list 1 to 5 key services, found {}", items.len()),
        );
    }
    for (i, item) in items.iter().enumerate() {
        object(
            c,
            &format!("{path}[{i}]"),
            item,
            &[
                req("apiKey", &min_len(10)),
                req("crn", &|c, p, v| {
                    string_rule(c, p, v, &is_key_crn, "must be a root key CRN crn:v1:(bluemix|staging):(public|dedicated|local):<service>:<location>:<scope>:<instance>:key:<id>")
                }),
                opt("type", &|c, p, v| {
                    string_rule(
                        c,
                        p,
                        v,
                        &|s| matches!(s, "public" | "private"),
                        "must be `public` or `private`",
                    )
                }),
            ],
        );
    }
}

fn check_grep11(c: &mut Checker, path: &str, v: &Value) {
    let material = |c: &mut Checker, p: &str, v: &Value| {
        string_rule(
            c,
            p,
            v,
            &|s| is_base64_material(s, false),
            "must be base64 (A-Z a-z 0-9 + / =)",
        )
    };
    let masked = |c: &mut Checker, p: &str, v: &Value| {
        string_rule(
            c,
            p,
            v,
            &|s| is_base64_material(s, true),
            "must be base64 (A-Z a-z 0-9 + / =) or a run of `*`",
        )
    };
    object(
        c,
        path,
        v,
        &[
            req("address", &|c, p, v| {
                string_rule(c, p, v, &is_grep11_address, "must be host:port")
            }),
            req("clientCert", &material),
            req("clientKey", &material),
            req("caCert", &material),
            req("metadata", &|c, p, v| {
                object(
                    c,
                    p,
                    v,
                    &[
                        req("aesKeyBlob", &masked),
                        opt("previousaesKeyBlob", &masked),
                    ],
                );
            }),
        ],
    );
}

fn check_cacerts(c: &mut Checker, path: &str, v: &Value) {
    let Some(items) = as_list(c, path, v) else {
        return;
    };
    if items.len() > 1 {
        c.fail(
            path,
            format!("at most 1 entry is allowed, found {}", items.len()),
        );
    }
    for (i, item) in items.iter().enumerate() {
        map_of(
            c,
            &format!("{path}[{i}]"),
            item,
            // The schema's name pattern `^[a-zA-Z0-9]*` has no `$`, so every name matches.
            &|_| true,
            "any name",
            &|c, p, v| {
                string_rule(
                    c,
                    p,
                    v,
                    &is_archive,
                    "must be base64 of a CA certificate (at least 4 characters)",
                )
            },
        );
    }
}

fn check_signing_key(c: &mut Checker, path: &str, v: &Value) {
    string_rule(
        c,
        path,
        v,
        &|s| {
            is_pem_one(s, &|l| l == "PUBLIC KEY")
                || is_pem_one(s, &|l| l == "CERTIFICATE")
                || is_base64_text(s)
        },
        "must be a PEM public key, a PEM certificate, or base64 of either",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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

    // ---------------------------------------------------------------- workload: valid

    #[test]
    fn minimal_workloads_are_valid() {
        expect_ok(SectionKind::Workload, COMPOSE_MIN);
        expect_ok(
            SectionKind::Workload,
            "type: workload\nplay:\n  archive: H4sIAAAA\n",
        );
        expect_ok(
            SectionKind::Workload,
            "type: workload\nconfidential-containers: {}\n",
        );
    }

    #[test]
    fn full_workload_is_valid() {
        let yaml = format!(
            r#"type: workload
play:
  resources:
    - apiVersion: v1
      kind: Pod
      metadata:
        name: busybox
      spec:
        containers:
          - name: main
            image: us.icr.io/ns/busybox@sha256:732efa374f1e6c964caeacab0bcb370385ee386041a14d4a32176462e3f75c7b
    - apiVersion: v1
      kind: ConfigMap
      data:
        key: value
  templates:
    - apiVersion: v1
      kind: Pod
      metadata:
        name: templated
  archive: H4sIAAAA
auths:
  us.icr.io:
    username: iamapikey
    password: RegistryPassSecret1
  "https://index.docker.io/v1/":
    username: dockeruser
    password: DockerPassSecret2
  10.0.0.5:5000:
    username: local
    password: LocalPassSecret3
images:
  dct:
    us.icr.io/myns/app:
      notary: https://notary.us.icr.io
      publicKey: {PUBKEY_B64}
  rhs:
    "us.icr.io/myns/app:latest":
      publicKey: {PUBKEY_B64}
volumes:
  data_vol-1:
    seed: WorkloadSeedSecret123
    mount: /mnt/data
    filesystem: xfs
    previousSeed: "Old!Workload#Seed$123"
env:
  LOG_LEVEL: debug
  _private2: "x"
"#
        );
        expect_ok(SectionKind::Workload, &yaml);
    }

    #[test]
    fn a_yaml_map_value_and_a_literal_string_are_accepted() {
        let map: Value = serde_yaml_ng::from_str(COMPOSE_MIN).unwrap();
        assert_eq!(validate_value(SectionKind::Workload, &map), Ok(()));
        let literal = Value::String(COMPOSE_MIN.to_string());
        assert_eq!(validate_value(SectionKind::Workload, &literal), Ok(()));
        let bad = Value::String("type: env\n".to_string());
        let v = validate_value(SectionKind::Workload, &bad).unwrap_err();
        assert!(v.iter().any(|v| v.path == "workload.type"));
    }

    // ---------------------------------------------------------------- workload: each rule

    #[test]
    fn workload_type_is_required_and_constant() {
        expect_one(
            SectionKind::Workload,
            "compose:\n  archive: H4sIAAAA\n",
            "workload.type",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            "type: env\ncompose:\n  archive: H4sIAAAA\n",
            "workload.type",
            "must be `workload`",
        );
    }

    #[test]
    fn workload_needs_exactly_one_runtime() {
        expect_one(
            SectionKind::Workload,
            "type: workload\n",
            "workload",
            "found none",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: H4sIAAAA\nplay:\n  archive: H4sIAAAA\n",
            "workload",
            "found compose and play",
        );
    }

    #[test]
    fn compose_rules() {
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose: {}\n",
            "workload.compose.archive",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: H4sIAAAA\n  file: x\n",
            "workload.compose.file",
            "unknown key (allowed here: archive)",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: \"H4s IAAAA\"\n",
            "workload.compose.archive",
            "base64 tar.gz",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: H4s\n",
            "workload.compose.archive",
            "at least 4",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: H4sI====\n",
            "workload.compose.archive",
            "base64 tar.gz",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose: H4sIAAAA\n",
            "workload.compose",
            "must be a map, found a string",
        );
    }

    #[test]
    fn play_rules() {
        expect_one(
            SectionKind::Workload,
            "type: workload\nplay:\n  archive: H4sIAAAA\n  pods: []\n",
            "workload.play.pods",
            "unknown key",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\nplay:\n  resources:\n    - kind: Pod\n    - kind: Deployment\n",
            "workload.play.resources[1].kind",
            "must be `Pod` or `ConfigMap`",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\nplay:\n  templates:\n    - metadata: {}\n",
            "workload.play.templates[0].kind",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\nplay:\n  resources:\n    kind: Pod\n",
            "workload.play.resources",
            "must be a list",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\nplay:\n  resources:\n    - just-a-string\n",
            "workload.play.resources[0]",
            "must be a map",
        );
    }

    #[test]
    fn auths_rules() {
        expect_one(
            SectionKind::Workload,
            &workload_with(
                "auths:\n  us.icr.io:\n    username: ab\n    password: RegistryPassSecret1\n",
            ),
            "workload.auths[\"us.icr.io\"].username",
            "at least 3 characters",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("auths:\n  us.icr.io:\n    username: iamapikey\n"),
            "workload.auths[\"us.icr.io\"].password",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("auths:\n  \"not a host\":\n    username: iamapikey\n    password: RegistryPassSecret1\n"),
            "workload.auths[\"not a host\"]",
            "invalid key: must be a registry host name",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("auths:\n  us.icr.io:\n    username: iamapikey\n    password: RegistryPassSecret1\n    email: a@b.c\n"),
            "workload.auths[\"us.icr.io\"].email",
            "unknown key",
        );
    }

    #[test]
    fn images_rules() {
        let dct = |body: &str| {
            workload_with(&format!(
                "images:\n  dct:\n    us.icr.io/myns/app:\n{}",
                indent(body, 6)
            ))
        };
        expect_one(
            SectionKind::Workload,
            &dct(&format!("publicKey: {PUBKEY_B64}")),
            "workload.images.dct[\"us.icr.io/myns/app\"].notary",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            "type: workload\ncompose:\n  archive: H4sIAAAA\nimages:\n  dct:\n    us.icr.io/myns/app:\n      notary: https://notary.us.icr.io\n",
            "workload.images.dct[\"us.icr.io/myns/app\"].publicKey",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            &dct(&format!("notary: not a uri\npublicKey: {PUBKEY_B64}")),
            "workload.images.dct[\"us.icr.io/myns/app\"].notary",
            "must be a URI",
        );
        expect_one(
            SectionKind::Workload,
            &dct("notary: https://notary.us.icr.io\npublicKey: \"%%not-base64%%\""),
            "workload.images.dct[\"us.icr.io/myns/app\"].publicKey",
            "must be base64",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with(&format!("images:\n  dct:\n    app:latest:\n      notary: https://n.io\n      publicKey: {PUBKEY_B64}\n")),
            "workload.images.dct[\"app:latest\"]",
            "registry/namespace/name",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("images:\n  rhs:\n    us.icr.io/myns/app: {}\n"),
            "workload.images.rhs[\"us.icr.io/myns/app\"].publicKey",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("images:\n  cosign: {}\n"),
            "workload.images.cosign",
            "unknown key (allowed here: dct, rhs)",
        );
    }

    #[test]
    fn workload_volume_rules() {
        let vol = |body: &str| workload_with(&format!("volumes:\n  data:\n{}", indent(body, 4)));
        expect_one(
            SectionKind::Workload,
            &vol("mount: /mnt/data"),
            "workload.volumes.data.seed",
            "required key is missing",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: tooShortSeedZ"),
            "workload.volumes.data.seed",
            "at least 15 characters",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: \"has spaces in the seed value\""),
            "workload.volumes.data.seed",
            "at least 15 characters",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: WorkloadSeedSecret123\nmount: /mnt/data/"),
            "workload.volumes.data.mount",
            "absolute path",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: WorkloadSeedSecret123\nmount: mnt/data"),
            "workload.volumes.data.mount",
            "absolute path",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: WorkloadSeedSecret123\nfilesystem: zfs"),
            "workload.volumes.data.filesystem",
            "xfs, ext4, btrfs",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: WorkloadSeedSecret123\npreviousSeed: shortPrevSeed"),
            "workload.volumes.data.previousSeed",
            "at least 15 characters",
        );
        expect_one(
            SectionKind::Workload,
            &vol("seed: WorkloadSeedSecret123\nsize: 10"),
            "workload.volumes.data.size",
            "unknown key",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("volumes:\n  Data:\n    seed: WorkloadSeedSecret123\n"),
            "workload.volumes.Data",
            "^[a-z_][a-z0-9-_]*$",
        );
    }

    #[test]
    fn env_variable_rules() {
        expect_one(
            SectionKind::Workload,
            &workload_with("env:\n  1BAD: x\n"),
            "workload.env.1BAD",
            "variable name",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("env:\n  PORT: 8080\n"),
            "workload.env.PORT",
            "must be a string, found a number",
        );
        expect_one(
            SectionKind::Env,
            &env_with("env:\n  \"A-B\": x\n"),
            "env.env.A-B",
            "variable name",
        );
    }

    #[test]
    fn unknown_keys_are_errors_everywhere() {
        expect_one(
            SectionKind::Workload,
            &workload_with("extra: 1\n"),
            "workload.extra",
            "unknown key",
        );
        expect_one(
            SectionKind::Env,
            &env_with("logDNA: {}\n"),
            "env.logDNA",
            "unknown key",
        );
        expect_one(
            SectionKind::Env,
            "type: env\nlogging:\n  logDNA:\n    hostname: a.b\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n",
            "env.logging.logDNA",
            "unknown key (allowed here: logRouter, syslog)",
        );
        expect_one(
            SectionKind::Workload,
            &workload_with("7: seven\n"),
            "workload",
            "keys must be strings",
        );
    }

    // ---------------------------------------------------------------- env: valid

    #[test]
    fn minimal_env_is_valid() {
        expect_ok(SectionKind::Env, ENV_MIN);
        expect_ok(
            SectionKind::Env,
            &format!("type: env\nlogging:\n  syslog:\n    hostname: syslog.example.com\n    server: |\n{}", indent(CERT_PEM, 6)),
        );
    }

    #[test]
    fn full_env_is_valid() {
        let yaml = format!(
            r#"type: env
logging:
  syslog:
    hostname: 10.1.2.3
    port: 6514
    server: |
{server}    cert: {cert_b64}
    key: |
{key}volumes:
  data:
    seed: "EnvSeed!Secret#4567"
    previousSeed: OldEnvSeedSecret99
    kms:
      - apiKey: KmsApiKeySecret1
        crn: "crn:v1:bluemix:public:hs-crypto:us-south:a/b3c:cbe0caff-cfb6:key:795b174c-d6dd"
        type: private
      - apiKey: KmsApiKeySecret2
        crn: "crn:v1:staging:dedicated:kms:eu-de:a/1:2:key:3"
    kmsTimeout: 20
    apiKey: VolApiKeySecret
    volumeName: vol1
    volumeID: "0726-451ebc10"
  other:
    uv-secret-id: index-8
    uv-previous-secret-id: index-1
    grep11:
      address: grep11.example.com:9876
      clientCert: QkFTRTY0X0RBVEE=
      clientKey: QkFTRTY0X0RBVEE=
      caCert: QkFTRTY0X0RBVEE=
      metadata:
        aesKeyBlob: "*****"
        previousaesKeyBlob: QkFTRTY0X0RBVEE=
env:
  REGISTRY: us.icr.io
auths:
  us.icr.io:
    username: iamapikey
    password: RegistryPassSecret1
cacerts:
  - myca: {cert_b64}
signingKey: "{pub_escaped}"
"#,
            server = indent(CERT_PEM, 6),
            key = indent(KEY_PEM, 6),
            cert_b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM),
            pub_escaped = PUBKEY_PEM.replace('\n', "\\n"),
        );
        expect_ok(SectionKind::Env, &yaml);
        // logRouter with a port, and signingKey as a certificate or as base64.
        expect_ok(
            SectionKind::Env,
            &format!(
                "type: env\nlogging:\n  logRouter:\n    hostname: abc.logs.cloud.ibm.com\n    iamApiKey: IamKeySecret0001\n    port: 443\nsigningKey: |\n{}",
                indent(CERT_PEM, 2)
            ),
        );
        expect_ok(
            SectionKind::Env,
            &env_with(&format!(
                "signingKey: {}\n",
                base64::engine::general_purpose::STANDARD.encode(PUBKEY_PEM)
            )),
        );
    }

    // ---------------------------------------------------------------- env: each rule

    #[test]
    fn env_type_and_logging_are_required() {
        expect_one(
            SectionKind::Env,
            "logging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n",
            "env.type",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            "type: workload\nlogging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n",
            "env.type",
            "must be `env`",
        );
        expect_one(
            SectionKind::Env,
            "type: env\n",
            "env.logging",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            "type: env\nlogging: {}\n",
            "env.logging",
            "found none",
        );
        expect_one(
            SectionKind::Env,
            &format!("type: env\nlogging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n  syslog:\n    hostname: a.b\n    server: {}\n",
                base64::engine::general_purpose::STANDARD.encode(CERT_PEM)),
            "env.logging",
            "found logRouter and syslog",
        );
    }

    #[test]
    fn log_router_rules() {
        let lr = |body: &str| format!("type: env\nlogging:\n  logRouter:\n{}", indent(body, 4));
        expect_one(
            SectionKind::Env,
            &lr("hostname: a.b"),
            "env.logging.logRouter.iamApiKey",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            &lr("iamApiKey: IamKeySecret0001"),
            "env.logging.logRouter.hostname",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            &lr("hostname: \"bad host\"\niamApiKey: IamKeySecret0001"),
            "env.logging.logRouter.hostname",
            "host name",
        );
        expect_one(
            SectionKind::Env,
            &lr("hostname: a.b\niamApiKey: IamKeySecret0001\nport: \"443\""),
            "env.logging.logRouter.port",
            "whole number from 1 to 65535, found a string",
        );
        expect_one(
            SectionKind::Env,
            &lr("hostname: a.b\niamApiKey: IamKeySecret0001\nport: 70000"),
            "env.logging.logRouter.port",
            "whole number from 1 to 65535",
        );
    }

    #[test]
    fn syslog_rules() {
        let sl = |body: &str| format!("type: env\nlogging:\n  syslog:\n{}", indent(body, 4));
        expect_one(
            SectionKind::Env,
            &sl("hostname: a.b"),
            "env.logging.syslog.server",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            &sl("hostname: a.b\nserver: \"not a certificate!\""),
            "env.logging.syslog.server",
            "PEM CA certificate",
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM);
        expect_one(
            SectionKind::Env,
            &sl(&format!("hostname: a.b\nserver: {b64}\nkey: \"-----BEGIN PUBLIC KEY-----\\nQUJD\\n-----END PUBLIC KEY-----\"")),
            "env.logging.syslog.key",
            "PEM private key",
        );
        expect_one(
            SectionKind::Env,
            &sl(&format!("hostname: a.b\nserver: {b64}\ncert: \"??\"")),
            "env.logging.syslog.cert",
            "PEM certificate",
        );
        expect_one(
            SectionKind::Env,
            &sl(&format!("hostname: a.b\nserver: {b64}\ntls: true")),
            "env.logging.syslog.tls",
            "unknown key",
        );
    }

    #[test]
    fn env_volume_rules() {
        let vol = |body: &str| env_with(&format!("volumes:\n  data:\n{}", indent(body, 4)));
        expect_one(
            SectionKind::Env,
            &vol("volumeName: v1"),
            "env.volumes.data",
            "exactly one of `seed`, `uv-secret-id` is required, found none",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nuv-secret-id: index-1"),
            "env.volumes.data",
            "found seed and uv-secret-id",
        );
        expect_one(
            SectionKind::Env,
            &vol("uv-secret-id: index-9"),
            "env.volumes.data.uv-secret-id",
            "index-1",
        );
        expect_one(
            SectionKind::Env,
            &vol("uv-secret-id: index-1\nuv-previous-secret-id: index-0"),
            "env.volumes.data.uv-previous-secret-id",
            "index-1",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: shortEnvSeed"),
            "env.volumes.data.seed",
            "at least 15",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkms: []"),
            "env.volumes.data.kms",
            "1 to 5",
        );
        let six = (0..6)
            .map(|i| format!("  - apiKey: KmsApiKeySecret{i}\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\"\n"))
            .collect::<String>();
        expect_one(
            SectionKind::Env,
            &vol(&format!("seed: EnvSeedSecret45678\nkms:\n{six}")),
            "env.volumes.data.kms",
            "found 6",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KeyZZ987\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\""),
            "env.volumes.data.kms[0].apiKey",
            "at least 10",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KmsApiKeySecret1\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:secret:3\""),
            "env.volumes.data.kms[0].crn",
            "root key CRN",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KmsApiKeySecret1\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\"\n    type: internal"),
            "env.volumes.data.kms[0].type",
            "`public` or `private`",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkms:\n  - crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\""),
            "env.volumes.data.kms[0].apiKey",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkmsTimeout: 21"),
            "env.volumes.data.kmsTimeout",
            "0 to 20",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nkmsTimeout: -1"),
            "env.volumes.data.kmsTimeout",
            "0 to 20",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\napiKey: ShortKey"),
            "env.volumes.data.apiKey",
            "at least 10",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nvolumeID: ab"),
            "env.volumes.data.volumeID",
            "at least 3",
        );
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nmount: /mnt/data"),
            "env.volumes.data.mount",
            "unknown key",
        );
    }

    #[test]
    fn grep11_rules() {
        let g = |body: &str| {
            env_with(&format!(
                "volumes:\n  data:\n    uv-secret-id: index-2\n    grep11:\n{}",
                indent(body, 6)
            ))
        };
        let full = "address: grep11.example.com:9876\nclientCert: QUJD\nclientKey: QUJD\ncaCert: QUJD\nmetadata:\n  aesKeyBlob: QUJD";
        expect_ok(SectionKind::Env, &g(full));
        expect_one(
            SectionKind::Env,
            &g(&full.replace("grep11.example.com:9876", "grep11.example.com")),
            "env.volumes.data.grep11.address",
            "host:port",
        );
        expect_one(
            SectionKind::Env,
            &g(&full.replace("clientKey: QUJD\n", "")),
            "env.volumes.data.grep11.clientKey",
            "required key is missing",
        );
        expect_one(
            SectionKind::Env,
            &g(&full.replace("caCert: QUJD", "caCert: \"Q U\"")),
            "env.volumes.data.grep11.caCert",
            "must be base64",
        );
        expect_one(
            SectionKind::Env,
            &g(&full.replace("aesKeyBlob: QUJD", "previousaesKeyBlob: QUJD")),
            "env.volumes.data.grep11.metadata.aesKeyBlob",
            "required key is missing",
        );
    }

    #[test]
    fn cacerts_and_signing_key_rules() {
        expect_one(
            SectionKind::Env,
            &env_with("cacerts:\n  - a: QUJDRA==\n  - b: QUJDRA==\n"),
            "env.cacerts",
            "at most 1",
        );
        expect_one(
            SectionKind::Env,
            &env_with("cacerts:\n  - a: \"not base64!\"\n"),
            "env.cacerts[0].a",
            "base64",
        );
        expect_one(
            SectionKind::Env,
            &env_with("signingKey: \"not a key!\"\n"),
            "env.signingKey",
            "PEM public key, a PEM certificate, or base64",
        );
        expect_one(
            SectionKind::Env,
            &env_with(&format!("signingKey: |\n{}", indent(KEY_PEM, 2))),
            "env.signingKey",
            "PEM public key",
        );
    }

    // ---------------------------------------------------------------- schema 1.0.116 alignment

    #[test]
    fn registry_hosts_follow_the_schema_pattern() {
        let auths = |host: &str| {
            workload_with(&format!(
                "auths:\n  \"{host}\":\n    username: iamapikey\n    password: RegistryPassSecret1\n"
            ))
        };
        for good in [
            "us.icr.io",
            "localhost",
            "localhost:5000",
            "a",
            "registry-1.example.com:443",
            "10.0.0.5",
            "255.255.255.255:5000",
            "0.0.0.0",
            "https://index.docker.io/v1/",
        ] {
            expect_ok(SectionKind::Workload, &auths(good));
        }
        for bad in [
            "1registry.example.com",
            "registry.1example.com",
            "registry.example.com.",
            "-registry.example.com",
            "registry-.example.com",
            "registry.example.com:",
            "registry.example.com:port",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "https://index.docker.io/v2/",
            "us.icr.io/ns",
        ] {
            expect_one(
                SectionKind::Workload,
                &auths(bad),
                &format!("workload.auths[{bad:?}]"),
                "invalid key: must be a registry host name",
            );
        }
        // Same rule in env.auths.
        expect_one(
            SectionKind::Env,
            &env_with("auths:\n  1registry.example.com:\n    username: iamapikey\n    password: RegistryPassSecret1\n"),
            "env.auths[\"1registry.example.com\"]",
            "registry host name",
        );
    }

    #[test]
    fn legacy_encrypted_syslog_keys_are_rejected_with_a_clear_message() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM);
        let sl = |key: &str| {
            format!(
                "type: env\nlogging:\n  syslog:\n    hostname: a.b\n    server: {b64}\n    key: |\n{}",
                indent(key, 6)
            )
        };
        let secret_body = "MIIBszCCAVmgAwIBAgIUQ2FmZQ==";
        let encrypted = format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\n{secret_body}\n-----END RSA PRIVATE KEY-----\n"
        );
        expect_one(
            SectionKind::Env,
            &sl(&encrypted),
            "env.logging.syslog.key",
            "Proc-Type/DEK-Info",
        );
        let v = violations(SectionKind::Env, &sl(&encrypted));
        assert!(!v[0].message.contains(secret_body), "{v:?}");
        // Unencrypted forms of the schema's `privkey`: bare, one-word qualifier, PKCS#8
        // `ENCRYPTED PRIVATE KEY` (the pattern admits it), and base64.
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let pem = format!("-----BEGIN {label}-----\n{secret_body}\n-----END {label}-----\n");
            expect_ok(SectionKind::Env, &sl(&pem));
        }
        // Base64 as a plain scalar: a `|` block would add a newline after the padding, which
        // the schema's base64 pattern does not allow.
        let key_b64 = base64::engine::general_purpose::STANDARD.encode(KEY_PEM);
        expect_ok(
            SectionKind::Env,
            &format!("type: env\nlogging:\n  syslog:\n    hostname: a.b\n    server: {b64}\n    key: {key_b64}\n"),
        );
        // Two-word qualifiers and lowercase labels are outside `(?:[A-Z]+\s+)?PRIVATE KEY`.
        for label in ["OPENSSH RSA PRIVATE KEY", "rsa PRIVATE KEY"] {
            let pem = format!("-----BEGIN {label}-----\n{secret_body}\n-----END {label}-----\n");
            expect_one(
                SectionKind::Env,
                &sl(&pem),
                "env.logging.syslog.key",
                "must be a PEM private key",
            );
        }
    }

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
    fn uv_previous_secret_id_needs_uv_secret_id() {
        let vol = |body: &str| env_with(&format!("volumes:\n  data:\n{}", indent(body, 4)));
        expect_one(
            SectionKind::Env,
            &vol("seed: EnvSeedSecret45678\nuv-previous-secret-id: index-2"),
            "env.volumes.data.uv-previous-secret-id",
            "needs `uv-secret-id`",
        );
        expect_ok(
            SectionKind::Env,
            &vol("uv-secret-id: index-1\nuv-previous-secret-id: index-2"),
        );
        // Neither seed nor uv-secret-id: the one-of rule and the dependency both fail.
        let v = violations(SectionKind::Env, &vol("uv-previous-secret-id: index-2"));
        let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(
            paths,
            ["env.volumes.data", "env.volumes.data.uv-previous-secret-id"],
            "{v:#?}"
        );
    }

    #[test]
    fn cacerts_names_are_free_as_the_schema_pattern_is_unanchored() {
        for name in ["my-ca.pem", "ca", "\"\"", "\"CA cert #1\"", "_x"] {
            expect_ok(
                SectionKind::Env,
                &env_with(&format!("cacerts:\n  - {name}: QUJDRA==\n")),
            );
        }
        // The value rule still applies under any name.
        expect_one(
            SectionKind::Env,
            &env_with("cacerts:\n  - my-ca.pem: \"not base64!\"\n"),
            "env.cacerts[0][\"my-ca.pem\"]",
            "base64",
        );
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

    // ---------------------------------------------------------------- reporting

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

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

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
                    proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                        .prop_map(|entries| {
                            let mut m = Mapping::new();
                            for (k, v) in entries {
                                m.insert(Value::String(k.to_string()), v);
                            }
                            Value::Mapping(m)
                        }),
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
    }
}
