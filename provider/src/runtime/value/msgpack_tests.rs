//! Hand-checked msgpack byte vectors for every cty type, and malformed-input cases.
//! Byte strings are written as hex so they can be compared with the protocol notes.

use super::msgpack::{decode, encode};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test vector is valid hex")
}

/// Encodes `value` and checks the bytes, then decodes those bytes and checks the value.
fn both_ways(value: Value, ty: &Type, bytes: &str) {
    let expected = hex(bytes);
    assert_eq!(
        hex::encode(encode(&value, ty).unwrap()),
        hex::encode(&expected),
        "encoding {value:?}"
    );
    assert_eq!(decode(&expected, ty).unwrap(), value, "decoding {bytes}");
}

fn decode_err(bytes: &[u8], ty: &Type) -> DecodeError {
    match decode(bytes, ty) {
        Ok(v) => panic!("expected an error, decoded {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn string() {
    both_ways(Value::string("hello"), &Type::String, "a5 68656c6c6f");
    both_ways(Value::string(""), &Type::String, "a0");
    let long = "x".repeat(40);
    both_ways(
        Value::string(long.clone()),
        &Type::String,
        &format!("d9 28 {}", hex::encode(&long)),
    );
    // str16 and str32 headers decode too.
    assert_eq!(
        decode(&hex("da 0002 6869"), &Type::String).unwrap(),
        Value::string("hi")
    );
    assert_eq!(
        decode(&hex("db 00000002 6869"), &Type::String).unwrap(),
        Value::string("hi")
    );
}

#[test]
fn integers_use_the_most_compact_form() {
    let n = |i: i64, bytes: &str| both_ways(Value::number(i), &Type::Number, bytes);
    n(0, "00");
    n(1, "01");
    n(127, "7f");
    n(128, "cc 80");
    n(300, "cd 012c");
    n(70_000, "ce 00011170");
    n(1 << 32, "cf 0000000100000000");
    n(-1, "ff");
    n(-32, "e0");
    n(-33, "d0 df");
    n(-129, "d1 ff7f");
    n(-40_000, "d2 ffff63c0");
    n(i64::MIN, "d3 8000000000000000");
}

#[test]
fn every_int_width_decodes() {
    let d = |bytes: &str| decode(&hex(bytes), &Type::Number).unwrap();
    assert_eq!(d("cc ff"), Value::number(255));
    assert_eq!(d("d0 80"), Value::number(-128));
    assert_eq!(d("d1 0001"), Value::number(1));
    assert_eq!(d("d2 00000001"), Value::number(1));
    assert_eq!(d("d3 0000000000000001"), Value::number(1));
    // u64 beyond i64: exact.
    assert_eq!(
        d("cf ffffffffffffffff"),
        Value::Number(Number::Big("18446744073709551615".into()))
    );
}

#[test]
fn floats() {
    both_ways(Value::number(1.5), &Type::Number, "cb 3ff8000000000000");
    both_ways(Value::number(-0.25), &Type::Number, "cb bfd0000000000000");
    both_ways(
        Value::Number(Number::Float(f64::INFINITY)),
        &Type::Number,
        "cb 7ff0000000000000",
    );
    both_ways(
        Value::Number(Number::Float(f64::NEG_INFINITY)),
        &Type::Number,
        "cb fff0000000000000",
    );
    // An integral float is sent as an int, like go-cty does.
    assert_eq!(
        encode(&Value::Number(Number::Float(100.0)), &Type::Number).unwrap(),
        hex("64")
    );
    // ... and an integral float64 on the wire decodes to an Int.
    assert!(matches!(
        decode(&hex("cb 4059000000000000"), &Type::Number).unwrap(),
        Value::Number(Number::Int(100))
    ));
    // float32
    assert_eq!(
        decode(&hex("ca 3fc00000"), &Type::Number).unwrap(),
        Value::number(1.5)
    );
}

#[test]
fn big_numbers_travel_as_decimal_text() {
    let text = "123456789012345678901234567890";
    both_ways(
        Value::Number(Number::Big(text.into())),
        &Type::Number,
        &format!("be {}", hex::encode(text)),
    );
    both_ways(
        Value::Number(Number::Big("0.1".into())),
        &Type::Number,
        "a3 302e31",
    );
    both_ways(
        Value::Number(Number::Big("-98765432109876543210.123456789".into())),
        &Type::Number,
        // 31 bytes of text: fixstr 0xa0 | 31.
        &format!("bf {}", hex::encode("-98765432109876543210.123456789")),
    );
    // Text that is really an int or an exact float decodes normalised.
    assert!(matches!(
        decode(&hex(&format!("a3 {}", hex::encode("1e3"))), &Type::Number).unwrap(),
        Value::Number(Number::Int(1000))
    ));
    assert!(matches!(
        decode(&hex(&format!("a4 {}", hex::encode("1.50"))), &Type::Number).unwrap(),
        Value::Number(Number::Float(f)) if f == 1.5
    ));
    // Non-canonical hand-built text is re-canonicalised on the way out.
    assert_eq!(
        encode(&Value::Number(Number::Big("0.100".into())), &Type::Number).unwrap(),
        hex("a3 302e31")
    );
}

#[test]
fn bad_numbers_are_errors() {
    let e = decode_err(&hex("cb 7ff8000000000000"), &Type::Number);
    assert_eq!(e.kind, DecodeErrorKind::InvalidNumber(NumberError::NaN));
    let e = decode_err(&hex(&format!("a3 {}", hex::encode("abc"))), &Type::Number);
    assert_eq!(e.kind, DecodeErrorKind::InvalidNumber(NumberError::Invalid));
    assert!(!e.to_string().contains("abc"), "number text is not echoed");
    let e = encode(&Value::Number(Number::Float(f64::NAN)), &Type::Number).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::InvalidNumber(NumberError::NaN));
}

#[test]
fn bool_null_unknown() {
    both_ways(Value::Bool(true), &Type::Bool, "c3");
    both_ways(Value::Bool(false), &Type::Bool, "c2");
    for ty in [Type::String, Type::list(Type::Number), Type::Dynamic] {
        both_ways(Value::Null, &ty, "c0");
        both_ways(Value::Unknown, &ty, "d4 0000");
    }
}

#[test]
fn any_extension_is_unknown() {
    // Refined unknown: ext 12 with a map payload {1: false, 2: "ab"} (not null, prefix "ab").
    let refined = hex("c7 07 0c 82 01 c2 02 a2 6162");
    assert_eq!(decode(&refined, &Type::String).unwrap(), Value::Unknown);
    for bytes in [
        "d4 0c 00",
        "d5 05 0000",
        "d8 01 00000000000000000000000000000000",
        "c7 00 00",
    ] {
        assert_eq!(
            decode(&hex(bytes), &Type::Number).unwrap(),
            Value::Unknown,
            "{bytes}"
        );
    }
    // ... inside an object too.
    let ty = Type::object([("a", Type::String)]);
    assert_eq!(
        decode(&hex("81 a1 61 c7 07 0c 82 01 c2 02 a2 6162"), &ty).unwrap(),
        Value::object([("a", Value::Unknown)])
    );
}

#[test]
fn list_set_map_tuple() {
    both_ways(
        Value::list([Value::string("a"), Value::string("b")]),
        &Type::list(Type::String),
        "92 a161 a162",
    );
    both_ways(
        Value::set([Value::number(1), Value::number(2)]),
        &Type::set(Type::Number),
        "92 01 02",
    );
    both_ways(Value::list([]), &Type::list(Type::Bool), "90");
    both_ways(
        Value::map([("b", Value::Bool(true)), ("a", Value::Bool(false))]),
        &Type::map(Type::Bool),
        "82 a161 c2 a162 c3",
    );
    both_ways(
        Value::tuple([Value::string("a"), Value::number(1), Value::Null]),
        &Type::Tuple(vec![Type::String, Type::Number, Type::Bool]),
        "93 a161 01 c0",
    );
    let seventeen: Vec<Value> = (0..17).map(Value::number).collect();
    let mut bytes = String::from("dc 0011");
    for i in 0..17 {
        bytes.push_str(&format!(" {i:02x}"));
    }
    both_ways(Value::list(seventeen), &Type::list(Type::Number), &bytes);
}

#[test]
fn object_keys_sorted_and_all_present() {
    let ty = Type::object([("name", Type::String), ("id", Type::String)]);
    // The protocol notes' example.
    both_ways(
        Value::object([("name", Value::string("x")), ("id", Value::Unknown)]),
        &ty,
        "82 a26964 d40000 a46e616d65 a178",
    );
    // A null attribute is written, not omitted.
    both_ways(
        Value::object([("name", Value::Null), ("id", Value::string("i"))]),
        &ty,
        "82 a26964 a169 a46e616d65 c0",
    );
    // Key order on the wire does not matter on decode.
    assert_eq!(
        decode(&hex("82 a46e616d65 a178 a26964 d40000"), &ty).unwrap(),
        Value::object([("name", Value::string("x")), ("id", Value::Unknown)])
    );
}

#[test]
fn object_attribute_set_must_match_exactly() {
    let ty = Type::object([("name", Type::String), ("id", Type::String)]);
    let e = encode(&Value::object([("name", Value::string("x"))]), &ty).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::MissingAttribute("id".into()));
    let e = encode(
        &Value::object([
            ("name", Value::Null),
            ("id", Value::Null),
            ("extra", Value::Null),
        ]),
        &ty,
    )
    .unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::UnexpectedAttribute("extra".into()));

    let e = decode_err(&hex("81 a46e616d65 a178"), &ty);
    assert_eq!(e.kind, DecodeErrorKind::MissingAttribute("id".into()));
    let e = decode_err(&hex("83 a26964 c0 a46e616d65 c0 a178 c0"), &ty);
    assert_eq!(e.kind, DecodeErrorKind::UnexpectedAttribute("x".into()));
    let e = decode_err(&hex("83 a26964 c0 a46e616d65 c0 a26964 c0"), &ty);
    assert_eq!(e.kind, DecodeErrorKind::DuplicateKey("id".into()));
}

