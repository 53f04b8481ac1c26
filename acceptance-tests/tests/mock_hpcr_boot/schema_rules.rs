//! Schema 1.0.116 rules, one test each: the broken form is refused at its YAML path (without
//! echoing the value), the matching valid form boots.

use std::fs;

use acceptance_tests::mock_cloud::hpcr::boot;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::contract::{assert_accepted, assert_rejected, now, user_data, WORKLOAD};
use crate::fixture::fixture;
use crate::openssl_cli::{encrypt, ossl};

/// `user_data` with both sections as literal (`|`) plaintext blocks.
fn literal_user_data(workload: &str, env: &str) -> String {
    let block = |t: &str| t.lines().map(|l| format!("  {l}\n")).collect::<String>();
    format!("workload: |\n{}env: |\n{}", block(workload), block(env))
}

/// `key: |` followed by `text` indented to `indent` spaces, for multi-line PEM values.
fn yaml_block(key: &str, text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut s = format!("{pad}{key}: |\n");
    for l in text.trim_end().lines() {
        s.push_str(&format!("{pad}  {l}\n"));
    }
    s
}

/// Each broken `(workload, env)` is rejected with reason `schema: <path>: …` (and nothing
/// of its values on the console); each valid pair boots.
fn check_rule(broken: &[(String, String, &str)], valid: &[(String, String)]) {
    let f = fixture();
    for (workload, env, path) in broken {
        let r = boot(&literal_user_data(workload, env), &f.pki, now());
        let reason = assert_rejected(&r, &[]);
        assert!(
            reason.starts_with(&format!("schema: {path}: ")),
            "expected schema: {path}: …, got {reason:?}"
        );
    }
    for (workload, env) in valid {
        assert_accepted(&boot(&literal_user_data(workload, env), &f.pki, now()));
    }
}

const LOGROUTER_ENV: &str = "type: env
logging:
  logRouter:
    hostname: logs.eu-gb.logging.cloud.ibm.com
    iamApiKey: iam-api-key-Sup3rSecret
";

/// An env logging to syslog with the given extra `syslog:` lines.
fn syslog_env(lines: &str) -> String {
    format!("type: env\nlogging:\n  syslog:\n    hostname: syslog.example.com\n{lines}")
}

fn pki_pem(name: &str) -> String {
    fs::read_to_string(fixture().dir.join("pki").join(name)).unwrap()
}

#[test]
fn syslog_server_must_be_pem_ca_certificates_or_base64() {
    let root = pki_pem("root.crt");
    let bundle = format!("{root}{}", pki_pem("intermediate.crt"));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.server";
    check_rule(
        &[
            (
                w(),
                syslog_env("    server: not a certificate Sup3rSecret\n"),
                path,
            ),
            // A private key is not a CA certificate, and a PEM key is not base64 either.
            (
                w(),
                syslog_env(&yaml_block(
                    "server",
                    &fs::read_to_string(fixture().file("other.key")).unwrap(),
                    4,
                )),
                path,
            ),
            (
                w(),
                syslog_env(&yaml_block(
                    "server",
                    &root.replace("CERTIFICATE", "CERT"),
                    4,
                )),
                path,
            ),
        ],
        &[
            (w(), syslog_env(&yaml_block("server", &root, 4))),
            (w(), syslog_env(&yaml_block("server", &bundle, 4))),
            (
                w(),
                syslog_env(&format!("    server: {}\n", B64.encode(&bundle))),
            ),
        ],
    );
    let r = boot(
        &literal_user_data(WORKLOAD, &syslog_env(&yaml_block("server", &root, 4))),
        &fixture().pki,
        now(),
    );
    assert!(r.console.iter().any(|l| l
        == "hpcr-logging[1124]: Sending logging probe to [syslog://syslog.example.com:514] ..."));
}

#[test]
fn syslog_cert_must_be_one_pem_certificate_or_base64() {
    let root = pki_pem("root.crt");
    let server = format!("    server: {}\n", B64.encode(&root));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.cert";
    check_rule(
        &[
            (
                w(),
                syslog_env(&format!("{server}    cert: 'not pem! Sup3rSecret'\n")),
                path,
            ),
            // `cert` takes one certificate; only `server` takes a bundle.
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("cert", &format!("{root}{}", pki_pem("encryption.crt")), 4)
                )),
                path,
            ),
        ],
        &[
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("cert", &pki_pem("encryption.crt"), 4)
                )),
            ),
            (
                w(),
                syslog_env(&format!(
                    "{server}    cert: {}\n",
                    B64.encode(pki_pem("encryption.crt"))
                )),
            ),
        ],
    );
}

