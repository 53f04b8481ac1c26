//! Install like a user: `scripts/release.sh` lays the provider out as a registry or mirror
//! serves it, and the real Terraform installs it from a filesystem mirror (no
//! `dev_overrides`), records its hashes in `.terraform.lock.hcl`, refuses a package that
//! does not match them, and plans with it.
//!
//! The layout is made from the debug binary of this same `cargo test` build, through the same
//! script and layout code as the release build (`scripts/release.sh` without `--binary`), so
//! the test costs no second, minutes-long optimised build.

use std::path::{Path, PathBuf};
use std::process::Command;

use acceptance_tests::harness::{acceptance_enabled, built_binary, Terraform, WorkDir};
use base64::Engine as _;
use hyperprotect::provider::{HyperprotectProvider, ADDRESS};
use hyperprotect::runtime::framework::Provider as _;
use serde_json::{json, Value};

const NAME: &str = "terraform-provider-hyperprotect";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The provider's version as provider/Cargo.toml states it (what release.sh must use).
fn provider_version() -> String {
    let manifest = std::fs::read_to_string(repo_root().join("provider/Cargo.toml"))
        .expect("read provider/Cargo.toml");
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("version line in provider/Cargo.toml")
        .to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::sha::sha256(bytes))
}

/// Terraform's `h1:` package hash (Go's dirhash.Hash1) of a package holding one file: the
/// sha256 of the line "<sha256 hex>  <name>\n", base64.
fn h1_of_single_file(name: &str, bytes: &[u8]) -> String {
    let summary = format!("{}  {name}\n", sha256_hex(bytes));
    let digest = openssl::sha::sha256(summary.as_bytes());
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Runs scripts/release.sh on an already-built binary; returns the zip's path.
fn release_layout(binary: &Path, out: &Path, mirror: Option<&Path>) -> PathBuf {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("scripts/release.sh"))
        .arg("--binary")
        .arg(binary)
        .arg("--out")
        .arg(out);
    if let Some(m) = mirror {
        cmd.arg("--mirror").arg(m);
    }
    let run = cmd.output().expect("run scripts/release.sh");
    assert!(
        run.status.success(),
        "scripts/release.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    out.join(format!("{NAME}_{}_linux_amd64.zip", provider_version()))
}

/// The CLI configuration the docs give users: our provider from the mirror only.
fn mirror_cli_config(mirror: &Path) -> String {
    format!(
        r#"provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["{ADDRESS}"]
  }}
  direct {{
    exclude = ["{ADDRESS}"]
  }}
}}
"#,
        mirror.display()
    )
}

fn config(version: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    hyperprotect = {{
      source  = "hyperprotect/hyperprotect"
      version = "{version}"
    }}
  }}
}}

provider "hyperprotect" {{}}

output "installed" {{
  value = "hyperprotect {version}"
}}
"#
    )
}

/// The version and hashes `.terraform.lock.hcl` records for our provider.
fn locked(work: &WorkDir) -> Result<(String, Vec<String>), String> {
    let text = std::fs::read_to_string(work.path().join(".terraform.lock.hcl"))
        .map_err(|e| format!("no .terraform.lock.hcl: {e}"))?;
    let start = text
        .find(&format!("provider \"{ADDRESS}\" {{"))
        .ok_or_else(|| format!("no provider block for {ADDRESS} in:\n{text}"))?;
    let block = &text[start..];
    let block = &block[..block.find("\n}").unwrap_or(block.len())];
    let quoted = |line: &str| line.split('"').nth(1).map(str::to_string);
    let version = block
        .lines()
        .find(|l| l.trim_start().starts_with("version "))
        .and_then(quoted)
        .ok_or_else(|| format!("no version in:\n{block}"))?;
    let hashes = block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("\"h1:") || l.starts_with("\"zh:"))
        .filter_map(quoted)
        .collect();
    Ok((version, hashes))
}

