//! Fuzz target: msgpack value decoding against many types, plus round trips of whatever
//! decodes.
//!
//! Input layout: the first byte picks the type. `0xff` means "the type is given inline":
//! the next byte is a length n, the n bytes after it are type-constraint JSON (which is
//! itself fuzzed this way), and the rest is the value. Any other first byte indexes a
//! fixed set of interesting types (primitives, collections, nested objects, dynamic).
//!
//! Properties checked (a failure aborts, which libFuzzer records as a crash):
//! - decoding never panics and never overflows the stack;
//! - a decoded value re-encodes, and that encoding decodes to the same value and
//!   re-encodes to the same bytes;
//! - a wholly known decoded value without infinities survives a JSON round trip (unless
//!   it nests deeper than the JSON parser's recursion limit).
#![no_main]

use hyperprotect::runtime::value::{json, msgpack, DecodeErrorKind, Type};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::{fixed_types, has_infinity};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (ty, bytes) = if selector == 0xff {
        let Some((&n, rest)) = rest.split_first() else {
            return;
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
            Err(_) => return,
        }
    } else {
        let types = fixed_types();
        (types[usize::from(selector) % types.len()].clone(), rest)
    };

    let Ok(value) = msgpack::decode(bytes, &ty) else {
        return;
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
});
