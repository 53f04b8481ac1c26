//! Validation of the `workload` section against the contract schema: compose, play or
//! confidential-containers, image signing keys (dct/rhs), registry auths and volumes.

use serde_yaml_ng::{Mapping, Value};

use super::patterns::{DCT_IMAGE, RHS_IMAGE};
use super::schema::{
    as_map, as_seq, as_str, check_archive, check_auths, check_base64, check_env_vars, check_key,
    check_seed, check_type, check_volume_name, entries, exactly_one, join, only_keys, required,
    schema,
};
use super::Reject;

pub(super) fn check_images(v: &Value, path: &str) -> Result<(), Reject> {
    let m = as_map(v, path)?;
    only_keys(m, path, &["dct", "rhs"])?;
    if let Some(dct) = m.get("dct") {
        let dp = join(path, "dct");
        for (image, spec) in entries(as_map(dct, &dp)?, &dp)? {
            check_key(
                image,
                &dp,
                &DCT_IMAGE,
                "an image name host/namespace/name (no tag)",
            )?;
            let ip = join(&dp, image);
            let spec = as_map(spec, &ip)?;
            only_keys(spec, &ip, &["notary", "publicKey"])?;
            let np = join(&ip, "notary");
            if !is_uri(as_str(required(spec, &ip, "notary")?, &np)?) {
                return Err(schema(np, "must be a URI (RFC 3986, with a scheme)"));
            }
            check_base64(required(spec, &ip, "publicKey")?, &join(&ip, "publicKey"))?;
        }
    }
    if let Some(rhs) = m.get("rhs") {
        let rp = join(path, "rhs");
        for (image, spec) in entries(as_map(rhs, &rp)?, &rp)? {
            check_key(
                image,
                &rp,
                &RHS_IMAGE,
                "an image reference host.domain/path[:tag][@sha256:digest]",
            )?;
            let ip = join(&rp, image);
            let spec = as_map(spec, &ip)?;
            only_keys(spec, &ip, &["publicKey"])?;
            check_base64(required(spec, &ip, "publicKey")?, &join(&ip, "publicKey"))?;
        }
    }
    Ok(())
}

/// `format: uri`: an RFC 3986 URI, which always has a scheme (`https://…`, `urn:…`). Only the
/// URI character set is checked beyond the scheme; `%` must start a hex escape.
pub(super) fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if !allowed {
            return false;
        }
        i += 1;
    }
    scheme_ok
}

/// `play.resources` / `play.templates`: each item is a Kubernetes `Pod` or `ConfigMap` (the
/// schema's `oneOf`; an item without `kind` matches both and so neither).
pub(super) fn check_k8s_items(v: &Value, path: &str) -> Result<(), Reject> {
    for (i, item) in as_seq(v, path)?.iter().enumerate() {
        let ip = format!("{path}[{i}]");
        let kp = join(&ip, "kind");
        match as_map(item, &ip)?.get("kind") {
            Some(Value::String(k)) if k == "Pod" || k == "ConfigMap" => {}
            Some(_) => return Err(schema(kp, "must be Pod or ConfigMap")),
            None => {
                return Err(schema(
                    kp,
                    "required property is missing (must be Pod or ConfigMap)",
                ))
            }
        }
    }
    Ok(())
}

/// Validates the workload section; returns which kind of workload it runs.
pub(super) fn validate_workload(m: &Mapping) -> Result<&'static str, Reject> {
    let path = "workload";
    only_keys(
        m,
        path,
        &[
            "type",
            "compose",
            "play",
            "confidential-containers",
            "auths",
            "images",
            "volumes",
            "env",
        ],
    )?;
    check_type(m, path, "workload")?;
    let which = exactly_one(m, path, &["compose", "play", "confidential-containers"])?;
    let wp = join(path, which);
    let spec = as_map(required(m, path, which)?, &wp)?;
    match which {
        "compose" => {
            only_keys(spec, &wp, &["archive"])?;
            check_archive(required(spec, &wp, "archive")?, &join(&wp, "archive"))?;
        }
        "play" => {
            // No `required` and no `oneOf` here in the schema: any combination, even none.
            only_keys(spec, &wp, &["resources", "templates", "archive"])?;
            for list in ["resources", "templates"] {
                if let Some(v) = spec.get(list) {
                    check_k8s_items(v, &join(&wp, list))?;
                }
            }
            if let Some(a) = spec.get("archive") {
                check_archive(a, &join(&wp, "archive"))?;
            }
        }
        _ => {}
    }
    if let Some(v) = m.get("auths") {
        check_auths(v, &join(path, "auths"))?;
    }
    if let Some(v) = m.get("images") {
        check_images(v, &join(path, "images"))?;
    }
    if let Some(v) = m.get("env") {
        check_env_vars(v, &join(path, "env"))?;
    }
    if let Some(v) = m.get("volumes") {
        let vp = join(path, "volumes");
        for (name, vol) in entries(as_map(v, &vp)?, &vp)? {
            let np = join(&vp, name);
            check_volume_name(name, &vp)?;
            let vol = as_map(vol, &np)?;
            only_keys(vol, &np, &["seed", "mount", "filesystem", "previousSeed"])?;
            check_seed(required(vol, &np, "seed")?, &join(&np, "seed"))?;
            if let Some(p) = vol.get("previousSeed") {
                check_seed(p, &join(&np, "previousSeed"))?;
            }
            if let Some(mount) = vol.get("mount") {
                let mp = join(&np, "mount");
                let mount = as_str(mount, &mp)?;
                let ok = mount.starts_with('/') && mount[1..].split('/').all(|c| !c.is_empty());
                if !ok {
                    return Err(schema(mp, "must be an absolute path matching ^(/[^/]+)+$"));
                }
            }
            if let Some(fs) = vol.get("filesystem") {
                let fp = join(&np, "filesystem");
                if !matches!(as_str(fs, &fp)?, "xfs" | "ext4" | "btrfs") {
                    return Err(schema(fp, "must be one of xfs, ext4, btrfs"));
                }
            }
        }
    }
    Ok(match which {
        "compose" => "compose",
        "play" => "play",
        _ => "confidential-containers",
    })
}
