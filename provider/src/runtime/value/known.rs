//! Typed views of values: [`Known`] (a value as far as it is known at this point of a run:
//! null, unknown or a value) and the [`FromValue`] / [`ToValue`] conversions that typed
//! configuration, plan and state models are built from and written back with.
//!
//! Conversions never guess: a value of the wrong kind (a fraction where a whole number is
//! expected, an unknown inside a state) is a [`ConversionError`] naming the path, so a
//! misspelt or mistyped field fails loudly in a test instead of reading as null.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::path::{Path, PathStep};
use super::{Number, Value};

/// A configuration or plan value as far as it is known now.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Known<T> {
    /// Not set.
    #[default]
    Null,
    /// Set, but known only after apply.
    Unknown,
    /// Set and known.
    Value(T),
}

impl<T> Known<T> {
    /// The value, if known and set.
    pub fn value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            _ => None,
        }
    }

    /// A borrowing view.
    pub fn as_ref(&self) -> Known<&T> {
        match self {
            Known::Null => Known::Null,
            Known::Unknown => Known::Unknown,
            Known::Value(v) => Known::Value(v),
        }
    }

    /// True when the value is known only after apply.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }

    /// True when not set.
    pub fn is_null(&self) -> bool {
        matches!(self, Known::Null)
    }

    /// True when set (known or not).
    pub fn is_set(&self) -> bool {
        !self.is_null()
    }

    /// Applies `f` to a known value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Null => Known::Null,
            Known::Unknown => Known::Unknown,
            Known::Value(v) => Known::Value(f(v)),
        }
    }

    /// This, or `other` when this is null (for an attribute and its write-only twin).
    pub fn or(self, other: Known<T>) -> Known<T> {
        match self {
            Known::Null => other,
            set => set,
        }
    }

    /// Unknown read as null: for a state, which must be wholly known, built from inputs some
    /// of which may not be (they are then recorded as not set).
    pub fn unknown_as_null(self) -> Known<T> {
        match self {
            Known::Unknown => Known::Null,
            other => other,
        }
    }

    /// The known value, or `default` when null; `None` when unknown.
    pub fn known_or(self, default: T) -> Option<T> {
        match self {
            Known::Null => Some(default),
            Known::Unknown => None,
            Known::Value(v) => Some(v),
        }
    }
}

impl Known<String> {
    /// A borrowing `&str` view.
    pub fn as_deref(&self) -> Known<&str> {
        self.as_ref().map(String::as_str)
    }
}

impl<T> From<Option<T>> for Known<T> {
    fn from(v: Option<T>) -> Known<T> {
        v.map_or(Known::Null, Known::Value)
    }
}

/// `Debug` is what models print: a secret field's type prints `<sensitive>` instead (see the
/// model macro), so this prints the value itself.
impl<T: fmt::Debug> fmt::Debug for Known<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Known::Null => f.write_str("null"),
            Known::Unknown => f.write_str("unknown"),
            Known::Value(v) => v.fmt(f),
        }
    }
}

/// Why a value does not fit the Rust type a model gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionError {
    /// Where in the value.
    pub path: Path,
    /// What was expected (never the value itself, which may be secret).
    pub message: String,
}

impl ConversionError {
    /// An error at the root of the value converted.
    pub fn new(message: impl Into<String>) -> ConversionError {
        ConversionError {
            path: Path::root(),
            message: message.into(),
        }
    }

    /// The same error, one step further from the root (`step` comes first).
    pub fn within(mut self, step: PathStep) -> ConversionError {
        self.path.0.insert(0, step);
        self
    }

    fn expected(what: &str, found: &Value) -> ConversionError {
        ConversionError::new(format!("expected {what}, found {}", found.kind_name()))
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConversionError {}

/// A Rust type a value converts to.
pub trait FromValue: Sized {
    /// Converts; null and unknown are errors unless the type can hold them ([`Known`],
    /// [`Option`] for null, [`Value`]).
    fn from_value(value: &Value) -> Result<Self, ConversionError>;
}

/// A Rust type that converts back to a value.
pub trait ToValue {
    /// The value (of the type the schema gives the field).
    fn to_value(&self) -> Value;
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        Ok(value.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: FromValue> FromValue for Known<T> {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        match value {
            Value::Null => Ok(Known::Null),
            Value::Unknown => Ok(Known::Unknown),
            v => T::from_value(v).map(Known::Value),
        }
    }
}

impl<T: ToValue> ToValue for Known<T> {
    fn to_value(&self) -> Value {
        match self {
            Known::Null => Value::Null,
            Known::Unknown => Value::Unknown,
            Known::Value(v) => v.to_value(),
        }
    }
}

/// `Option` is for values that are known (state, or a value the framework checked): null
/// is `None`, unknown an error.
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        match value {
            Value::Null => Ok(None),
            Value::Unknown => Err(ConversionError::new("value is not known yet")),
            v => T::from_value(v).map(Some),
        }
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ConversionError::expected("a string", value))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::string(self.clone())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        value
            .as_bool()
            .ok_or_else(|| ConversionError::expected("a bool", value))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl FromValue for Number {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        value
            .as_number()
            .cloned()
            .ok_or_else(|| ConversionError::expected("a number", value))
    }
}

impl ToValue for Number {
    fn to_value(&self) -> Value {
        Value::Number(self.clone())
    }
}

/// A whole number; a fraction or a number beyond `i64` is an error.
impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        Number::from_value(value)?
            .as_i64()
            .ok_or_else(|| ConversionError::new("expected a whole number"))
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::number(*self)
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::number(Number::from_u64(*self))
    }
}

