//! The regular expressions of the published contract schema (1.0.116), compiled on first
//! use, spelled with the ASCII classes RE2 gives `\d`/`\s`.

use regex::Regex;
use std::sync::OnceLock;

use super::Reject;

/// A pattern from the published schema, compiled on first use.
pub(super) struct Pattern {
    pub(super) source: &'static str,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: OnceLock::new(),
        }
    }

    pub(super) fn is_match(&self, s: &str) -> Result<bool, Reject> {
        self.compiled
            .get_or_init(|| Regex::new(self.source).ok())
            .as_ref()
            .map(|r| r.is_match(s))
            .ok_or_else(|| {
                Reject::Internal(format!("schema pattern {:?} does not compile", self.source))
            })
    }
}

/// RE2's `\s`: `[\t\n\f\r ]` (no vertical tab, no Unicode spaces).
macro_rules! ws {
    () => {
        r"[\t\n\f\r ]"
    };
}

/// The schema's base64 body: groups of 4, whitespace allowed after each, padded tail.
macro_rules! b64_body {
    () => {
        concat!(
            r"(?:[A-Za-z0-9+/]{4}",
            ws!(),
            r"*)*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?"
        )
    };
}

/// `base64cert` (syslog server/cert/key given as base64).
pub(super) static BASE64_CERT: Pattern = Pattern::new(concat!("^", b64_body!(), "$"));
/// `cacertificate` (syslog server): one or more PEM certificates.
pub(super) static PEM_CA_CERTS: Pattern = Pattern::new(concat!(
    "^(-----BEGIN CERTIFICATE-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END CERTIFICATE-----",
    ws!(),
    "*)+$"
));
/// `certificate` (syslog cert): exactly one PEM certificate.
pub(super) static PEM_CERT: Pattern = Pattern::new(concat!(
    "^-----BEGIN CERTIFICATE-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END CERTIFICATE-----",
    ws!(),
    "*$"
));
/// `privkey` (syslog key): `PRIVATE KEY`, optionally qualified (`RSA`, `EC`, `ENCRYPTED`).
pub(super) static PEM_PRIVATE_KEY: Pattern = Pattern::new(concat!(
    "^-----BEGIN (?:[A-Z]+",
    ws!(),
    "+)?PRIVATE KEY-----",
    ws!(),
    "+",
    b64_body!(),
    ws!(),
    "+-----END (?:[A-Z]+",
    ws!(),
    "+)?PRIVATE KEY-----",
    ws!(),
    "*$"
));
/// `auths` keys: a registry host name (labels start with a letter) or IPv4 address, each
/// with an optional port, or Docker Hub's legacy key.
pub(super) static REGISTRY_KEY: Pattern = Pattern::new(concat!(
    r"^(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])(:[0-9]+)?$",
    r"|^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(:[0-9]+)?$",
    r"|^(https://index\.docker\.io/v1/)$"
));
/// `images.dct` keys: `host/namespace/name`, no tag.
pub(super) static DCT_IMAGE: Pattern = Pattern::new(
    r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])/[a-z0-9_-]{3,30}/[a-z0-9_-]{2,255}$",
);
/// `images.rhs` keys: `host.domain/path[:tag][@sha256:digest]`.
pub(super) static RHS_IMAGE: Pattern = Pattern::new(
    r"^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]{0,61}[a-zA-Z0-9]))+(/[a-z0-9_-]+)+(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{2,127})?(@sha256:[a-f0-9]{64})?$",
);
/// `kms[].crn`: a root key CRN.
pub(super) static KEY_CRN: Pattern = Pattern::new(
    r"^crn:(v[0-9]+):(bluemix|staging):(public|dedicated|local):([^:]+):([^:]+):([^:]+):([^:]+):key:(.+)$",
);
/// `grep11.address`: `host:port` or `IPv4:port`.
pub(super) static GREP11_ADDRESS: Pattern = Pattern::new(
    r"^((([a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+)|((25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3})):[0-9]{1,5}$",
);
/// `base64Material` (GREP11 certificates and keys).
pub(super) static BASE64_MATERIAL: Pattern = Pattern::new(r"^[A-Za-z0-9+/=]+$");
/// `base64MaterialOrMasked`: the AES key blobs, which the guest overwrites with `*`s.
pub(super) static BASE64_MATERIAL_OR_MASKED: Pattern = Pattern::new(r"^([A-Za-z0-9+/=]+|\*+)$");
/// Volume names, in `workload.volumes` and `env.volumes`.
pub(super) static VOLUME_NAME: Pattern = Pattern::new(r"^[a-z_][a-z0-9_-]*$");

/// Every pattern, so a test can prove they all compile.
#[cfg(test)]
pub(super) static ALL_PATTERNS: &[&Pattern] = &[
    &BASE64_CERT,
    &PEM_CA_CERTS,
    &PEM_CERT,
    &PEM_PRIVATE_KEY,
    &REGISTRY_KEY,
    &DCT_IMAGE,
    &RHS_IMAGE,
    &KEY_CRN,
    &GREP11_ADDRESS,
    &BASE64_MATERIAL,
    &BASE64_MATERIAL_OR_MASKED,
    &VOLUME_NAME,
];
