//! Validation of the `env` section against the contract schema: logging (logRouter or
//! syslog), volumes with seeds, KMS or GREP11, env values, auths, CA certificates.

use serde_yaml_ng::{Mapping, Value};

use super::patterns::{
    BASE64_CERT, BASE64_MATERIAL, BASE64_MATERIAL_OR_MASKED, GREP11_ADDRESS, KEY_CRN, PEM_CA_CERTS,
    PEM_CERT, PEM_PRIVATE_KEY,
};
use super::schema::{
    as_map, as_seq, as_str, check_archive_like, check_auths, check_env_vars, check_pattern,
    check_seed, check_type, check_volume_name, entries, exactly_one, join, only_keys, required,
    schema,
};
use super::Reject;

pub(super) fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub(super) fn check_port(m: &Mapping, path: &str) -> Result<Option<u64>, Reject> {
    let Some(v) = m.get("port") else {
        return Ok(None);
    };
    let port = match v {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match port {
        Some(p @ 1..=65535) => Ok(Some(p)),
        _ => Err(schema(
            join(path, "port"),
            "must be an integer port (1-65535)",
        )),
    }
}

/// Validates the env section; returns where logging goes (host and port, no credentials).
pub(super) fn validate_env(m: &Mapping) -> Result<String, Reject> {
    let path = "env";
    only_keys(
        m,
        path,
        &[
            "type",
            "logging",
            "volumes",
            "signingKey",
            "env",
            "auths",
            "cacerts",
            // Listed (as any map) in schema 1.0.116 for the confidential-containers runtime.
            "confidential-containers",
        ],
    )?;
    check_type(m, path, "env")?;
    if let Some(v) = m.get("confidential-containers") {
        as_map(v, &join(path, "confidential-containers"))?;
    }
    let lp = join(path, "logging");
    let logging = as_map(required(m, path, "logging")?, &lp)?;
    only_keys(logging, &lp, &["logRouter", "syslog"])?;
    let which = exactly_one(logging, &lp, &["logRouter", "syslog"])?;
    let tp = join(&lp, which);
    let target = as_map(required(logging, &lp, which)?, &tp)?;
    if which == "logRouter" {
        only_keys(target, &tp, &["iamApiKey", "hostname", "port"])?;
        let kp = join(&tp, "iamApiKey");
        if as_str(required(target, &tp, "iamApiKey")?, &kp)?.is_empty() {
            return Err(schema(kp, "must not be empty"));
        }
    } else {
        only_keys(target, &tp, &["hostname", "server", "port", "cert", "key"])?;
        let sp = join(&tp, "server");
        let server = required(target, &tp, "server")?;
        if as_str(server, &sp)?.trim().is_empty() {
            return Err(schema(sp, "must hold the server's CA certificate(s)"));
        }
        check_pattern(
            server,
            &sp,
            &[&PEM_CA_CERTS, &BASE64_CERT],
            "must be PEM CA certificate(s) or base64",
        )?;
        if let Some(v) = target.get("cert") {
            check_pattern(
                v,
                &join(&tp, "cert"),
                &[&PEM_CERT, &BASE64_CERT],
                "must be a PEM certificate or base64",
            )?;
        }
        if let Some(v) = target.get("key") {
            check_pattern(
                v,
                &join(&tp, "key"),
                &[&PEM_PRIVATE_KEY, &BASE64_CERT],
                "must be a PEM private key or base64",
            )?;
        }
    }
    let hp = join(&tp, "hostname");
    let hostname = as_str(required(target, &tp, "hostname")?, &hp)?;
    if !is_hostname(hostname) {
        return Err(schema(hp, "must be a hostname"));
    }
    let port = check_port(target, &tp)?;
    let logging_target = if which == "logRouter" {
        format!("https://{hostname}:{}/logs/ingest", port.unwrap_or(443))
    } else {
        format!("syslog://{hostname}:{}", port.unwrap_or(514))
    };

    if let Some(v) = m.get("volumes") {
        let vp = join(path, "volumes");
        for (name, vol) in entries(as_map(v, &vp)?, &vp)? {
            check_volume_name(name, &vp)?;
            check_env_volume(vol, &join(&vp, name))?;
        }
    }
    if let Some(v) = m.get("env") {
        check_env_vars(v, &join(path, "env"))?;
    }
    if let Some(v) = m.get("auths") {
        check_auths(v, &join(path, "auths"))?;
    }
    if let Some(v) = m.get("cacerts") {
        let cp = join(path, "cacerts");
        let items = as_seq(v, &cp)?;
        if items.len() > 1 {
            return Err(schema(cp, "must hold at most 1 entry"));
        }
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{cp}[{i}]");
            // The schema's key pattern `^[a-zA-Z0-9]*` is unanchored at the end, so it
            // matches every name: only the values are checked.
            for (name, cert) in entries(as_map(item, &ip)?, &ip)? {
                check_archive_like(cert, &join(&ip, name), "a CA certificate")?;
            }
        }
    }
    if let Some(v) = m.get("signingKey") {
        as_str(v, &join(path, "signingKey"))?;
    }
    Ok(logging_target)
}

