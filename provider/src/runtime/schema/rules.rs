//! Declared rules: what a value must be, said once on the schema instead of checked by hand
//! in every object (terraform-plugin-framework's validators and `RequiresReplaceIf`).
//!
//! - Per attribute, a [`Check`] of its known value: one of a list, a whole-number or
//!   number range, a duration, a hostname, a regular expression, a length.
//! - Per block, a [`Rule`] across attributes: exactly one of, at least one of, conflicts
//!   with, required with.
//! - Per attribute, a [`ReplaceIf`] refining `requires_replace` at plan time.
//!
//! The framework runs [`check`] in one place for every object (at validate, and again before
//! apply, read and open, when values that were unknown at validate are known); unknown values
//! are skipped there, once. The generated docs print [`Check::describe`] and
//! [`Rule::describe`]. Diagnostics point at the attribute and say what to do; they never echo
//! a sensitive value.

use std::fmt;
use std::time::Duration;

use super::{Attribute, AttributeType, Block, BlockNesting};
use crate::runtime::diag::{AttrPath, Diagnostics};
use crate::runtime::value::Value;

/// A check of one attribute's known, non-null value (each element's, for a collection).
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// A string from a fixed list.
    OneOf(Vec<String>),
    /// A whole number in `min..=max`.
    IntRange {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed (`i64::MAX`: no upper bound).
        max: i64,
    },
    /// A number (fractions allowed) in `min..=max`.
    NumberRange {
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
    },
    /// A Go-style duration: `30m`, `1h30m`, `90s`, `250ms` ([`parse_duration`]).
    Duration,
    /// A hostname label: 1–63 lowercase letters, digits and `-`, starting with a letter and
    /// not ending with `-`.
    Hostname,
    /// A string matching a regular expression.
    Matches(Pattern),
    /// A string of `min..=max` bytes.
    Length {
        /// Fewest bytes.
        min: usize,
        /// Most bytes (`usize::MAX`: no upper bound).
        max: usize,
    },
}

/// A regular expression with what it stands for, for messages ("a CRN").
#[derive(Clone)]
pub struct Pattern {
    regex: regex::Regex,
    what: String,
}

impl Pattern {
    /// A pattern; `regex` must be valid (schemas are built from constants, and a test
    /// builds every schema).
    ///
    /// # Panics
    /// When `regex` is not a valid regular expression: a bug in the schema, found by the
    /// schema tests.
    pub fn new(regex: &str, what: &str) -> Pattern {
        Pattern {
            regex: regex::Regex::new(regex).unwrap_or_else(|e| panic!("bad schema regex: {e}")),
            what: what.to_string(),
        }
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.regex.as_str() == other.regex.as_str() && self.what == other.what
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (`{}`)", self.what, self.regex.as_str())
    }
}

/// A rule across the attributes (and blocks) of one block, by name.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Exactly one of these is set.
    ExactlyOneOf(Vec<String>),
    /// At least one of these is set.
    AtLeastOneOf(Vec<String>),
    /// When the first is set, none of the others may be.
    ConflictsWith(String, Vec<String>),
    /// The first only applies together with the second.
    RequiredWith(String, String),
}

/// What a [`ReplaceIf`] sees of one attribute whose planned value differs from its prior one.
pub struct ReplaceRequest<'a> {
    /// The prior state's value of the attribute.
    pub prior: &'a Value,
    /// The planned value.
    pub planned: &'a Value,
    /// The resource's private state, as the plan has it.
    pub private: &'a [u8],
}

