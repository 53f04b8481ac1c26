//! Smoke run of mock-cloud's fuzz target in the ordinary test run: every committed seed
//! (`acceptance-tests/fuzz/seeds/mock_cloud_request/`) goes through the same function the
//! cargo-fuzz binary calls (`acceptance-tests/fuzz/entry.rs`), in order, against one
//! in-process emulator. Seeds named `ok-*` must succeed (2xx), the others fail with a 4xx;
//! none may panic or answer 5xx.

#[path = "../fuzz/entry.rs"]
mod entry;

use std::path::Path;

#[test]
fn every_seed_passes_the_request_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/mock_cloud_request");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| f.expect("readable seed entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "fewer than 3 seeds");
    let emulator = entry::Emulator::new();
    let mut failures = Vec::new();
    for file in files {
        let data = std::fs::read(&file).expect("readable seed");
        let seed = file.file_name().unwrap().to_string_lossy().into_owned();
        let accepted = emulator.request(&data);
        if accepted != seed.starts_with("ok-") {
            failures.push(format!("{seed}: accepted = {accepted}"));
        }
    }
    assert!(
        failures.is_empty(),
        "seeds with unexpected results: {failures:#?}"
    );
}
