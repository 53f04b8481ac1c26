//! Throughput of the provider's data-handling paths, measured through the public API only.
//! These replace the `#[ignore]`d timing tests that used to print numbers from `cargo test`.
//!
//! - `value_codecs`: msgpack and JSON encode/decode of a list of 1000 instance-like objects
//!   (the shape of a large `ibm_is_instance`-style state), reported in MB/s of wire bytes.
//! - `schema`: parse + validate a full workload section and a full env section.
//! - `archive`: `tgz_base64` and `content_fingerprint` of a generated folder (200 files,
//!   3.2 MiB, half text-like and half noise), reported in MB/s of file bytes.
//! - `image`: `select_image` over a 2000-image VPC list (~0.5 MB of JSON).
//! - `certs`: parse an encryption certificate (next to OpenSSL's bare `X509::from_pem` as a
//!   baseline), verify it against an RSA-2048 chain, and check it against a CRL from its
//!   issuer.
//!
//! Every fixture (data set, folder, key pairs, CRL) is built once before its group and
//! checked to give the expected answer, so a broken fixture fails loudly instead of timing
//! an error path.
//!
//! Run: `cargo bench -p terraform-provider-hyperprotect --bench codecs`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use hyperprotect::contract::certs::{self, Certificate};
use hyperprotect::contract::schema::{self, SectionKind};
use hyperprotect::contract::{archive, image};
use hyperprotect::runtime::value::{json, msgpack, Type, Value};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::BasicConstraints;
use openssl::x509::{X509Builder, X509NameBuilder};
use time::OffsetDateTime;

/// Short runs: the whole bench should finish in about a minute after the build.
fn configure<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
}

// ------------------------------------------------------------------ value codecs

fn instance_type() -> Type {
    let nic = Type::object([
        ("name", Type::String),
        ("subnet", Type::String),
        ("ip", Type::String),
        ("primary", Type::Bool),
    ]);
    Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("profile", Type::String),
        ("zone", Type::String),
        ("memory", Type::Number),
        ("vcpu", Type::Number),
        ("bandwidth", Type::Number),
        ("secure", Type::Bool),
        ("user_data", Type::String),
        ("tags", Type::map(Type::String)),
        ("nics", Type::list(nic)),
        ("volumes", Type::set(Type::String)),
        ("extra", Type::Dynamic),
    ])
}

fn instance(i: i64) -> Value {
    Value::object([
        (
            "id",
            Value::string(format!("0727_{i:08x}-aaaa-bbbb-cccc-dddddddddddd")),
        ),
        ("name", Value::string(format!("hpcr-{i}"))),
        ("profile", Value::string("bz2e-2x8")),
        ("zone", Value::string("us-south-2")),
        ("memory", Value::number(8)),
        ("vcpu", Value::number(2)),
        ("bandwidth", Value::number(4000.5)),
        ("secure", Value::Bool(true)),
        // Contracts dominate real instance state: a 4 KB string per instance.
        (
            "user_data",
            Value::string("hyper-protect-basic.".repeat(200)),
        ),
        (
            "tags",
            Value::map((0..8).map(|t| (format!("tag{t}"), Value::string("value")))),
        ),
        (
            "nics",
            Value::list((0..3).map(|n| {
                Value::object([
                    ("name", Value::string(format!("eth{n}"))),
                    ("subnet", Value::string("0717-subnet")),
                    ("ip", Value::string(format!("10.0.{n}.{}", i % 250))),
                    ("primary", Value::Bool(n == 0)),
                ])
            })),
        ),
        (
            "volumes",
            Value::set([Value::string("boot"), Value::string("data")]),
        ),
        (
            "extra",
            Value::dynamic(Type::list(Type::Number), Value::list([Value::number(i)])),
        ),
    ])
}