#[test]
fn dynamic_wrapper() {
    // The protocol notes' example: ["string" as bin, "hello"].
    both_ways(
        Value::dynamic(Type::String, Value::string("hello")),
        &Type::Dynamic,
        "92 c4 08 22737472696e6722 a5 68656c6c6f",
    );
    // The type may come as str instead of bin.
    assert_eq!(
        decode(&hex("92 a8 22737472696e6722 a5 68656c6c6f"), &Type::Dynamic).unwrap(),
        Value::dynamic(Type::String, Value::string("hello"))
    );
    // A list inside a dynamic.
    let json = r#"["list","number"]"#;
    both_ways(
        Value::dynamic(Type::list(Type::Number), Value::list([Value::number(7)])),
        &Type::Dynamic,
        &format!("92 c4 {:02x} {} 91 07", json.len(), hex::encode(json)),
    );
    // Inside an object: a null dynamic is plain nil, an unknown is plain ext.
    let ty = Type::object([("d", Type::Dynamic), ("e", Type::Dynamic)]);
    both_ways(
        Value::object([("d", Value::Null), ("e", Value::Unknown)]),
        &ty,
        "82 a164 c0 a165 d40000",
    );
    // A plain value at a dynamic position cannot be encoded: its type is not known.
    let e = encode(&Value::string("x"), &Type::Dynamic).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::NotDynamic("string"));
}

