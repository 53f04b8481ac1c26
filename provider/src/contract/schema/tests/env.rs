//! Tests of the `env` section rules: logging, volumes (KMS, GREP11, UV secrets), CA
//! certificates and the signing key.

use base64::Engine as _;

use super::*;

#[test]
fn minimal_env_is_valid() {
    expect_ok(SectionKind::Env, ENV_MIN);
    expect_ok(
        SectionKind::Env,
        &format!(
            "type: env\nlogging:\n  syslog:\n    hostname: syslog.example.com\n    server: |\n{}",
            indent(CERT_PEM, 6)
        ),
    );
}

#[test]
fn full_env_is_valid() {
    let yaml = format!(
        r#"type: env
logging:
  syslog:
    hostname: 10.1.2.3
    port: 6514
    server: |
{server}    cert: {cert_b64}
    key: |
{key}volumes:
  data:
    seed: "EnvSeed!Secret#4567"
    previousSeed: OldEnvSeedSecret99
    kms:
      - apiKey: KmsApiKeySecret1
        crn: "crn:v1:bluemix:public:hs-crypto:us-south:a/b3c:cbe0caff-cfb6:key:795b174c-d6dd"
        type: private
      - apiKey: KmsApiKeySecret2
        crn: "crn:v1:staging:dedicated:kms:eu-de:a/1:2:key:3"
    kmsTimeout: 20
    apiKey: VolApiKeySecret
    volumeName: vol1
    volumeID: "0726-451ebc10"
  other:
    uv-secret-id: index-8
    uv-previous-secret-id: index-1
    grep11:
      address: grep11.example.com:9876
      clientCert: QkFTRTY0X0RBVEE=
      clientKey: QkFTRTY0X0RBVEE=
      caCert: QkFTRTY0X0RBVEE=
      metadata:
        aesKeyBlob: "*****"
        previousaesKeyBlob: QkFTRTY0X0RBVEE=
env:
  REGISTRY: us.icr.io
auths:
  us.icr.io:
    username: iamapikey
    password: RegistryPassSecret1
cacerts:
  - myca: {cert_b64}
signingKey: "{pub_escaped}"
"#,
        server = indent(CERT_PEM, 6),
        key = indent(KEY_PEM, 6),
        cert_b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM),
        pub_escaped = PUBKEY_PEM.replace('\n', "\\n"),
    );
    expect_ok(SectionKind::Env, &yaml);
    // logRouter with a port, and signingKey as a certificate or as base64.
    expect_ok(
        SectionKind::Env,
        &format!(
            "type: env\nlogging:\n  logRouter:\n    hostname: abc.logs.cloud.ibm.com\n    iamApiKey: IamKeySecret0001\n    port: 443\nsigningKey: |\n{}",
            indent(CERT_PEM, 2)
        ),
    );
    expect_ok(
        SectionKind::Env,
        &env_with(&format!(
            "signingKey: {}\n",
            base64::engine::general_purpose::STANDARD.encode(PUBKEY_PEM)
        )),
    );
}

#[test]
fn env_type_and_logging_are_required() {
    expect_one(
        SectionKind::Env,
        "logging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n",
        "env.type",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        "type: workload\nlogging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n",
        "env.type",
        "must be `env`",
    );
    expect_one(
        SectionKind::Env,
        "type: env\n",
        "env.logging",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        "type: env\nlogging: {}\n",
        "env.logging",
        "found none",
    );
    expect_one(
        SectionKind::Env,
        &format!("type: env\nlogging:\n  logRouter:\n    hostname: a.b\n    iamApiKey: IamKeySecret0001\n  syslog:\n    hostname: a.b\n    server: {}\n",
            base64::engine::general_purpose::STANDARD.encode(CERT_PEM)),
        "env.logging",
        "found logRouter and syslog",
    );
}

#[test]
fn log_router_rules() {
    let lr = |body: &str| format!("type: env\nlogging:\n  logRouter:\n{}", indent(body, 4));
    expect_one(
        SectionKind::Env,
        &lr("hostname: a.b"),
        "env.logging.logRouter.iamApiKey",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        &lr("iamApiKey: IamKeySecret0001"),
        "env.logging.logRouter.hostname",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        &lr("hostname: \"bad host\"\niamApiKey: IamKeySecret0001"),
        "env.logging.logRouter.hostname",
        "host name",
    );
    expect_one(
        SectionKind::Env,
        &lr("hostname: a.b\niamApiKey: IamKeySecret0001\nport: \"443\""),
        "env.logging.logRouter.port",
        "whole number from 1 to 65535, found a string",
    );
    expect_one(
        SectionKind::Env,
        &lr("hostname: a.b\niamApiKey: IamKeySecret0001\nport: 70000"),
        "env.logging.logRouter.port",
        "whole number from 1 to 65535",
    );
}

