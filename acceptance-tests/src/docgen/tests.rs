//! The generator against the rtest provider (every type, nesting mode and flag) and small
//! schemas built here.

use super::*;
use crate::rtest::RtestProvider;

/// A repository root with the index template and, optionally, examples.
fn repo(examples: &[(&str, &str)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let write = |rel: &str, text: &str| {
        let path = root.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        INDEX_TEMPLATE,
        "# Provider\n\nIntro.\n\n## Example Usage\n\n{{ example }}\n{{ schema }}\n## Objects\n\n{{objects}}",
    );
    write(
        "examples/provider/provider.tf",
        "provider \"rtest\" {\n  store_dir = \"/tmp/x\"\n}\n",
    );
    for (rel, text) in examples {
        write(rel, text);
    }
    root
}

fn pages(root: &Path) -> BTreeMap<PathBuf, String> {
    generate(&RtestProvider, "rtest", root).expect("generate")
}

#[test]
fn one_page_per_object_in_the_registry_layout() {
    let root = repo(&[]);
    let files: Vec<PathBuf> = pages(root.path()).into_keys().collect();
    assert_eq!(
        files,
        [
            PathBuf::from("data-sources/echo.md"),
            PathBuf::from("ephemeral-resources/secret.md"),
            PathBuf::from("index.md"),
            PathBuf::from("list-resources/item.md"),
            PathBuf::from("resources/everything.md"),
            PathBuf::from("resources/item.md"),
        ]
    );
}

#[test]
fn index_fills_the_template() {
    let root = repo(&[]);
    let index = &pages(root.path())[Path::new("index.md")];
    let expected = "# Provider\n\nIntro.\n\n## Example Usage\n\n```terraform\nprovider \"rtest\" {\n  \
                    store_dir = \"/tmp/x\"\n}\n```\n\n## Schema\n\n### Required\n\n- `store_dir` \
                    (String) Folder holding the test objects (one JSON file each).\n\n## Objects\n\n\
                    Resources:\n\n- [`rtest_everything`](resources/everything.md)\n\
                    - [`rtest_item`](resources/item.md)\n\nData Sources:\n\n\
                    - [`rtest_echo`](data-sources/echo.md)\n\nEphemeral Resources:\n\n\
                    - [`rtest_secret`](ephemeral-resources/secret.md)\n\nList Resources:\n\n\
                    - [`rtest_item`](list-resources/item.md)\n";
    assert_eq!(index, expected);
}

#[test]
fn unknown_placeholder_and_missing_template_are_errors() {
    let root = repo(&[(INDEX_TEMPLATE, "{{ schemas }}")]);
    let err = generate(&RtestProvider, "rtest", root.path()).unwrap_err();
    assert!(err.contains("unknown placeholder {{ schemas }}"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = generate(&RtestProvider, "rtest", empty.path()).unwrap_err();
    assert!(
        err.contains("docs/templates/index.md.tmpl is missing"),
        "{err}"
    );
}

#[test]
fn resource_page_lists_every_argument_with_its_flags() {
    let root = repo(&[]);
    let page = &pages(root.path())[Path::new("resources/everything.md")];
    assert!(page.starts_with(
        "---\npage_title: \"rtest_everything Resource - rtest\"\nsubcategory: \"\"\ndescription: |-\n---\n\n# rtest_everything (Resource)\n\n## Schema\n\n### Required\n\n"
    ), "{page}");
    for line in [
        "- `name` (String) Changing it replaces the resource.",
        "- `secret` (String, Sensitive)",
        "- `password_wo` (String, [Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments))",
        "- `tags` (Map of String)",
        "- `strings` (List of String)",
        "- `numbers` (Set of Number)",
        "- `enabled` (Boolean)",
        "- `anything` (Dynamic)",
        "- `pair` (Tuple of [String, Number])",
        "- `object` (Object) (see [below for nested schema](#nestedobjatt--object))",
        "- `nested_list` (Attributes List) (see [below for nested schema](#nestedatt--nested_list))",
        "- `nested_single` (Attributes) (see [below for nested schema](#nestedatt--nested_single))",
        "- `block_list` (Block List, Max: 3) (see [below for nested schema](#nestedblock--block_list))",
        "- `block_single` (Block, Optional) (see [below for nested schema](#nestedblock--block_single))",
        "- `block_map` (Block Map) (see [below for nested schema](#nestedblock--block_map))",
        "- `note` (String) A value starting with `warn:` produces a warning (tests warnings).",
    ] {
        assert!(page.contains(&format!("\n{line}\n")), "missing {line:?} in\n{page}");
    }
    // Groups: required, optional (incl. optional+computed), read-only, in that order.
    let required = page.find("### Required").unwrap();
    let optional = page.find("### Optional").unwrap();
    let read_only = page.find("### Read-Only").unwrap();
    assert!(required < optional && optional < read_only);
    let region = page.find("- `region` (String)").unwrap();
    let id = page.find("- `id` (String)").unwrap();
    assert!(optional < region && region < read_only && read_only < id);
    // Nested sections with their anchors, and their own groups.
    assert!(page.contains(
        "<a id=\"nestedblock--block_list\"></a>\n### Nested Schema for `block_list`\n\nRequired:\n\n- `subnet` (String)\n\nRead-Only:\n\n- `ip` (String)\n"
    ), "{page}");
    assert!(page.contains(
        "<a id=\"nestedobjatt--object\"></a>\n### Nested Schema for `object`\n\n- `a` (String)\n- `b` (Number)\n"
    ), "{page}");
    assert!(page.contains("### Nested Schema for `nested_set`"));
    // No examples in this repository, so no example or import section.
    assert!(!page.contains("## Example Usage") && !page.contains("## Import"));
}

#[test]
fn examples_and_import_are_embedded() {
    let root = repo(&[
        (
            "examples/resources/rtest_everything/resource.tf",
            "resource \"rtest_everything\" \"a\" {\n  name = \"a\"\n}\n",
        ),
        (
            "examples/resources/rtest_everything/import.sh",
            "terraform import rtest_everything.a 1234\n",
        ),
        (
            "examples/data-sources/rtest_echo/data-source.tf",
            "data \"rtest_echo\" \"e\" {\n  input = 1\n}\n",
        ),
    ]);
    let all = pages(root.path());
    let resource = &all[Path::new("resources/everything.md")];
    assert!(resource.contains(
        "## Example Usage\n\n```terraform\nresource \"rtest_everything\" \"a\" {\n  name = \"a\"\n}\n```\n\n## Schema"
    ), "{resource}");
    assert!(resource.ends_with(
        "\n## Import\n\nImport is supported using the following syntax:\n\n```shell\nterraform import rtest_everything.a 1234\n```\n"
    ), "{resource}");
    let data = &all[Path::new("data-sources/echo.md")];
    assert!(data.contains("# rtest_echo (Data Source)"));
    assert!(data.contains("```terraform\ndata \"rtest_echo\" \"e\" {\n  input = 1\n}\n```"));
    // Requires-replace is a resource notion; data sources never say it.
    assert!(!data.contains("replaces the resource"));
}

#[test]
fn an_example_folder_under_the_short_name_is_refused() {
    let root = repo(&[("examples/resources/everything/resource.tf", "")]);
    let err = generate(&RtestProvider, "rtest", root.path()).unwrap_err();
    assert!(
        err.contains(
            "examples/resources/everything should be named examples/resources/rtest_everything"
        ),
        "{err}"
    );
}

#[test]
fn nested_blocks_in_blocks_get_paths_anchors_and_min_max() {
    let inner = NestedBlock::new(
        "rule",
        BlockNesting::Set,
        Block::new(vec![
            Attribute::required("port", Type::Number).describe("Port.")
        ]),
    )
    .items(1, 0);
    let outer = NestedBlock::new(
        "network",
        BlockNesting::List,
        Block::new(vec![
            Attribute::computed("ip", Type::String).describe("Address.")
        ])
        .with_blocks(vec![inner])
        .describe("A network."),
    )
    .items(1, 2);
    let block = Block::new(vec![]).with_blocks(vec![outer]);
    let md = schema_markdown(&block, Kind::Resource);
    assert_eq!(
        md,
        "## Schema\n\n### Required\n\n\
         - `network` (Block List, Min: 1, Max: 2) A network. (see [below for nested schema](#nestedblock--network))\n\n\
         <a id=\"nestedblock--network\"></a>\n### Nested Schema for `network`\n\n\
         Required:\n\n- `rule` (Block Set, Min: 1) (see [below for nested schema](#nestedblock--network--rule))\n\n\
         Read-Only:\n\n- `ip` (String) Address.\n\n\
         <a id=\"nestedblock--network--rule\"></a>\n### Nested Schema for `network.rule`\n\n\
         Required:\n\n- `port` (Number) Port.\n"
    );
}

#[test]
fn empty_schema_and_multi_line_descriptions() {
    assert_eq!(
        schema_markdown(&Block::default(), Kind::DataSource),
        "## Schema\n\nNo arguments.\n"
    );
    assert_eq!(
        front_matter("t", "First line.\n\nSecond line."),
        "---\npage_title: \"t\"\nsubcategory: \"\"\ndescription: |-\n  First line.\n\n  Second line.\n---\n"
    );
}

#[test]
fn undescribed_lists_bare_attributes_at_any_depth() {
    let missing = undescribed(&RtestProvider);
    for expected in [
        "rtest_everything: (the Resource itself)",
        "rtest_everything: name",
        "rtest_everything: nested_list.x",
        "rtest_everything: block_list.subnet",
        "rtest_echo: input",
    ] {
        assert!(
            missing.iter().any(|m| m == expected),
            "{expected} not in {missing:#?}"
        );
    }
    assert!(!missing.iter().any(|m| m.ends_with(": note")));
    assert!(!missing.iter().any(|m| m.starts_with("provider:")));
}

#[test]
fn multi_line_descriptions_stay_inside_their_list_item() {
    let block = Block::new(vec![Attribute::optional("a", Type::String)
        .describe("First line.\nSecond line.\n\nNew paragraph.")]);
    assert_eq!(
        schema_markdown(&block, Kind::Resource),
        "## Schema\n\n### Optional\n\n- `a` (String) First line.\n  Second line.\n\n  New paragraph.\n"
    );
}

#[test]
fn identity_and_newer_kinds_are_documented() {
    let root = repo(&[]);
    let pages = pages(root.path());
    let item = &pages[Path::new("resources/item.md")];
    assert!(item.contains("## Resource Identity"), "{item}");
    assert!(
        item.contains("- `id` (String, Required for import)"),
        "{item}"
    );
    let list = &pages[Path::new("list-resources/item.md")];
    assert!(list.contains("# rtest_item (List Resource)"), "{list}");
    assert!(list.contains("Terraform 1.14 or later"), "{list}");
    assert!(list.contains("`name_prefix`"), "{list}");
    let secret = &pages[Path::new("ephemeral-resources/secret.md")];
    assert!(secret.contains("Terraform 1.10 or later"), "{secret}");
    assert!(!secret.contains("Resource Identity"), "{secret}");
}
