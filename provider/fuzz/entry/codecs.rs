//! Fuzz targets for the cty value codecs (`runtime::value`): msgpack and JSON decoding
//! against many types, and round trips of whatever decodes.

use hyperprotect::runtime::value::{json, msgpack, DecodeErrorKind, Number, Type, Value};

/// Types worth fuzzing against: every kind, nesting, and dynamic in several positions.
pub(crate) fn fixed_types() -> Vec<Type> {
    let net = Type::object([("name", Type::String), ("ip", Type::String)]);
    vec![
        Type::String,
        Type::Number,
        Type::Bool,
        Type::Dynamic,
        Type::list(Type::String),
        Type::set(Type::Number),
        Type::map(Type::Dynamic),
        Type::Tuple(vec![Type::String, Type::Number, Type::Bool]),
        Type::object([
            ("id", Type::String),
            ("n", Type::Number),
            ("tags", Type::map(Type::String)),
            ("nets", Type::list(net.clone())),
            ("d", Type::Dynamic),
            ("s", Type::set(Type::object([("a", Type::Number)]))),
        ]),
        Type::list(Type::list(Type::list(Type::Dynamic))),
        Type::object::<&str>([]),
        Type::map(Type::list(net)),
    ]
}

/// Whether an infinity appears anywhere (JSON cannot carry one).
pub(crate) fn has_infinity(v: &Value) -> bool {
    let mut found = false;
    let _ = v.walk(&mut |_, v| {
        if let Value::Number(Number::Float(f)) = v {
            found |= f.is_infinite();
        }
        Ok::<(), ()>(())
    });
    found
}

/// msgpack value decoding against many types, plus round trips of whatever
/// decodes.
///
/// Input layout: the first byte picks the type. `0xff` means "the type is given inline":
/// the next byte is a length n, the n bytes after it are type-constraint JSON (which is
/// itself fuzzed this way), and the rest is the value. Any other first byte indexes a
/// fixed set of interesting types (primitives, collections, nested objects, dynamic).
///
/// Properties checked (a failure aborts, which libFuzzer records as a crash):
/// - decoding never panics and never overflows the stack;
/// - a decoded value re-encodes, and that encoding decodes to the same value and
///   re-encodes to the same bytes;
/// - a wholly known decoded value without infinities survives a JSON round trip (unless
///   it nests deeper than the JSON parser's recursion limit).
pub(crate) fn msgpack_decode(data: &[u8]) -> bool {
    let Some((&selector, rest)) = data.split_first() else {
        return false;
    };
    let (ty, bytes) = if selector == 0xff {
        let Some((&n, rest)) = rest.split_first() else {
            return false;
        };
        let n = usize::from(n).min(rest.len());
        let (type_json, value) = rest.split_at(n);
        match Type::from_constraint_json(type_json) {
            Ok(ty) => {
                // Type JSON round trip.
                assert_eq!(
                    Type::from_constraint_json(ty.to_constraint_json().as_bytes()).as_ref(),
                    Ok(&ty)
                );
                (ty, value)
            }
            Err(_) => return false,
        }
    } else {
        let types = fixed_types();
        (types[usize::from(selector) % types.len()].clone(), rest)
    };

    let Ok(value) = msgpack::decode(bytes, &ty) else {
        return false;
    };
    let encoded = msgpack::encode(&value, &ty).expect("a decoded value re-encodes");
    let again = msgpack::decode(&encoded, &ty).expect("our own encoding decodes");
    assert_eq!(again, value, "msgpack round trip changed the value");
    assert_eq!(
        msgpack::encode(&again, &ty).expect("re-encodes"),
        encoded,
        "msgpack encoding is not deterministic"
    );

    if value.is_wholly_known() && !has_infinity(&value) {
        let text = json::encode(&value, &ty).expect("a known finite value encodes as JSON");
        match json::decode(&text, &ty) {
            Ok(back) => assert_eq!(back, value, "JSON round trip changed the value"),
            Err(e) => assert!(
                matches!(&e.kind, DecodeErrorKind::Json(m) if m.contains("recursion limit")),
                "our own JSON does not decode: {e}"
            ),
        }
    }
    true
}

/// JSON value decoding (`RawState.json`) and type-constraint JSON parsing. Accepted when
/// either reading succeeds.
///
/// The first byte picks a type from the fixed set; the rest is decoded as a JSON value of
/// that type, and separately parsed as type-constraint JSON. Whatever decodes must survive
/// JSON and msgpack round trips unchanged.
pub(crate) fn json_decode(data: &[u8]) -> bool {
    let Some((&selector, text)) = data.split_first() else {
        return false;
    };
    let is_type = match Type::from_constraint_json(text) {
        Ok(ty) => {
            let again = Type::from_constraint_json(ty.to_constraint_json().as_bytes());
            assert_eq!(again.as_ref(), Ok(&ty), "type JSON round trip");
            true
        }
        Err(_) => false,
    };

    let types = fixed_types();
    let ty = &types[usize::from(selector) % types.len()];
    let Ok(value) = json::decode(text, ty) else {
        return is_type;
    };
    assert!(value.is_wholly_known(), "JSON cannot carry unknowns");
    assert!(!has_infinity(&value), "JSON numbers are finite");

    let encoded = json::encode(&value, ty).expect("a decoded value re-encodes as JSON");
    match json::decode(&encoded, ty) {
        Ok(back) => assert_eq!(back, value, "JSON round trip changed the value"),
        Err(e) => assert!(
            matches!(&e.kind, DecodeErrorKind::Json(m) if m.contains("recursion limit")),
            "our own JSON does not decode: {e}"
        ),
    }

    let packed = msgpack::encode(&value, ty).expect("a decoded value encodes as msgpack");
    let back = msgpack::decode(&packed, ty).expect("our own msgpack decodes");
    assert_eq!(back, value, "msgpack round trip changed the value");
    true
}