#[test]
fn syslog_rules() {
    let sl = |body: &str| format!("type: env\nlogging:\n  syslog:\n{}", indent(body, 4));
    expect_one(
        SectionKind::Env,
        &sl("hostname: a.b"),
        "env.logging.syslog.server",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        &sl("hostname: a.b\nserver: \"not a certificate!\""),
        "env.logging.syslog.server",
        "PEM CA certificate",
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM);
    expect_one(
        SectionKind::Env,
        &sl(&format!("hostname: a.b\nserver: {b64}\nkey: \"-----BEGIN PUBLIC KEY-----\\nQUJD\\n-----END PUBLIC KEY-----\"")),
        "env.logging.syslog.key",
        "PEM private key",
    );
    expect_one(
        SectionKind::Env,
        &sl(&format!("hostname: a.b\nserver: {b64}\ncert: \"??\"")),
        "env.logging.syslog.cert",
        "PEM certificate",
    );
    expect_one(
        SectionKind::Env,
        &sl(&format!("hostname: a.b\nserver: {b64}\ntls: true")),
        "env.logging.syslog.tls",
        "unknown key",
    );
}

#[test]
fn legacy_encrypted_syslog_keys_are_rejected_with_a_clear_message() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(CERT_PEM);
    let sl = |key: &str| {
        format!(
            "type: env\nlogging:\n  syslog:\n    hostname: a.b\n    server: {b64}\n    key: |\n{}",
            indent(key, 6)
        )
    };
    let secret_body = "MIIBszCCAVmgAwIBAgIUQ2FmZQ==";
    let encrypted = format!(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\n{secret_body}\n-----END RSA PRIVATE KEY-----\n"
    );
    expect_one(
        SectionKind::Env,
        &sl(&encrypted),
        "env.logging.syslog.key",
        "Proc-Type/DEK-Info",
    );
    let v = violations(SectionKind::Env, &sl(&encrypted));
    assert!(!v[0].message.contains(secret_body), "{v:?}");
    // Unencrypted forms of the schema's `privkey`: bare, one-word qualifier, PKCS#8
    // `ENCRYPTED PRIVATE KEY` (the pattern admits it), and base64.
    for label in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let pem = format!("-----BEGIN {label}-----\n{secret_body}\n-----END {label}-----\n");
        expect_ok(SectionKind::Env, &sl(&pem));
    }
    // Base64 as a plain scalar: a `|` block would add a newline after the padding, which
    // the schema's base64 pattern does not allow.
    let key_b64 = base64::engine::general_purpose::STANDARD.encode(KEY_PEM);
    expect_ok(
        SectionKind::Env,
        &format!("type: env\nlogging:\n  syslog:\n    hostname: a.b\n    server: {b64}\n    key: {key_b64}\n"),
    );
    // Two-word qualifiers and lowercase labels are outside `(?:[A-Z]+\s+)?PRIVATE KEY`.
    for label in ["OPENSSH RSA PRIVATE KEY", "rsa PRIVATE KEY"] {
        let pem = format!("-----BEGIN {label}-----\n{secret_body}\n-----END {label}-----\n");
        expect_one(
            SectionKind::Env,
            &sl(&pem),
            "env.logging.syslog.key",
            "must be a PEM private key",
        );
    }
}

#[test]
fn env_volume_rules() {
    let vol = |body: &str| env_with(&format!("volumes:\n  data:\n{}", indent(body, 4)));
    expect_one(
        SectionKind::Env,
        &vol("volumeName: v1"),
        "env.volumes.data",
        "exactly one of `seed`, `uv-secret-id` is required, found none",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nuv-secret-id: index-1"),
        "env.volumes.data",
        "found seed and uv-secret-id",
    );
    expect_one(
        SectionKind::Env,
        &vol("uv-secret-id: index-9"),
        "env.volumes.data.uv-secret-id",
        "index-1",
    );
    expect_one(
        SectionKind::Env,
        &vol("uv-secret-id: index-1\nuv-previous-secret-id: index-0"),
        "env.volumes.data.uv-previous-secret-id",
        "index-1",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: shortEnvSeed"),
        "env.volumes.data.seed",
        "at least 15",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkms: []"),
        "env.volumes.data.kms",
        "1 to 5",
    );
    let six = (0..6)
        .map(|i| format!("  - apiKey: KmsApiKeySecret{i}\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\"\n"))
        .collect::<String>();
    expect_one(
        SectionKind::Env,
        &vol(&format!("seed: EnvSeedSecret45678\nkms:\n{six}")),
        "env.volumes.data.kms",
        "found 6",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KeyZZ987\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\""),
        "env.volumes.data.kms[0].apiKey",
        "at least 10",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KmsApiKeySecret1\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:secret:3\""),
        "env.volumes.data.kms[0].crn",
        "root key CRN",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkms:\n  - apiKey: KmsApiKeySecret1\n    crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\"\n    type: internal"),
        "env.volumes.data.kms[0].type",
        "`public` or `private`",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkms:\n  - crn: \"crn:v1:bluemix:public:kms:us-south:a/1:2:key:3\""),
        "env.volumes.data.kms[0].apiKey",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkmsTimeout: 21"),
        "env.volumes.data.kmsTimeout",
        "0 to 20",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nkmsTimeout: -1"),
        "env.volumes.data.kmsTimeout",
        "0 to 20",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\napiKey: ShortKey"),
        "env.volumes.data.apiKey",
        "at least 10",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nvolumeID: ab"),
        "env.volumes.data.volumeID",
        "at least 3",
    );
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nmount: /mnt/data"),
        "env.volumes.data.mount",
        "unknown key",
    );
}

