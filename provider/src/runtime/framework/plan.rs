//! Generic planning: from Terraform's proposed new state to the provider's planned state.
//!
//! Terraform's proposal keeps prior values for computed attributes the user left unset. When
//! anything changes, those values may change too, so they are planned unknown ("known after
//! apply") unless the attribute asks to keep its prior value (`use_state_for_unknown`) and the
//! resource is not being replaced. Write-only attributes are always planned null.

use std::collections::BTreeMap;

use crate::runtime::diag::AttrPath;
use crate::runtime::schema::{
    Attribute, AttributeType, Block, BlockNesting, ObjectNesting, ReplaceRequest,
};
use crate::runtime::value::Value;

static NULL: Value = Value::Null;

/// The value of attribute `name` of an object value, or null.
pub fn get<'a>(object: &'a Value, name: &str) -> &'a Value {
    object.attr(name).unwrap_or(&NULL)
}

/// Element `i` of a list/tuple/set value, or null.
fn element(value: &Value, i: usize) -> &Value {
    value.as_elements().and_then(|e| e.get(i)).unwrap_or(&NULL)
}

/// Entry `key` of a map/object value, or null.
fn entry<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.as_entries().and_then(|m| m.get(key)).unwrap_or(&NULL)
}

/// How computed attributes left unset in config are planned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Marking {
    /// An update: `use_state_for_unknown` keeps prior values.
    Update,
    /// A create or a replace: every such value is unknown.
    Fresh,
}

/// Marks, in `planned`, every computed attribute whose config is null as unknown (or keeps
/// its prior value, see [`Marking`]), recursively through nested attributes and blocks, and
/// nulls write-only attributes.
pub fn mark_computed(
    block: &Block,
    config: &Value,
    prior: &Value,
    planned: &mut Value,
    marking: Marking,
) {
    let Value::Object(fields) = planned else {
        return;
    };
    mark_attributes(&block.attributes, config, prior, fields, marking);
    for b in &block.blocks {
        let Some(slot) = fields.get_mut(&b.type_name) else {
            continue;
        };
        let cfg = get(config, &b.type_name);
        let pri = get(prior, &b.type_name);
        match b.nesting {
            BlockNesting::Single | BlockNesting::Group => {
                mark_computed(&b.block, cfg, pri, slot, marking)
            }
            BlockNesting::List | BlockNesting::Set => {
                // Set elements have no identity to match prior ones by; their computed
                // values are planned unknown whenever the set changes.
                let by_index = b.nesting == BlockNesting::List;
                if let Value::List(items) | Value::Set(items) | Value::Tuple(items) = slot {
                    for (i, item) in items.iter_mut().enumerate() {
                        let pri = if by_index { element(pri, i) } else { &NULL };
                        mark_computed(&b.block, element(cfg, i), pri, item, marking);
                    }
                }
            }
            BlockNesting::Map => {
                if let Value::Map(items) | Value::Object(items) = slot {
                    for (k, item) in items.iter_mut() {
                        mark_computed(&b.block, entry(cfg, k), entry(pri, k), item, marking);
                    }
                }
            }
        }
    }
}

