//! Tests of the `workload` section rules (plus the rules it shares with `env`: env variables,
//! unknown keys, registry hosts).

use serde_yaml_ng::Value;

use super::*;
use crate::contract::schema::validate_value;

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
