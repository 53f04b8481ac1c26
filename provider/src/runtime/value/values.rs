//! cty values, with constructors and accessors a provider framework needs.

use std::collections::BTreeMap;

use super::error::{echo_name, EncodeError, EncodeErrorKind};
use super::path::{Path, PathStep};
use super::{Number, ObjectType, Type};

/// A cty value. `Null` and `Unknown` may stand at any position of any type. Unknown-value
/// refinements (Terraform ≥ 1.6) are accepted on decode and dropped, which the protocol allows.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Set elements; order is not significant on the wire.
    Set(Vec<Value>),
    Tuple(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    /// A known value at a `dynamic` position, with the concrete type it was sent with.
    Dynamic(Type, Box<Value>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no unknown appears anywhere inside.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                v.iter().all(Value::is_wholly_known)
            }
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            Value::Dynamic(_, v) => v.is_wholly_known(),
        }
    }

    /// This value with every unknown inside replaced by null (for a state recorded after a
    /// failure, which must be wholly known).
    pub fn without_unknowns(&self) -> Value {
        match self {
            Value::Unknown => Value::Null,
            Value::List(v) => Value::List(v.iter().map(Value::without_unknowns).collect()),
            Value::Set(v) => Value::Set(v.iter().map(Value::without_unknowns).collect()),
            Value::Tuple(v) => Value::Tuple(v.iter().map(Value::without_unknowns).collect()),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.without_unknowns()))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), v.without_unknowns()))
                    .collect(),
            ),
            Value::Dynamic(t, v) => Value::Dynamic(t.clone(), Box::new(v.without_unknowns())),
            known => known.clone(),
        }
    }

    /// The attribute of an object value (`None` if this is not an object or lacks it).
    pub fn attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            Value::Dynamic(_, v) => v.attr(name),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Dynamic(_, v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Dynamic(_, v) => v.as_bool(),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            Value::Dynamic(_, v) => v.as_number(),
            _ => None,
        }
    }

    /// The elements of a list, set or tuple.
    pub fn as_elements(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            Value::Dynamic(_, v) => v.as_elements(),
            _ => None,
        }
    }

    /// The entries of a map or object.
    pub fn as_entries(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            Value::Dynamic(_, v) => v.as_entries(),
            _ => None,
        }
    }
}

impl Value {
    pub fn bool(b: bool) -> Value {
        Value::Bool(b)
    }

    pub fn number(n: impl Into<Number>) -> Value {
        Value::Number(n.into())
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(items.into_iter().collect())
    }

    pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(items.into_iter().collect())
    }

    pub fn map<S: Into<String>>(entries: impl IntoIterator<Item = (S, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn object<S: Into<String>>(attrs: impl IntoIterator<Item = (S, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A known value at a `dynamic` position, tagged with its concrete type.
    pub fn dynamic(ty: Type, value: Value) -> Value {
        Value::Dynamic(ty, Box::new(value))
    }

    /// An object of type `ty` from the attributes given; attributes not given are null.
    /// Names the type does not have are an error, so typos surface here, not on the wire.
    pub fn object_of<S: Into<String>>(
        ty: &ObjectType,
        attrs: impl IntoIterator<Item = (S, Value)>,
    ) -> Result<Value, EncodeError> {
        let mut entries: BTreeMap<String, Value> = ty
            .attributes
            .keys()
            .map(|name| (name.clone(), Value::Null))
            .collect();
        for (name, value) in attrs {
            let name = name.into();
            match entries.get_mut(&name) {
                Some(slot) => *slot = value,
                None => {
                    return Err(EncodeError::new(
                        Path::root(),
                        EncodeErrorKind::UnexpectedAttribute(echo_name(&name)),
                    ))
                }
            }
        }
        Ok(Value::Object(entries))
    }

    /// The variant's name, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Dynamic(..) => "dynamic",
        }
    }

    /// The part of this value at `path` (`None` if absent, or if the path goes through a
    /// null, unknown or a value of another shape). Dynamic wrappers are looked through.
    pub fn get_path(&self, path: &[PathStep]) -> Option<&Value> {
        let Some((step, rest)) = path.split_first() else {
            return Some(self);
        };
        let next = match (self, step) {
            (Value::Dynamic(_, inner), _) => return inner.get_path(path),
            (Value::Object(m), PathStep::Attr(name)) => m.get(name)?,
            (Value::Map(m), PathStep::Key(key)) => m.get(key)?,
            (Value::List(v) | Value::Tuple(v), PathStep::Index(i)) => {
                v.get(usize::try_from(*i).ok()?)?
            }
            (Value::Set(v), PathStep::SetElement(i)) => v.get(usize::try_from(*i).ok()?)?,
            _ => return None,
        };
        next.get_path(rest)
    }

    /// Calls `visit` on this value and every value inside it, parents first, with its path.
    /// Stops early (returning the error) when `visit` fails.
    pub fn walk<E>(&self, visit: &mut impl FnMut(&Path, &Value) -> Result<(), E>) -> Result<(), E> {
        fn go<E>(
            v: &Value,
            path: &mut Path,
            visit: &mut impl FnMut(&Path, &Value) -> Result<(), E>,
        ) -> Result<(), E> {
            visit(path, v)?;
            let mut child = |step: PathStep, v: &Value, path: &mut Path| {
                path.0.push(step);
                let r = go(v, path, visit);
                path.0.pop();
                r
            };
            match v {
                Value::List(items) | Value::Tuple(items) => {
                    for (i, item) in items.iter().enumerate() {
                        child(PathStep::Index(i as u64), item, path)?;
                    }
                }
                Value::Set(items) => {
                    for (i, item) in items.iter().enumerate() {
                        child(PathStep::SetElement(i as u64), item, path)?;
                    }
                }
                Value::Map(m) => {
                    for (k, item) in m {
                        child(PathStep::Key(k.clone()), item, path)?;
                    }
                }
                Value::Object(m) => {
                    for (k, item) in m {
                        child(PathStep::Attr(k.clone()), item, path)?;
                    }
                }
                Value::Dynamic(_, inner) => go(inner, path, visit)?,
                Value::Null
                | Value::Unknown
                | Value::Bool(_)
                | Value::Number(_)
                | Value::String(_) => {}
            }
            Ok(())
        }
        go(self, &mut Path::root(), visit)
    }

    /// Whether this value can be sent as type `ty` (the check the msgpack encoder makes),
    /// with the path and reason if not.
    pub fn check_type(&self, ty: &Type) -> Result<(), EncodeError> {
        super::msgpack::encode(self, ty).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nic_type() -> ObjectType {
        ObjectType::new([
            ("name".to_string(), Type::String),
            ("ip".to_string(), Type::String),
        ])
    }

    #[test]
    fn object_of_fills_nulls_and_rejects_unknown_names() {
        let v = Value::object_of(&nic_type(), [("name", Value::string("eth0"))]).unwrap();
        assert_eq!(
            v,
            Value::object([("name", Value::string("eth0")), ("ip", Value::Null)])
        );
        assert!(v.check_type(&Type::Object(nic_type())).is_ok());
        let e = Value::object_of(&nic_type(), [("nmae", Value::Null)]).unwrap_err();
        assert_eq!(e.kind, EncodeErrorKind::UnexpectedAttribute("nmae".into()));
    }

    #[test]
    fn get_path_follows_steps_and_looks_through_dynamic() {
        let v = Value::object([(
            "nics",
            Value::list([
                Value::Null,
                Value::dynamic(
                    Type::Object(nic_type()),
                    Value::object([("name", Value::string("eth1")), ("ip", Value::Unknown)]),
                ),
            ]),
        )]);
        let path = [
            PathStep::Attr("nics".into()),
            PathStep::Index(1),
            PathStep::Attr("name".into()),
        ];
        assert_eq!(v.get_path(&path), Some(&Value::string("eth1")));
        assert_eq!(v.get_path(&[]), Some(&v));
        // Through a null, past the end, or with the wrong kind of step: nothing.
        let through_null = [
            PathStep::Attr("nics".into()),
            PathStep::Index(0),
            PathStep::Attr("name".into()),
        ];
        assert_eq!(v.get_path(&through_null), None);
        assert_eq!(
            v.get_path(&[PathStep::Attr("nics".into()), PathStep::Index(9)]),
            None
        );
        assert_eq!(
            v.get_path(&[PathStep::Attr("nics".into()), PathStep::Key("0".into())]),
            None
        );
    }

    #[test]
    fn walk_visits_every_value_with_its_path() {
        let v = Value::object([
            ("a", Value::set([Value::number(1), Value::Unknown])),
            ("m", Value::map([("k", Value::Bool(true))])),
        ]);
        let mut seen = Vec::new();
        v.walk(&mut |path, value| {
            seen.push(format!("{path}={}", value.kind_name()));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "(root)=object",
                ".a=set",
                ".a[0]=number",
                ".a[1]=unknown",
                ".m=map",
                ".m[\"k\"]=bool",
            ]
        );
        // An error stops the walk and comes back out.
        let mut count = 0;
        let r = v.walk(&mut |_, value| {
            count += 1;
            if value.is_unknown() {
                Err("unknown found")
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err("unknown found"));
        assert_eq!(count, 4);
    }

    #[test]
    fn check_type_reports_the_first_nonconforming_path() {
        let ty = Type::object([("nics", Type::list(Type::Object(nic_type())))]);
        let bad = Value::object([(
            "nics",
            Value::list([Value::object([
                ("name", Value::number(3)),
                ("ip", Value::Null),
            ])]),
        )]);
        let e = bad.check_type(&ty).unwrap_err();
        assert_eq!(
            e.to_string(),
            ".nics[0].name: expected string value, found number"
        );
    }
}
