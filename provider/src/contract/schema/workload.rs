//! Rules of the `workload` section: runtime (compose, play, confidential containers),
//! registry auths, image signing keys, volumes and env variables.

use serde_yaml_ng::Value;

use super::checker::{
    any_map, as_list, as_map, child, exactly_one, map_of, object, opt, req, string_rule, Checker,
};
use super::formats::{is_dct_image, is_mount, is_rhs_image, is_uri, is_volume_name};
use super::shared::{archive, base64_string, check_auths, check_env_vars, check_type, seed};

pub(super) fn check_workload(c: &mut Checker, v: &Value) {
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
