//! cty types, and their type-constraint JSON (`Schema.Attribute.type`, the type half of a
//! dynamic value): `"string"`, `["list","number"]`, `["object",{"a":"bool"},["a"]]`, ….

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::error::{echo_name, TypeJsonError};

/// A cty type. Capsule types cannot cross the plugin protocol and are not modelled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    String,
    Number,
    Bool,
    /// "Any type": values at such a position carry their concrete type on the wire.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(ObjectType),
    Tuple(Vec<Type>),
}

/// An object type: attribute names to types, and which attributes may be omitted
/// (only meaningful in type constraints; values always carry every attribute).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ObjectType {
    pub attributes: BTreeMap<String, Type>,
    pub optional: BTreeSet<String>,
}

impl ObjectType {
    pub fn new(attributes: impl IntoIterator<Item = (String, Type)>) -> Self {
        ObjectType {
            attributes: attributes.into_iter().collect(),
            optional: BTreeSet::new(),
        }
    }
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }
    pub fn object<S: Into<String>>(attributes: impl IntoIterator<Item = (S, Type)>) -> Type {
        Type::Object(ObjectType::new(
            attributes.into_iter().map(|(name, ty)| (name.into(), ty)),
        ))
    }

    /// Whether a `dynamic` appears anywhere inside this type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::String | Type::Number | Type::Bool => false,
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_dynamic(),
            Type::Object(o) => o.attributes.values().any(Type::has_dynamic),
            Type::Tuple(es) => es.iter().any(Type::has_dynamic),
        }
    }
}

impl Type {
    /// The type's kind in one word, for messages (`"list"`, `"object"`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Number => "number",
            Type::Bool => "bool",
            Type::Dynamic => "dynamic",
            Type::List(_) => "list",
            Type::Set(_) => "set",
            Type::Map(_) => "map",
            Type::Object(_) => "object",
            Type::Tuple(_) => "tuple",
        }
    }

    /// The type-constraint JSON text (quotes included: `"string"` is 8 bytes). Object
    /// attributes are written sorted; the optional-attribute list only when non-empty.
    pub fn to_constraint_json(&self) -> String {
        let mut out = String::new();
        self.write_constraint_json(&mut out);
        out
    }

    fn write_constraint_json(&self, out: &mut String) {
        let collection = |out: &mut String, kind: &str, element: &Type| {
            out.push_str("[\"");
            out.push_str(kind);
            out.push_str("\",");
            element.write_constraint_json(out);
            out.push(']');
        };
        match self {
            Type::String | Type::Number | Type::Bool | Type::Dynamic => {
                out.push('"');
                out.push_str(self.kind_name());
                out.push('"');
            }
            Type::List(e) => collection(out, "list", e),
            Type::Set(e) => collection(out, "set", e),
            Type::Map(e) => collection(out, "map", e),
            Type::Object(o) => {
                out.push_str("[\"object\",{");
                for (i, (name, ty)) in o.attributes.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, name);
                    out.push(':');
                    ty.write_constraint_json(out);
                }
                out.push('}');
                if !o.optional.is_empty() {
                    out.push_str(",[");
                    for (i, name) in o.optional.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_json_string(out, name);
                    }
                    out.push(']');
                }
                out.push(']');
            }
            Type::Tuple(es) => {
                out.push_str("[\"tuple\",[");
                for (i, e) in es.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    e.write_constraint_json(out);
                }
                out.push_str("]]");
            }
        }
    }

    /// Parses type-constraint JSON. Malformed JSON, unknown type names, wrong arities and
    /// optional attributes that are not attributes are errors naming where they are.
    /// Nesting is bounded by the JSON parser's recursion limit (128).
    pub fn from_constraint_json(bytes: &[u8]) -> Result<Type, TypeJsonError> {
        let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| TypeJsonError {
            location: "/".into(),
            problem: format!("not valid JSON: {e}"),
        })?;
        Type::from_constraint_value(&json)
    }

    /// As [`Type::from_constraint_json`], from already-parsed JSON.
    pub fn from_constraint_value(json: &serde_json::Value) -> Result<Type, TypeJsonError> {
        parse_type(json, &mut Vec::new())
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_constraint_json())
    }
}

