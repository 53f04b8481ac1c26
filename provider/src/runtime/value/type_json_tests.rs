//! Type-constraint JSON vectors.

use std::collections::BTreeSet;

use super::*;

fn both_ways(ty: Type, json: &str) {
    assert_eq!(ty.to_constraint_json(), json);
    assert_eq!(
        Type::from_constraint_json(json.as_bytes()).unwrap(),
        ty,
        "{json}"
    );
}

#[test]
fn primitives_and_collections() {
    both_ways(Type::String, r#""string""#);
    assert_eq!(Type::String.to_constraint_json().len(), 8);
    both_ways(Type::Number, r#""number""#);
    both_ways(Type::Bool, r#""bool""#);
    both_ways(Type::Dynamic, r#""dynamic""#);
    both_ways(Type::list(Type::Number), r#"["list","number"]"#);
    both_ways(Type::set(Type::String), r#"["set","string"]"#);
    both_ways(
        Type::map(Type::list(Type::Bool)),
        r#"["map",["list","bool"]]"#,
    );
    both_ways(
        Type::Tuple(vec![Type::String, Type::Dynamic]),
        r#"["tuple",["string","dynamic"]]"#,
    );
    both_ways(Type::Tuple(vec![]), r#"["tuple",[]]"#);
}

#[test]
fn objects_sorted_with_optional_attributes() {
    both_ways(
        Type::object([("b", Type::String), ("a", Type::Number)]),
        r#"["object",{"a":"number","b":"string"}]"#,
    );
    both_ways(Type::object::<&str>([]), r#"["object",{}]"#);
    let mut o = ObjectType::new([
        ("a".to_string(), Type::String),
        ("b".to_string(), Type::Bool),
    ]);
    o.optional = BTreeSet::from(["b".to_string()]);
    both_ways(
        Type::Object(o),
        r#"["object",{"a":"string","b":"bool"},["b"]]"#,
    );
    // Attribute names needing escapes.
    both_ways(
        Type::object([("q\"\\\n", Type::String)]),
        r#"["object",{"q\"\\\n":"string"}]"#,
    );
    // Whitespace and key order in the input do not matter.
    assert_eq!(
        Type::from_constraint_json(br#" [ "object" , { "b" : "bool" , "a" : "string" } ] "#)
            .unwrap(),
        Type::object([("a", Type::String), ("b", Type::Bool)])
    );
}

#[test]
fn invalid_type_json_is_an_error() {
    let cases: &[(&str, &str)] = &[
        (
            r#""strin""#,
            r#"type JSON at /: unknown primitive type "strin""#,
        ),
        (
            r#"["list"]"#,
            "type JSON at /: list type has 1 elements, expected 2",
        ),
        (
            r#"["list","string","x"]"#,
            "type JSON at /: list type has 3 elements, expected 2",
        ),
        (
            r#"[1,"string"]"#,
            "type JSON at /: type kind must be a string, found a number",
        ),
        (r#"[]"#, "type JSON at /: empty array is not a type"),
        (
            r#"["frob","string"]"#,
            r#"type JSON at /: unknown type kind "frob""#,
        ),
        (
            r#"{}"#,
            "type JSON at /: a type must be a string or an array, found an object",
        ),
        (
            r#"["list",["map","strin"]]"#,
            r#"type JSON at /1/1: unknown primitive type "strin""#,
        ),
        (
            r#"["object",{"a":"string"},["b"]]"#,
            r#"type JSON at /2: optional attribute "b" is not an attribute"#,
        ),
        (
            r#"["object",{"a":"string"},[1]]"#,
            "type JSON at /2: optional attribute names must be strings, found a number",
        ),
        (
            r#"["object",["a"]]"#,
            "type JSON at /: object attributes must be an object, found an array",
        ),
        (
            r#"["object",{"a":{"b":"c"}}]"#,
            "type JSON at /1/a: a type must be a string or an array, found an object",
        ),
        (
            r#"["tuple","string"]"#,
            "type JSON at /: tuple elements must be an array, found a string",
        ),
        (
            r#"["tuple",["string",7]]"#,
            "type JSON at /1/1: a type must be a string or an array, found a number",
        ),
    ];
    for (json, message) in cases {
        let e = Type::from_constraint_json(json.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), *message, "{json}");
    }
    for bad in [&b""[..], b"\"string", b"\xff", b"string", b"\"string\" x"] {
        let e = Type::from_constraint_json(bad).unwrap_err();
        assert!(e.problem.starts_with("not valid JSON"), "{e}");
    }
}

#[test]
fn deep_type_json_is_an_error_not_a_stack_overflow() {
    let mut json = String::new();
    for _ in 0..50_000 {
        json.push_str("[\"list\",");
    }
    json.push_str("\"string\"");
    for _ in 0..50_000 {
        json.push(']');
    }
    assert!(Type::from_constraint_json(json.as_bytes()).is_err());
}

#[test]
fn long_names_are_shortened_in_messages() {
    let name = "z".repeat(1000);
    let e = Type::from_constraint_json(format!("\"{name}\"").as_bytes()).unwrap_err();
    assert!(e.to_string().len() < 200, "{e}");
}
