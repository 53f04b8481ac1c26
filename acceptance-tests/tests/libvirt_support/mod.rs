//! Shared by the libvirt_* tests: making sure Debian's libvirt tools (the independent
//! judges) are installed, and running `virsh`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Installs virsh/libvirtd when missing (scripts/install-libvirt-tools.sh). `false` means
/// they are unavailable and the test should skip, which it may only do outside CI: under
/// `CI=true` a missing judge fails the test.
pub fn libvirt_tools_available() -> bool {
    let script = repo_root().join("scripts/install-libvirt-tools.sh");
    let ok = Command::new("bash")
        .arg(&script)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "virsh/libvirtd are missing and {} could not install them",
            script.display()
        );
    }
    eprintln!(
        "SKIPPED: virsh/libvirtd are not installed (see {})",
        script.display()
    );
    false
}

/// Runs `virsh -c URI ARGS…` without a terminal.
pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("running virsh")
}

/// `virsh` that must succeed; its stdout.
pub fn virsh_ok(uri: &str, args: &[&str]) -> String {
    let out = virsh(uri, args);
    assert!(
        out.status.success(),
        "virsh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("virsh prints UTF-8")
}
