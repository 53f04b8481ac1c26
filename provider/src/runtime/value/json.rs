//! The JSON form of cty values (`RawState.json`, `DynamicValue.json`), as go-cty reads and
//! writes it.
//!
//! Decoding is lenient where state written under an older schema needs it: object
//! attributes the type lacks are ignored and missing ones become null; strings, numbers and
//! bools convert into each other as go-cty's JSON decoder allows (`"5"` for a number,
//! `true` for a string). Numbers keep their exact text (serde_json's `arbitrary_precision`).
//! Nesting is bounded by serde_json's recursion limit (128) and by [`MAX_DEPTH`].
//!
//! Encoding is strict like the msgpack encoder, and additionally fails on unknowns and
//! infinities, which JSON cannot carry.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::error::{echo_name, DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
use super::path::{Path, PathStep};
use super::types::write_json_string;
use super::{Number, ObjectType, Type, Value, MAX_DEPTH};

/// Decodes JSON `bytes` as a value of type `ty` (leniently, see the module docs).
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let json: J = serde_json::from_slice(bytes)
        .map_err(|e| DecodeError::new(Path::root(), DecodeErrorKind::Json(e.to_string())))?;
    decode_json_value(&json, ty)
}

/// As [`decode`], from already-parsed JSON (e.g. one attribute of a larger document).
pub fn decode_json_value(json: &J, ty: &Type) -> Result<Value, DecodeError> {
    let mut decoder = Decoder { path: Vec::new() };
    decoder.value(json, ty, 0)
}

/// Encodes `value` as JSON against type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut encoder = Encoder {
        out: String::new(),
        path: Vec::new(),
    };
    encoder.value(value, ty, 0)?;
    Ok(encoder.out.into_bytes())
}

fn json_kind(json: &J) -> &'static str {
    match json {
        J::Null => "null",
        J::Bool(_) => "bool",
        J::Number(_) => "number",
        J::String(_) => "string",
        J::Array(_) => "array",
        J::Object(_) => "object",
    }
}

struct Decoder {
    path: Vec<PathStep>,
}