#[test]
fn dynamic_wrapper_errors() {
    let e = decode_err(&hex("93 c0 c0 c0"), &Type::Dynamic);
    assert_eq!(e.kind, DecodeErrorKind::DynamicArity(3));
    let e = decode_err(&hex("92 c4 03 226622 c0"), &Type::Dynamic);
    assert!(matches!(e.kind, DecodeErrorKind::DynamicType(_)), "{e}");
    let e = decode_err(&hex("92 01 c0"), &Type::Dynamic);
    assert!(matches!(
        e.kind,
        DecodeErrorKind::TypeMismatch {
            found: "integer",
            ..
        }
    ));
    // The wrapped value must match the wrapped type.
    let e = decode_err(&hex("92 c4 08 22737472696e6722 c3"), &Type::Dynamic);
    assert_eq!(e.to_string(), "(root): expected string, found bool");
}

#[test]
fn errors_name_the_path() {
    let ty = Type::object([(
        "network",
        Type::list(Type::object([("name", Type::String)])),
    )]);
    let bytes =
        hex("81 a76e6574776f726b 93 81 a46e616d65 a161 81 a46e616d65 a162 81 a46e616d65 c3");
    let e = decode_err(&bytes, &ty);
    assert_eq!(
        e.to_string(),
        ".network[2].name: expected string, found bool"
    );
    assert_eq!(
        e.path.steps(),
        &[
            PathStep::Attr("network".into()),
            PathStep::Index(2),
            PathStep::Attr("name".into())
        ]
    );

    let value = Value::object([(
        "network",
        Value::list([Value::object([("name", Value::Bool(true))])]),
    )]);
    let e = encode(&value, &ty).unwrap_err();
    assert_eq!(
        e.to_string(),
        ".network[0].name: expected string value, found bool"
    );
    let m = Type::map(Type::set(Type::Number));
    let e = decode_err(&hex("81 a16b 92 01 c3"), &m);
    assert_eq!(e.to_string(), "[\"k\"][1]: expected number, found bool");
}