fn value_codecs(c: &mut Criterion) {
    let ty = Type::list(instance_type());
    let value = Value::list((0..1000).map(instance));
    let packed = msgpack::encode(&value, &ty).expect("msgpack encode of the data set");
    let text = json::encode(&value, &ty).expect("JSON encode of the data set");
    assert_eq!(
        msgpack::decode(&packed, &ty).expect("msgpack decode of the data set"),
        value
    );
    assert_eq!(
        json::decode(&text, &ty).expect("JSON decode of the data set"),
        value
    );
    eprintln!(
        "value_codecs: 1000 instances = {} msgpack bytes, {} JSON bytes",
        packed.len(),
        text.len()
    );

    let mut g = c.benchmark_group("value_codecs");
    configure(&mut g);
    g.throughput(Throughput::Bytes(packed.len() as u64));
    g.bench_function("msgpack_encode", |b| {
        b.iter(|| msgpack::encode(black_box(&value), black_box(&ty)))
    });
    g.bench_function("msgpack_decode", |b| {
        b.iter(|| msgpack::decode(black_box(&packed), black_box(&ty)))
    });
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("json_encode", |b| {
        b.iter(|| json::encode(black_box(&value), black_box(&ty)))
    });
    g.bench_function("json_decode", |b| {
        b.iter(|| json::decode(black_box(&text), black_box(&ty)))
    });
    g.finish();
}

// ------------------------------------------------------------------ schema

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn schema_validation(c: &mut Criterion) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey");
    let public_pem =
        String::from_utf8(key.public_key_to_pem().expect("public PEM")).expect("PEM is ASCII");
    let public_b64 = STANDARD.encode(public_pem.as_bytes());
    let compose = STANDARD.encode(vec![0x5au8; 2300]);
    // Every optional part of a workload the schema knows, so each rule runs once.
    let workload = format!(
        "type: workload\ncompose:\n  archive: {compose}\nauths:\n  us.icr.io:\n    username: iamapikey\n    password: RegistryPassword1\n  de.icr.io:\n    username: iamapikey\n    password: RegistryPassword2\nimages:\n  dct:\n    us.icr.io/myns/app:\n      notary: https://notary.us.icr.io\n      publicKey: {public_b64}\n    de.icr.io/myns/db:\n      notary: https://notary.de.icr.io\n      publicKey: {public_b64}\nvolumes:\n  data:\n    seed: WorkloadSeedSecret123\n    mount: /mnt/data\n    filesystem: ext4\nenv:\n  REGION: us-south\n  LOG_LEVEL: info\n"
    );
    let env = format!(
        "type: env\nlogging:\n  logRouter:\n    hostname: 0c8e0b2a.ingress.eu-de.logs.cloud.ibm.com\n    iamApiKey: IamKeySecret0001abcdefghijklmnop\nvolumes:\n  data:\n    seed: EnvSeedSecret45678\nenv:\n  REGISTRY: de.icr.io\n  LOG_LEVEL: info\nsigningKey: |\n{}",
        indent(&public_pem, 2)
    );
    for (kind, text) in [(SectionKind::Workload, &workload), (SectionKind::Env, &env)] {
        if let Err(violations) = schema::validate_section(kind, text) {
            let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!("{} fixture is invalid: {listed:?}", kind.name());
        }
    }

    let mut g = c.benchmark_group("schema");
    configure(&mut g);
    g.throughput(Throughput::Bytes(workload.len() as u64));
    g.bench_function("validate_workload", |b| {
        b.iter(|| schema::validate_section(SectionKind::Workload, black_box(&workload)))
    });
    g.throughput(Throughput::Bytes(env.len() as u64));
    g.bench_function("validate_env", |b| {
        b.iter(|| schema::validate_section(SectionKind::Env, black_box(&env)))
    });
    g.finish();
}

// ------------------------------------------------------------------ archive

