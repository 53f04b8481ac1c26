//! Schemas: what a provider, resource or data source accepts and returns, the cty type they
//! imply, their wire form, and the rules Terraform ≥ 1.1 enforces on them (checked here too,
//! because Terraform 1.0 does not and a broken schema would only show up on newer CLIs).
//!
//! Beyond the wire model, attributes carry two planning behaviours the framework applies
//! generically (the equivalents of terraform-plugin-framework's plan modifiers):
//! [`Attribute::requires_replace`] (optionally refined by [`Attribute::requires_replace_if`])
//! and [`Attribute::use_state_for_unknown`]; and declared [`rules`] the framework checks:
//! per attribute (one of, ranges, durations, hostnames, patterns, lengths) and per block
//! (exactly one of, at least one of, conflicts with, required with).

pub mod rules;

use std::collections::BTreeSet;

pub use rules::{Check, Pattern, ReplaceIf, ReplaceRequest, Rule};

use super::proto::tfplugin6 as pb;
use super::value::{ObjectType, Type};

/// A versioned schema for a provider configuration, resource or data source.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// Bumped when a resource's state layout changes; state recorded at an older version is
    /// passed through the resource's `upgrade_state`.
    pub version: i64,
    pub block: Block,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub deprecated: bool,
    /// Rules across this block's attributes and blocks, checked by the framework.
    pub rules: Vec<Rule>,
}

/// Who sets an attribute. One enum instead of three booleans, so the combinations Terraform
/// rejects (required+optional, required+computed, none at all) cannot be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set by the user, or by the provider when the user leaves it out.
    OptionalComputed,
}

impl Mode {
    pub fn is_computed(self) -> bool {
        matches!(self, Mode::Computed | Mode::OptionalComputed)
    }
    pub fn is_configurable(self) -> bool {
        !matches!(self, Mode::Computed)
    }
}

