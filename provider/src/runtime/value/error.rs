//! Errors of the value codecs. Each names the path where it happened and what was wrong,
//! and never includes the data itself (strings and numbers may be sensitive); only names
//! taken from the wire (attribute names, map keys, type names) are echoed, shortened.

use super::number::NumberError;
use super::path::Path;

/// How many characters of a wire-supplied name an error message repeats.
const MAX_ECHOED_NAME: usize = 64;

/// A wire-supplied name, cut to a bounded length for messages.
pub(crate) fn echo_name(name: &str) -> String {
    if name.chars().count() <= MAX_ECHOED_NAME {
        name.to_owned()
    } else {
        let mut short: String = name.chars().take(MAX_ECHOED_NAME).collect();
        short.push('…');
        short
    }
}

/// A msgpack or JSON value that does not decode against the expected type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct DecodeError {
    pub path: Path,
    pub kind: DecodeErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("expected {expected}, found {found}")]
    TypeMismatch {
        expected: &'static str,
        found: &'static str,
    },
    #[error("unexpected end of input")]
    Truncated,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("invalid number: {0}")]
    InvalidNumber(NumberError),
    #[error("tuple needs {expected} elements, found {found}")]
    TupleLength { expected: usize, found: u64 },
    #[error("object type has no attribute {0:?}")]
    UnexpectedAttribute(String),
    #[error("missing attribute {0:?}")]
    MissingAttribute(String),
    #[error("key {0:?} appears twice")]
    DuplicateKey(String),
    #[error("map keys must be strings, found {0}")]
    NonStringKey(&'static str),
    #[error("a dynamic value must be [type, value], found an array of {0} elements")]
    DynamicArity(u64),
    #[error("a dynamic value must be {{\"type\": …, \"value\": …}}, missing {0:?}")]
    DynamicField(&'static str),
    #[error("type of dynamic value: {0}")]
    DynamicType(TypeJsonError),
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("{0} bytes after the end of the value")]
    TrailingBytes(usize),
    #[error("invalid JSON: {0}")]
    Json(String),
}

impl DecodeError {
    pub(crate) fn new(path: Path, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { path, kind }
    }
}

/// A value that cannot be encoded against the given type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct EncodeError {
    pub path: Path,
    pub kind: EncodeErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeErrorKind {
    #[error("expected {expected} value, found {found}")]
    TypeMismatch {
        expected: &'static str,
        found: &'static str,
    },
    #[error("tuple type has {expected} elements, value has {found}")]
    TupleLength { expected: usize, found: usize },
    #[error("object type has no attribute {0:?}")]
    UnexpectedAttribute(String),
    #[error("missing attribute {0:?} (objects must carry every attribute; use null)")]
    MissingAttribute(String),
    #[error("a value at a dynamic position must be Value::Dynamic (with its type), null or unknown, found {0}")]
    NotDynamic(&'static str),
    #[error("invalid number: {0}")]
    InvalidNumber(NumberError),
    #[error("infinity has no JSON form")]
    Infinity,
    #[error("unknown values have no JSON form")]
    Unknown,
    #[error("nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("longer than msgpack can express (2^32 - 1)")]
    TooLong,
}

impl EncodeError {
    pub(crate) fn new(path: Path, kind: EncodeErrorKind) -> EncodeError {
        EncodeError { path, kind }
    }
}

/// Type-constraint JSON that is not a valid cty type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("type JSON at {location}: {problem}")]
pub struct TypeJsonError {
    /// Where in the JSON document, as a JSON-pointer-like path (`/1/a`, or `/` for the top).
    pub location: String,
    pub problem: String,
}