/// Appends `s` as a JSON string literal. Runs of characters that need no escape are copied
/// as slices (state values such as contracts are long and almost never need escapes).
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut clean_from = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[clean_from..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(escape);
        }
        clean_from = i + c.len_utf8();
    }
    out.push_str(&s[clean_from..]);
    out.push('"');
}

fn type_error(location: &[String], problem: impl Into<String>) -> TypeJsonError {
    TypeJsonError {
        location: format!("/{}", location.join("/")),
        problem: problem.into(),
    }
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn parse_type(json: &serde_json::Value, location: &mut Vec<String>) -> Result<Type, TypeJsonError> {
    use serde_json::Value as J;
    match json {
        J::String(name) => match name.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(type_error(
                location,
                format!("unknown primitive type {:?}", echo_name(other)),
            )),
        },
        J::Array(items) => {
            let kind = match items.first() {
                Some(J::String(kind)) => kind.as_str(),
                Some(other) => {
                    return Err(type_error(
                        location,
                        format!("type kind must be a string, found {}", json_kind(other)),
                    ))
                }
                None => return Err(type_error(location, "empty array is not a type")),
            };
            let arity_ok = match kind {
                "object" => items.len() == 2 || items.len() == 3,
                _ => items.len() == 2,
            };
            match kind {
                "list" | "set" | "map" | "object" | "tuple" if !arity_ok => {
                    return Err(type_error(
                        location,
                        format!("{kind} type has {} elements, expected 2", items.len()),
                    ))
                }
                _ => {}
            }
            let child = |index: &str, json: &J, location: &mut Vec<String>| {
                location.push(index.to_owned());
                let ty = parse_type(json, location);
                location.pop();
                ty
            };
            match kind {
                "list" => Ok(Type::list(child("1", &items[1], location)?)),
                "set" => Ok(Type::set(child("1", &items[1], location)?)),
                "map" => Ok(Type::map(child("1", &items[1], location)?)),
                "tuple" => {
                    let J::Array(elements) = &items[1] else {
                        return Err(type_error(
                            location,
                            format!(
                                "tuple elements must be an array, found {}",
                                json_kind(&items[1])
                            ),
                        ));
                    };
                    location.push("1".into());
                    let mut types = Vec::with_capacity(elements.len());
                    for (i, e) in elements.iter().enumerate() {
                        types.push(child(&i.to_string(), e, location)?);
                    }
                    location.pop();
                    Ok(Type::Tuple(types))
                }
                "object" => {
                    let J::Object(attrs) = &items[1] else {
                        return Err(type_error(
                            location,
                            format!(
                                "object attributes must be an object, found {}",
                                json_kind(&items[1])
                            ),
                        ));
                    };
                    location.push("1".into());
                    let mut attributes = BTreeMap::new();
                    for (name, ty) in attrs {
                        let ty = child(&echo_name(name), ty, location)?;
                        attributes.insert(name.clone(), ty);
                    }
                    location.pop();
                    let mut optional = BTreeSet::new();
                    if let Some(list) = items.get(2) {
                        location.push("2".into());
                        let J::Array(names) = list else {
                            return Err(type_error(
                                location,
                                format!(
                                    "optional attributes must be an array, found {}",
                                    json_kind(list)
                                ),
                            ));
                        };
                        for name in names {
                            let J::String(name) = name else {
                                return Err(type_error(
                                    location,
                                    format!(
                                        "optional attribute names must be strings, found {}",
                                        json_kind(name)
                                    ),
                                ));
                            };
                            if !attributes.contains_key(name) {
                                return Err(type_error(
                                    location,
                                    format!(
                                        "optional attribute {:?} is not an attribute",
                                        echo_name(name)
                                    ),
                                ));
                            }
                            optional.insert(name.clone());
                        }
                        location.pop();
                    }
                    Ok(Type::Object(ObjectType {
                        attributes,
                        optional,
                    }))
                }
                other => Err(type_error(
                    location,
                    format!("unknown type kind {:?}", echo_name(other)),
                )),
            }
        }
        other => Err(type_error(
            location,
            format!(
                "a type must be a string or an array, found {}",
                json_kind(other)
            ),
        )),
    }
}