/// What an attribute holds: a value of a cty type, or nested attributes (protocol 6).
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeType {
    Typed(Type),
    Nested(NestedAttributes),
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedAttributes {
    pub nesting: ObjectNesting,
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectNesting {
    Single,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: AttributeType,
    pub mode: Mode,
    pub sensitive: bool,
    /// Never persisted: Terraform passes it in config only (Terraform ≥ 1.11).
    pub write_only: bool,
    pub description: String,
    pub deprecated: bool,
    /// A change of this attribute's value replaces the resource instead of updating it.
    pub requires_replace: bool,
    /// When a computed value is not set in config, keep the prior state's value in the plan
    /// instead of planning it unknown (for values that never change after create, like ids).
    pub use_state_for_unknown: bool,
    /// With `requires_replace`: decides per plan whether a change really replaces.
    pub replace_if: Option<ReplaceIf>,
    /// Checks of the attribute's known value, run by the framework.
    pub checks: Vec<Check>,
    /// Advice appended to every check's diagnostic (what to do instead).
    pub hint: Option<String>,
}

impl Attribute {
    pub fn new(name: impl Into<String>, ty: Type, mode: Mode) -> Attribute {
        Attribute {
            name: name.into(),
            ty: AttributeType::Typed(ty),
            mode,
            sensitive: false,
            write_only: false,
            description: String::new(),
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
            replace_if: None,
            checks: Vec::new(),
            hint: None,
        }
    }
    pub fn nested(
        name: impl Into<String>,
        nesting: ObjectNesting,
        attributes: Vec<Attribute>,
        mode: Mode,
    ) -> Attribute {
        Attribute {
            ty: AttributeType::Nested(NestedAttributes {
                nesting,
                attributes,
            }),
            ..Attribute::new(name, Type::Dynamic, mode)
        }
    }
    pub fn required(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute::new(name, ty, Mode::Required)
    }
    pub fn optional(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute::new(name, ty, Mode::Optional)
    }
    pub fn computed(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute::new(name, ty, Mode::Computed)
    }
    pub fn optional_computed(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute::new(name, ty, Mode::OptionalComputed)
    }
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }
    /// A change replaces the resource when `decide` says so (the docs still say it
    /// replaces: the exceptions are for the object's description to explain).
    pub fn requires_replace_if(mut self, decide: fn(&ReplaceRequest<'_>) -> bool) -> Self {
        self.requires_replace = true;
        self.replace_if = Some(ReplaceIf(decide));
        self
    }
    /// Adds a declared check.
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }
    /// One of `values`.
    pub fn one_of(self, values: &[&str]) -> Self {
        self.check(Check::OneOf(values.iter().map(|v| v.to_string()).collect()))
    }
    /// A whole number in `min..=max`.
    pub fn int_range(self, min: i64, max: i64) -> Self {
        self.check(Check::IntRange { min, max })
    }
    /// A number in `min..=max`, fractions allowed.
    pub fn number_range(self, min: f64, max: f64) -> Self {
        self.check(Check::NumberRange { min, max })
    }
    /// A duration such as `30m`.
    pub fn duration(self) -> Self {
        self.check(Check::Duration)
    }
    /// A hostname label.
    pub fn hostname(self) -> Self {
        self.check(Check::Hostname)
    }
    /// A string matching `regex`, which stands for `what` ("a CRN").
    pub fn matches(self, regex: &str, what: &str) -> Self {
        self.check(Check::Matches(Pattern::new(regex, what)))
    }
    /// A string of `min..=max` bytes.
    pub fn length(self, min: usize, max: usize) -> Self {
        self.check(Check::Length { min, max })
    }
    /// A non-empty string.
    pub fn not_empty(self) -> Self {
        self.length(1, usize::MAX)
    }
    /// Advice appended to the diagnostics of this attribute's checks.
    pub fn hint(mut self, text: impl Into<String>) -> Self {
        self.hint = Some(text.into());
        self
    }

    /// The cty type of this attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Typed(t) => t.clone(),
            AttributeType::Nested(n) => {
                let object = Type::Object(ObjectType::new(
                    n.attributes
                        .iter()
                        .map(|a| (a.name.clone(), a.value_type())),
                ));
                match n.nesting {
                    ObjectNesting::Single => object,
                    ObjectNesting::List => Type::list(object),
                    ObjectNesting::Set => Type::set(object),
                    ObjectNesting::Map => Type::map(object),
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNesting {
    /// At most one block; absent = null.
    Single,
    /// Exactly one object, never null: an absent block reads as all-null attributes.
    Group,
    List,
    Set,
    Map,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: BlockNesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn new(type_name: impl Into<String>, nesting: BlockNesting, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.into(),
            block,
            nesting,
            min_items: 0,
            max_items: 0,
        }
    }
    pub fn items(mut self, min: i64, max: i64) -> Self {
        self.min_items = min;
        self.max_items = max;
        self
    }

    pub fn value_type(&self) -> Type {
        let object = self.block.implied_type();
        let dynamic = object.has_dynamic();
        match self.nesting {
            BlockNesting::Single | BlockNesting::Group => object,
            // Blocks containing a dynamic attribute may differ in type element by element,
            // so Terraform models them as a tuple / object rather than a list / map.
            BlockNesting::List if dynamic => Type::Dynamic,
            BlockNesting::List => Type::list(object),
            BlockNesting::Set => Type::set(object),
            BlockNesting::Map if dynamic => Type::Dynamic,
            BlockNesting::Map => Type::map(object),
        }
    }
}

impl Block {
    pub fn new(attributes: Vec<Attribute>) -> Block {
        Block {
            attributes,
            ..Block::default()
        }
    }
    pub fn with_blocks(mut self, blocks: Vec<NestedBlock>) -> Self {
        self.blocks = blocks;
        self
    }
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
    /// Adds a declared rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }
    /// Exactly one of these attributes (or blocks) is set.
    pub fn exactly_one_of(self, names: &[&str]) -> Self {
        self.rule(Rule::ExactlyOneOf(owned(names)))
    }
    /// At least one of these is set.
    pub fn at_least_one_of(self, names: &[&str]) -> Self {
        self.rule(Rule::AtLeastOneOf(owned(names)))
    }
    /// When `name` is set, none of `others` may be.
    pub fn conflicts_with(self, name: &str, others: &[&str]) -> Self {
        self.rule(Rule::ConflictsWith(name.to_string(), owned(others)))
    }
    /// `name` only applies together with `other`.
    pub fn required_with(self, name: &str, other: &str) -> Self {
        self.rule(Rule::RequiredWith(name.to_string(), other.to_string()))
    }

    /// The object type a value of this block has: one attribute per attribute and per
    /// nested block.
    pub fn implied_type(&self) -> Type {
        Type::Object(ObjectType::new(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.value_type()))
                .chain(
                    self.blocks
                        .iter()
                        .map(|b| (b.type_name.clone(), b.value_type())),
                ),
        ))
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&NestedBlock> {
        self.blocks.iter().find(|b| b.type_name == name)
    }

    pub fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(attribute_to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.type_name.clone(),
                    block: Some(b.block.to_proto(0)),
                    nesting: match b.nesting {
                        BlockNesting::Single => pb::schema::nested_block::NestingMode::Single,
                        BlockNesting::Group => pb::schema::nested_block::NestingMode::Group,
                        BlockNesting::List => pb::schema::nested_block::NestingMode::List,
                        BlockNesting::Set => pb::schema::nested_block::NestingMode::Set,
                        BlockNesting::Map => pb::schema::nested_block::NestingMode::Map,
                    } as i32,
                    min_items: b.min_items,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
            deprecation_message: String::new(),
        }
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn attribute_to_proto(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttributeType::Typed(t) => (t.to_constraint_json().into_bytes(), None),
        AttributeType::Nested(n) => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: n.attributes.iter().map(attribute_to_proto).collect(),
                nesting: match n.nesting {
                    ObjectNesting::Single => pb::schema::object::NestingMode::Single,
                    ObjectNesting::List => pb::schema::object::NestingMode::List,
                    ObjectNesting::Set => pb::schema::object::NestingMode::Set,
                    ObjectNesting::Map => pb::schema::object::NestingMode::Map,
                } as i32,
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.mode == Mode::Required,
        optional: matches!(a.mode, Mode::Optional | Mode::OptionalComputed),
        computed: a.mode.is_computed(),
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecated,
        write_only: a.write_only,
        deprecation_message: String::new(),
    }
}

/// A managed resource type's identity (Terraform ≥ 1.12): the few values that name one real
/// object for good (e.g. its id and region), versioned apart from the resource schema. Terraform
/// stores it beside the state, compares it across refreshes, and `import` blocks may give it
/// instead of an id (`import { to = ..., identity = { id = "..." } }`).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentitySchema {
    /// Bumped when the identity's layout changes; older identities go through the resource's
    /// `upgrade_identity`.
    pub version: i64,
    pub attributes: Vec<IdentityAttribute>,
}

/// One identity value: a primitive or a list of primitives, never sensitive.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityAttribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    /// Must be given in an `import` block's `identity` (otherwise the provider can fill it in).
    pub required_for_import: bool,
}

