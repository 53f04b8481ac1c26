//! Fuzz target: JSON value decoding (`RawState.json`) and type-constraint JSON parsing.
//!
//! The first byte picks a type from the fixed set; the rest is decoded as a JSON value of
//! that type, and separately parsed as type-constraint JSON. Whatever decodes must survive
//! JSON and msgpack round trips unchanged.
#![no_main]

use hyperprotect::runtime::value::{json, msgpack, DecodeErrorKind, Type};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::{fixed_types, has_infinity};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    if let Ok(ty) = Type::from_constraint_json(text) {
        let again = Type::from_constraint_json(ty.to_constraint_json().as_bytes());
        assert_eq!(again.as_ref(), Ok(&ty), "type JSON round trip");
    }

    let types = fixed_types();
    let ty = &types[usize::from(selector) % types.len()];
    let Ok(value) = json::decode(text, ty) else {
        return;
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
});