#[test]
fn uv_previous_secret_id_needs_uv_secret_id() {
    let vol = |body: &str| env_with(&format!("volumes:\n  data:\n{}", indent(body, 4)));
    expect_one(
        SectionKind::Env,
        &vol("seed: EnvSeedSecret45678\nuv-previous-secret-id: index-2"),
        "env.volumes.data.uv-previous-secret-id",
        "needs `uv-secret-id`",
    );
    expect_ok(
        SectionKind::Env,
        &vol("uv-secret-id: index-1\nuv-previous-secret-id: index-2"),
    );
    // Neither seed nor uv-secret-id: the one-of rule and the dependency both fail.
    let v = violations(SectionKind::Env, &vol("uv-previous-secret-id: index-2"));
    let paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(
        paths,
        ["env.volumes.data", "env.volumes.data.uv-previous-secret-id"],
        "{v:#?}"
    );
}

#[test]
fn grep11_rules() {
    let g = |body: &str| {
        env_with(&format!(
            "volumes:\n  data:\n    uv-secret-id: index-2\n    grep11:\n{}",
            indent(body, 6)
        ))
    };
    let full = "address: grep11.example.com:9876\nclientCert: QUJD\nclientKey: QUJD\ncaCert: QUJD\nmetadata:\n  aesKeyBlob: QUJD";
    expect_ok(SectionKind::Env, &g(full));
    expect_one(
        SectionKind::Env,
        &g(&full.replace("grep11.example.com:9876", "grep11.example.com")),
        "env.volumes.data.grep11.address",
        "host:port",
    );
    expect_one(
        SectionKind::Env,
        &g(&full.replace("clientKey: QUJD\n", "")),
        "env.volumes.data.grep11.clientKey",
        "required key is missing",
    );
    expect_one(
        SectionKind::Env,
        &g(&full.replace("caCert: QUJD", "caCert: \"Q U\"")),
        "env.volumes.data.grep11.caCert",
        "must be base64",
    );
    expect_one(
        SectionKind::Env,
        &g(&full.replace("aesKeyBlob: QUJD", "previousaesKeyBlob: QUJD")),
        "env.volumes.data.grep11.metadata.aesKeyBlob",
        "required key is missing",
    );
}

#[test]
fn cacerts_and_signing_key_rules() {
    expect_one(
        SectionKind::Env,
        &env_with("cacerts:\n  - a: QUJDRA==\n  - b: QUJDRA==\n"),
        "env.cacerts",
        "at most 1",
    );
    expect_one(
        SectionKind::Env,
        &env_with("cacerts:\n  - a: \"not base64!\"\n"),
        "env.cacerts[0].a",
        "base64",
    );
    expect_one(
        SectionKind::Env,
        &env_with("signingKey: \"not a key!\"\n"),
        "env.signingKey",
        "PEM public key, a PEM certificate, or base64",
    );
    expect_one(
        SectionKind::Env,
        &env_with(&format!("signingKey: |\n{}", indent(KEY_PEM, 2))),
        "env.signingKey",
        "PEM public key",
    );
}

#[test]
fn cacerts_names_are_free_as_the_schema_pattern_is_unanchored() {
    for name in ["my-ca.pem", "ca", "\"\"", "\"CA cert #1\"", "_x"] {
        expect_ok(
            SectionKind::Env,
            &env_with(&format!("cacerts:\n  - {name}: QUJDRA==\n")),
        );
    }
    // The value rule still applies under any name.
    expect_one(
        SectionKind::Env,
        &env_with("cacerts:\n  - my-ca.pem: \"not base64!\"\n"),
        "env.cacerts[0][\"my-ca.pem\"]",
        "base64",
    );
}
