//! cty types.

use std::collections::{BTreeMap, BTreeSet};

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
