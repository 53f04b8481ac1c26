//! Independent readers of the ISO 9660 images the provider writes: Debian's `isoinfo`
//! (genisoimage) and PyPI's `pycdlib`, each reading the volume label and every file by its
//! Rock Ridge and its Joliet name. Installed by `scripts/install-cidata-tools.sh`; a missing
//! reader fails the test under `CI=true` and skips the check (saying so) elsewhere.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// A required external tool is present; when not, panic under CI, else say so and skip.
pub fn tool_present(what: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    let message = format!("{what} is missing: {install} (scripts/install-cidata-tools.sh)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED check: {message}");
    false
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn isoinfo_present() -> bool {
    tool_present(
        "isoinfo",
        runs("isoinfo", &["-version"]),
        "apt-get install genisoimage",
    )
}

pub fn pycdlib_present() -> bool {
    tool_present(
        "pycdlib",
        runs("python3", &["-c", "import pycdlib"]),
        "python3 -m pip install pycdlib",
    )
}

/// What a reader saw: the volume label and each file (by name) for one name space.
#[derive(Debug, PartialEq, Eq)]
pub struct Reading {
    pub label: String,
    pub files: BTreeMap<String, Vec<u8>>,
}

fn isoinfo(image: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("isoinfo")
        .args(args)
        .arg("-i")
        .arg(image)
        .output()
        .map_err(|e| format!("isoinfo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "isoinfo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// `isoinfo` with Rock Ridge (`-R`) or Joliet (`-J`) names.
pub fn read_with_isoinfo(image: &Path, joliet: bool) -> Result<Reading, String> {
    let info = String::from_utf8_lossy(&isoinfo(image, &["-d"])?).into_owned();
    let label = info
        .lines()
        .find_map(|l| l.strip_prefix("Volume id: "))
        .ok_or_else(|| format!("no volume id in isoinfo -d:\n{info}"))?
        .trim_end()
        .to_string();
    let names_flag = if joliet { "-J" } else { "-R" };
    let listing = String::from_utf8_lossy(&isoinfo(image, &[names_flag, "-f"])?).into_owned();
    let mut files = BTreeMap::new();
    for path in listing.lines().filter(|l| !l.is_empty()) {
        let data = isoinfo(image, &[names_flag, "-x", path])?;
        files.insert(path.trim_start_matches('/').to_string(), data);
    }
    Ok(Reading { label, files })
}

const PYCDLIB_READER: &str = r#"
import base64, io, json, sys
import pycdlib
key = "joliet_path" if sys.argv[2] == "joliet" else "rr_path"
iso = pycdlib.PyCdlib()
iso.open(sys.argv[1])
files = {}
for child in iso.list_children(**{key: "/"}):
    if child.is_dot() or child.is_dotdot():
        continue
    path = iso.full_path_from_dirrecord(child, rockridge=(key == "rr_path"))
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **{key: path})
    files[path.lstrip("/")] = base64.b64encode(out.getvalue()).decode()
label = iso.pvd.volume_identifier.decode().rstrip()
iso.close()
print(json.dumps({"label": label, "files": files}))
"#;

/// `pycdlib` with Rock Ridge or Joliet names.
pub fn read_with_pycdlib(image: &Path, joliet: bool) -> Result<Reading, String> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PYCDLIB_READER)
        .arg(image)
        .arg(if joliet { "joliet" } else { "rr" })
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pycdlib failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("pycdlib output: {e}"))?;
    use base64::Engine as _;
    let mut files = BTreeMap::new();
    for (name, data) in v["files"].as_object().ok_or("no files")? {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .map_err(|e| format!("pycdlib data: {e}"))?;
        files.insert(name.clone(), bytes);
    }
    Ok(Reading {
        label: v["label"].as_str().unwrap_or_default().to_string(),
        files,
    })
}

/// One reader: an image and whether to read Joliet (else Rock Ridge) names.
type Reader = fn(&Path, bool) -> Result<Reading, String>;

/// Both readers, both name spaces: the label is `label` and the files are exactly
/// `expected`. Readers that are missing are skipped (or fail under CI).
pub fn judge(image: &Path, label: &str, expected: &[(&str, &[u8])]) -> Result<(), String> {
    let want = Reading {
        label: label.to_string(),
        files: expected
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect(),
    };
    let mut readers: Vec<(&str, Reader)> = Vec::new();
    if isoinfo_present() {
        readers.push(("isoinfo", read_with_isoinfo));
    }
    if pycdlib_present() {
        readers.push(("pycdlib", read_with_pycdlib));
    }
    for (reader, read) in readers {
        for joliet in [false, true] {
            let got = read(image, joliet)?;
            if got != want {
                let names = if joliet { "Joliet" } else { "Rock Ridge" };
                return Err(format!(
                    "{reader} ({names} names) read {:?} with files {:?}; want {:?} with {:?}",
                    got.label,
                    got.files
                        .iter()
                        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                        .collect::<Vec<_>>(),
                    want.label,
                    want.files.keys().collect::<Vec<_>>()
                ));
            }
        }
    }
    Ok(())
}