/// `terraform init`, then the lock file must hold exactly the hashes of what was installed.
fn init_and_check_lock(work: &WorkDir, version: &str, h1: &str, zh: &str) -> Result<(), String> {
    let run = work.terraform(&["init", "-input=false", "-no-color"]);
    if run.code != 0 {
        return Err(format!("terraform init failed:\n{}", run.output()));
    }
    let installing = format!("Installing hyperprotect/hyperprotect v{version}");
    if !run.stdout.contains(&installing) {
        return Err(format!(
            "init did not say {installing:?}:\n{}",
            run.output()
        ));
    }
    let (locked_version, hashes) = locked(work)?;
    if locked_version != version {
        return Err(format!("lock file records {locked_version}, not {version}"));
    }
    if !hashes.iter().any(|h| h == h1) {
        return Err(format!("lock file lacks {h1}: {hashes:?}"));
    }
    // From a mirror Terraform records only h1: (zh:, the zip's sha256, comes with a
    // registry's SHA256SUMS); any other line would be a hash of something else.
    if let Some(other) = hashes.iter().find(|h| *h != h1 && *h != zh) {
        return Err(format!("lock file has a hash of something else: {other}"));
    }
    Ok(())
}

/// The installed binary itself answers: its schema comes back, and a plan with it works.
fn schema_and_plan(work: &WorkDir, version: &str) -> Result<(), String> {
    let run = work.terraform(&["providers", "schema", "-json"]);
    if run.code != 0 {
        return Err(format!("providers schema failed:\n{}", run.output()));
    }
    let schemas: Value = serde_json::from_str(&run.stdout).map_err(|e| e.to_string())?;
    let described = schemas
        .pointer(&format!(
            "/provider_schemas/{}/provider/block/description",
            ADDRESS.replace('/', "~1")
        ))
        .and_then(Value::as_str);
    let ours = HyperprotectProvider.schema().block.description;
    if described != Some(ours.as_str()) {
        return Err(format!(
            "provider description {described:?}, expected {ours:?}"
        ));
    }

    let run = work.terraform(&["plan", "-input=false", "-no-color", "-out=tfplan"]);
    if run.code != 0 {
        return Err(format!("terraform plan failed:\n{}", run.output()));
    }
    let run = work.terraform(&["show", "-json", "tfplan"]);
    let plan: Value = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("show -json tfplan: {e}\n{}", run.output()))?;
    let after = plan.pointer("/output_changes/installed/after");
    if after != Some(&json!(format!("hyperprotect {version}"))) {
        return Err(format!("planned output is {after:?}"));
    }
    Ok(())
}

fn step(name: &str, work: &WorkDir, result: Result<(), String>, terraform: &Terraform) {
    if let Err(e) = result {
        panic!("{name} ({}): {e}", terraform.version());
    }
    eprintln!("{name}: ok ({})", work.path().display());
}

#[test]
fn release_layout_is_complete_and_reproducible() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let version = provider_version();
    // Any small x86_64 executable stands in for the provider here; the acceptance test
    // below lays out the real one.
    let binary = tmp.path().join("provider");
    std::fs::copy("/bin/true", &binary).expect("copy /bin/true");
    let zip = release_layout(&binary, &tmp.path().join("a"), None);

    let out = tmp.path().join("a");
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("read out dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            format!("{NAME}_{version}_SHA256SUMS"),
            format!("{NAME}_{version}_linux_amd64.zip"),
            format!("{NAME}_{version}_manifest.json"),
            "terraform-registry-manifest.json".to_string(),
        ]
    );
    for manifest in [
        format!("{NAME}_{version}_manifest.json"),
        "terraform-registry-manifest.json".to_string(),
    ] {
        let parsed: Value =
            serde_json::from_slice(&std::fs::read(out.join(&manifest)).expect("manifest"))
                .expect("manifest is JSON");
        assert_eq!(
            parsed,
            json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}}),
            "{manifest}"
        );
    }
    let sums = std::fs::read_to_string(out.join(format!("{NAME}_{version}_SHA256SUMS")))
        .expect("SHA256SUMS");
    let expected: String = [
        format!("{NAME}_{version}_linux_amd64.zip"),
        format!("{NAME}_{version}_manifest.json"),
    ]
    .iter()
    .map(|f| {
        let hash = sha256_hex(&std::fs::read(out.join(f)).expect("file"));
        format!("{hash}  {f}\n")
    })
    .collect();
    assert_eq!(sums, expected);

    // The same binary with another timestamp, laid out again: byte-identical zip, so the
    // published zh: hash depends on the binary only.
    let later = std::fs::File::options()
        .append(true)
        .open(&binary)
        .expect("open binary");
    later
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600))
        .expect("set mtime");
    let again = release_layout(&binary, &tmp.path().join("b"), None);
    assert_eq!(
        std::fs::read(&zip).expect("zip a"),
        std::fs::read(&again).expect("zip b"),
        "two layouts of the same binary differ"
    );
}