#[test]
fn syslog_key_must_be_a_pem_private_key_or_base64() {
    let f = fixture();
    let server = format!("    server: {}\n", B64.encode(pki_pem("root.crt")));
    let pkcs8 = fs::read_to_string(f.file("other.key")).unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let work = tempfile::tempdir().unwrap();
    let traditional = String::from_utf8(ossl(
        work.path(),
        &[
            "rsa",
            "-in",
            f.file("other.key").to_str().unwrap(),
            "-traditional",
        ],
        None,
    ))
    .unwrap();
    assert!(traditional.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let w = || WORKLOAD.to_owned();
    let path = "env.logging.syslog.key";
    let bad_key = syslog_env(&format!("{server}    key: 'not pem! Sup3rSecret'\n"));
    check_rule(
        &[
            (w(), bad_key.clone(), path),
            // A certificate where the key belongs.
            (
                w(),
                syslog_env(&format!(
                    "{server}{}",
                    yaml_block("key", &pki_pem("root.crt"), 4)
                )),
                path,
            ),
        ],
        &[
            (
                w(),
                syslog_env(&format!("{server}{}", yaml_block("key", &pkcs8, 4))),
            ),
            (
                w(),
                syslog_env(&format!("{server}{}", yaml_block("key", &traditional, 4))),
            ),
            (
                w(),
                syslog_env(&format!("{server}    key: {}\n", B64.encode(&pkcs8))),
            ),
        ],
    );
    // Encrypted sections are validated after decryption, with the same reason.
    let ud = user_data(
        &encrypt(WORKLOAD, &f.enc_cert()),
        &encrypt(&bad_key, &f.enc_cert()),
        None,
        None,
    );
    let plain_reason = assert_rejected(
        &boot(&literal_user_data(WORKLOAD, &bad_key), &f.pki, now()),
        &[],
    );
    assert_eq!(
        assert_rejected(&boot(&ud, &f.pki, now()), &[path]),
        plain_reason
    );
}

#[test]
fn play_resources_and_templates_must_be_pods_or_config_maps() {
    let item = |kind: &str| {
        format!("    - apiVersion: v1\n      kind: {kind}\n      metadata:\n        name: x\n")
    };
    let play = |lists: &str| format!("type: workload\nplay:\n{lists}");
    let e = || LOGROUTER_ENV.to_owned();
    check_rule(
        &[
            (
                play(&format!(
                    "  resources:\n{}{}",
                    item("Pod"),
                    item("Deployment")
                )),
                e(),
                "workload.play.resources[1].kind",
            ),
            (
                play(&format!("  templates:\n{}", item("pod"))),
                e(),
                "workload.play.templates[0].kind",
            ),
            (
                play("  resources:\n    - apiVersion: v1\n      metadata:\n        name: x\n"),
                e(),
                "workload.play.resources[0].kind",
            ),
            (
                play("  resources:\n    - Pod\n"),
                e(),
                "workload.play.resources[0]",
            ),
        ],
        &[
            (
                play(&format!(
                    "  resources:\n{}{}",
                    item("Pod"),
                    item("ConfigMap")
                )),
                e(),
            ),
            (play(&format!("  templates:\n{}", item("ConfigMap"))), e()),
        ],
    );
}

#[test]
fn play_takes_any_combination_of_resources_templates_and_archive() {
    let pod = "    - apiVersion: v1\n      kind: Pod\n      metadata:\n        name: x\n";
    let e = || LOGROUTER_ENV.to_owned();
    check_rule(
        &[(
            "type: workload\nplay:\n  resources: []\n  compose: x\n".to_owned(),
            e(),
            "workload.play.compose",
        )],
        &[
            (
                format!("type: workload\nplay:\n  resources:\n{pod}  templates:\n{pod}  archive: QUJDRA==\n"),
                e(),
            ),
            ("type: workload\nplay: {}\n".to_owned(), e()),
        ],
    );
}

#[test]
fn auths_keys_must_be_registry_hosts() {
    let cred = "    username: iamapikey\n    password: registry-Sup3rSecret\n";
    let auths = |host: &str| format!("auths:\n  {host}:\n{cred}");
    let workload = |host: &str| format!("{WORKLOAD}{}", auths(host));
    let env = |host: &str| format!("{LOGROUTER_ENV}{}", auths(host));
    check_rule(
        &[
            (
                workload("not a host"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"not a host\"]",
            ),
            (
                workload("us.icr.io/namespace"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"us.icr.io/namespace\"]",
            ),
            (
                workload("'https://us.icr.io/v1/'"),
                LOGROUTER_ENV.into(),
                "workload.auths[\"https://us.icr.io/v1/\"]",
            ),
            (
                WORKLOAD.into(),
                env("1registry.example.com"),
                "env.auths[\"1registry.example.com\"]",
            ),
        ],
        &[
            (workload("us.icr.io"), env("de.icr.io")),
            (workload("localhost:5000"), env("'10.0.0.1:5000'")),
            (
                workload("'https://index.docker.io/v1/'"),
                LOGROUTER_ENV.into(),
            ),
        ],
    );
}

#[test]
fn dct_keys_must_be_image_names_and_public_keys_base64() {
    let key = B64.encode("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n");
    let dct = |image: &str, notary: &str, public_key: &str| {
        format!("{WORKLOAD}images:\n  dct:\n    {image}:\n      notary: {notary}\n      publicKey: {public_key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let notary = "https://notary.us.icr.io";
    check_rule(
        &[
            (
                dct("app:latest", notary, &key),
                e(),
                "workload.images.dct[\"app:latest\"]",
            ),
            (
                dct("us.icr.io/ns/app", notary, &key),
                e(),
                "workload.images.dct[\"us.icr.io/ns/app\"]",
            ),
            (
                dct("us.icr.io/myns/app", notary, "'not base64!'"),
                e(),
                "workload.images.dct[\"us.icr.io/myns/app\"].publicKey",
            ),
        ],
        &[(dct("us.icr.io/myns/app", notary, &key), e())],
    );
}

#[test]
fn dct_notary_is_any_uri_with_a_scheme() {
    let key = B64.encode("public key");
    let dct = |notary: &str| {
        format!("{WORKLOAD}images:\n  dct:\n    us.icr.io/myns/app:\n      notary: '{notary}'\n      publicKey: {key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let path = "workload.images.dct[\"us.icr.io/myns/app\"].notary";
    check_rule(
        &[
            (dct("not a uri"), e(), path),
            (dct("notary.us.icr.io"), e(), path),
            (dct("https://notary.us.icr.io/a b"), e(), path),
        ],
        &[
            (dct("https://notary.us.icr.io"), e()),
            (dct("urn:example:notary:us-south"), e()),
        ],
    );
}

#[test]
fn rhs_keys_must_be_image_references_and_public_keys_base64() {
    let key = B64.encode("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n");
    let rhs = |image: &str, public_key: &str| {
        format!("{WORKLOAD}images:\n  rhs:\n    {image}:\n      publicKey: {public_key}\n")
    };
    let e = || LOGROUTER_ENV.to_owned();
    let digest = "0123456789abcdef".repeat(4);
    check_rule(
        &[
            (
                rhs("us.icr.io/ns/app", "'not base64!'"),
                e(),
                "workload.images.rhs[\"us.icr.io/ns/app\"].publicKey",
            ),
            (
                rhs("localhost/app", &key),
                e(),
                "workload.images.rhs[\"localhost/app\"]",
            ),
        ],
        &[
            (rhs("us.icr.io/ns/app", &key), e()),
            (
                rhs(&format!("'us.icr.io/ns/app:v1.0@sha256:{digest}'"), &key),
                e(),
            ),
        ],
    );
}

#[test]
fn cacerts_values_must_be_base64() {
    let cacerts = |value: &str| format!("{LOGROUTER_ENV}cacerts:\n  - myca: {value}\n");
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[
            (
                w(),
                cacerts("'not base64! Sup3rSecret'"),
                "env.cacerts[0].myca",
            ),
            (w(), cacerts("QQ"), "env.cacerts[0].myca"),
            (
                w(),
                format!("{LOGROUTER_ENV}cacerts:\n  - QUJDRA==\n"),
                "env.cacerts[0]",
            ),
        ],
        &[
            (w(), cacerts(&B64.encode(pki_pem("root.crt")))),
            // The schema's name pattern `^[a-zA-Z0-9]*` is unanchored: any name is allowed.
            (
                w(),
                format!("{LOGROUTER_ENV}cacerts:\n  - my-ca.pem: QUJDRA==\n"),
            ),
        ],
    );
}

#[test]
fn env_volume_names_follow_the_volume_name_pattern() {
    let vol = |name: &str| {
        format!("{LOGROUTER_ENV}volumes:\n  {name}:\n    seed: env-seed-Sup3rSecret-0123\n")
    };
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[
            (w(), vol("Data"), "env.volumes.Data"),
            (w(), vol("1data"), "env.volumes.1data"),
            (w(), vol("'data.1'"), "env.volumes[\"data.1\"]"),
        ],
        &[(w(), vol("data")), (w(), vol("_data-1"))],
    );
}

#[test]
fn kms_crn_must_be_a_root_key_crn() {
    let crn = "crn:v1:bluemix:public:hs-crypto:us-south:a/0123abcd:0123-abcd:key:0123-4567";
    let kms = |crn: &str| {
        format!("{LOGROUTER_ENV}volumes:\n  data:\n    seed: env-seed-Sup3rSecret-0123\n    kms:\n      - apiKey: kms-api-key-Sup3rSecret\n        crn: '{crn}'\n")
    };
    let w = || WORKLOAD.to_owned();
    let path = "env.volumes.data.kms[0].crn";
    check_rule(
        &[
            (w(), kms(&crn.replace("bluemix", "nowhere")), path),
            (w(), kms(&crn.replace(":key:", ":secret:")), path),
            (w(), kms(&crn.replace(":us-south:", "::")), path),
            (w(), kms(&crn.replace("v1", "version1")), path),
        ],
        &[
            (w(), kms(crn)),
            (
                w(),
                kms(&crn
                    .replace("bluemix:public", "staging:dedicated")
                    .replace("v1", "v22")),
            ),
        ],
    );
}

#[test]
fn grep11_needs_address_certificates_key_and_metadata() {
    let fields = [
        ("address", "grep11.example.com:9876"),
        ("clientCert", "Q0VSVA=="),
        ("clientKey", "S0VZ"),
        ("caCert", "Q0E="),
    ];
    let grep11 = |skip: Option<&str>, overrides: &[(&str, &str)], metadata: &str| {
        let mut s =
            format!("{LOGROUTER_ENV}volumes:\n  data:\n    uv-secret-id: index-1\n    grep11:\n");
        for (k, v) in fields {
            if Some(k) == skip {
                continue;
            }
            let v = overrides
                .iter()
                .find(|(o, _)| *o == k)
                .map_or(v, |(_, o)| o);
            s.push_str(&format!("      {k}: '{v}'\n"));
        }
        s.push_str(metadata);
        s
    };
    let meta = "      metadata:\n        aesKeyBlob: Qk9MQg==\n";
    let w = || WORKLOAD.to_owned();
    let gp = "env.volumes.data.grep11";
    let mut broken: Vec<(String, String, String)> = fields
        .iter()
        .map(|(k, _)| (w(), grep11(Some(k), &[], meta), format!("{gp}.{k}")))
        .collect();
    broken.extend([
        (w(), grep11(None, &[], ""), format!("{gp}.metadata")),
        (
            w(),
            grep11(
                None,
                &[],
                "      metadata:\n        previousaesKeyBlob: Qk9MQg==\n",
            ),
            format!("{gp}.metadata.aesKeyBlob"),
        ),
        (
            w(),
            grep11(None, &[("address", "grep11.example.com")], meta),
            format!("{gp}.address"),
        ),
        (
            w(),
            grep11(None, &[("clientKey", "Sup3rSecret key!")], meta),
            format!("{gp}.clientKey"),
        ),
        (
            w(),
            grep11(None, &[], &format!("{meta}      extra: x\n")),
            format!("{gp}.extra"),
        ),
    ]);
    let broken: Vec<(String, String, &str)> = broken
        .iter()
        .map(|(w, e, p)| (w.clone(), e.clone(), p.as_str()))
        .collect();
    check_rule(
        &broken,
        &[
            (w(), grep11(None, &[], meta)),
            // The guest masks consumed blobs with `*`.
            (
                w(),
                grep11(
                    None,
                    &[("address", "192.168.1.100:9876")],
                    "      metadata:\n        aesKeyBlob: '****'\n        previousaesKeyBlob: UFJFVkJPTEI=\n",
                ),
            ),
        ],
    );
}

#[test]
fn env_confidential_containers_is_allowed_as_a_map() {
    let w = || WORKLOAD.to_owned();
    check_rule(
        &[(
            w(),
            format!("{LOGROUTER_ENV}confidential-containers: yes\n"),
            "env.confidential-containers",
        )],
        &[
            (
                w(),
                format!("{LOGROUTER_ENV}confidential-containers: {{}}\n"),
            ),
            (
                w(),
                format!("{LOGROUTER_ENV}confidential-containers:\n  initdata: x\n"),
            ),
        ],
    );
}