/// 200 files of 16 KiB in 10 folders; returns the number of file bytes written.
fn fill_folder(root: &Path) -> u64 {
    // xorshift64: a fixed seed keeps the folder, and so the compression work, the same
    // from run to run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut total = 0u64;
    for i in 0..200 {
        let sub = root.join(format!("d{}", i % 10));
        std::fs::create_dir_all(&sub).expect("create bench sub-folder");
        // Half text-like, half noise: a realistic mix for compression.
        let data: Vec<u8> = (0..16_384u32)
            .map(|j| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if j % 2 == 0 {
                    b'a' + (j % 26) as u8
                } else {
                    seed as u8
                }
            })
            .collect();
        total += data.len() as u64;
        std::fs::write(sub.join(format!("f{i}.txt")), data).expect("write bench file");
    }
    total
}

fn archive_folder(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = fill_folder(dir.path());
    let first = archive::tgz_base64(dir.path()).expect("archive of the bench folder");
    // 200 files + 10 folders (the root itself is not an entry).
    assert_eq!(first.entries, 210, "unexpected archive entry count");
    let again = archive::tgz_base64(dir.path()).expect("second archive");
    assert_eq!(first.sha256, again.sha256, "archive is not reproducible");
    eprintln!(
        "archive: 200 files, {bytes} bytes -> {} base64 chars",
        first.base64.len()
    );

    let mut g = c.benchmark_group("archive");
    configure(&mut g);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("tgz_base64", |b| {
        b.iter(|| archive::tgz_base64(black_box(dir.path())))
    });
    g.bench_function("content_fingerprint", |b| {
        b.iter(|| archive::content_fingerprint(black_box(dir.path())))
    });
    g.finish();
}

// ------------------------------------------------------------------ image

fn api_image(name: &str, id: &str, os: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": name,
        "status": "available",
        "visibility": "public",
        "file": {"checksums": {"sha256": format!("sum-{id}")}, "size": 10},
        "operating_system": {"name": os, "architecture": "s390x", "family": "Hyper Protect"},
    })
}

fn image_selection(c: &mut Criterion) {
    // One Hyper Protect image in four, the rest other s390x images, as in a region's list.
    let list: Vec<serde_json::Value> = (0..2000u32)
        .map(|i| {
            if i % 4 == 0 {
                api_image(
                    &format!("ibm-hyper-protect-container-runtime-1-0-s390x-{i}"),
                    &format!("r-{i}"),
                    "hyper-protect-1-0-s390x-hpcr",
                )
            } else {
                api_image("ibm-sles-15-6-s390x-2", &format!("x-{i}"), "sles-15-s390x")
            }
        })
        .collect();
    let text = serde_json::json!({ "images": list }).to_string();
    let picked = image::select_image(&text, "~1.0").expect("selection from the bench list");
    assert_eq!(picked.version, semver::Version::new(1, 0, 1996));
    assert_eq!(picked.id, "r-1996");

    let mut g = c.benchmark_group("image");
    configure(&mut g);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("select_among_2000", |b| {
        b.iter(|| image::select_image(black_box(&text), black_box("~1.0")))
    });
    g.finish();
}

// ------------------------------------------------------------------ certificates

struct Issued {
    cert: Certificate,
    key: PKey<Private>,
}

fn issue(cn: &str, serial: u32, issuer: Option<&Issued>, ca: bool) -> Issued {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey");
    let mut name = X509NameBuilder::new().expect("name builder");
    name.append_entry_by_text("O", "Bench Org").expect("O");
    name.append_entry_by_text("CN", cn).expect("CN");
    let name = name.build();
    let mut b = X509Builder::new().expect("X509 builder");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(serial)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name).expect("subject");
    match issuer {
        Some(i) => b.set_issuer_name(i.cert.x509().subject_name()),
        None => b.set_issuer_name(&name),
    }
    .expect("issuer");
    b.set_pubkey(&key).expect("public key");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(365).expect("time"))
        .expect("not after");
    let constraints = if ca {
        BasicConstraints::new().critical().ca().build()
    } else {
        BasicConstraints::new().critical().build()
    };
    b.append_extension(constraints.expect("basic constraints"))
        .expect("extension");
    let signer = issuer.map_or(&key, |i| &i.key);
    b.sign(signer, MessageDigest::sha256()).expect("sign");
    let cert = Certificate::from_x509(b.build()).expect("certificate");
    Issued { cert, key }
}

