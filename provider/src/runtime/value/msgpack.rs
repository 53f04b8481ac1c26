//! The msgpack form of cty values (`DynamicValue.msgpack`), as go-cty reads and writes it.
//!
//! Decoding is driven by the expected type and is strict in the ways Terraform is: objects
//! must carry exactly their type's attributes, tuples their length, map keys are strings.
//! It is also defensive, since the bytes come from another process: lengths are checked
//! against the bytes actually present before anything is read or allocated, nesting is
//! bounded by [`MAX_DEPTH`], and nothing panics.
//!
//! Encoding writes what go-cty writes: most compact ints, object keys sorted, unknowns as
//! fixext1 type 0 (`d4 00 00`), dynamic values as `[bin(type JSON), value]`.

use std::collections::BTreeMap;

use super::error::{echo_name, DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind};
use super::path::{Path, PathStep};
use super::{Number, ObjectType, Type, Value, MAX_DEPTH};

/// Decodes msgpack `bytes` as a value of type `ty`. The whole input must be one value.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, DecodeError> {
    let mut decoder = Decoder {
        buf: bytes,
        pos: 0,
        path: Vec::new(),
    };
    let value = decoder.value(ty, 0)?;
    if decoder.pos != bytes.len() {
        return Err(decoder.error(DecodeErrorKind::TrailingBytes(bytes.len() - decoder.pos)));
    }
    Ok(value)
}

/// Encodes `value` as msgpack against type `ty`; fails if the value does not conform.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, EncodeError> {
    let mut encoder = Encoder {
        out: Vec::new(),
        path: Vec::new(),
    };
    encoder.value(value, ty, 0)?;
    Ok(encoder.out)
}

/// The go-cty encoding of a wholly unknown value: fixext1, extension type 0, one zero byte.
pub const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

/// One msgpack item header; string/binary/extension payloads are not yet consumed.
#[derive(Clone, Copy, Debug)]
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    F32(f32),
    F64(f64),
    Str(usize),
    Bin(usize),
    Array(u64),
    Map(u64),
    Ext(usize),
    Reserved,
}

impl Head {
    fn kind(self) -> &'static str {
        match self {
            Head::Nil => "nil",
            Head::Bool(_) => "bool",
            Head::Int(_) | Head::Uint(_) => "integer",
            Head::F32(_) | Head::F64(_) => "float",
            Head::Str(_) => "string",
            Head::Bin(_) => "binary",
            Head::Array(_) => "array",
            Head::Map(_) => "map",
            Head::Ext(_) => "extension",
            Head::Reserved => "reserved byte 0xc1",
        }
    }
}

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    path: Vec<PathStep>,
}

