//! Hand-checked JSON vectors for the value codec.

use super::json::{decode, encode};
use super::*;

fn both_ways(value: Value, ty: &Type, text: &str) {
    let encoded = encode(&value, ty).unwrap();
    assert_eq!(
        String::from_utf8(encoded).unwrap(),
        text,
        "encoding {value:?}"
    );
    assert_eq!(
        decode(text.as_bytes(), ty).unwrap(),
        value,
        "decoding {text}"
    );
}

#[test]
fn primitives() {
    both_ways(
        Value::string("hi \"there\"\n"),
        &Type::String,
        r#""hi \"there\"\n""#,
    );
    both_ways(Value::number(42), &Type::Number, "42");
    both_ways(Value::number(-7), &Type::Number, "-7");
    both_ways(Value::number(1.5), &Type::Number, "1.5");
    both_ways(
        Value::Number(Number::Big("123456789012345678901234567890".into())),
        &Type::Number,
        "123456789012345678901234567890",
    );
    both_ways(
        Value::Number(Number::Big("0.1".into())),
        &Type::Number,
        "0.1",
    );
    both_ways(
        Value::Number(Number::Big("-1.25e-400".into())),
        &Type::Number,
        "-1.25e-400",
    );
    both_ways(Value::Bool(true), &Type::Bool, "true");
    both_ways(Value::Null, &Type::String, "null");
    both_ways(Value::Null, &Type::Dynamic, "null");
}

#[test]
fn number_text_is_exact() {
    // A float is written with its exact expansion so it reads back as the same float.
    let v = Value::Number(Number::Float(0.1));
    let text = String::from_utf8(encode(&v, &Type::Number).unwrap()).unwrap();
    assert_eq!(
        text,
        "0.1000000000000000055511151231257827021181583404541015625"
    );
    assert_eq!(decode(text.as_bytes(), &Type::Number).unwrap(), v);
    // JSON text is normalised: 1.50 is the float 1.5, 1e3 the int 1000.
    assert!(matches!(
        decode(b"1.50", &Type::Number).unwrap(),
        Value::Number(Number::Float(f)) if f == 1.5
    ));
    assert!(matches!(
        decode(b"1e3", &Type::Number).unwrap(),
        Value::Number(Number::Int(1000))
    ));
    assert_eq!(
        decode(b"18446744073709551615", &Type::Number).unwrap(),
        Value::Number(Number::Big("18446744073709551615".into()))
    );
}

#[test]
fn collections_and_objects() {
    let ty = Type::object([
        ("a", Type::String),
        ("big", Type::Number),
        ("l", Type::list(Type::Number)),
        ("m", Type::map(Type::Bool)),
        ("s", Type::set(Type::String)),
        ("t", Type::Tuple(vec![Type::String, Type::Bool])),
    ]);
    both_ways(
        Value::object([
            ("a", Value::string("x")),
            ("big", Value::Number(Number::Big("0.1".into()))),
            ("l", Value::list([Value::number(1), Value::number(2)])),
            ("m", Value::map([("k", Value::Bool(true))])),
            ("s", Value::set([Value::string("q")])),
            ("t", Value::tuple([Value::string("y"), Value::Null])),
        ]),
        &ty,
        r#"{"a":"x","big":0.1,"l":[1,2],"m":{"k":true},"s":["q"],"t":["y",null]}"#,
    );
}

#[test]
fn dynamic_wrapper() {
    both_ways(
        Value::dynamic(Type::String, Value::string("hello")),
        &Type::Dynamic,
        r#"{"value":"hello","type":"string"}"#,
    );
    both_ways(
        Value::dynamic(
            Type::object([("n", Type::Number)]),
            Value::object([("n", Value::number(3))]),
        ),
        &Type::Dynamic,
        r#"{"value":{"n":3},"type":["object",{"n":"number"}]}"#,
    );
    // Field order does not matter on decode.
    assert_eq!(
        decode(br#"{"type":"bool","value":true}"#, &Type::Dynamic).unwrap(),
        Value::dynamic(Type::Bool, Value::Bool(true))
    );
    let e = decode(br#"{"value":true}"#, &Type::Dynamic).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DynamicField("type"));
    let e = decode(br#"{"type":"bogus","value":true}"#, &Type::Dynamic).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::DynamicType(_)), "{e}");
}

#[test]
fn decoding_is_lenient_about_attributes() {
    let ty = Type::object([("id", Type::String), ("size", Type::Number)]);
    // "old" is not in the schema any more; "size" is new and missing from the state.
    let v = decode(br#"{"id":"i-1","old":{"deep":[1,2]}}"#, &ty).unwrap();
    assert_eq!(
        v,
        Value::object([("id", Value::string("i-1")), ("size", Value::Null)])
    );
}

#[test]
fn decoding_converts_primitives_like_go_cty() {
    assert_eq!(decode(b"5", &Type::String).unwrap(), Value::string("5"));
    assert_eq!(
        decode(b"1.50", &Type::String).unwrap(),
        Value::string("1.50")
    );
    assert_eq!(
        decode(b"true", &Type::String).unwrap(),
        Value::string("true")
    );
    assert_eq!(
        decode(br#""12""#, &Type::Number).unwrap(),
        Value::number(12)
    );
    assert_eq!(
        decode(br#""false""#, &Type::Bool).unwrap(),
        Value::Bool(false)
    );
    let e = decode(br#""yes""#, &Type::Bool).unwrap_err();
    assert_eq!(e.to_string(), "(root): expected bool, found string");
    let e = decode(br#""1x""#, &Type::Number).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::InvalidNumber(NumberError::Invalid));
}

#[test]
fn unknowns_and_infinities_cannot_be_encoded() {
    let ty = Type::object([("a", Type::list(Type::String))]);
    let v = Value::object([("a", Value::list([Value::Null, Value::Unknown]))]);
    let e = encode(&v, &ty).unwrap_err();
    assert_eq!(e.to_string(), ".a[1]: unknown values have no JSON form");
    let e = encode(&Value::Number(Number::Float(f64::INFINITY)), &Type::Number).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::Infinity);
    let e = encode(&Value::Number(Number::Float(f64::NAN)), &Type::Number).unwrap_err();
    assert_eq!(e.kind, EncodeErrorKind::InvalidNumber(NumberError::NaN));
}

#[test]
fn errors_name_the_path() {
    let ty = Type::object([(
        "network",
        Type::list(Type::object([("name", Type::String)])),
    )]);
    let e = decode(
        br#"{"network":[{"name":"a"},{"name":"b"},{"name":[]}]}"#,
        &ty,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        ".network[2].name: expected string, found array"
    );
    let e = decode(br#"[1,2"#, &Type::list(Type::Number)).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::Json(_)), "{e}");
    let e = decode(br#"[1,2]"#, &Type::Tuple(vec![Type::Number])).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::TupleLength {
            expected: 1,
            found: 2
        }
    );
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    let deep = "[".repeat(100_000);
    let mut ty = Type::Number;
    for _ in 0..10 {
        ty = Type::list(ty);
    }
    for bad in [
        deep.as_bytes(),
        b"\xff\xfe",
        b"\"\xc3\x28\"",
        b"",
        b"{\"a\":}",
        b"nan",
    ] {
        assert!(decode(bad, &ty).is_err());
        assert!(decode(bad, &Type::String).is_err());
        assert!(decode(bad, &Type::Number).is_err());
    }
    let e = decode(b"1e99999999999999", &Type::Number).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::InvalidNumber(NumberError::OutOfRange)
    );
}