impl Decoder {
    #[cold]
    #[inline(never)]
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(Path(self.path.clone()), kind)
    }

    #[cold]
    #[inline(never)]
    fn mismatch(&self, ty: &Type, json: &J) -> DecodeError {
        self.error(DecodeErrorKind::TypeMismatch {
            expected: ty.kind_name(),
            found: json_kind(json),
        })
    }

    fn enter(&self, depth: usize) -> Result<usize, DecodeError> {
        if depth >= MAX_DEPTH {
            Err(self.error(DecodeErrorKind::TooDeep(MAX_DEPTH)))
        } else {
            Ok(depth + 1)
        }
    }

    fn child(
        &mut self,
        step: PathStep,
        json: &J,
        ty: &Type,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        self.path.push(step);
        let result = self.value(json, ty, depth);
        self.path.pop();
        result
    }

    fn number(&self, text: &str) -> Result<Value, DecodeError> {
        Number::parse(text)
            .map(Value::Number)
            .map_err(|e| self.error(DecodeErrorKind::InvalidNumber(e)))
    }

    // Each arm is out of line to keep the frame repeated per nesting level small.
    fn value(&mut self, json: &J, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
        match (json, ty) {
            (J::Null, _) => Ok(Value::Null),
            (_, Type::String | Type::Number | Type::Bool) => self.primitive(json, ty),
            (J::Array(items), Type::List(element)) => self.list(items, element, depth, false),
            (J::Array(items), Type::Set(element)) => self.list(items, element, depth, true),
            (J::Array(items), Type::Tuple(elements)) => self.tuple(items, elements, depth),
            (J::Object(entries), Type::Map(element)) => self.map(entries, element, depth),
            (J::Object(entries), Type::Object(object)) => self.object(entries, object, depth),
            (J::Object(wrapper), Type::Dynamic) => self.dynamic(wrapper, depth),
            _ => Err(self.mismatch(ty, json)),
        }
    }

    #[inline(never)]
    fn primitive(&mut self, json: &J, ty: &Type) -> Result<Value, DecodeError> {
        match (ty, json) {
            (Type::String, J::String(s)) => Ok(Value::String(s.clone())),
            (Type::String, J::Number(n)) => Ok(Value::String(n.as_str().to_owned())),
            (Type::String, J::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::Number, J::Number(n)) => self.number(n.as_str()),
            (Type::Number, J::String(s)) => self.number(s),
            (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Bool, J::String(s)) if s == "true" => Ok(Value::Bool(true)),
            (Type::Bool, J::String(s)) if s == "false" => Ok(Value::Bool(false)),
            _ => Err(self.mismatch(ty, json)),
        }
    }

    #[inline(never)]
    fn list(
        &mut self,
        items: &[J],
        element: &Type,
        depth: usize,
        is_set: bool,
    ) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let step = if is_set {
                PathStep::SetElement(i as u64)
            } else {
                PathStep::Index(i as u64)
            };
            values.push(self.child(step, item, element, depth)?);
        }
        Ok(if is_set {
            Value::Set(values)
        } else {
            Value::List(values)
        })
    }

    #[inline(never)]
    fn tuple(
        &mut self,
        items: &[J],
        elements: &[Type],
        depth: usize,
    ) -> Result<Value, DecodeError> {
        if items.len() != elements.len() {
            return Err(self.error(DecodeErrorKind::TupleLength {
                expected: elements.len(),
                found: items.len() as u64,
            }));
        }
        let depth = self.enter(depth)?;
        let mut values = Vec::with_capacity(items.len());
        for (i, (item, element)) in items.iter().zip(elements).enumerate() {
            values.push(self.child(PathStep::Index(i as u64), item, element, depth)?);
        }
        Ok(Value::Tuple(values))
    }

    #[inline(never)]
    fn map(
        &mut self,
        entries: &serde_json::Map<String, J>,
        element: &Type,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut values = BTreeMap::new();
        for (key, item) in entries {
            let v = self.child(PathStep::Key(key.clone()), item, element, depth)?;
            values.insert(key.clone(), v);
        }
        Ok(Value::Map(values))
    }

    #[inline(never)]
    fn object(
        &mut self,
        entries: &serde_json::Map<String, J>,
        object: &ObjectType,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut values = BTreeMap::new();
        // Attributes outside the type are ignored: old state may carry removed ones.
        for (name, attr_ty) in &object.attributes {
            let v = match entries.get(name) {
                Some(item) => self.child(PathStep::Attr(name.clone()), item, attr_ty, depth)?,
                None => Value::Null,
            };
            values.insert(name.clone(), v);
        }
        Ok(Value::Object(values))
    }

    #[inline(never)]
    fn dynamic(
        &mut self,
        wrapper: &serde_json::Map<String, J>,
        depth: usize,
    ) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let type_json = wrapper
            .get("type")
            .ok_or_else(|| self.error(DecodeErrorKind::DynamicField("type")))?;
        let inner = wrapper
            .get("value")
            .ok_or_else(|| self.error(DecodeErrorKind::DynamicField("value")))?;
        let concrete = Type::from_constraint_value(type_json)
            .map_err(|e| self.error(DecodeErrorKind::DynamicType(e)))?;
        let value = self.value(inner, &concrete, depth)?;
        Ok(Value::Dynamic(concrete, Box::new(value)))
    }
}

struct Encoder {
    out: String,
    path: Vec<PathStep>,
}

impl Encoder {
    #[cold]
    #[inline(never)]
    fn error(&self, kind: EncodeErrorKind) -> EncodeError {
        EncodeError::new(Path(self.path.clone()), kind)
    }

    /// Depth for the children of a collection, object or dynamic wrapper, so the encoders
    /// and decoders count levels the same way.
    fn enter(&self, depth: usize) -> Result<usize, EncodeError> {
        if depth >= MAX_DEPTH {
            Err(self.error(EncodeErrorKind::TooDeep(MAX_DEPTH)))
        } else {
            Ok(depth + 1)
        }
    }

    fn child(
        &mut self,
        step: PathStep,
        value: &Value,
        ty: &Type,
        depth: usize,
    ) -> Result<(), EncodeError> {
        self.path.push(step);
        let result = self.value(value, ty, depth);
        self.path.pop();
        result
    }