#[test]
fn test_acc_terraform_installs_the_release_from_a_filesystem_mirror() {
    const TEST: &str = "terraform_installs_the_release_from_a_filesystem_mirror";
    if !acceptance_enabled(TEST) {
        return;
    }
    let terraform = Terraform::locate().unwrap_or_else(|e| panic!("{TEST}: {e}"));
    let version = provider_version();
    let binary = built_binary(NAME);
    let tmp = tempfile::tempdir().expect("tempdir");
    let packed = tmp.path().join("mirror-packed");
    let zip = release_layout(&binary, &tmp.path().join("dist"), Some(&packed));
    let bytes = std::fs::read(&binary).expect("read provider binary");
    let h1 = h1_of_single_file(&format!("{NAME}_v{version}"), &bytes);
    let zh = format!("zh:{}", sha256_hex(&std::fs::read(&zip).expect("read zip")));

    // 1. Packed layout: HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip,
    //    exactly what release.sh --mirror writes.
    let work = WorkDir::with_cli_config(&terraform, &mirror_cli_config(&packed), &[]);
    work.write_config(&config(&version));
    step(
        "packed mirror: init and lock",
        &work,
        init_and_check_lock(&work, &version, &h1, &zh),
        &terraform,
    );
    step(
        "packed mirror: schema and plan",
        &work,
        schema_and_plan(&work, &version),
        &terraform,
    );

    // 2. The lock file now pins the package: a different one under the same name and
    //    version in the mirror is refused.
    let fake = tmp.path().join("fake");
    std::fs::copy("/bin/true", &fake).expect("copy /bin/true");
    release_layout(&fake, &tmp.path().join("fake-dist"), Some(&packed));
    std::fs::remove_dir_all(work.path().join(".terraform")).expect("remove .terraform");
    let run = work.terraform(&["init", "-input=false", "-no-color"]);
    // Terraform wraps its messages at the terminal width: compare with single spaces.
    let words = run
        .output()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let refused = run.code != 0 && words.contains("match any of the checksums previously recorded");
    step(
        "packed mirror: a changed package is refused",
        &work,
        if refused {
            Ok(())
        } else {
            Err(format!("init accepted another package:\n{}", run.output()))
        },
        &terraform,
    );

    // 3. Unpacked layout: HOSTNAME/NAMESPACE/TYPE/VERSION/OS_ARCH/<executable>. Terraform
    //    hashes the folder, which must give the same h1: as the zip's contents.
    let unpacked = tmp.path().join("mirror-unpacked");
    let dir = unpacked.join(ADDRESS).join(&version).join("linux_amd64");
    std::fs::create_dir_all(&dir).expect("mirror dir");
    let exe = dir.join(format!("{NAME}_v{version}"));
    std::fs::hard_link(&binary, &exe)
        .or_else(|_| std::fs::copy(&binary, &exe).map(|_| ()))
        .expect("place the binary");
    let work = WorkDir::with_cli_config(&terraform, &mirror_cli_config(&unpacked), &[]);
    work.write_config(&config(&version));
    step(
        "unpacked mirror: init and lock",
        &work,
        init_and_check_lock(&work, &version, &h1, &zh),
        &terraform,
    );
    step(
        "unpacked mirror: schema and plan",
        &work,
        schema_and_plan(&work, &version),
        &terraform,
    );
}