/// A number as a float (for durations in seconds); beyond `f64` is an error.
impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        Number::from_value(value)?
            .to_f64_lossy()
            .filter(|f| f.is_finite())
            .ok_or_else(|| ConversionError::new("expected a finite number"))
    }
}

/// List, set or tuple elements, in order.
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        let items = value
            .as_elements()
            .ok_or_else(|| ConversionError::expected("a list", value))?;
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_value(item).map_err(|e| e.within(PathStep::Index(i as u64))))
            .collect()
    }
}

/// A list value.
impl<T: ToValue> ToValue for Vec<T> {
    fn to_value(&self) -> Value {
        Value::list(self.iter().map(ToValue::to_value))
    }
}

impl<T: FromValue + Ord> FromValue for BTreeSet<T> {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        Ok(Vec::<T>::from_value(value)?.into_iter().collect())
    }
}

/// A set value.
impl<T: ToValue> ToValue for BTreeSet<T> {
    fn to_value(&self) -> Value {
        Value::set(self.iter().map(ToValue::to_value))
    }
}

impl<T: FromValue> FromValue for BTreeMap<String, T> {
    fn from_value(value: &Value) -> Result<Self, ConversionError> {
        let entries = value
            .as_entries()
            .ok_or_else(|| ConversionError::expected("a map", value))?;
        entries
            .iter()
            .map(|(k, v)| {
                T::from_value(v)
                    .map(|t| (k.clone(), t))
                    .map_err(|e| e.within(PathStep::Key(k.clone())))
            })
            .collect()
    }
}

/// A map value.
impl<T: ToValue> ToValue for BTreeMap<String, T> {
    fn to_value(&self) -> Value {
        Value::map(self.iter().map(|(k, v)| (k.clone(), v.to_value())))
    }
}

/// Attribute `name` of an object value, converted; a missing attribute reads as null (an
/// object value always has every attribute of its schema, so only hand-made values lack any).
pub fn field<T: FromValue>(object: &Value, name: &str) -> Result<T, ConversionError> {
    let value = object.attr(name).unwrap_or(&Value::Null);
    T::from_value(value).map_err(|e| e.within(PathStep::Attr(name.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_reads_null_unknown_and_values() {
        assert_eq!(Known::<String>::from_value(&Value::Null), Ok(Known::Null));
        assert_eq!(
            Known::<String>::from_value(&Value::Unknown),
            Ok(Known::Unknown)
        );
        assert_eq!(
            Known::<String>::from_value(&Value::string("a")),
            Ok(Known::Value("a".to_string()))
        );
        assert_eq!(Known::Value(3).or(Known::Value(4)), Known::Value(3));
        assert_eq!(Known::Null.or(Known::Value(4)), Known::Value(4));
        assert_eq!(Known::<i64>::Unknown.known_or(1), None);
        assert_eq!(Known::<i64>::Null.known_or(1), Some(1));
    }

    #[test]
    fn wrong_kinds_are_errors_with_their_path() {
        let v = Value::object([("n", Value::number(1.5))]);
        let e = field::<Known<i64>>(&v, "n").unwrap_err();
        assert_eq!(e.to_string(), ".n: expected a whole number");
        let v = Value::object([("l", Value::list([Value::string("a"), Value::Bool(true)]))]);
        let e = field::<Vec<String>>(&v, "l").unwrap_err();
        assert_eq!(e.to_string(), ".l[1]: expected a string, found bool");
        assert!(Option::<String>::from_value(&Value::Unknown).is_err());
    }

    #[test]
    fn values_round_trip() {
        let set: BTreeSet<String> = ["b".to_string(), "a".to_string()].into();
        assert_eq!(BTreeSet::<String>::from_value(&set.to_value()), Ok(set));
        let map: BTreeMap<String, i64> = [("k".to_string(), 2)].into();
        assert_eq!(
            BTreeMap::<String, i64>::from_value(&map.to_value()),
            Ok(map)
        );
        assert_eq!(Known::Value(7i64).to_value(), Value::number(7));
        assert_eq!(Option::<bool>::None.to_value(), Value::Null);
    }
}