    fn value(&mut self, value: &Value, ty: &Type, depth: usize) -> Result<(), EncodeError> {
        match value {
            Value::Null => {
                self.out.push_str("null");
                return Ok(());
            }
            Value::Unknown => return Err(self.error(EncodeErrorKind::Unknown)),
            _ => {}
        }
        match (ty, value) {
            (Type::String, Value::String(s)) => {
                write_json_string(&mut self.out, s);
                Ok(())
            }
            (Type::Bool, Value::Bool(b)) => {
                self.out.push_str(if *b { "true" } else { "false" });
                Ok(())
            }
            (Type::Number, Value::Number(n)) => self.number(n),
            (Type::List(element), Value::List(items)) => self.list(items, element, depth, false),
            (Type::Set(element), Value::Set(items)) => self.list(items, element, depth, true),
            (Type::Tuple(elements), Value::Tuple(items)) => self.tuple(items, elements, depth),
            (Type::Map(element), Value::Map(entries)) => self.map(entries, element, depth),
            (Type::Object(object), Value::Object(entries)) => self.object(entries, object, depth),
            (Type::Dynamic, Value::Dynamic(concrete, inner)) => {
                self.dynamic(concrete, inner, depth)
            }
            (Type::Dynamic, other) => {
                Err(self.error(EncodeErrorKind::NotDynamic(other.kind_name())))
            }
            (expected, found) => Err(self.error(EncodeErrorKind::TypeMismatch {
                expected: expected.kind_name(),
                found: found.kind_name(),
            })),
        }
    }

    #[inline(never)]
    fn number(&mut self, n: &Number) -> Result<(), EncodeError> {
        if let Err(e) = n.normalize() {
            return Err(self.error(EncodeErrorKind::InvalidNumber(e)));
        }
        let text = n
            .to_decimal_text()
            .ok_or_else(|| self.error(EncodeErrorKind::Infinity))?;
        self.out.push_str(&text);
        Ok(())
    }

    #[inline(never)]
    fn list(
        &mut self,
        items: &[Value],
        element: &Type,
        depth: usize,
        is_set: bool,
    ) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let step = if is_set {
                PathStep::SetElement(i as u64)
            } else {
                PathStep::Index(i as u64)
            };
            self.child(step, item, element, depth)?;
        }
        self.out.push(']');
        Ok(())
    }

    #[inline(never)]
    fn tuple(
        &mut self,
        items: &[Value],
        elements: &[Type],
        depth: usize,
    ) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        if elements.len() != items.len() {
            return Err(self.error(EncodeErrorKind::TupleLength {
                expected: elements.len(),
                found: items.len(),
            }));
        }
        self.out.push('[');
        for (i, (item, element)) in items.iter().zip(elements).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.child(PathStep::Index(i as u64), item, element, depth)?;
        }
        self.out.push(']');
        Ok(())
    }

    #[inline(never)]
    fn map(
        &mut self,
        entries: &BTreeMap<String, Value>,
        element: &Type,
        depth: usize,
    ) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        self.out.push('{');
        for (i, (key, item)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_json_string(&mut self.out, key);
            self.out.push(':');
            self.child(PathStep::Key(key.clone()), item, element, depth)?;
        }
        self.out.push('}');
        Ok(())
    }

    #[inline(never)]
    fn object(
        &mut self,
        entries: &BTreeMap<String, Value>,
        object: &ObjectType,
        depth: usize,
    ) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        if let Some(extra) = entries.keys().find(|k| !object.attributes.contains_key(*k)) {
            return Err(self.error(EncodeErrorKind::UnexpectedAttribute(echo_name(extra))));
        }
        self.out.push('{');
        for (i, (name, attr_ty)) in object.attributes.iter().enumerate() {
            let Some(item) = entries.get(name) else {
                return Err(self.error(EncodeErrorKind::MissingAttribute(echo_name(name))));
            };
            if i > 0 {
                self.out.push(',');
            }
            write_json_string(&mut self.out, name);
            self.out.push(':');
            self.child(PathStep::Attr(name.clone()), item, attr_ty, depth)?;
        }
        self.out.push('}');
        Ok(())
    }

    #[inline(never)]
    fn dynamic(&mut self, concrete: &Type, inner: &Value, depth: usize) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        // go-cty writes "value" before "type"; readers accept either order.
        self.out.push_str("{\"value\":");
        self.value(inner, concrete, depth)?;
        self.out.push_str(",\"type\":");
        self.out.push_str(&concrete.to_constraint_json());
        self.out.push('}');
        Ok(())
    }
}
