//! Terraform Registry documentation generated from a provider's own schemas, so the docs
//! cannot drift from what the provider serves (the role tfplugindocs plays for Go providers;
//! there is no Go toolchain here).
//!
//! Output, relative to `docs/`: `index.md` (from the hand-written template
//! `docs/templates/index.md.tmpl`), `resources/<name>.md`, `data-sources/<name>.md`,
//! `ephemeral-resources/<name>.md` and `list-resources/<name>.md`, where `<name>` is the type
//! name without the provider prefix. Examples come from the registry's conventional places:
//! `examples/provider/provider.tf`, `examples/resources/<type>/resource.tf` + `import.sh`,
//! `examples/data-sources/<type>/data-source.tf`,
//! `examples/ephemeral-resources/<type>/ephemeral-resource.tf` and
//! `examples/list-resources/<type>/list-resource.tfquery.hcl`, `<type>` being the full type
//! name (`hyperprotect_instance`).
//!
//! Run `cargo run -p acceptance-tests --bin gen-docs` to regenerate; the `docs_drift` test
//! fails when the committed files differ.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hyperprotect::runtime::framework::Provider;
use hyperprotect::runtime::schema::{
    Attribute, AttributeType, Block, BlockNesting, IdentitySchema, Mode, NestedBlock,
    ObjectNesting, Rule, Schema,
};
use hyperprotect::runtime::value::Type;

/// The command that regenerates the docs (printed by the drift test).
pub const REGENERATE: &str = "cargo run -p acceptance-tests --bin gen-docs";

/// Where the index template lives, relative to the repository root.
pub const INDEX_TEMPLATE: &str = "docs/templates/index.md.tmpl";

/// The generated folders under `docs/` that hold nothing but generated pages.
const GENERATED_DIRS: [&str; 4] = [
    "resources",
    "data-sources",
    "ephemeral-resources",
    "list-resources",
];

/// Link for write-only arguments (what they are and which Terraform versions support them).
const WRITE_ONLY_LINK: &str =
    "https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments";

/// The kinds of object a provider serves, each with its own docs folder and example file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Resource,
    DataSource,
    /// Terraform ≥ 1.10: `ephemeral` blocks, never stored.
    EphemeralResource,
    /// Terraform ≥ 1.14: `list` blocks of `terraform query`.
    ListResource,
}

impl Kind {
    /// Every kind, in the order the index lists them.
    const ALL: [Kind; 4] = [
        Kind::Resource,
        Kind::DataSource,
        Kind::EphemeralResource,
        Kind::ListResource,
    ];
    fn folder(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
            Kind::EphemeralResource => "ephemeral-resources",
            Kind::ListResource => "list-resources",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
            Kind::EphemeralResource => "Ephemeral Resource",
            Kind::ListResource => "List Resource",
        }
    }
    fn example_file(self) -> &'static str {
        match self {
            Kind::Resource => "resource.tf",
            Kind::DataSource => "data-source.tf",
            Kind::EphemeralResource => "ephemeral-resource.tf",
            Kind::ListResource => "list-resource.tfquery.hcl",
        }
    }
    /// What the page says about where and from which Terraform version the object is used.
    fn usage_note(self) -> Option<&'static str> {
        match self {
            Kind::Resource | Kind::DataSource => None,
            Kind::EphemeralResource => Some(
                "Ephemeral resources need Terraform 1.10 or later (`ephemeral` blocks); their \
                 arguments and results are never written to state or plan files.",
            ),
            Kind::ListResource => Some(
                "List resources need Terraform 1.14 or later: declare a `list` block in a \
                 `.tfquery.hcl` file and run `terraform query` (add \
                 `-generate-config-out=FILE` to write configuration and import blocks for what \
                 it finds). The arguments below go in its `config` block.",
            ),
        }
    }
}

/// One served object: its kind, full type name and schema.
pub struct Object {
    pub kind: Kind,
    pub type_name: String,
    pub schema: Schema,
    /// A managed resource's identity (Terraform ≥ 1.12), if it has one.
    pub identity: Option<IdentitySchema>,
}

