//! `envWorkloadSignature` checked with `env.signingKey` (a public key or a certificate), and
//! the contract expiry a certificate `signingKey` carries.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;

use super::schema::as_str;
use super::section::Section;
use super::token::verify_sha256;
use super::Reject;

/// PEM text from a value that is PEM (possibly with literal `\n` escapes) or base64 of PEM.
pub(super) fn pem_from_text(s: &str) -> Result<Vec<u8>, String> {
    let unescaped = s.replace("\\n", "\n");
    let t = unescaped.trim();
    if t.starts_with("-----BEGIN") {
        return Ok(t.as_bytes().to_vec());
    }
    let compact: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = B64
        .decode(compact)
        .map_err(|_| "is neither PEM nor base64 of PEM".to_string())?;
    let text =
        String::from_utf8(decoded).map_err(|_| "base64 does not decode to PEM text".to_string())?;
    let text = text.replace("\\n", "\n");
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        Ok(t.as_bytes().to_vec())
    } else {
        Err("base64 does not decode to PEM text".into())
    }
}

pub(super) struct SigningKey {
    key: PKey<Public>,
    cert: Option<X509>,
}

pub(super) fn signing_key(s: &str) -> Result<SigningKey, Reject> {
    let pem = pem_from_text(s).map_err(Reject::SigningKey)?;
    let has = |marker: &str| pem.windows(marker.len()).any(|w| w == marker.as_bytes());
    let parsed = if has("-----BEGIN CERTIFICATE-----") {
        let cert = X509::from_pem(&pem)
            .map_err(|_| Reject::SigningKey("the PEM certificate does not parse".into()))?;
        let key = cert.public_key().map_err(|_| {
            Reject::SigningKey("the certificate's public key does not parse".into())
        })?;
        SigningKey {
            key,
            cert: Some(cert),
        }
    } else if has("-----BEGIN PUBLIC KEY-----") {
        let key = PKey::public_key_from_pem(&pem)
            .map_err(|_| Reject::SigningKey("the PEM public key does not parse".into()))?;
        SigningKey { key, cert: None }
    } else {
        return Err(Reject::SigningKey(
            "PEM must be a PUBLIC KEY or a CERTIFICATE".into(),
        ));
    };
    if parsed.key.rsa().is_err() {
        return Err(Reject::SigningKey("must be an RSA key".into()));
    }
    Ok(parsed)
}

pub(super) fn asn1_to_datetime(t: &Asn1TimeRef) -> Option<time::OffsetDateTime> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    let secs = i64::from(d.days) * 86_400 + i64::from(d.secs);
    time::OffsetDateTime::from_unix_timestamp(secs).ok()
}

pub(super) fn show_time(t: &Asn1TimeRef) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    asn1_to_datetime(t)
        .and_then(|d| d.format(&fmt).ok())
        .unwrap_or_else(|| t.to_string())
}

pub(super) fn check_signature(
    workload: &Section,
    env: &Section,
    signature: Option<&str>,
    now: time::OffsetDateTime,
    console: &mut Vec<String>,
) -> Result<(), Reject> {
    let Some(sk) = env.doc.get("signingKey") else {
        if signature.is_some() {
            console.push(
                "# WARNING: envWorkloadSignature present without env.signingKey, not checked"
                    .into(),
            );
        }
        return Ok(());
    };
    let sk = signing_key(as_str(sk, "env.signingKey")?)?;
    if let Some(cert) = &sk.cert {
        let now_asn1 = Asn1Time::from_unix(now.unix_timestamp())
            .map_err(|e| Reject::Internal(format!("clock: {e}")))?;
        if cert.not_after() < now_asn1 {
            return Err(Reject::Expired(show_time(cert.not_after())));
        }
        if cert.not_before() > now_asn1 {
            return Err(Reject::NotYetValid(show_time(cert.not_before())));
        }
    }
    let signature = signature.ok_or_else(|| {
        Reject::Signature(
            "missing, but env.signingKey is set: a signed contract needs envWorkloadSignature"
                .into(),
        )
    })?;
    let compact: String = signature.chars().filter(|c| !c.is_whitespace()).collect();
    let sig = B64
        .decode(compact)
        .map_err(|_| Reject::Signature("is not valid base64".into()))?;
    let (Some(w), Some(e)) = (workload.raw.as_str(), env.raw.as_str()) else {
        return Err(Reject::Signature(
            "workload and env must be strings (encrypted tokens or literal blocks) in a signed \
             contract; a YAML-map section has no value string to sign"
                .into(),
        ));
    };
    let exact = format!("{w}{e}");
    let mut ok = verify_sha256(&sk.key, exact.as_bytes(), &sig);
    if !ok && exact.contains(['\r', '\n']) {
        let stripped: String = exact.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        ok = verify_sha256(&sk.key, stripped.as_bytes(), &sig);
    }
    if !ok {
        return Err(Reject::Signature(
            "does not verify with env.signingKey over the workload value followed by the env \
             value (sections changed after signing, or signed with another key)"
                .into(),
        ));
    }
    console.push("# envWorkloadSignature verified with env.signingKey".into());
    if let Some(cert) = &sk.cert {
        console.push(format!(
            "# contract expires on {}",
            show_time(cert.not_after())
        ));
    }
    Ok(())
}
