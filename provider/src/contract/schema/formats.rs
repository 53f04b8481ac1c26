//! String-format predicates: hand-written equivalents of the schema's patterns and formats
//! (names, seeds, host names, image references, base64, PEM, URIs, CRNs).

use base64::Engine as _;

/// `^[A-Za-z_][A-Za-z0-9_]*$`
pub(super) fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `^[a-z_][a-z0-9-_]*$`
pub(super) fn is_volume_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `^[a-zA-Z0-9!@#$%^&*(),.?":{}|<>_-]{15,}$`
pub(super) fn is_seed(s: &str) -> bool {
    s.chars().count() >= 15
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@#$%^&*(),.?\":{}|<>_-".contains(c))
}

pub(super) const SEED_RULE: &str =
    "must be at least 15 characters, each a letter, digit or one of !@#$%^&*(),.?\":{}|<>_-";

/// `^(/[^/]+)+$`
pub(super) fn is_mount(s: &str) -> bool {
    s.len() > 1 && s.starts_with('/') && s[1..].split('/').all(|seg| !seg.is_empty())
}

/// `^index-[1-8]$`
pub(super) fn is_uv_secret_id(s: &str) -> bool {
    matches!(s.strip_prefix("index-"), Some(d) if d.len() == 1 && ('1'..='8').contains(&d.chars().next().unwrap_or('0')))
}

/// DNS host name (RFC 1123 labels) or IPv4 address.
pub(super) fn is_hostname(s: &str) -> bool {
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
pub(super) fn is_grep11_address(s: &str) -> bool {
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
pub(super) fn is_registry_key(s: &str) -> bool {
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
pub(super) fn is_dct_image(s: &str) -> bool {
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
pub(super) fn is_rhs_image(s: &str) -> bool {
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
pub(super) fn is_base64(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    !compact.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .is_ok()
}

/// The schema's archive pattern `^[-A-Za-z0-9+/]*={0,3}$`, minLength 4.
pub(super) fn is_archive(s: &str) -> bool {
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
pub(super) fn is_b64_body(s: &str) -> bool {
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
pub(super) fn is_base64_text(s: &str) -> bool {
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
pub(super) fn is_pem_one(s: &str, label_ok: &dyn Fn(&str) -> bool) -> bool {
    pem_block(s, label_ok).is_some_and(str::is_empty)
}

/// One or more PEM blocks (the schema's `cacertificate`).
pub(super) fn is_pem_many(s: &str, label_ok: &dyn Fn(&str) -> bool) -> bool {
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
pub(super) fn is_private_key_label(label: &str) -> bool {
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
pub(super) fn is_legacy_encrypted_pem(s: &str) -> bool {
    s.contains("Proc-Type:") || s.contains("DEK-Info:")
}

/// The schema's `format: uri`: an RFC 3986 URI, so a scheme (letter, then letters, digits,
/// `+ - .`), `:`, then only URI characters (`%` starting a two-digit hex escape). The part
/// after the scheme may be empty (`hier-part` can be `path-empty`).
pub(super) fn is_uri(s: &str) -> bool {
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
pub(super) fn is_key_crn(s: &str) -> bool {
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
pub(super) fn is_base64_material(s: &str, masked_ok: bool) -> bool {
    (!s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        || (masked_ok && !s.is_empty() && s.chars().all(|c| c == '*'))
}
