//! Typed models: each object declares Rust structs for its configuration, plan and state
//! with [`model!`](crate::model), builds them once from the [`Value`] Terraform sent and
//! writes them back, instead of looking attributes up by name. A field is named exactly as
//! its attribute (or nested block); [`Model::fields`] lists them, so one test proves for
//! every object that model and schema agree ([`mismatches`]).

use std::fmt;

use crate::runtime::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::runtime::schema::{AttributeType, Block};
use crate::runtime::value::{ConversionError, FromValue, Known, Number, ToValue, Value};

/// One field of a model: an attribute or block name, and the fields of the nested model when
/// the field holds nested objects (a block, or nested attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The attribute or block name.
    pub name: &'static str,
    /// The nested model's fields, for blocks and nested attributes.
    pub nested: Option<Vec<Field>>,
}

/// A typed view of an object value (a configuration, plan or state, or one nested block).
/// Implemented by [`model!`](crate::model).
pub trait Model: FromValue + ToValue {
    /// The fields, in declaration order.
    fn fields() -> Vec<Field>;

    /// Builds the model from a value Terraform sent; a value of the wrong shape becomes an
    /// error diagnostic at its attribute (a bug in the provider's model, not the user's
    /// configuration, since Terraform checked the types already).
    fn build(value: &Value) -> Result<Self, Diagnostics> {
        Self::from_value(value).map_err(|e| conversion_diagnostic(&e).into())
    }
}

/// How a field type shows in [`Model::fields`]: scalars have no nested fields, containers
/// have their element's, models their own.
pub trait Shape {
    /// The nested model's fields, if the type holds one.
    fn nested() -> Option<Vec<Field>> {
        None
    }
}

impl Shape for String {}
impl Shape for bool {}
impl Shape for i64 {}
impl Shape for u64 {}
impl Shape for f64 {}
impl Shape for Number {}
impl Shape for Value {}

macro_rules! shape_of_element {
    ($($t:ty),*) => {$(
        impl<T: Shape> Shape for $t {
            fn nested() -> Option<Vec<Field>> {
                T::nested()
            }
        }
    )*};
}
shape_of_element!(
    Known<T>,
    Option<T>,
    Vec<T>,
    std::collections::BTreeSet<T>,
    std::collections::BTreeMap<String, T>
);

/// What a sensitive field prints in a model's `Debug`.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sensitive>")
    }
}

/// The field itself, or `<sensitive>` when it is marked so (used by [`model!`](crate::model)).
#[doc(hidden)]
pub fn debug_field(value: &dyn fmt::Debug, sensitive: bool) -> &dyn fmt::Debug {
    if sensitive {
        &Redacted
    } else {
        value
    }
}

/// A conversion error as a diagnostic at the attribute it is about.
pub fn conversion_diagnostic(e: &ConversionError) -> Diagnostic {
    Diagnostic::error(
        "Value does not fit the provider's model",
        format!("{e}. This is a bug in the provider."),
    )
    .at(AttrPath::from(&e.path))
}

/// Where a model and a schema block disagree: fields without an attribute or block,
/// attributes and blocks without a field, and the same inside nested blocks and nested
/// attributes. Empty when they agree.
pub fn mismatches(block: &Block, fields: &[Field]) -> Vec<String> {
    let mut out = Vec::new();
    compare(block, fields, "", &mut out);
    out
}

fn compare(block: &Block, fields: &[Field], at: &str, out: &mut Vec<String>) {
    let mut schema_names: Vec<(&str, Option<Block>)> = Vec::new();
    for a in &block.attributes {
        let nested = match &a.ty {
            AttributeType::Nested(n) => Some(Block::new(n.attributes.clone())),
            AttributeType::Typed(_) => None,
        };
        schema_names.push((&a.name, nested));
    }
    for b in &block.blocks {
        schema_names.push((&b.type_name, Some(b.block.clone())));
    }
    for f in fields {
        if !schema_names.iter().any(|(n, _)| *n == f.name) {
            out.push(format!(
                "{at}{}: a model field without an attribute",
                f.name
            ));
        }
    }
    for (name, nested) in schema_names {
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            out.push(format!("{at}{name}: an attribute without a model field"));
            continue;
        };
        match (nested, &field.nested) {
            (Some(block), Some(inner)) => compare(&block, inner, &format!("{at}{name}."), out),
            (Some(_), None) => out.push(format!(
                "{at}{name}: a block or nested attribute held by a field without a model"
            )),
            // A typed attribute may be read into a model (an object-typed computed value).
            (None, _) => {}
        }
    }
}