impl<'a> Decoder<'a> {
    #[cold]
    #[inline(never)]
    fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(Path(self.path.clone()), kind)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| self.error(DecodeErrorKind::Truncated))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take_array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take_array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take_array()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.take_array()?))
    }
    fn len32(&mut self) -> Result<usize, DecodeError> {
        let n = self.u32()?;
        usize::try_from(n).map_err(|_| self.error(DecodeErrorKind::Truncated))
    }

    fn head(&mut self) -> Result<Head, DecodeError> {
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Head::Int(i64::from(marker)),
            0x80..=0x8f => Head::Map(u64::from(marker & 0x0f)),
            0x90..=0x9f => Head::Array(u64::from(marker & 0x0f)),
            0xa0..=0xbf => Head::Str(usize::from(marker & 0x1f)),
            0xc0 => Head::Nil,
            0xc1 => Head::Reserved,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4 => Head::Bin(usize::from(self.u8()?)),
            0xc5 => Head::Bin(usize::from(self.u16()?)),
            0xc6 => Head::Bin(self.len32()?),
            0xc7 => {
                let n = usize::from(self.u8()?);
                self.u8()?; // extension type: any type means "unknown" here
                Head::Ext(n)
            }
            0xc8 => {
                let n = usize::from(self.u16()?);
                self.u8()?;
                Head::Ext(n)
            }
            0xc9 => {
                let n = self.len32()?;
                self.u8()?;
                Head::Ext(n)
            }
            0xca => Head::F32(f32::from_be_bytes(self.take_array()?)),
            0xcb => Head::F64(f64::from_be_bytes(self.take_array()?)),
            0xcc => Head::Int(i64::from(self.u8()?)),
            0xcd => Head::Int(i64::from(self.u16()?)),
            0xce => Head::Int(i64::from(self.u32()?)),
            0xcf => Head::Uint(self.u64()?),
            0xd0 => Head::Int(i64::from(i8::from_be_bytes(self.take_array()?))),
            0xd1 => Head::Int(i64::from(i16::from_be_bytes(self.take_array()?))),
            0xd2 => Head::Int(i64::from(i32::from_be_bytes(self.take_array()?))),
            0xd3 => Head::Int(i64::from_be_bytes(self.take_array()?)),
            0xd4..=0xd8 => {
                self.u8()?;
                Head::Ext(1usize << (marker - 0xd4))
            }
            0xd9 => Head::Str(usize::from(self.u8()?)),
            0xda => Head::Str(usize::from(self.u16()?)),
            0xdb => Head::Str(self.len32()?),
            0xdc => Head::Array(u64::from(self.u16()?)),
            0xdd => Head::Array(u64::from(self.u32()?)),
            0xde => Head::Map(u64::from(self.u16()?)),
            0xdf => Head::Map(u64::from(self.u32()?)),
            0xe0..=0xff => Head::Int(i64::from(marker as i8)),
        })
    }

    fn utf8(&mut self, len: usize) -> Result<String, DecodeError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.error(DecodeErrorKind::InvalidUtf8)),
        }
    }

    #[cold]
    #[inline(never)]
    fn mismatch(&self, expected: &Type, found: Head) -> DecodeError {
        self.error(DecodeErrorKind::TypeMismatch {
            expected: expected.kind_name(),
            found: found.kind(),
        })
    }

    /// Capacity for `declared` elements: never more than the remaining bytes could hold
    /// (each element is at least one byte), so a lying length cannot force an allocation.
    fn capacity(&self, declared: u64) -> usize {
        let remaining = self.buf.len() - self.pos;
        usize::try_from(declared).map_or(remaining, |n| n.min(remaining))
    }

    fn enter(&self, depth: usize) -> Result<usize, DecodeError> {
        if depth >= MAX_DEPTH {
            Err(self.error(DecodeErrorKind::TooDeep(MAX_DEPTH)))
        } else {
            Ok(depth + 1)
        }
    }

    /// Decodes `ty` with one more path step; the step is removed again on error too.
    fn child(&mut self, step: PathStep, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
        self.path.push(step);
        let result = self.value(ty, depth);
        self.path.pop();
        result
    }

    // The recursion is value → (list|tuple|map|object|dynamic) → child → value. Each arm
    // lives in its own never-inlined function so that the frame repeated per nesting level
    // stays small (a debug build's frame would otherwise hold every arm's temporaries).
    fn value(&mut self, ty: &Type, depth: usize) -> Result<Value, DecodeError> {
        let head = self.head()?;
        match (head, ty) {
            (Head::Nil, _) => Ok(Value::Null),
            (Head::Ext(len), _) => {
                // Refinements (ext 12) may be dropped; any payload is skipped.
                self.take(len)?;
                Ok(Value::Unknown)
            }
            (_, Type::String | Type::Bool | Type::Number) => self.primitive(ty, head),
            (Head::Array(n), Type::List(element)) => self.list(n, element, depth, false),
            (Head::Array(n), Type::Set(element)) => self.list(n, element, depth, true),
            (Head::Array(n), Type::Tuple(elements)) => self.tuple(n, elements, depth),
            (Head::Map(n), Type::Map(element)) => self.map(n, element, depth),
            (Head::Map(n), Type::Object(object)) => self.object(n, object, depth),
            (Head::Array(n), Type::Dynamic) => self.dynamic(n, depth),
            _ => Err(self.mismatch(ty, head)),
        }
    }

    #[inline(never)]
    fn primitive(&mut self, ty: &Type, head: Head) -> Result<Value, DecodeError> {
        match (ty, head) {
            (Type::String, Head::Str(len)) => Ok(Value::String(self.utf8(len)?)),
            (Type::Bool, Head::Bool(b)) => Ok(Value::Bool(b)),
            (Type::Number, _) => self.number(ty, head).map(Value::Number),
            _ => Err(self.mismatch(ty, head)),
        }
    }

    #[inline(never)]
    fn list(
        &mut self,
        n: u64,
        element: &Type,
        depth: usize,
        is_set: bool,
    ) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut items = Vec::with_capacity(self.capacity(n));
        for i in 0..n {
            let step = if is_set {
                PathStep::SetElement(i)
            } else {
                PathStep::Index(i)
            };
            items.push(self.child(step, element, depth)?);
        }
        Ok(if is_set {
            Value::Set(items)
        } else {
            Value::List(items)
        })
    }

    #[inline(never)]
    fn tuple(&mut self, n: u64, elements: &[Type], depth: usize) -> Result<Value, DecodeError> {
        if n != elements.len() as u64 {
            return Err(self.error(DecodeErrorKind::TupleLength {
                expected: elements.len(),
                found: n,
            }));
        }
        let depth = self.enter(depth)?;
        let mut items = Vec::with_capacity(elements.len());
        for (i, element) in elements.iter().enumerate() {
            items.push(self.child(PathStep::Index(i as u64), element, depth)?);
        }
        Ok(Value::Tuple(items))
    }

    #[inline(never)]
    fn map(&mut self, n: u64, element: &Type, depth: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let key = self.key()?;
            if entries.contains_key(&key) {
                return Err(self.error(DecodeErrorKind::DuplicateKey(echo_name(&key))));
            }
            let value = self.child(PathStep::Key(key.clone()), element, depth)?;
            entries.insert(key, value);
        }
        Ok(Value::Map(entries))
    }

    #[inline(never)]
    fn object(&mut self, n: u64, object: &ObjectType, depth: usize) -> Result<Value, DecodeError> {
        let depth = self.enter(depth)?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let key = self.key()?;
            let Some(attr_ty) = object.attributes.get(&key) else {
                return Err(self.error(DecodeErrorKind::UnexpectedAttribute(echo_name(&key))));
            };
            if entries.contains_key(&key) {
                return Err(self.error(DecodeErrorKind::DuplicateKey(echo_name(&key))));
            }
            let value = self.child(PathStep::Attr(key.clone()), attr_ty, depth)?;
            entries.insert(key, value);
        }
        if let Some(missing) = object.attributes.keys().find(|k| !entries.contains_key(*k)) {
            return Err(self.error(DecodeErrorKind::MissingAttribute(echo_name(missing))));
        }
        Ok(Value::Object(entries))
    }

    #[inline(never)]
    fn dynamic(&mut self, n: u64, depth: usize) -> Result<Value, DecodeError> {
        if n != 2 {
            return Err(self.error(DecodeErrorKind::DynamicArity(n)));
        }
        let depth = self.enter(depth)?;
        let type_json = match self.head()? {
            Head::Bin(len) | Head::Str(len) => self.take(len)?,
            other => {
                return Err(self.error(DecodeErrorKind::TypeMismatch {
                    expected: "type JSON (binary or string)",
                    found: other.kind(),
                }))
            }
        };
        let concrete = Type::from_constraint_json(type_json)
            .map_err(|e| self.error(DecodeErrorKind::DynamicType(e)))?;
        let inner = self.value(&concrete, depth)?;
        Ok(Value::Dynamic(concrete, Box::new(inner)))
    }

    fn number(&mut self, ty: &Type, head: Head) -> Result<Number, DecodeError> {
        let float = |d: &Self, f: f64| {
            if f.is_nan() {
                Err(d.error(DecodeErrorKind::InvalidNumber(
                    super::number::NumberError::NaN,
                )))
            } else {
                Ok(Number::from(f))
            }
        };
        match head {
            Head::Int(i) => Ok(Number::Int(i)),
            Head::Uint(u) => Ok(Number::from_u64(u)),
            Head::F32(f) => float(self, f64::from(f)),
            Head::F64(f) => float(self, f),
            Head::Str(len) => {
                let text = self.utf8(len)?;
                Number::parse(&text).map_err(|e| self.error(DecodeErrorKind::InvalidNumber(e)))
            }
            _ => Err(self.mismatch(ty, head)),
        }
    }

    fn key(&mut self) -> Result<String, DecodeError> {
        match self.head()? {
            Head::Str(len) => self.utf8(len),
            other => Err(self.error(DecodeErrorKind::NonStringKey(other.kind()))),
        }
    }
}

