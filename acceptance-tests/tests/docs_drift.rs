//! The committed docs are exactly what the generator makes from the provider's schemas and
//! the examples (`cargo run -p acceptance-tests --bin gen-docs` regenerates them), and every
//! argument the provider serves has a description for them to show.

use std::path::Path;

use acceptance_tests::docgen::{generate, stale_pages, undescribed, REGENERATE};
use hyperprotect::provider::HyperprotectProvider;

#[test]
fn committed_docs_match_the_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let docs = root.join("docs");
    let pages = generate(&HyperprotectProvider, "hyperprotect", root)
        .unwrap_or_else(|e| panic!("the docs generator failed: {e}"));
    let mut problems = Vec::new();
    for (rel, text) in &pages {
        match std::fs::read_to_string(docs.join(rel)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => problems.push(format!("docs/{} differs", rel.display())),
            Err(_) => problems.push(format!("docs/{} is missing", rel.display())),
        }
    }
    for rel in stale_pages(&docs, &pages) {
        problems.push(format!("docs/{} documents nothing served", rel.display()));
    }
    assert!(
        problems.is_empty(),
        "the docs are out of date:\n  {}\nregenerate them with: {REGENERATE}",
        problems.join("\n  ")
    );
}

#[test]
fn every_served_argument_has_a_description() {
    let missing = undescribed(&HyperprotectProvider);
    assert!(
        missing.is_empty(),
        "these have no description (the generated docs would show them bare):\n  {}",
        missing.join("\n  ")
    );
}
