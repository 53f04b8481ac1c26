//! Smoke run of the fuzz targets in the ordinary test run: every committed seed
//! (`provider/fuzz/seeds/<target>/`) goes through the same target function the cargo-fuzz
//! binaries call (`provider/fuzz/entry/`), so the oracles run without libFuzzer or nightly.
//! Seeds named `ok-*` must be accepted all the way, the others rejected without a panic.

#[path = "../fuzz/entry/mod.rs"]
mod entry;

use std::path::Path;

#[test]
fn every_seed_passes_its_target() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut failures = Vec::new();
    for (name, target) in entry::TARGETS {
        let dir = seeds.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|f| f.expect("readable seed entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "{name}: fewer than 3 seeds");
        for file in files {
            let data = std::fs::read(&file).expect("readable seed");
            let seed = file.file_name().unwrap().to_string_lossy().into_owned();
            let expected = seed.starts_with("ok-");
            let accepted = target(&data);
            if accepted != expected {
                failures.push(format!("{name}/{seed}: accepted = {accepted}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seeds with unexpected results: {failures:#?}"
    );
}
