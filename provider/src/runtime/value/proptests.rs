//! Property tests: codec round trips over arbitrary types and values conforming to them
//! (null and unknown anywhere, big and inexact numbers, dynamic values with nested types),
//! type-JSON round trips, and "arbitrary bytes never panic".

use std::collections::BTreeSet;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::*;

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z_][a-z0-9_]{0,6}", 1 => any::<String>()]
}

fn arb_type() -> impl Strategy<Value = Type> {
    let leaf = prop_oneof![
        Just(Type::String),
        Just(Type::Number),
        Just(Type::Bool),
        Just(Type::Dynamic),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Type::list),
            inner.clone().prop_map(Type::set),
            inner.clone().prop_map(Type::map),
            vec(inner.clone(), 0..4).prop_map(Type::Tuple),
            (btree_map(arb_name(), inner, 0..4), any::<u8>()).prop_map(|(attributes, mask)| {
                // Mark a pseudo-random subset optional.
                let optional: BTreeSet<String> = attributes
                    .keys()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
                    .map(|(_, k)| k.clone())
                    .collect();
                Type::Object(ObjectType {
                    attributes,
                    optional,
                })
            }),
        ]
    })
}

/// Which values the target form can carry.
#[derive(Clone, Copy)]
struct Form {
    unknowns: bool,
    infinities: bool,
}

const MSGPACK: Form = Form {
    unknowns: true,
    infinities: true,
};
const JSON: Form = Form {
    unknowns: false,
    infinities: false,
};

fn arb_number(form: Form) -> BoxedStrategy<Number> {
    let parsed = |re: &'static str| {
        re.prop_map(|text| Number::parse(&text).expect("generated text is a number"))
    };
    let mut options = vec![
        any::<i64>().prop_map(Number::Int).boxed(),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Number::from)
            .boxed(),
        any::<u64>().prop_map(Number::from_u64).boxed(),
        // Big integers, decimals that are not binary fractions, and exponent forms.
        parsed("-?[1-9][0-9]{19,40}").boxed(),
        parsed("-?[0-9]{1,25}\\.[0-9]{1,25}").boxed(),
        parsed("-?[1-9]\\.[0-9]{0,20}[eE][+-]?[0-9]{1,4}").boxed(),
    ];
    if form.infinities {
        options.push(
            prop_oneof![Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
                .prop_map(Number::Float)
                .boxed(),
        );
    }
    proptest::strategy::Union::new(options).boxed()
}

/// Values of type `ty`; `dynamic_budget` bounds how many dynamic positions may invent a
/// further nested type.
fn arb_value(ty: &Type, form: Form, dynamic_budget: u32) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::String => any::<String>().prop_map(Value::String).boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Number => arb_number(form).prop_map(Value::Number).boxed(),
        Type::List(e) => vec(arb_value(e, form, dynamic_budget), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(e) => vec(arb_value(e, form, dynamic_budget), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(e) => btree_map(any::<String>(), arb_value(e, form, dynamic_budget), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Tuple(es) => es
            .iter()
            .map(|e| arb_value(e, form, dynamic_budget))
            .collect::<Vec<_>>()
            .prop_map(Value::Tuple)
            .boxed(),
        Type::Object(o) => {
            let names: Vec<String> = o.attributes.keys().cloned().collect();
            o.attributes
                .values()
                .map(|t| arb_value(t, form, dynamic_budget))
                .collect::<Vec<_>>()
                .prop_map(move |values| Value::Object(names.iter().cloned().zip(values).collect()))
                .boxed()
        }
        Type::Dynamic if dynamic_budget == 0 => any::<String>()
            .prop_map(|s| Value::dynamic(Type::String, Value::String(s)))
            .boxed(),
        Type::Dynamic => arb_type()
            .prop_flat_map(move |concrete| {
                arb_value(&concrete, form, dynamic_budget - 1)
                    .prop_map(move |v| Value::dynamic(concrete.clone(), v))
            })
            .boxed(),
    };
    if form.unknowns {
        prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
    } else {
        prop_oneof![1 => Just(Value::Null), 6 => known].boxed()
    }
}

fn typed_value(form: Form) -> impl Strategy<Value = (Type, Value)> {
    arb_type().prop_flat_map(move |ty| {
        let values = arb_value(&ty, form, 2);
        (Just(ty), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn msgpack_round_trips((ty, value) in typed_value(MSGPACK)) {
        let bytes = msgpack::encode(&value, &ty).unwrap();
        let back = msgpack::decode(&bytes, &ty).unwrap();
        prop_assert_eq!(&back, &value);
        // Encoding is deterministic: the decoded value encodes to the same bytes.
        prop_assert_eq!(msgpack::encode(&back, &ty).unwrap(), bytes);
    }

    #[test]
    fn json_round_trips((ty, value) in typed_value(JSON)) {
        prop_assert!(value.is_wholly_known());
        let bytes = json::encode(&value, &ty).unwrap();
        // The output is valid JSON for any other reader.
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        let back = json::decode(&bytes, &ty).unwrap();
        prop_assert_eq!(&back, &value);
    }

    #[test]
    fn type_json_round_trips(ty in arb_type()) {
        let json = ty.to_constraint_json();
        prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
        prop_assert_eq!(Type::from_constraint_json(json.as_bytes()).unwrap(), ty);
    }

    #[test]
    fn number_text_round_trips(n in arb_number(JSON)) {
        let text = n.to_decimal_text().unwrap();
        prop_assert_eq!(Number::parse(&text).unwrap(), n);
    }

    #[test]
    fn arbitrary_bytes_never_panic(ty in arb_type(), bytes in vec(any::<u8>(), 0..64)) {
        // Results do not matter here, only that decoding returns.
        let decoded = msgpack::decode(&bytes, &ty);
        if let Ok(v) = decoded {
            // Anything that decodes re-encodes and decodes to itself.
            let again = msgpack::encode(&v, &ty).unwrap();
            prop_assert_eq!(msgpack::decode(&again, &ty).unwrap(), v);
        }
        let _ = json::decode(&bytes, &ty);
        let _ = Type::from_constraint_json(&bytes);
    }

    #[test]
    fn mutated_encodings_never_panic(
        (ty, value) in typed_value(MSGPACK),
        flips in vec(any::<prop::sample::Index>(), 1..4),
        byte in any::<u8>(),
    ) {
        let mut bytes = msgpack::encode(&value, &ty).unwrap();
        for i in flips {
            let at = i.index(bytes.len());
            bytes[at] = byte;
        }
        if let Ok(v) = msgpack::decode(&bytes, &ty) {
            let again = msgpack::encode(&v, &ty).unwrap();
            prop_assert_eq!(msgpack::decode(&again, &ty).unwrap(), v);
        }
    }
}
