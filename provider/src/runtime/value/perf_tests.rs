//! Throughput measurement of the codecs on a state-like value (ignored by default; run in
//! release: `cargo test --release -p terraform-provider-hyperprotect --lib
//! runtime::value::perf_tests -- --ignored --nocapture`). Prints numbers, asserts only that
//! the round trips hold, so it is a measurement, not a pass/fail performance gate.

use std::time::Instant;

use super::*;

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
        // Contracts are large base64 blobs.
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

fn rate(label: &str, bytes: usize, runs: u32, f: impl Fn()) {
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(runs);
    eprintln!(
        "{label:<28} {:>9.3} ms  {:>8.1} MB/s",
        secs * 1e3,
        bytes as f64 / secs / 1e6
    );
}

#[test]
#[ignore]
fn codec_throughput() {
    let ty = Type::list(instance_type());
    let value = Value::list((0..1000).map(instance));
    let packed = msgpack::encode(&value, &ty).unwrap();
    let text = json::encode(&value, &ty).unwrap();
    assert_eq!(msgpack::decode(&packed, &ty).unwrap(), value);
    assert_eq!(json::decode(&text, &ty).unwrap(), value);
    eprintln!(
        "1000 instances: msgpack {} bytes, JSON {} bytes",
        packed.len(),
        text.len()
    );
    rate("msgpack encode", packed.len(), 20, || {
        msgpack::encode(&value, &ty).unwrap();
    });
    rate("msgpack decode", packed.len(), 20, || {
        msgpack::decode(&packed, &ty).unwrap();
    });
    rate("json encode", text.len(), 20, || {
        json::encode(&value, &ty).unwrap();
    });
    rate("json decode", text.len(), 20, || {
        json::decode(&text, &ty).unwrap();
    });
}