struct Encoder {
    out: Vec<u8>,
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

    // As in the decoder, each arm is out of line to keep the per-level frame small.
    fn value(&mut self, value: &Value, ty: &Type, depth: usize) -> Result<(), EncodeError> {
        match value {
            Value::Null => {
                self.out.push(0xc0);
                return Ok(());
            }
            Value::Unknown => {
                self.out.extend_from_slice(&UNKNOWN);
                return Ok(());
            }
            _ => {}
        }
        match (ty, value) {
            (Type::String, Value::String(s)) => self.str(s),
            (Type::Bool, Value::Bool(b)) => {
                self.out.push(if *b { 0xc3 } else { 0xc2 });
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
        match n.normalize() {
            Ok(Number::Int(i)) => {
                self.int(i);
                Ok(())
            }
            Ok(Number::Float(f)) => {
                self.out.push(0xcb);
                self.out.extend_from_slice(&f.to_be_bytes());
                Ok(())
            }
            Ok(Number::Big(text)) => self.str(&text),
            Err(e) => Err(self.error(EncodeErrorKind::InvalidNumber(e))),
        }
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
        self.array_len(items.len())?;
        for (i, item) in items.iter().enumerate() {
            let step = if is_set {
                PathStep::SetElement(i as u64)
            } else {
                PathStep::Index(i as u64)
            };
            self.child(step, item, element, depth)?;
        }
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
        self.array_len(items.len())?;
        for (i, (item, element)) in items.iter().zip(elements).enumerate() {
            self.child(PathStep::Index(i as u64), item, element, depth)?;
        }
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
        self.map_len(entries.len())?;
        for (key, item) in entries {
            self.str(key)?;
            self.child(PathStep::Key(key.clone()), item, element, depth)?;
        }
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
        self.map_len(object.attributes.len())?;
        for (name, attr_ty) in &object.attributes {
            let Some(item) = entries.get(name) else {
                return Err(self.error(EncodeErrorKind::MissingAttribute(echo_name(name))));
            };
            self.str(name)?;
            self.child(PathStep::Attr(name.clone()), item, attr_ty, depth)?;
        }
        Ok(())
    }

    #[inline(never)]
    fn dynamic(&mut self, concrete: &Type, inner: &Value, depth: usize) -> Result<(), EncodeError> {
        let depth = self.enter(depth)?;
        self.out.push(0x92);
        let json = concrete.to_constraint_json();
        self.bin(json.as_bytes())?;
        self.value(inner, concrete, depth)
    }

    fn int(&mut self, i: i64) {
        let out = &mut self.out;
        if i >= 0 {
            let u = i as u64;
            if u < 0x80 {
                out.push(u as u8);
            } else if u <= u64::from(u8::MAX) {
                out.extend_from_slice(&[0xcc, u as u8]);
            } else if u <= u64::from(u16::MAX) {
                out.push(0xcd);
                out.extend_from_slice(&(u as u16).to_be_bytes());
            } else if u <= u64::from(u32::MAX) {
                out.push(0xce);
                out.extend_from_slice(&(u as u32).to_be_bytes());
            } else {
                out.push(0xcf);
                out.extend_from_slice(&u.to_be_bytes());
            }
        } else if i >= -32 {
            out.push(i as i8 as u8);
        } else if i >= i64::from(i8::MIN) {
            out.extend_from_slice(&[0xd0, i as i8 as u8]);
        } else if i >= i64::from(i16::MIN) {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= i64::from(i32::MIN) {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    }

    /// Writes a length with the fix/8/16/32-bit marker family given.
    fn length(
        &mut self,
        len: usize,
        fix: Option<(u8, usize)>,
        m8: Option<u8>,
        m16: u8,
        m32: u8,
    ) -> Result<(), EncodeError> {
        match fix {
            Some((base, limit)) if len < limit => {
                self.out.push(base | len as u8);
                return Ok(());
            }
            _ => {}
        }
        if let (Some(m8), Ok(n)) = (m8, u8::try_from(len)) {
            self.out.extend_from_slice(&[m8, n]);
        } else if let Ok(n) = u16::try_from(len) {
            self.out.push(m16);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else if let Ok(n) = u32::try_from(len) {
            self.out.push(m32);
            self.out.extend_from_slice(&n.to_be_bytes());
        } else {
            return Err(self.error(EncodeErrorKind::TooLong));
        }
        Ok(())
    }

    fn str(&mut self, s: &str) -> Result<(), EncodeError> {
        self.length(s.len(), Some((0xa0, 32)), Some(0xd9), 0xda, 0xdb)?;
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn bin(&mut self, b: &[u8]) -> Result<(), EncodeError> {
        self.length(b.len(), None, Some(0xc4), 0xc5, 0xc6)?;
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn array_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.length(len, Some((0x90, 16)), None, 0xdc, 0xdd)
    }

    fn map_len(&mut self, len: usize) -> Result<(), EncodeError> {
        self.length(len, Some((0x80, 16)), None, 0xde, 0xdf)
    }
}