/// `^index-[1-8]$`
pub(super) fn check_uv_secret_id(v: &Value, path: &str) -> Result<(), Reject> {
    let id = as_str(v, path)?;
    if !matches!(
        id.strip_prefix("index-"),
        Some("1" | "2" | "3" | "4" | "5" | "6" | "7" | "8")
    ) {
        return Err(schema(path, "must match ^index-[1-8]$"));
    }
    Ok(())
}

pub(super) fn check_min_chars(v: &Value, path: &str, min: usize) -> Result<(), Reject> {
    if as_str(v, path)?.chars().count() < min {
        return Err(schema(path, format!("must be at least {min} characters")));
    }
    Ok(())
}

/// One `env.volumes.<name>` entry (the schema's `envVolume`).
pub(super) fn check_env_volume(v: &Value, np: &str) -> Result<(), Reject> {
    let vol = as_map(v, np)?;
    only_keys(
        vol,
        np,
        &[
            "seed",
            "uv-secret-id",
            "previousSeed",
            "uv-previous-secret-id",
            "kms",
            "grep11",
            "kmsTimeout",
            "apiKey",
            "volumeName",
            "volumeID",
        ],
    )?;
    match exactly_one(vol, np, &["seed", "uv-secret-id"])? {
        "seed" => check_seed(required(vol, np, "seed")?, &join(np, "seed"))?,
        _ => check_uv_secret_id(
            required(vol, np, "uv-secret-id")?,
            &join(np, "uv-secret-id"),
        )?,
    }
    if let Some(p) = vol.get("previousSeed") {
        check_seed(p, &join(np, "previousSeed"))?;
    }
    if let Some(p) = vol.get("uv-previous-secret-id") {
        let pp = join(np, "uv-previous-secret-id");
        check_uv_secret_id(p, &pp)?;
        // The schema's `if uv-previous-secret-id then uv-secret-id`.
        if !vol.contains_key("uv-secret-id") {
            return Err(schema(pp, "needs uv-secret-id next to it"));
        }
    }
    if let Some(t) = vol.get("kmsTimeout") {
        let tp = join(np, "kmsTimeout");
        let ok = matches!(t, Value::Number(n) if n.as_u64().is_some_and(|n| n <= 20));
        if !ok {
            return Err(schema(tp, "must be an integer from 0 to 20"));
        }
    }
    for (key, min) in [("apiKey", 10), ("volumeName", 1), ("volumeID", 3)] {
        if let Some(x) = vol.get(key) {
            check_min_chars(x, &join(np, key), min)?;
        }
    }
    if let Some(kms) = vol.get("kms") {
        let kp = join(np, "kms");
        let list = as_seq(kms, &kp)?;
        if list.is_empty() || list.len() > 5 {
            return Err(schema(kp, "must hold 1 to 5 entries"));
        }
        for (i, entry) in list.iter().enumerate() {
            let ep = format!("{kp}[{i}]");
            let e = as_map(entry, &ep)?;
            only_keys(e, &ep, &["apiKey", "crn", "type"])?;
            check_min_chars(required(e, &ep, "apiKey")?, &join(&ep, "apiKey"), 10)?;
            check_pattern(
                required(e, &ep, "crn")?,
                &join(&ep, "crn"),
                &[&KEY_CRN],
                "must be a root key CRN crn:v<n>:(bluemix|staging):(public|dedicated|local):<service>:<location>:<scope>:<instance>:key:<id>",
            )?;
            let tp = join(&ep, "type");
            if let Some(t) = e.get("type") {
                if !matches!(as_str(t, &tp)?, "public" | "private") {
                    return Err(schema(tp, "must be public or private"));
                }
            }
        }
    }
    if let Some(g) = vol.get("grep11") {
        check_grep11(g, &join(np, "grep11"))?;
    }
    Ok(())
}

/// `grep11` (the schema's `grep11Endpoint`): an HPCS GREP11 server that unwraps the AES key
/// blob protecting the volume.
pub(super) fn check_grep11(v: &Value, gp: &str) -> Result<(), Reject> {
    let g = as_map(v, gp)?;
    const FIELDS: [&str; 5] = ["address", "clientCert", "clientKey", "caCert", "metadata"];
    only_keys(g, gp, &FIELDS)?;
    for field in FIELDS {
        required(g, gp, field)?;
    }
    check_pattern(
        required(g, gp, "address")?,
        &join(gp, "address"),
        &[&GREP11_ADDRESS],
        "must be host:port or IPv4:port",
    )?;
    for field in ["clientCert", "clientKey", "caCert"] {
        check_pattern(
            required(g, gp, field)?,
            &join(gp, field),
            &[&BASE64_MATERIAL],
            "must be base64 (A-Z a-z 0-9 + / =)",
        )?;
    }
    let mp = join(gp, "metadata");
    let meta = as_map(required(g, gp, "metadata")?, &mp)?;
    only_keys(meta, &mp, &["aesKeyBlob", "previousaesKeyBlob"])?;
    required(meta, &mp, "aesKeyBlob")?;
    for field in ["aesKeyBlob", "previousaesKeyBlob"] {
        if let Some(blob) = meta.get(field) {
            check_pattern(
                blob,
                &join(&mp, field),
                &[&BASE64_MATERIAL_OR_MASKED],
                "must be base64 (A-Z a-z 0-9 + / =) or a run of *",
            )?;
        }
    }
    Ok(())
}
