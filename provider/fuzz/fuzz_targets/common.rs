//! Shared by the fuzz targets: a fixed set of interesting types, and value predicates.

use hyperprotect::runtime::value::{Number, Type, Value};

/// Types worth fuzzing against: every kind, nesting, and dynamic in several positions.
pub fn fixed_types() -> Vec<Type> {
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
pub fn has_infinity(v: &Value) -> bool {
    let mut found = false;
    let _ = v.walk(&mut |_, v| {
        if let Value::Number(Number::Float(f)) = v {
            found |= f.is_infinite();
        }
        Ok::<(), ()>(())
    });
    found
}