/// Declares a model: a struct whose fields are named as the schema's attributes and blocks,
/// with [`FromValue`], [`ToValue`], [`Model`] and a `Debug` that prints `<sensitive>` for
/// fields marked `[sensitive]`.
///
/// ```
/// use hyperprotect::model;
/// use hyperprotect::runtime::value::Known;
///
/// model! {
///     /// The configuration of a login.
///     pub struct Login {
///         pub user: Known<String>,
///         pub password: Known<String> [sensitive],
///     }
/// }
/// let login = Login { user: Known::Value("me".into()), password: Known::Value("pw".into()) };
/// assert_eq!(format!("{login:?}"), r#"Login { user: "me", password: <sensitive> }"#);
/// ```
#[macro_export]
macro_rules! model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $ty:ty $([$sensitive:ident])?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq)]
        $vis struct $name {
            $(
                $(#[$field_meta])*
                $field_vis $field: $ty,
            )*
        }

        impl $crate::runtime::value::FromValue for $name {
            fn from_value(
                value: &$crate::runtime::value::Value,
            ) -> ::std::result::Result<Self, $crate::runtime::value::ConversionError> {
                if value.as_entries().is_none() {
                    return Err($crate::runtime::value::ConversionError::new(format!(
                        "expected an object, found {}",
                        value.kind_name()
                    )));
                }
                Ok($name {
                    $(
                        $field: $crate::runtime::value::field(value, stringify!($field))?,
                    )*
                })
            }
        }

        impl $crate::runtime::value::ToValue for $name {
            fn to_value(&self) -> $crate::runtime::value::Value {
                $crate::runtime::value::Value::object([
                    $(
                        (
                            stringify!($field),
                            $crate::runtime::value::ToValue::to_value(&self.$field),
                        ),
                    )*
                ])
            }
        }

        impl $crate::runtime::framework::model::Model for $name {
            fn fields() -> Vec<$crate::runtime::framework::model::Field> {
                vec![
                    $(
                        $crate::runtime::framework::model::Field {
                            name: stringify!($field),
                            nested: <$ty as $crate::runtime::framework::model::Shape>::nested(),
                        },
                    )*
                ]
            }
        }

        impl $crate::runtime::framework::model::Shape for $name {
            fn nested() -> Option<Vec<$crate::runtime::framework::model::Field>> {
                Some(<$name as $crate::runtime::framework::model::Model>::fields())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(
                        .field(
                            stringify!($field),
                            $crate::runtime::framework::model::debug_field(
                                &self.$field,
                                $crate::model!(@sensitive $($sensitive)?),
                            ),
                        )
                    )*
                    .finish()
            }
        }
    };
    (@sensitive sensitive) => {
        true
    };
    (@sensitive) => {
        false
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::schema::{Attribute, BlockNesting, NestedBlock};
    use crate::runtime::value::Type;

    crate::model! {
        struct Disk {
            size: Known<i64>,
        }
    }

    crate::model! {
        struct Server {
            name: Known<String>,
            secret: Known<String> [sensitive],
            disk: Vec<Disk>,
        }
    }

    fn block() -> Block {
        Block::new(vec![
            Attribute::required("name", Type::String),
            Attribute::optional("secret", Type::String).sensitive(),
        ])
        .with_blocks(vec![NestedBlock::new(
            "disk",
            BlockNesting::List,
            Block::new(vec![Attribute::optional("size", Type::Number)]),
        )])
    }

    #[test]
    fn models_round_trip_and_hide_secrets() {
        let v = Value::object([
            ("name", Value::string("web")),
            ("secret", Value::string("hunter2")),
            (
                "disk",
                Value::list([Value::object([("size", Value::Unknown)])]),
            ),
        ]);
        let s = Server::build(&v).unwrap();
        assert_eq!(s.name, Known::Value("web".to_string()));
        assert_eq!(s.disk[0].size, Known::Unknown);
        assert_eq!(s.to_value(), v);
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<sensitive>"), "{printed}");
    }

    #[test]
    fn a_wrong_value_is_a_diagnostic_at_its_attribute() {
        let v = Value::object([("name", Value::Bool(true)), ("disk", Value::list([]))]);
        let d = Server::build(&v).unwrap_err();
        assert_eq!(d.0[0].path, Some(AttrPath::attr("name")));
    }

    #[test]
    fn mismatches_name_every_difference() {
        assert!(mismatches(&block(), &Server::fields()).is_empty());
        let other = Block::new(vec![
            Attribute::required("name", Type::String),
            Attribute::optional("extra", Type::String),
        ])
        .with_blocks(vec![NestedBlock::new(
            "disk",
            BlockNesting::List,
            Block::new(vec![Attribute::optional("bytes", Type::Number)]),
        )]);
        let mut found = mismatches(&other, &Server::fields());
        found.sort();
        assert_eq!(
            found,
            [
                "disk.bytes: an attribute without a model field",
                "disk.size: a model field without an attribute",
                "extra: an attribute without a model field",
                "secret: a model field without an attribute",
            ]
        );
    }
}