impl IdentityAttribute {
    /// An attribute an `import` block must give.
    pub fn required(name: &str, ty: Type, description: &str) -> IdentityAttribute {
        IdentityAttribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            required_for_import: true,
        }
    }
    /// An attribute an `import` block may leave out (the provider then works it out).
    pub fn optional(name: &str, ty: Type, description: &str) -> IdentityAttribute {
        IdentityAttribute {
            required_for_import: false,
            ..IdentityAttribute::required(name, ty, description)
        }
    }
}

impl IdentitySchema {
    pub fn new(version: i64, attributes: Vec<IdentityAttribute>) -> IdentitySchema {
        IdentitySchema {
            version,
            attributes,
        }
    }

    /// The object type identity values have.
    pub fn implied_type(&self) -> Type {
        Type::Object(ObjectType::new(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone())),
        ))
    }

    pub fn to_proto(&self) -> pb::ResourceIdentitySchema {
        pb::ResourceIdentitySchema {
            version: self.version,
            identity_attributes: self
                .attributes
                .iter()
                .map(|a| pb::resource_identity_schema::IdentityAttribute {
                    name: a.name.clone(),
                    r#type: a.ty.to_constraint_json().into_bytes(),
                    required_for_import: a.required_for_import,
                    optional_for_import: !a.required_for_import,
                    description: a.description.clone(),
                })
                .collect(),
        }
    }
}