/// Every resource, data source, ephemeral and list resource a provider serves, sorted by kind
/// then name.
pub fn objects<P: Provider>(provider: &P) -> Vec<Object> {
    let mut all: Vec<Object> = provider
        .resources()
        .iter()
        .map(|r| Object {
            kind: Kind::Resource,
            type_name: r.type_name().to_string(),
            schema: r.schema(),
            identity: r.identity_schema(),
        })
        .chain(provider.data_sources().iter().map(|d| Object {
            kind: Kind::DataSource,
            type_name: d.type_name().to_string(),
            schema: d.schema(),
            identity: None,
        }))
        .chain(provider.ephemeral_resources().iter().map(|e| Object {
            kind: Kind::EphemeralResource,
            type_name: e.type_name().to_string(),
            schema: e.schema(),
            identity: None,
        }))
        .chain(provider.list_resources().iter().map(|l| Object {
            kind: Kind::ListResource,
            type_name: l.type_name().to_string(),
            schema: l.schema(),
            identity: None,
        }))
        .collect();
    all.sort_by(|a, b| (a.kind.folder(), &a.type_name).cmp(&(b.kind.folder(), &b.type_name)));
    all
}

/// Generates every page: path relative to `docs/` → contents. `name` is the provider's
/// local name (`hyperprotect`), the prefix of its type names; `root` is the repository root
/// (for the template and the examples).
pub fn generate<P: Provider>(
    provider: &P,
    name: &str,
    root: &Path,
) -> Result<BTreeMap<PathBuf, String>, String> {
    let objects = objects(provider);
    let mut pages = BTreeMap::new();
    let template =
        read(&root.join(INDEX_TEMPLATE))?.ok_or_else(|| format!("{INDEX_TEMPLATE} is missing"))?;
    pages.insert(
        PathBuf::from("index.md"),
        index_page(&template, name, &provider.schema(), &objects, root)?,
    );
    for object in &objects {
        let short = object
            .type_name
            .strip_prefix(&format!("{name}_"))
            .ok_or_else(|| format!("{} does not start with {name}_", object.type_name))?;
        let page = object_page(object, name, root)?;
        pages.insert(
            Path::new(object.kind.folder()).join(format!("{short}.md")),
            page,
        );
    }
    Ok(pages)
}

/// Pages in the generated folders under `docs` that the generator no longer makes (their
/// object is gone or renamed), relative to `docs`.
pub fn stale_pages(docs: &Path, pages: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    GENERATED_DIRS
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(docs.join(dir))
                .into_iter()
                .flatten()
                .flatten()
                .map(move |entry| Path::new(dir).join(entry.file_name()))
        })
        .filter(|rel| !pages.contains_key(rel))
        .collect()
}

/// Reads a file that may be absent; any other error is reported with its path.
fn read(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn fenced(language: &str, code: &str) -> String {
    format!("```{language}\n{}\n```\n", code.trim_end())
}

/// `index.md` from the template. Placeholders: `{{ schema }}` (the provider configuration),
/// `{{ example }}` (examples/provider/provider.tf, fenced), `{{ objects }}` (links to every
/// resource and data source page).
fn index_page(
    template: &str,
    name: &str,
    schema: &Schema,
    objects: &[Object],
    root: &Path,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("{INDEX_TEMPLATE}: unclosed {{{{"))?;
        let key = rest[start + 2..start + end].trim();
        match key {
            "schema" => out.push_str(&schema_markdown(&schema.block, Kind::DataSource)),
            "example" => {
                let path = "examples/provider/provider.tf";
                let code = read(&root.join(path))?.ok_or_else(|| format!("{path} is missing"))?;
                out.push_str(&fenced("terraform", &code));
            }
            "objects" => out.push_str(&object_list(name, objects)),
            other => {
                return Err(format!(
                    "{INDEX_TEMPLATE}: unknown placeholder {{{{ {other} }}}} \
                     (known: schema, example, objects)"
                ))
            }
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.trim_end().to_string() + "\n")
}

fn object_list(name: &str, objects: &[Object]) -> String {
    let mut out = String::new();
    for kind in Kind::ALL {
        let of_kind: Vec<&Object> = objects.iter().filter(|o| o.kind == kind).collect();
        let newer = matches!(kind, Kind::EphemeralResource | Kind::ListResource);
        if newer && of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}s:\n", kind.label());
        if of_kind.is_empty() {
            out.push_str("- none yet\n");
        }
        for o in of_kind {
            let short = o.type_name.trim_start_matches(&format!("{name}_"));
            let _ = writeln!(out, "- [`{}`]({}/{short}.md)", o.type_name, kind.folder());
        }
        out.push('\n');
    }
    out.trim_end().to_string() + "\n"
}

