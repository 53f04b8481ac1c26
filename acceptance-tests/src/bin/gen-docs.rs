//! `gen-docs`: writes the provider's Terraform Registry docs (`docs/index.md`,
//! `docs/resources/`, `docs/data-sources/`) from its own schemas, the examples and
//! `docs/templates/index.md.tmpl`, and removes pages of objects the provider no longer serves.
//!
//! Run from anywhere: `cargo run -p acceptance-tests --bin gen-docs`.

use std::path::Path;
use std::process::ExitCode;

use acceptance_tests::docgen::{generate, stale_pages, undescribed};
use hyperprotect::provider::HyperprotectProvider;

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let docs = root.join("docs");
    let pages = match generate(&HyperprotectProvider, "hyperprotect", root) {
        Ok(pages) => pages,
        Err(e) => {
            eprintln!("gen-docs: {e}");
            return ExitCode::FAILURE;
        }
    };
    for rel in stale_pages(&docs, &pages) {
        println!("removed docs/{}", rel.display());
        if let Err(e) = std::fs::remove_file(docs.join(&rel)) {
            eprintln!("gen-docs: cannot remove docs/{}: {e}", rel.display());
            return ExitCode::FAILURE;
        }
    }
    for (rel, text) in &pages {
        let path = docs.join(rel);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| old == *text);
        if unchanged {
            continue;
        }
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, text));
        if let Err(e) = written {
            eprintln!("gen-docs: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote docs/{}", rel.display());
    }
    for missing in undescribed(&HyperprotectProvider) {
        eprintln!("gen-docs: warning: no description for {missing}");
    }
    ExitCode::SUCCESS
}
