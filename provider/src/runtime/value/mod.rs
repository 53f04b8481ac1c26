//! The cty value model Terraform exchanges with providers, and its wire codecs.
//!
//! [`Type`] is a cty type; [`Value`] a value that is known, null or unknown. Values are
//! self-describing enough to be walked without their type (lists, sets and tuples, maps
//! and objects are distinct), but encoding always happens against a type, as Terraform
//! decodes against the schema's implied type. `Value::Null` and `Value::Unknown` carry no
//! type: they are the null and the unknown of whatever type their position has.
//!
//! - [`msgpack`]: the `DynamicValue.msgpack` form (what Terraform sends and expects).
//! - [`Known`], [`FromValue`], [`ToValue`]: typed views of values, for the models objects
//!   read their configuration, plan and state into.
//! - [`json`]: the `RawState.json` / `DynamicValue.json` form.
//! - [`Type::to_constraint_json`] / [`Type::from_constraint_json`]: type-constraint JSON.
//!
//! Errors carry a [`Path`] (`.network[2].name: expected string, found bool`) and never string
//! or number contents (only attribute names, map keys and type names). Nesting is bounded by
//! [`MAX_DEPTH`] (JSON input also by serde_json's 128).

mod error;
pub mod json;
mod known;
pub mod msgpack;
mod number;
mod path;
mod types;
mod values;

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod msgpack_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod type_json_tests;

pub use error::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, TypeJsonError};
pub use known::{field, ConversionError, FromValue, Known, ToValue};
pub use number::{Number, NumberError, MAX_DECIMAL_EXPONENT};
pub use path::{Path, PathStep};
pub use types::{ObjectType, Type};
pub use values::Value;

/// Deepest nesting of collections, objects and dynamic wrappers the codecs accept. Real
/// schemas nest a handful of levels; the bound keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 256;