fn mark_attributes(
    attributes: &[Attribute],
    config: &Value,
    prior: &Value,
    fields: &mut BTreeMap<String, Value>,
    marking: Marking,
) {
    for a in attributes {
        let Some(slot) = fields.get_mut(&a.name) else {
            continue;
        };
        if a.write_only {
            *slot = Value::Null;
            continue;
        }
        let cfg = get(config, &a.name);
        let pri = get(prior, &a.name);
        if a.mode.is_computed() && cfg.is_null() {
            *slot = if marking == Marking::Update && a.use_state_for_unknown && !pri.is_null() {
                pri.clone()
            } else {
                Value::Unknown
            };
            continue;
        }
        if let AttributeType::Nested(n) = &a.ty {
            match n.nesting {
                ObjectNesting::Single => {
                    if let Value::Object(inner) = slot {
                        mark_attributes(&n.attributes, cfg, pri, inner, marking);
                    }
                }
                ObjectNesting::List | ObjectNesting::Set => {
                    let by_index = n.nesting == ObjectNesting::List;
                    if let Value::List(items) | Value::Set(items) = slot {
                        for (i, item) in items.iter_mut().enumerate() {
                            let pri = if by_index { element(pri, i) } else { &NULL };
                            if let Value::Object(inner) = item {
                                mark_attributes(
                                    &n.attributes,
                                    element(cfg, i),
                                    pri,
                                    inner,
                                    marking,
                                );
                            }
                        }
                    }
                }
                ObjectNesting::Map => {
                    if let Value::Map(items) = slot {
                        for (k, item) in items.iter_mut() {
                            if let Value::Object(inner) = item {
                                mark_attributes(
                                    &n.attributes,
                                    entry(cfg, k),
                                    entry(pri, k),
                                    inner,
                                    marking,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Nulls every write-only attribute in `value` (they are never planned or stored), so that
/// a configuration setting one does not look like a change against the prior state.
pub fn null_write_only(block: &Block, value: &mut Value) {
    let Value::Object(fields) = value else {
        return;
    };
    for a in &block.attributes {
        if a.write_only {
            if let Some(slot) = fields.get_mut(&a.name) {
                *slot = Value::Null;
            }
        }
    }
    for b in &block.blocks {
        match fields.get_mut(&b.type_name) {
            Some(v @ Value::Object(_))
                if matches!(b.nesting, BlockNesting::Single | BlockNesting::Group) =>
            {
                null_write_only(&b.block, v)
            }
            Some(Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
                items.iter_mut().for_each(|v| null_write_only(&b.block, v))
            }
            Some(Value::Map(items) | Value::Object(items)) => items
                .values_mut()
                .for_each(|v| null_write_only(&b.block, v)),
            _ => {}
        }
    }
}

/// The paths of `requires_replace` attributes whose planned value differs from the prior
/// one. Looks through nested attributes and single/group blocks (inside collections an
/// element has no stable address to compare, so the collection attribute itself should be
/// marked instead). An attribute with a `requires_replace_if` decider replaces only when the
/// decider agrees; `private` is the resource's private state, which deciders may consult.
pub fn replace_paths(
    block: &Block,
    prior: &Value,
    planned: &Value,
    private: &[u8],
) -> Vec<AttrPath> {
    let mut out = Vec::new();
    collect_replace(block, prior, planned, private, &AttrPath::root(), &mut out);
    out
}

fn collect_replace(
    block: &Block,
    prior: &Value,
    planned: &Value,
    private: &[u8],
    at: &AttrPath,
    out: &mut Vec<AttrPath>,
) {
    for a in &block.attributes {
        let path = at.then_attr(&a.name);
        let (p, n) = (get(prior, &a.name), get(planned, &a.name));
        if a.requires_replace && p != n {
            let request = ReplaceRequest {
                prior: p,
                planned: n,
                private,
            };
            if a.replace_if.is_none_or(|d| d.decide(&request)) {
                out.push(path);
            }
            continue;
        }
        if let AttributeType::Nested(nested) = &a.ty {
            if nested.nesting == ObjectNesting::Single {
                collect_replace(
                    &Block::new(nested.attributes.clone()),
                    p,
                    n,
                    private,
                    &path,
                    out,
                );
            }
        }
    }
    for b in &block.blocks {
        if matches!(b.nesting, BlockNesting::Single | BlockNesting::Group) {
            let path = at.then_attr(&b.type_name);
            collect_replace(
                &b.block,
                get(prior, &b.type_name),
                get(planned, &b.type_name),
                private,
                &path,
                out,
            );
        }
    }
}

/// The write-only attributes set (non-null) in a configuration, with their paths.
pub fn write_only_values(block: &Block, config: &Value) -> Vec<AttrPath> {
    let mut out = Vec::new();
    collect_write_only(block, config, &AttrPath::root(), &mut out);
    out
}

fn collect_write_only(block: &Block, config: &Value, at: &AttrPath, out: &mut Vec<AttrPath>) {
    for a in &block.attributes {
        let v = get(config, &a.name);
        if a.write_only && !v.is_null() {
            out.push(at.then_attr(&a.name));
        }
    }
    for b in &block.blocks {
        let v = get(config, &b.type_name);
        let path = at.then_attr(&b.type_name);
        match v {
            Value::Object(_) if matches!(b.nesting, BlockNesting::Single | BlockNesting::Group) => {
                collect_write_only(&b.block, v, &path, out)
            }
            Value::List(items) | Value::Tuple(items) => {
                for (i, item) in items.iter().enumerate() {
                    collect_write_only(&b.block, item, &path.then_index(i), out);
                }
            }
            Value::Set(items) => {
                for item in items {
                    collect_write_only(&b.block, item, &path, out);
                }
            }
            Value::Map(items) | Value::Object(items) => {
                for (k, item) in items {
                    collect_write_only(&b.block, item, &path.then_key(k), out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::schema::{Mode, NestedBlock};
    use crate::runtime::value::Type;

    fn obj(fields: &[(&str, Value)]) -> Value {
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn block() -> Block {
        Block::new(vec![
            Attribute::computed("id", Type::String).use_state_for_unknown(),
            Attribute::computed("revision", Type::String),
            Attribute::optional_computed("region", Type::String),
            Attribute::required("name", Type::String).requires_replace(),
            Attribute::optional("password", Type::String).write_only(),
            Attribute::nested(
                "inner",
                ObjectNesting::Single,
                vec![
                    Attribute::required("x", Type::String),
                    Attribute::computed("y", Type::String),
                ],
                Mode::Optional,
            ),
        ])
        .with_blocks(vec![NestedBlock::new(
            "net",
            BlockNesting::List,
            Block::new(vec![
                Attribute::required("subnet", Type::String).requires_replace(),
                Attribute::computed("ip", Type::String).use_state_for_unknown(),
            ]),
        )])
    }

    fn prior() -> Value {
        obj(&[
            ("id", s("i-1")),
            ("revision", s("r1")),
            ("region", s("eu")),
            ("name", s("a")),
            ("password", Value::Null),
            ("inner", obj(&[("x", s("x")), ("y", s("y1"))])),
            (
                "net",
                Value::List(vec![obj(&[("subnet", s("s1")), ("ip", s("10.0.0.1"))])]),
            ),
        ])
    }

    #[test]
    fn create_plans_every_unset_computed_value_unknown() {
        let config = obj(&[
            ("id", Value::Null),
            ("revision", Value::Null),
            ("region", Value::Null),
            ("name", s("a")),
            ("password", s("secret")),
            ("inner", obj(&[("x", s("x")), ("y", Value::Null)])),
            (
                "net",
                Value::List(vec![obj(&[("subnet", s("s1")), ("ip", Value::Null)])]),
            ),
        ]);
        let mut planned = config.clone();
        mark_computed(
            &block(),
            &config,
            &Value::Null,
            &mut planned,
            Marking::Fresh,
        );
        assert_eq!(get(&planned, "id"), &Value::Unknown);
        assert_eq!(get(&planned, "revision"), &Value::Unknown);
        assert_eq!(get(&planned, "region"), &Value::Unknown);
        assert_eq!(
            get(&planned, "password"),
            &Value::Null,
            "write-only planned null"
        );
        assert_eq!(get(get(&planned, "inner"), "y"), &Value::Unknown);
        assert_eq!(get(element(get(&planned, "net"), 0), "ip"), &Value::Unknown);
        assert_eq!(get(&planned, "name"), &s("a"));
    }

    #[test]
    fn update_keeps_use_state_for_unknown_values_and_config_values() {
        let mut config = prior();
        for k in ["id", "revision", "region"] {
            if let Value::Object(m) = &mut config {
                m.insert(k.into(), Value::Null);
            }
        }
        let mut planned = prior();
        mark_computed(&block(), &config, &prior(), &mut planned, Marking::Update);
        assert_eq!(get(&planned, "id"), &s("i-1"));
        assert_eq!(get(&planned, "revision"), &Value::Unknown);
        assert_eq!(get(&planned, "region"), &Value::Unknown);
        assert_eq!(get(element(get(&planned, "net"), 0), "ip"), &s("10.0.0.1"));

        let mut replaced = prior();
        mark_computed(&block(), &config, &prior(), &mut replaced, Marking::Fresh);
        assert_eq!(get(&replaced, "id"), &Value::Unknown);
    }

    #[test]
    fn replace_paths_find_changed_requires_replace_attributes() {
        let mut planned = prior();
        assert!(replace_paths(&block(), &prior(), &planned, &[]).is_empty());
        if let Value::Object(m) = &mut planned {
            m.insert("name".into(), s("b"));
        }
        assert_eq!(
            replace_paths(&block(), &prior(), &planned, &[]),
            vec![AttrPath::attr("name")]
        );
        if let Value::Object(m) = &mut planned {
            m.insert("name".into(), Value::Unknown);
        }
        assert_eq!(replace_paths(&block(), &prior(), &planned, &[]).len(), 1);
    }

    #[test]
    fn write_only_values_are_nulled_before_comparing() {
        let mut v = obj(&[("password", s("x")), ("name", s("a"))]);
        null_write_only(&block(), &mut v);
        assert_eq!(get(&v, "password"), &Value::Null);
        assert_eq!(get(&v, "name"), &s("a"));
    }

    #[test]
    fn write_only_values_are_found_with_paths() {
        let config = obj(&[("password", s("x")), ("net", Value::List(vec![]))]);
        assert_eq!(
            write_only_values(&block(), &config),
            vec![AttrPath::attr("password")]
        );
        let config = obj(&[("password", Value::Null)]);
        assert!(write_only_values(&block(), &config).is_empty());
    }
}