impl Schema {
    pub fn new(version: i64, block: Block) -> Schema {
        Schema { version, block }
    }

    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema {
            version: self.version,
            block: Some(self.block.to_proto(self.version)),
        }
    }

    /// Checks the rules Terraform ≥ 1.1 applies when it loads a provider's schemas
    /// ("... has invalid schema ..., which is a bug in the provider"). Returns every problem.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.version < 0 {
            problems.push(format!("schema version {} is negative", self.version));
        }
        check_block(&self.block, "", &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check_attributes(attributes: &[Attribute], prefix: &str, problems: &mut Vec<String>) {
    for a in attributes {
        let path = format!("{prefix}{}", a.name);
        if !valid_name(&a.name) {
            problems.push(format!("{path}: name must match ^[a-z0-9_]+$"));
        }
        if a.write_only && a.mode.is_computed() {
            problems.push(format!("{path}: a write-only attribute cannot be computed"));
        }
        if let AttributeType::Nested(n) = &a.ty {
            if n.attributes.is_empty() {
                problems.push(format!("{path}: nested attributes must not be empty"));
            }
            check_attributes(&n.attributes, &format!("{path}."), problems);
            check_unique(
                n.attributes.iter().map(|a| a.name.as_str()),
                &path,
                problems,
            );
        }
    }
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, path: &str, problems: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            let at = if path.is_empty() { "schema" } else { path };
            problems.push(format!("{at}: name {name:?} is defined more than once"));
        }
    }
}

