//! Rules of the `env` section: logging (log router, syslog), volumes (seeds, UV secrets,
//! KMS, GREP11), env variables, registry auths, CA certificates and the signing key.

use serde_yaml_ng::Value;

use super::checker::{
    any_map, as_list, as_str, child, exactly_one, integer_in, map_of, min_len, object, opt, port,
    req, string_rule, Checker,
};
use super::formats::{
    is_archive, is_base64_material, is_base64_text, is_grep11_address, is_hostname, is_key_crn,
    is_legacy_encrypted_pem, is_pem_many, is_pem_one, is_private_key_label, is_uv_secret_id,
    is_volume_name,
};
use super::shared::{check_auths, check_env_vars, check_type, seed};

pub(super) fn check_env(c: &mut Checker, v: &Value) {
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