#[test]
fn wrong_types_are_errors() {
    let cases: &[(&str, Type, &str)] = &[
        ("c3", Type::String, "(root): expected string, found bool"),
        ("c3", Type::Number, "(root): expected number, found bool"),
        ("90", Type::Number, "(root): expected number, found array"),
        ("01", Type::Bool, "(root): expected bool, found integer"),
        (
            "80",
            Type::list(Type::String),
            "(root): expected list, found map",
        ),
        (
            "90",
            Type::map(Type::String),
            "(root): expected map, found array",
        ),
        (
            "90",
            Type::object([("a", Type::String)]),
            "(root): expected object, found array",
        ),
        (
            "c4 00",
            Type::String,
            "(root): expected string, found binary",
        ),
        (
            "c1",
            Type::String,
            "(root): expected string, found reserved byte 0xc1",
        ),
        (
            "92 01 02",
            Type::Tuple(vec![Type::Number]),
            "(root): tuple needs 1 elements, found 2",
        ),
        (
            "81 01 02",
            Type::map(Type::Number),
            "(root): map keys must be strings, found integer",
        ),
        (
            "c0 c0",
            Type::String,
            "(root): 1 bytes after the end of the value",
        ),
        ("", Type::String, "(root): unexpected end of input"),
    ];
    for (bytes, ty, message) in cases {
        assert_eq!(decode_err(&hex(bytes), ty).to_string(), *message, "{bytes}");
    }
    let e = encode(&Value::list([]), &Type::set(Type::String)).unwrap_err();
    assert_eq!(e.to_string(), "(root): expected set value, found list");
    let e = encode(
        &Value::tuple([Value::Null]),
        &Type::Tuple(vec![Type::String, Type::String]),
    )
    .unwrap_err();
    assert_eq!(
        e.kind,
        EncodeErrorKind::TupleLength {
            expected: 2,
            found: 1
        }
    );
}

#[test]
fn invalid_utf8_is_an_error() {
    let e = decode_err(&hex("a2 c328"), &Type::String);
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
    let e = decode_err(&hex("81 a2 c328 c0"), &Type::map(Type::String));
    assert_eq!(e.kind, DecodeErrorKind::InvalidUtf8);
}