/// DER tag-length-value.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend(content);
    out
}

fn utc_time(t: OffsetDateTime) -> Vec<u8> {
    let text = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year().rem_euclid(100),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    der(0x17, text.as_bytes())
}

/// An empty v2 CRL (no revoked entries) signed by `issuer` with sha256WithRSAEncryption,
/// valid from yesterday to tomorrow. The openssl crate has no CRL builder, so the
/// `TBSCertList` is written out directly.
fn empty_crl(issuer: &Issued) -> Vec<u8> {
    const SHA256_WITH_RSA: [u8; 11] = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B,
    ];
    let alg = der(0x30, &[&SHA256_WITH_RSA[..], &[0x05, 0x00]].concat());
    let now = OffsetDateTime::now_utc();
    let mut tbs = der(0x02, &[1]);
    tbs.extend(&alg);
    tbs.extend(
        issuer
            .cert
            .x509()
            .subject_name()
            .to_der()
            .expect("issuer name DER"),
    );
    tbs.extend(utc_time(now - time::Duration::days(1)));
    tbs.extend(utc_time(now + time::Duration::days(1)));
    let tbs = der(0x30, &tbs);
    let mut signer =
        openssl::sign::Signer::new(MessageDigest::sha256(), &issuer.key).expect("CRL signer");
    let signature = signer.sign_oneshot_to_vec(&tbs).expect("CRL signature");
    let mut body = tbs;
    body.extend(&alg);
    body.extend(der(0x03, &[&[0u8][..], &signature].concat()));
    der(0x30, &body)
}

fn certificates(c: &mut Criterion) {
    let root = issue("Bench Root G4", 1001, None, true);
    let intermediate = issue("Bench Signing Service", 1002, Some(&root), true);
    let leaf = issue(
        "Hyper Protect Contract Encryption",
        0x00C7_7592,
        Some(&intermediate),
        false,
    );
    let crl = empty_crl(&intermediate);
    let pem = leaf.cert.to_pem();
    let parsed = certs::parse_encryption_cert(&pem).expect("parse of the bench leaf");
    assert_eq!(parsed.serial_hex(), "C77592");
    certs::verify_chain(&leaf.cert, &intermediate.cert, &root.cert).expect("bench chain");
    certs::check_crl(
        &leaf.cert,
        &crl,
        &intermediate.cert,
        OffsetDateTime::now_utc(),
    )
    .expect("bench CRL check");

    let mut g = c.benchmark_group("certs_rsa2048");
    configure(&mut g);
    g.bench_function("parse_encryption_cert", |b| {
        b.iter(|| certs::parse_encryption_cert(black_box(&pem)))
    });
    // Baseline: OpenSSL's own PEM parse, to tell its cost from the wrapper's.
    g.bench_function("openssl_x509_from_pem", |b| {
        b.iter(|| openssl::x509::X509::from_pem(black_box(pem.as_bytes())))
    });
    g.bench_function("verify_chain", |b| {
        b.iter(|| {
            certs::verify_chain(
                black_box(&leaf.cert),
                black_box(&intermediate.cert),
                black_box(&root.cert),
            )
        })
    });
    let now = OffsetDateTime::now_utc();
    g.bench_function("check_crl", |b| {
        b.iter(|| {
            certs::check_crl(
                black_box(&leaf.cert),
                black_box(&crl),
                black_box(&intermediate.cert),
                now,
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    value_codecs,
    schema_validation,
    archive_folder,
    image_selection,
    certificates
);
criterion_main!(benches);