fn front_matter(title: &str, description: &str) -> String {
    let mut out = format!("---\npage_title: \"{title}\"\nsubcategory: \"\"\ndescription: |-\n");
    for line in description.trim().lines() {
        if line.trim().is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push_str("---\n");
    out
}

fn object_page(object: &Object, name: &str, root: &Path) -> Result<String, String> {
    let kind = object.kind;
    let type_name = &object.type_name;
    let description = object.schema.block.description.trim();
    let examples = root.join("examples").join(kind.folder());
    let short = type_name.trim_start_matches(&format!("{name}_"));
    if examples.join(short).is_dir() && short != type_name {
        return Err(format!(
            "examples/{}/{short} should be named examples/{}/{type_name} (the full type name)",
            kind.folder(),
            kind.folder()
        ));
    }
    let mut out = front_matter(
        &format!("{type_name} {} - {name}", kind.label()),
        description,
    );
    let _ = writeln!(out, "\n# {type_name} ({})\n", kind.label());
    if !description.is_empty() {
        let _ = writeln!(out, "{description}\n");
    }
    if let Some(note) = kind.usage_note() {
        let _ = writeln!(out, "{note}\n");
    }
    if let Some(code) = read(&examples.join(type_name).join(kind.example_file()))? {
        let _ = writeln!(out, "## Example Usage\n\n{}", fenced("terraform", &code));
    }
    out.push_str(&schema_markdown(&object.schema.block, kind));
    if let Some(identity) = &object.identity {
        out.push_str(&identity_markdown(type_name, identity));
    }
    if kind == Kind::Resource {
        if let Some(code) = read(&examples.join(type_name).join("import.sh"))? {
            let _ = write!(
                out,
                "\n## Import\n\nImport is supported using the following syntax:\n\n{}",
                fenced("shell", &code)
            );
        }
    }
    Ok(out)
}

/// The "## Resource Identity" part: what an `import` block's `identity` takes.
fn identity_markdown(type_name: &str, identity: &IdentitySchema) -> String {
    let mut out = String::from(
        "\n## Resource Identity\n\nTerraform 1.12 or later records this identity in state and \
         can import by it:\n\n",
    );
    let mut example = String::new();
    for a in &identity.attributes {
        let need = if a.required_for_import {
            "Required for import"
        } else {
            "Optional for import"
        };
        let _ = writeln!(
            out,
            "- `{}` ({}, {need}){}",
            a.name,
            type_label(&a.ty),
            sentence(&a.description)
        );
        if a.required_for_import {
            let _ = writeln!(example, "    {} = \"…\"", a.name);
        }
    }
    let code = format!("import {{\n  to = {type_name}.example\n  identity = {{\n{example}  }}\n}}");
    let _ = write!(out, "\n{}", fenced("terraform", &code));
    out
}

/// A nested section still to be written after the current list: its heading path, anchor
/// and what it holds.
enum Pending<'a> {
    Block(String, String, &'a Block),
    Attributes(String, String, &'a [Attribute]),
    Object(String, String, &'a BTreeMap<String, Type>),
}

/// The "## Schema" part: the top-level arguments grouped as Required / Optional /
/// Read-Only, then one section per nested block, nested attribute or object type.
pub fn schema_markdown(block: &Block, kind: Kind) -> String {
    let mut out = String::from("## Schema\n\n");
    let mut queue = Vec::new();
    if block.attributes.is_empty() && block.blocks.is_empty() {
        out.push_str("No arguments.\n");
        return out;
    }
    write_arguments(
        &mut out,
        &block.attributes,
        &block.blocks,
        "",
        kind,
        "###",
        &mut queue,
    );
    write_rules(&mut out, &block.rules, "### Rules");
    let mut next = 0;
    while next < queue.len() {
        let item = std::mem::replace(
            &mut queue[next],
            Pending::Attributes(String::new(), String::new(), &[]),
        );
        next += 1;
        let mut found = Vec::new();
        match item {
            Pending::Block(path, anchor, b) => {
                let _ = write!(
                    out,
                    "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n\n"
                );
                write_arguments(
                    &mut out,
                    &b.attributes,
                    &b.blocks,
                    &path,
                    kind,
                    "",
                    &mut found,
                );
                write_rules(&mut out, &b.rules, "Rules:");
            }
            Pending::Attributes(path, anchor, attributes) => {
                let _ = write!(
                    out,
                    "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n\n"
                );
                write_arguments(&mut out, attributes, &[], &path, kind, "", &mut found);
            }
            Pending::Object(path, anchor, attributes) => {
                let _ = write!(
                    out,
                    "\n<a id=\"{anchor}\"></a>\n### Nested Schema for `{path}`\n\n"
                );
                for (name, ty) in attributes {
                    let _ = writeln!(
                        out,
                        "- `{name}` ({}){}",
                        type_label(ty),
                        object_link(&format!("{path}.{name}"), ty, &mut found)
                    );
                }
            }
        }
        queue.extend(found);
    }
    out
}

/// The declared rules across a block's arguments (exactly one of, conflicts, ...), which the
/// provider checks at plan time.
fn write_rules(out: &mut String, rules: &[Rule], heading: &str) {
    if rules.is_empty() {
        return;
    }
    let _ = write!(out, "\n{heading}\n\n");
    for r in rules {
        let _ = writeln!(out, "- {}", r.describe());
    }
}

/// Which list an argument appears in.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Required,
    Optional,
    ReadOnly,
}

impl Group {
    fn title(self) -> &'static str {
        match self {
            Group::Required => "Required",
            Group::Optional => "Optional",
            Group::ReadOnly => "Read-Only",
        }
    }
}

fn attribute_group(a: &Attribute) -> Group {
    match a.mode {
        Mode::Required => Group::Required,
        Mode::Optional | Mode::OptionalComputed => Group::Optional,
        Mode::Computed => Group::ReadOnly,
    }
}

fn block_group(b: &NestedBlock) -> Group {
    let all_computed = b.block.attributes.iter().all(|a| a.mode == Mode::Computed)
        && b.block
            .blocks
            .iter()
            .all(|n| block_group(n) == Group::ReadOnly);
    if b.min_items > 0 {
        Group::Required
    } else if all_computed && !b.block.attributes.is_empty() {
        Group::ReadOnly
    } else {
        Group::Optional
    }
}

fn anchor(prefix: &str, path: &str) -> String {
    format!("{prefix}--{}", path.replace('.', "--"))
}

fn see_below(anchor: &str) -> String {
    format!(" (see [below for nested schema](#{anchor}))")
}

/// The "see below" link for an object-typed value (also inside lists, sets and maps), and
/// its section queued.
fn object_link<'a>(path: &str, ty: &'a Type, queue: &mut Vec<Pending<'a>>) -> String {
    let object = match ty {
        Type::Object(o) => o,
        Type::List(e) | Type::Set(e) | Type::Map(e) => match e.as_ref() {
            Type::Object(o) => o,
            _ => return String::new(),
        },
        _ => return String::new(),
    };
    let id = anchor("nestedobjatt", path);
    let link = see_below(&id);
    queue.push(Pending::Object(path.to_string(), id, &object.attributes));
    link
}

