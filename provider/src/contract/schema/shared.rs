//! Value rules both sections use: the section `type`, env variables, registry auths,
//! archives, volume seeds and base64 keys.

use serde_yaml_ng::Value;

use super::checker::{any_string, as_str, map_of, min_len, object, req, string_rule, Checker};
use super::formats::{is_archive, is_base64, is_env_name, is_registry_key, is_seed, SEED_RULE};

pub(super) fn check_type(expected: &'static str) -> impl Fn(&mut Checker, &str, &Value) {
    move |c: &mut Checker, path: &str, v: &Value| {
        if let Some(s) = as_str(c, path, v) {
            if s != expected {
                c.fail(path, format!("must be `{expected}`"));
            }
        }
    }
}

pub(super) fn check_env_vars(c: &mut Checker, path: &str, v: &Value) {
    map_of(
        c,
        path,
        v,
        &is_env_name,
        "a variable name matching ^[A-Za-z_][A-Za-z0-9_]*$",
        &any_string,
    );
}

pub(super) fn check_auths(c: &mut Checker, path: &str, v: &Value) {
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

pub(super) fn archive(c: &mut Checker, path: &str, v: &Value) {
    string_rule(
        c,
        path,
        v,
        &is_archive,
        "must be a base64 tar.gz archive (at least 4 characters of A-Z a-z 0-9 + / -, then up to 3 `=`)",
    );
}

pub(super) fn seed(c: &mut Checker, path: &str, v: &Value) {
    string_rule(c, path, v, &is_seed, SEED_RULE);
}

pub(super) fn base64_string(c: &mut Checker, path: &str, v: &Value) {
    string_rule(
        c,
        path,
        v,
        &is_base64,
        "must be base64 (standard alphabet, padded)",
    );
}