fn check_block(block: &Block, prefix: &str, problems: &mut Vec<String>) {
    check_attributes(&block.attributes, prefix, problems);
    for rule in &block.rules {
        let named: Vec<&String> = match rule {
            Rule::ExactlyOneOf(l) | Rule::AtLeastOneOf(l) => l.iter().collect(),
            Rule::ConflictsWith(a, l) => std::iter::once(a).chain(l).collect(),
            Rule::RequiredWith(a, b) => vec![a, b],
        };
        if named.is_empty() {
            problems.push(format!("{prefix}: a rule names no attribute"));
        }
        for n in named {
            if block.attribute(n).is_none() && block.block(n).is_none() {
                problems.push(format!(
                    "{prefix}{n}: a rule names an attribute the block lacks"
                ));
            }
        }
    }
    check_unique(
        block
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .chain(block.blocks.iter().map(|b| b.type_name.as_str())),
        prefix.trim_end_matches('.'),
        problems,
    );
    for b in &block.blocks {
        let path = format!("{prefix}{}", b.type_name);
        if !valid_name(&b.type_name) {
            problems.push(format!("{path}: block name must match ^[a-z0-9_]+$"));
        }
        if b.min_items < 0 || b.max_items < 0 {
            problems.push(format!(
                "{path}: min_items and max_items must not be negative"
            ));
        }
        if b.max_items != 0 && b.min_items > b.max_items {
            problems.push(format!("{path}: min_items is greater than max_items"));
        }
        match b.nesting {
            BlockNesting::Single => {
                if b.min_items != b.max_items || b.min_items > 1 {
                    problems.push(format!(
                        "{path}: a single block has min_items and max_items both 0 or both 1"
                    ));
                }
            }
            BlockNesting::Group | BlockNesting::Map => {
                if b.min_items != 0 || b.max_items != 0 {
                    problems.push(format!(
                        "{path}: min_items and max_items are not allowed for this nesting mode"
                    ));
                }
            }
            BlockNesting::Set => {
                if b.block.implied_type().has_dynamic() {
                    problems.push(format!(
                        "{path}: a set block cannot contain dynamic attributes"
                    ));
                }
            }
            BlockNesting::List => {}
        }
        check_block(&b.block, &format!("{path}."), problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Block {
        Block::new(vec![
            Attribute::computed("id", Type::String).use_state_for_unknown(),
            Attribute::required("name", Type::String).requires_replace(),
            Attribute::nested(
                "rules",
                ObjectNesting::List,
                vec![Attribute::required("port", Type::Number)],
                Mode::Optional,
            ),
        ])
        .with_blocks(vec![
            NestedBlock::new(
                "network",
                BlockNesting::Set,
                Block::new(vec![Attribute::required("cidr", Type::String)]),
            ),
            NestedBlock::new(
                "extra",
                BlockNesting::List,
                Block::new(vec![Attribute::optional("any", Type::Dynamic)]),
            )
            .items(0, 2),
        ])
    }

    #[test]
    fn implied_type_has_one_attribute_per_attribute_and_block() {
        let t = sample().implied_type();
        let Type::Object(o) = t else {
            panic!("not an object")
        };
        assert_eq!(
            o.attributes.keys().cloned().collect::<Vec<_>>(),
            ["extra", "id", "name", "network", "rules"]
        );
        assert_eq!(
            o.attributes["rules"],
            Type::list(Type::object([("port", Type::Number)]))
        );
        assert_eq!(
            o.attributes["network"],
            Type::set(Type::object([("cidr", Type::String)]))
        );
        // A list block with a dynamic attribute is a tuple on the wire, which at the
        // type level means dynamic.
        assert_eq!(o.attributes["extra"], Type::Dynamic);
    }

    #[test]
    fn proto_flags_follow_mode() {
        let p = Schema::new(2, sample()).to_proto();
        let block = p.block.unwrap();
        assert_eq!(block.version, 2);
        let id = &block.attributes[0];
        assert!(id.computed && !id.optional && !id.required);
        let name = &block.attributes[1];
        assert!(name.required && !name.optional && !name.computed);
        assert_eq!(name.r#type, b"\"string\"");
        let rules = &block.attributes[2];
        assert!(rules.r#type.is_empty());
        assert_eq!(
            rules.nested_type.as_ref().unwrap().nesting,
            pb::schema::object::NestingMode::List as i32
        );
        assert_eq!(block.block_types[1].max_items, 2);
    }

    #[test]
    fn valid_schema_passes_check() {
        assert_eq!(Schema::new(0, sample()).check(), Ok(()));
    }

    #[test]
    fn check_reports_every_problem_with_its_path() {
        let bad = Block::new(vec![
            Attribute::optional("Bad-Name", Type::String),
            Attribute::optional("dup", Type::String),
            Attribute::computed("wo", Type::String).write_only(),
        ])
        .with_blocks(vec![
            NestedBlock::new("dup", BlockNesting::List, Block::default()).items(3, 1),
            NestedBlock::new(
                "s",
                BlockNesting::Set,
                Block::new(vec![Attribute::optional("d", Type::Dynamic)]),
            ),
            NestedBlock::new("m", BlockNesting::Map, Block::default()).items(1, 0),
        ]);
        let problems = Schema::new(-1, bad).check().unwrap_err();
        let expected = [
            "schema version -1 is negative",
            "Bad-Name: name must match",
            "wo: a write-only attribute cannot be computed",
            "name \"dup\" is defined more than once",
            "dup: min_items is greater than max_items",
            "s: a set block cannot contain dynamic attributes",
            "m: min_items and max_items are not allowed",
        ];
        for e in expected {
            assert!(
                problems.iter().any(|p| p.contains(e)),
                "missing {e:?} in {problems:#?}"
            );
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }
}