/// Writes a block's arguments as grouped lists; `heading` is `###` at the top level (where
/// groups are headings) and empty in nested sections (where they are `Required:` lines).
fn write_arguments<'a>(
    out: &mut String,
    attributes: &'a [Attribute],
    blocks: &'a [NestedBlock],
    path: &str,
    kind: Kind,
    heading: &str,
    queue: &mut Vec<Pending<'a>>,
) {
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    let mut lines: BTreeMap<Group, Vec<(String, String)>> = BTreeMap::new();
    for a in attributes {
        let full = format!("{prefix}{}", a.name);
        let line = attribute_line(a, &full, kind, queue);
        lines
            .entry(attribute_group(a))
            .or_default()
            .push((a.name.clone(), line));
    }
    for b in blocks {
        let full = format!("{prefix}{}", b.type_name);
        let id = anchor("nestedblock", &full);
        let line = format!(
            "- `{}` ({}){}{}",
            b.type_name,
            block_label(b),
            sentence(&b.block.description),
            see_below(&id)
        );
        queue.push(Pending::Block(full, id, &b.block));
        lines
            .entry(block_group(b))
            .or_default()
            .push((b.type_name.clone(), line));
    }
    let mut first = true;
    for (group, mut entries) in lines {
        entries.sort();
        if !first {
            out.push('\n');
        }
        first = false;
        if heading.is_empty() {
            let _ = writeln!(out, "{}:\n", group.title());
        } else {
            let _ = writeln!(out, "{heading} {}\n", group.title());
        }
        for (_, line) in entries {
            out.push_str(&line);
            out.push('\n');
        }
    }
}