/// Decides whether a change of a `requires_replace` attribute replaces the resource.
#[derive(Clone, Copy)]
pub struct ReplaceIf(pub fn(&ReplaceRequest<'_>) -> bool);

impl ReplaceIf {
    /// Whether this change replaces.
    pub fn decide(&self, request: &ReplaceRequest<'_>) -> bool {
        (self.0)(request)
    }
}

impl PartialEq for ReplaceIf {
    fn eq(&self, other: &ReplaceIf) -> bool {
        std::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl fmt::Debug for ReplaceIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplaceIf(fn)")
    }
}

fn names(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn plain(list: &[String]) -> String {
    match list {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn bound(n: i64) -> String {
    n.to_string()
}

impl Check {
    /// The sentence the generated docs print for this check.
    pub fn describe(&self) -> String {
        match self {
            Check::OneOf(values) => {
                let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                format!("One of {}.", quoted.join(", "))
            }
            Check::IntRange { min, max: i64::MAX } => {
                format!("A whole number of at least {}.", bound(*min))
            }
            Check::IntRange { min, max } => {
                format!("A whole number from {} to {}.", bound(*min), bound(*max))
            }
            Check::NumberRange { min, max } => format!("A number from {min} to {max}."),
            Check::Duration => "A duration such as `30m`, `1h30m` or `90s`.".into(),
            Check::Hostname => "1–63 lowercase letters, digits and `-`, starting with a \
                                letter and not ending with `-`."
                .into(),
            Check::Matches(p) => format!("{} (matching `{}`).", capital(&p.what), p.regex),
            Check::Length {
                min: 1,
                max: usize::MAX,
            } => "Not empty.".into(),
            Check::Length { min: 0, max } => format!("At most {max} bytes."),
            Check::Length {
                min,
                max: usize::MAX,
            } => format!("At least {min} bytes."),
            Check::Length { min, max } => format!("From {min} to {max} bytes."),
        }
    }

    /// The problem with a known value, if any, as (summary, detail).
    fn problem(&self, a: &Attribute, value: &Value) -> Option<(String, String)> {
        let name = &a.name;
        let shown = |text: &str| {
            if a.sensitive {
                "The value".to_string()
            } else {
                format!("{text:?}")
            }
        };
        let invalid = format!("Invalid {name}");
        match self {
            Check::OneOf(values) => {
                let text = value.as_str()?;
                if values.iter().any(|v| v == text) {
                    return None;
                }
                let quoted: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                Some((
                    invalid,
                    format!("{} is not one of {}.", shown(text), quoted.join(", ")),
                ))
            }
            Check::IntRange { min, max } => {
                let n = value.as_number()?;
                if n.as_i64().is_some_and(|v| (*min..=*max).contains(&v)) {
                    return None;
                }
                let range = if *max == i64::MAX {
                    format!("of at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                Some((invalid, format!("{name} must be a whole number {range}.")))
            }
            Check::NumberRange { min, max } => {
                let n = value.as_number()?;
                if n.to_f64_lossy().is_some_and(|v| (*min..=*max).contains(&v)) {
                    return None;
                }
                Some((invalid, format!("{name} must be from {min} to {max}.")))
            }
            Check::Duration => {
                let text = value.as_str()?;
                if parse_duration(text).is_some() {
                    return None;
                }
                Some((
                    invalid,
                    format!(
                        "{} is not a duration such as `30m`, `1h30m` or `90s`.",
                        shown(text)
                    ),
                ))
            }
            Check::Hostname => {
                let text = value.as_str()?;
                if is_hostname(text) {
                    return None;
                }
                Some((
                    invalid,
                    format!(
                        "{} is not a valid {name}: use 1–63 lowercase letters, digits and `-`, \
                         starting with a letter and not ending with `-`.",
                        shown(text)
                    ),
                ))
            }
            Check::Matches(p) => {
                let text = value.as_str()?;
                if p.regex.is_match(text) {
                    return None;
                }
                Some((
                    invalid,
                    format!(
                        "{} is not {} (it must match `{}`).",
                        shown(text),
                        p.what,
                        p.regex
                    ),
                ))
            }
            Check::Length { min, max } => {
                let len = value.as_str()?.len();
                if (*min..=*max).contains(&len) {
                    return None;
                }
                if *min == 1 && len == 0 {
                    return Some((
                        format!("Empty {name}"),
                        format!("{name} must not be empty; leave it out instead."),
                    ));
                }
                let allowed = if *max == usize::MAX {
                    format!("at least {min} bytes")
                } else if *min == 0 {
                    format!("at most {max} bytes")
                } else {
                    format!("{min} to {max} bytes")
                };
                Some((
                    format!("{name} has the wrong length"),
                    format!("{name} is {len} bytes; it must be {allowed}."),
                ))
            }
        }
    }
}

fn capital(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl Rule {
    /// The sentence the generated docs print for this rule.
    pub fn describe(&self) -> String {
        match self {
            Rule::ExactlyOneOf(list) => format!("Exactly one of {} must be set.", names(list)),
            Rule::AtLeastOneOf(list) => format!("At least one of {} must be set.", names(list)),
            Rule::ConflictsWith(a, others) => {
                format!("`{a}` cannot be set together with {}.", names(others))
            }
            Rule::RequiredWith(a, b) => format!("`{a}` only applies together with `{b}`."),
        }
    }

    fn named(&self) -> Vec<&str> {
        match self {
            Rule::ExactlyOneOf(l) | Rule::AtLeastOneOf(l) => l.iter().map(String::as_str).collect(),
            Rule::ConflictsWith(a, l) => std::iter::once(a.as_str())
                .chain(l.iter().map(String::as_str))
                .collect(),
            Rule::RequiredWith(a, b) => vec![a, b],
        }
    }

    fn run(&self, object: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        let get = |name: &str| object.attr(name).unwrap_or(&Value::Null);
        // Unknown values are skipped: the rule is checked again once they are known.
        if self.named().into_iter().any(|n| get(n).is_unknown()) {
            return;
        }
        let is_set = |name: &str| match get(name) {
            Value::Null => false,
            // An absent list or set block is an empty collection.
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => !items.is_empty(),
            _ => true,
        };
        let conflict = |diags: &mut Diagnostics, a: &str, b: &str| {
            diags.error_at(
                at.then_attr(b),
                "Conflicting attributes",
                format!("{a} and {b} are exclusive: set one of them."),
            )
        };
        match self {
            Rule::ExactlyOneOf(list) => {
                let set: Vec<&String> = list.iter().filter(|n| is_set(n)).collect();
                match set.as_slice() {
                    [] => diags.error_at(
                        at.then_attr(&list[0]),
                        "Missing attribute",
                        format!("Set exactly one of {}.", plain(list)),
                    ),
                    [_] => {}
                    [first, rest @ ..] => {
                        for other in rest {
                            conflict(diags, first, other);
                        }
                    }
                }
            }
            Rule::AtLeastOneOf(list) => {
                if !list.iter().any(|n| is_set(n)) {
                    diags.error_at(
                        at.then_attr(&list[0]),
                        "Missing attribute",
                        format!("Set at least one of {}.", plain(list)),
                    );
                }
            }
            Rule::ConflictsWith(a, others) => {
                if is_set(a) {
                    for o in others.iter().filter(|o| is_set(o)) {
                        conflict(diags, a, o);
                    }
                }
            }
            Rule::RequiredWith(a, b) => {
                if is_set(a) && !is_set(b) {
                    diags.error_at(
                        at.then_attr(a),
                        format!("{a} without {b}"),
                        format!(
                            "{a} only applies together with {b}: set {b} too, or leave {a} out."
                        ),
                    );
                }
            }
        }
    }
}

/// Runs every declared check and rule of `block` on `value` (an object of the block's type),
/// through nested blocks, skipping unknown values. Diagnostics point at `at` + the attribute.
pub fn check(block: &Block, value: &Value, at: &AttrPath) -> Diagnostics {
    let mut diags = Diagnostics::new();
    check_into(block, value, at, &mut diags);
    diags
}

fn check_into(block: &Block, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
    if value.as_entries().is_none() {
        return;
    }
    for a in &block.attributes {
        let v = value.attr(&a.name).unwrap_or(&Value::Null);
        check_attribute(a, v, &at.then_attr(&a.name), diags);
    }
    for rule in &block.rules {
        rule.run(value, at, diags);
    }
    for b in &block.blocks {
        let v = value.attr(&b.type_name).unwrap_or(&Value::Null);
        let path = at.then_attr(&b.type_name);
        match (b.nesting, v) {
            (BlockNesting::Single | BlockNesting::Group, _) => {
                check_into(&b.block, v, &path, diags)
            }
            (_, Value::List(items) | Value::Tuple(items)) => {
                for (i, item) in items.iter().enumerate() {
                    check_into(&b.block, item, &path.then_index(i), diags);
                }
            }
            // Set elements have no path of their own: diagnostics point at the set.
            (_, Value::Set(items)) => {
                for item in items {
                    check_into(&b.block, item, &path, diags);
                }
            }
            (_, Value::Map(items) | Value::Object(items)) => {
                for (k, item) in items {
                    check_into(&b.block, item, &path.then_key(k), diags);
                }
            }
            _ => {}
        }
    }
}

fn check_attribute(a: &Attribute, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
    if value.is_null() || value.is_unknown() {
        return;
    }
    if let AttributeType::Nested(n) = &a.ty {
        let inner = Block::new(n.attributes.clone());
        match value {
            Value::Object(_) => check_into(&inner, value, at, diags),
            Value::List(items) | Value::Set(items) => {
                for item in items {
                    check_into(&inner, item, at, diags);
                }
            }
            Value::Map(items) => {
                for (k, item) in items {
                    check_into(&inner, item, &at.then_key(k), diags);
                }
            }
            _ => {}
        }
        return;
    }
    let scalars: Vec<&Value> = match value {
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => items.iter().collect(),
        Value::Map(items) => items.values().collect(),
        one => vec![one],
    };
    for v in scalars
        .into_iter()
        .filter(|v| !v.is_null() && !v.is_unknown())
    {
        for c in &a.checks {
            if let Some((summary, mut detail)) = c.problem(a, v) {
                if let Some(hint) = &a.hint {
                    detail = format!("{detail} {hint}");
                }
                diags.error_at(at.clone(), summary, detail);
            }
        }
    }
}

/// Parses Go-style durations as Terraform users write them: `30m`, `1h30m`, `90s`, `2h`,
/// `250ms`. `None` for anything else (a bare number has no unit, so it is refused).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        total += value * unit;
        any = true;
    }
    if !number.is_empty() || !any || !total.is_finite() {
        return None;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A hostname label (see [`Check::Hostname`]).
pub fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::schema::NestedBlock;
    use crate::runtime::value::Type;

    fn block() -> Block {
        Block::new(vec![
            Attribute::optional("mode", Type::String).one_of(&["a", "b"]),
            Attribute::optional("count", Type::Number).int_range(0, 10),
            Attribute::optional("name", Type::String).hostname(),
            Attribute::optional("text", Type::String).sensitive(),
            Attribute::optional("text_wo", Type::String).sensitive(),
            Attribute::optional("text_wo_version", Type::Number),
            Attribute::optional("crn", Type::String).matches("^crn:", "a CRN"),
            Attribute::optional("blob", Type::String)
                .length(0, 3)
                .hint("Make it smaller."),
            Attribute::optional("filter", Type::String).not_empty(),
        ])
        .exactly_one_of(&["text", "text_wo"])
        .required_with("text_wo_version", "text_wo")
        .with_blocks(vec![NestedBlock::new(
            "timeouts",
            BlockNesting::Single,
            Block::new(vec![Attribute::optional("create", Type::String).duration()]),
        )])
    }

    fn run(pairs: &[(&str, Value)]) -> Vec<(String, String, String)> {
        let value = Value::object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        check(&block(), &value, &AttrPath::root())
            .0
            .into_iter()
            .map(|d| {
                (
                    d.path.map(|p| p.to_string()).unwrap_or_default(),
                    d.summary,
                    d.detail,
                )
            })
            .collect()
    }

    #[test]
    fn attribute_checks_point_at_the_attribute_and_say_what_to_do() {
        let found = run(&[
            ("text", Value::string("x")),
            ("mode", Value::string("c")),
            ("count", Value::number(1.5)),
            ("name", Value::string("Bad_Name")),
            ("crn", Value::string("nope")),
            ("blob", Value::string("abcd")),
            ("filter", Value::string("")),
            (
                "timeouts",
                Value::object([("create", Value::string("10x"))]),
            ),
        ]);
        let at: Vec<&str> = found.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            at,
            [
                "mode",
                "count",
                "name",
                "crn",
                "blob",
                "filter",
                "timeouts.create"
            ]
        );
        assert!(
            found[0].2.contains("\"c\" is not one of `a`, `b`"),
            "{found:?}"
        );
        assert!(found[1].2.contains("whole number from 0 to 10"));
        assert!(found[4].2.ends_with("Make it smaller."));
        assert_eq!(found[5].1, "Empty filter");
    }

    #[test]
    fn unknown_and_null_values_are_skipped() {
        let found = run(&[
            ("text", Value::Unknown),
            ("text_wo", Value::string("y")),
            ("mode", Value::Unknown),
            ("timeouts", Value::Null),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn block_rules_name_both_attributes() {
        let none = run(&[("text_wo_version", Value::number(1))]);
        assert_eq!(none[0].0, "text");
        assert_eq!(none[0].2, "Set exactly one of text and text_wo.");
        assert_eq!(none[1].0, "text_wo_version");
        let both = run(&[
            ("text", Value::string("x")),
            ("text_wo", Value::string("y")),
        ]);
        assert_eq!(both[0].0, "text_wo");
        assert_eq!(both[0].1, "Conflicting attributes");
        assert_eq!(
            both[0].2,
            "text and text_wo are exclusive: set one of them."
        );
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let b = Block::new(vec![Attribute::optional("secret", Type::String)
            .sensitive()
            .one_of(&["a"])]);
        let v = Value::object([("secret", Value::string("hunter2"))]);
        let d = check(&b, &v, &AttrPath::root());
        assert!(!d.0[0].detail.contains("hunter2"), "{:?}", d.0[0]);
    }

    #[test]
    fn rules_describe_themselves_for_the_docs() {
        let b = block();
        assert_eq!(
            b.rules[0].describe(),
            "Exactly one of `text` and `text_wo` must be set."
        );
        assert_eq!(
            b.attributes[1].checks[0].describe(),
            "A whole number from 0 to 10."
        );
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        for bad in ["", "30", "m", "10x", "1h30", "99999999999999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
