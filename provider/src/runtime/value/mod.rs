//! The cty value model Terraform exchanges with providers, and its wire codecs.
//!
//! [`Type`] is a cty type; [`Value`] a value that is known, null or unknown. Values are
//! self-describing enough to be walked without their type (lists, sets and tuples, maps
//! and objects are distinct), but encoding always happens against a type, as Terraform
//! decodes against the schema's implied type.

mod number;
mod types;
mod value;

pub use number::Number;
pub use types::{ObjectType, Type};
pub use value::Value;