/// " Description." with a leading space, or nothing. Further lines are indented so that a
/// multi-line description stays inside its list item.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(" {}", text.replace('\n', "\n  ").replace("\n  \n", "\n\n"))
    }
}

fn attribute_line<'a>(
    a: &'a Attribute,
    path: &str,
    kind: Kind,
    queue: &mut Vec<Pending<'a>>,
) -> String {
    let mut flags = vec![match &a.ty {
        AttributeType::Typed(t) => type_label(t),
        AttributeType::Nested(n) => match n.nesting {
            ObjectNesting::Single => "Attributes".to_string(),
            ObjectNesting::List => "Attributes List".to_string(),
            ObjectNesting::Set => "Attributes Set".to_string(),
            ObjectNesting::Map => "Attributes Map".to_string(),
        },
    }];
    if a.sensitive {
        flags.push("Sensitive".into());
    }
    if a.write_only {
        flags.push(format!("[Write-only]({WRITE_ONLY_LINK})"));
    }
    if a.deprecated {
        flags.push("Deprecated".into());
    }
    let mut line = format!(
        "- `{}` ({}){}",
        a.name,
        flags.join(", "),
        sentence(&a.description)
    );
    for check in &a.checks {
        line.push(' ');
        line.push_str(&check.describe());
    }
    if kind == Kind::Resource && a.requires_replace {
        line.push_str(" Changing it replaces the resource.");
    }
    match &a.ty {
        AttributeType::Typed(t) => line.push_str(&object_link(path, t, queue)),
        AttributeType::Nested(n) => {
            let id = anchor("nestedatt", path);
            line.push_str(&see_below(&id));
            queue.push(Pending::Attributes(path.to_string(), id, &n.attributes));
        }
    }
    line
}

fn type_label(t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Number => "Number".into(),
        Type::Bool => "Boolean".into(),
        Type::Dynamic => "Dynamic".into(),
        Type::List(e) => format!("List of {}", type_label(e)),
        Type::Set(e) => format!("Set of {}", type_label(e)),
        Type::Map(e) => format!("Map of {}", type_label(e)),
        Type::Object(_) => "Object".into(),
        Type::Tuple(es) => format!(
            "Tuple of [{}]",
            es.iter().map(type_label).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn block_label(b: &NestedBlock) -> String {
    let mut label = match b.nesting {
        BlockNesting::Single | BlockNesting::Group => {
            return if b.min_items > 0 {
                "Block, Required".into()
            } else {
                "Block, Optional".into()
            }
        }
        BlockNesting::List => "Block List".to_string(),
        BlockNesting::Set => "Block Set".to_string(),
        BlockNesting::Map => "Block Map".to_string(),
    };
    if b.min_items > 0 {
        let _ = write!(label, ", Min: {}", b.min_items);
    }
    if b.max_items > 0 {
        let _ = write!(label, ", Max: {}", b.max_items);
    }
    label
}

/// Attributes (at any depth) of every served schema that have no description, as
/// `object: path` lines; the docs would show them bare.
pub fn undescribed<P: Provider>(provider: &P) -> Vec<String> {
    fn walk(block: &Block, prefix: &str, owner: &str, out: &mut Vec<String>) {
        fn attributes(list: &[Attribute], prefix: &str, owner: &str, out: &mut Vec<String>) {
            for a in list {
                if a.description.trim().is_empty() {
                    out.push(format!("{owner}: {prefix}{}", a.name));
                }
                if let AttributeType::Nested(n) = &a.ty {
                    attributes(&n.attributes, &format!("{prefix}{}.", a.name), owner, out);
                }
            }
        }
        attributes(&block.attributes, prefix, owner, out);
        for b in &block.blocks {
            walk(&b.block, &format!("{prefix}{}.", b.type_name), owner, out);
        }
    }
    let mut out = Vec::new();
    walk(&provider.schema().block, "", "provider", &mut out);
    for o in objects(provider) {
        if o.schema.block.description.trim().is_empty() {
            out.push(format!("{}: (the {} itself)", o.type_name, o.kind.label()));
        }
        walk(&o.schema.block, "", &o.type_name, &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