#[test]
fn every_truncation_of_a_valid_value_is_an_error() {
    let ty = Type::object([
        ("a", Type::list(Type::Number)),
        ("b", Type::Dynamic),
        ("c", Type::map(Type::String)),
    ]);
    let value = Value::object([
        (
            "a",
            Value::list([
                Value::number(1),
                Value::number(1.5),
                Value::number(1_000_000),
            ]),
        ),
        ("b", Value::dynamic(Type::String, Value::string("hello"))),
        ("c", Value::map([("k", Value::string("v"))])),
    ]);
    let bytes = encode(&value, &ty).unwrap();
    assert_eq!(decode(&bytes, &ty).unwrap(), value);
    for len in 0..bytes.len() {
        let e = decode_err(&bytes[..len], &ty);
        assert_eq!(e.kind, DecodeErrorKind::Truncated, "prefix of {len} bytes");
    }
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    // Each claims ~4 GiB (or 4 G elements) and supplies nothing; all must fail fast.
    for (bytes, ty) in [
        ("dd ffffffff", Type::list(Type::String)),
        ("dd ffffffff", Type::set(Type::Number)),
        ("df ffffffff", Type::map(Type::String)),
        ("df ffffffff", Type::object([("a", Type::String)])),
        ("db ffffffff", Type::String),
        ("c6 ffffffff", Type::String),
        ("c9 ffffffff 00", Type::String),
        ("92 c6 ffffffff", Type::Dynamic),
    ] {
        let e = decode_err(&hex(bytes), &ty);
        assert!(
            matches!(
                e.kind,
                DecodeErrorKind::Truncated | DecodeErrorKind::TypeMismatch { .. }
            ),
            "{bytes}: {e}"
        );
    }
}

#[test]
fn nesting_is_bounded() {
    let mut ty = Type::String;
    for _ in 0..300 {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; 300];
    bytes.push(0xa0);
    let e = decode_err(&bytes, &ty);
    assert_eq!(e.kind, DecodeErrorKind::TooDeep(MAX_DEPTH));
    assert_eq!(e.path.steps().len(), MAX_DEPTH);

    // Just inside the bound works.
    let mut ty = Type::String;
    for _ in 0..MAX_DEPTH {
        ty = Type::list(ty);
    }
    let mut bytes = vec![0x91; MAX_DEPTH];
    bytes.push(0xa0);
    let value = decode(&bytes, &ty).unwrap();
    assert_eq!(encode(&value, &ty).unwrap(), bytes);

    // Dynamic wrappers count too: "dynamic" inside "dynamic" forever.
    let mut bytes = Vec::new();
    for _ in 0..300 {
        bytes.extend_from_slice(&hex("92 c4 09 2264796e616d696322"));
    }
    bytes.push(0xc0);
    let e = decode_err(&bytes, &Type::Dynamic);
    assert_eq!(e.kind, DecodeErrorKind::TooDeep(MAX_DEPTH));

    // Encoding an over-deep value is an error, not a stack overflow.
    let mut ty = Type::String;
    let mut value = Value::string("x");
    for _ in 0..300 {
        ty = Type::list(ty);
        value = Value::list([value]);
    }
    let e = encode(&value, &ty).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::TooDeep(MAX_DEPTH));
}

#[test]
fn max_depth_fits_in_one_mib_of_stack_even_unoptimised() {
    // Tokio workers get 2 MiB by default; a value nested to the limit must decode and
    // encode in half of that in a debug build (release frames are far smaller).
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let mut ty = Type::String;
            for _ in 0..MAX_DEPTH {
                ty = Type::list(ty);
            }
            let mut bytes = vec![0x91; MAX_DEPTH];
            bytes.push(0xa0);
            let value = decode(&bytes, &ty).unwrap();
            assert_eq!(encode(&value, &ty).unwrap(), bytes);
            let text = super::json::encode(&value, &ty).unwrap();
            assert_eq!(text.len(), 2 * MAX_DEPTH + 2);
            // JSON input nests at most 128 levels (serde_json's own limit).
            let mut ty = Type::String;
            for _ in 0..127 {
                ty = Type::list(ty);
            }
            let text = format!("{}\"\"{}", "[".repeat(127), "]".repeat(127));
            let value = super::json::decode(text.as_bytes(), &ty).unwrap();
            assert_eq!(super::json::encode(&value, &ty).unwrap(), text.as_bytes());
        })
        .unwrap()
        .join()
        .unwrap();
}
