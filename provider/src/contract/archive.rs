//! Reproducible base64 tar.gz archives of a folder (the `compose` / `play` `archive` value).
//!
//! IBM's recipe (`tar czvf … | base64 -w0`) and contract-go both embed real mtimes, owners and
//! modes, so the same folder archived twice gives different bytes and every plan shows a diff.
//! Here the archive depends only on what the workload sees: relative entry names, file
//! contents, and whether a file is executable. Entries are written depth-first with the
//! children of each folder sorted by name (parents before children, as extractors expect),
//! mtime 0, uid/gid 0, empty owner names, modes 0644/0755, and a gzip header without mtime or
//! file name.
//!
//! Only regular files and folders are allowed (IBM: "Links or pipes are not supported").

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A base64 tar.gz archive and the SHA-256 (lowercase hex) of that base64 text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    /// Standard-alphabet base64 with padding, one line: the value for `archive:`.
    pub base64: String,
    /// SHA-256 of `base64` (the text placed in the contract), lowercase hex.
    pub sha256: String,
    /// Number of entries (files and folders) in the archive.
    pub entries: usize,
}

/// Why a folder cannot be archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a folder")]
    NotAFolder { path: PathBuf },
    #[error("{path} is a {kind}: only regular files and folders can be archived (links and pipes are not supported by Hyper Protect)")]
    Unsupported { path: PathBuf, kind: &'static str },
    #[error("{path}: file name is not valid UTF-8")]
    NonUtf8Name { path: PathBuf },
    #[error("{path} is too large for a contract: {what} is {size} bytes, over the {limit}-byte limit ({why})")]
    TooLarge {
        path: PathBuf,
        /// What was measured: the archive's base64 text, or the files before compression.
        what: &'static str,
        size: u64,
        limit: u64,
        why: &'static str,
    },
    #[error("cannot write the archive entry for {name}: {source}")]
    Write {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, ArchiveError>;

#[derive(Debug)]
enum EntryKind {
    Folder,
    File { executable: bool },
}

#[derive(Debug)]
struct Entry {
    /// Relative name with `/` separators; folders have no trailing slash here.
    name: String,
    path: PathBuf,
    kind: EntryKind,
}

/// The largest archive, in base64 characters, that still fits a contract: the VPC
/// `user_data` limit (64 KiB) less what every contract needs besides the archive, with
/// IBM's RSA-4096 keys: the encrypted workload's own overhead (prefix, the 684-character
/// wrapped password, the `compose:`/`archive:` keys, salt and padding, then 4/3 for
/// base64), a minimal encrypted env holding the RSA-4096 `signingKey`, and the
/// 684-character `envWorkloadSignature`. The unit tests build both sides of the bound.
pub const MAX_CONTRACT_ARCHIVE_BASE64: u64 = 45 * 1024;

/// Why [`MAX_CONTRACT_ARCHIVE_BASE64`] is what it is, for error messages.
const LIMIT_REASON: &str = "a contract's user_data is at most 64 KiB, and the encrypted workload \
    (4/3 of the archive) must leave room for env and the signature";

/// gzip's best compression ratio (deflate cannot do better than about 1032:1).
const GZIP_MAX_RATIO: u64 = 1032;

/// As [`tgz_base64`], refusing a folder whose archive would not fit a contract
/// ([`MAX_CONTRACT_ARCHIVE_BASE64`]). Folders that cannot fit even at gzip's best ratio are
/// refused from their file sizes, without reading or compressing them.
pub fn tgz_base64_for_contract(folder: &Path) -> Result<Archive> {
    tgz_base64_within(folder, MAX_CONTRACT_ARCHIVE_BASE64)
}

fn tgz_base64_within(folder: &Path, limit: u64) -> Result<Archive> {
    let too_large = |what, size, limit| ArchiveError::TooLarge {
        path: folder.to_path_buf(),
        what,
        size,
        limit,
        why: LIMIT_REASON,
    };
    // Files larger than this together can never compress under the limit.
    let raw_limit = limit / 4 * 3 * GZIP_MAX_RATIO;
    let raw: u64 = collect(folder)?
        .iter()
        .filter_map(|e| match e.kind {
            EntryKind::File { .. } => fs::metadata(&e.path).ok().map(|m| m.len()),
            EntryKind::Folder => None,
        })
        .sum();
    if raw > raw_limit {
        return Err(too_large("the sum of its files", raw, raw_limit));
    }
    let archive = tgz_base64(folder)?;
    let size = archive.base64.len() as u64;
    if size > limit {
        return Err(too_large("the archive's base64 text", size, limit));
    }
    Ok(archive)
}

/// Archives `folder` reproducibly and returns the base64 text with its SHA-256.
pub fn tgz_base64(folder: &Path) -> Result<Archive> {
    let bytes = tgz_bytes(folder)?;
    let base64 = base64::engine::general_purpose::STANDARD.encode(&bytes.0);
    let sha256 = hex::encode(openssl::sha::sha256(base64.as_bytes()));
    Ok(Archive {
        base64,
        sha256,
        entries: bytes.1,
    })
}

/// The raw tar.gz bytes of `folder` (same rules as [`tgz_base64`]) and the entry count.
pub fn tgz_bytes(folder: &Path) -> Result<(Vec<u8>, usize)> {
    let entries = collect(folder)?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for entry in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        let empty_owner = |h: &mut tar::Header| -> std::io::Result<()> {
            h.set_username("")?;
            h.set_groupname("")
        };
        let result = match entry.kind {
            EntryKind::Folder => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                empty_owner(&mut header).and_then(|()| {
                    tar.append_data(&mut header, format!("{}/", entry.name), std::io::empty())
                })
            }
            EntryKind::File { executable } => {
                let data = fs::read(&entry.path).map_err(|source| ArchiveError::Io {
                    path: entry.path.clone(),
                    source,
                })?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if executable { 0o755 } else { 0o644 });
                header.set_size(data.len() as u64);
                empty_owner(&mut header)
                    .and_then(|()| tar.append_data(&mut header, &entry.name, data.as_slice()))
            }
        };
        result.map_err(|source| ArchiveError::Write {
            name: entry.name.clone(),
            source,
        })?;
    }
    let finish = |source| ArchiveError::Write {
        name: "(end of archive)".to_string(),
        source,
    };
    let gz = tar.into_inner().map_err(finish)?;
    let mut bytes = gz.finish().map_err(finish)?;
    bytes.flush().map_err(finish)?;
    Ok((bytes, entries.len()))
}

/// SHA-256 (lowercase hex) over the entry names, kinds, executable bits and file contents of
/// `folder`: changes exactly when [`tgz_base64`]'s output changes, without compressing, so it
/// is cheap enough to compute at plan time.
pub fn content_fingerprint(folder: &Path) -> Result<String> {
    let mut h = openssl::sha::Sha256::new();
    for entry in collect(folder)? {
        // Length-prefixed fields, so no two different folders hash the same byte stream.
        let (tag, data) = match entry.kind {
            EntryKind::Folder => (b'd', Vec::new()),
            EntryKind::File { executable } => (
                if executable { b'x' } else { b'f' },
                fs::read(&entry.path).map_err(|source| ArchiveError::Io {
                    path: entry.path.clone(),
                    source,
                })?,
            ),
        };
        h.update(&[tag]);
        h.update(&(entry.name.len() as u64).to_be_bytes());
        h.update(entry.name.as_bytes());
        h.update(&(data.len() as u64).to_be_bytes());
        h.update(&data);
    }
    Ok(hex::encode(h.finish()))
}

fn collect(folder: &Path) -> Result<Vec<Entry>> {
    let meta = fs::metadata(folder).map_err(|source| ArchiveError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ArchiveError::NotAFolder {
            path: folder.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    walk(folder, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ArchiveError::Io { path, source }
    };
    let mut children = Vec::new();
    for item in fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let path = item.path();
        let name = item
            .file_name()
            .into_string()
            .map_err(|_| ArchiveError::NonUtf8Name { path: path.clone() })?;
        children.push((name, path));
    }
    children.sort();
    for (name, path) in children {
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            out.push(Entry {
                name: rel.clone(),
                path: path.clone(),
                kind: EntryKind::Folder,
            });
            walk(&path, &rel, out)?;
        } else if ft.is_file() {
            out.push(Entry {
                name: rel,
                path,
                kind: EntryKind::File {
                    executable: is_executable(&meta),
                },
            });
        } else {
            return Err(ArchiveError::Unsupported {
                path,
                kind: describe(&ft),
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    false
}

fn describe(ft: &fs::FileType) -> &'static str {
    if ft.is_symlink() {
        return "symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return "named pipe (FIFO)";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "device";
        }
    }
    "special file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;

    fn sample() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(
            root.join("docker-compose.yml"),
            "services:\n  app:\n    image: x\n",
        )
        .unwrap();
        fs::create_dir_all(root.join("conf/nested")).unwrap();
        fs::write(root.join("conf/app.env"), "A=1\n").unwrap();
        fs::write(root.join("conf/nested/deep.txt"), "deep").unwrap();
        fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::create_dir(root.join("empty")).unwrap();
        dir
    }

    fn hashes(dir: &Path) -> (String, String) {
        (
            tgz_base64(dir).unwrap().sha256,
            content_fingerprint(dir).unwrap(),
        )
    }

    /// Decoded entries: (name, type, mode, uid, gid, mtime, username, groupname, content).
    type Listed = (
        String,
        tar::EntryType,
        u32,
        u64,
        u64,
        u64,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
    );

    fn list(archive: &Archive) -> Vec<Listed> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&archive.base64)
            .unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
        let mut out = Vec::new();
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            out.push((
                e.path().unwrap().to_string_lossy().into_owned(),
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                h.username_bytes().unwrap_or_default().to_vec(),
                h.groupname_bytes().unwrap_or_default().to_vec(),
                content,
            ));
        }
        out
    }

    #[test]
    fn entries_are_sorted_relative_and_normalised() {
        let dir = sample();
        let archive = tgz_base64(dir.path()).unwrap();
        let listed = list(&archive);
        let names: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "conf/",
                "conf/app.env",
                "conf/nested/",
                "conf/nested/deep.txt",
                "docker-compose.yml",
                "empty/",
                "run.sh"
            ]
        );
        assert_eq!(archive.entries, 7);
        for (name, ty, mode, uid, gid, mtime, user, group, content) in &listed {
            assert_eq!((*uid, *gid, *mtime), (0, 0, 0), "{name}");
            assert!(user.is_empty() && group.is_empty(), "{name}");
            let expected_mode = if ty.is_dir() || name == "run.sh" {
                0o755
            } else {
                0o644
            };
            assert_eq!(*mode, expected_mode, "{name}");
            assert_eq!(ty.is_dir(), name.ends_with('/'), "{name}");
            if name == "conf/nested/deep.txt" {
                assert_eq!(content, b"deep");
            }
        }
    }

    #[test]
    fn gzip_header_has_no_mtime_or_file_name() {
        let dir = sample();
        let (bytes, _) = tgz_bytes(dir.path()).unwrap();
        assert_eq!(&bytes[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(bytes[3] & 0x08, 0, "FNAME flag must be clear");
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "MTIME must be 0");
    }

    #[test]
    fn mtime_owner_and_non_executable_mode_do_not_change_the_hash() {
        let dir = sample();
        let before = hashes(dir.path());
        let file = fs::File::options()
            .write(true)
            .open(dir.path().join("conf/app.env"))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(123_456_789))
            .unwrap();
        drop(file);
        fs::set_permissions(
            dir.path().join("docker-compose.yml"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        fs::set_permissions(dir.path().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        // chown needs root; when not root this part is skipped, the rest still runs.
        let target = dir.path().join("conf/app.env");
        let chowned = std::os::unix::fs::chown(&target, Some(4321), Some(4321));
        if std::os::unix::fs::MetadataExt::uid(&fs::metadata(dir.path()).unwrap()) == 0 {
            chowned.unwrap();
            assert_eq!(
                std::os::unix::fs::MetadataExt::uid(&fs::metadata(&target).unwrap()),
                4321
            );
        }
        assert_eq!(hashes(dir.path()), before);
        // And a second folder with the same content elsewhere hashes the same.
        let twin = sample();
        assert_eq!(hashes(twin.path()), before);
    }

    #[test]
    fn content_name_exec_bit_and_new_entries_change_the_hash() {
        let dir = sample();
        let mut seen = vec![hashes(dir.path())];
        let mut check_changed = |what: &str| {
            let h = hashes(dir.path());
            assert!(
                seen.iter().all(|s| s.0 != h.0 && s.1 != h.1),
                "{what} must change both hashes"
            );
            seen.push(h);
        };
        fs::write(dir.path().join("conf/nested/deep.txt"), "deeP").unwrap();
        check_changed("editing one byte");
        fs::rename(
            dir.path().join("conf/app.env"),
            dir.path().join("conf/app2.env"),
        )
        .unwrap();
        check_changed("renaming a file");
        fs::write(dir.path().join("new.txt"), "").unwrap();
        check_changed("adding an empty file");
        fs::set_permissions(
            dir.path().join("new.txt"),
            fs::Permissions::from_mode(0o744),
        )
        .unwrap();
        check_changed("setting the executable bit");
        fs::create_dir(dir.path().join("empty/sub")).unwrap();
        check_changed("adding an empty folder");
    }

    #[test]
    fn symlinks_and_fifos_are_rejected_naming_the_file() {
        let dir = sample();
        std::os::unix::fs::symlink("docker-compose.yml", dir.path().join("conf/link.yml")).unwrap();
        let err = tgz_base64(dir.path()).unwrap_err();
        assert!(matches!(
            err,
            ArchiveError::Unsupported {
                kind: "symbolic link",
                ..
            }
        ));
        assert!(err.to_string().contains("conf/link.yml"), "{err}");
        assert!(content_fingerprint(dir.path()).is_err());
        fs::remove_file(dir.path().join("conf/link.yml")).unwrap();

        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        let err = tgz_base64(dir.path()).unwrap_err();
        assert!(err.to_string().contains("pipe"), "{err}");
        assert!(err.to_string().contains("named pipe (FIFO)"), "{err}");
    }

    #[test]
    fn missing_folder_and_file_instead_of_folder() {
        let dir = sample();
        let err = tgz_base64(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, ArchiveError::Io { .. }));
        assert!(err.to_string().contains("nope"));
        let err = tgz_base64(&dir.path().join("run.sh")).unwrap_err();
        assert!(matches!(err, ArchiveError::NotAFolder { .. }), "{err}");
    }

    #[test]
    fn empty_folder_gives_a_valid_empty_archive() {
        let dir = tempfile::tempdir().unwrap();
        let archive = tgz_base64(dir.path()).unwrap();
        assert_eq!(archive.entries, 0);
        assert!(list(&archive).is_empty());
        assert!(crate::contract::schema::validate_section(
            crate::contract::schema::SectionKind::Workload,
            &format!("type: workload\ncompose:\n  archive: {}\n", archive.base64)
        )
        .is_ok());
    }

    /// Incompressible file content of `n` bytes.
    fn noise(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        openssl::rand::rand_bytes(&mut v).unwrap();
        v
    }

    #[test]
    fn folders_over_the_contract_limit_are_refused_with_size_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("blob"), noise(40_000)).unwrap();
        let err = tgz_base64_within(dir.path(), 20_000).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ArchiveError::TooLarge { .. }), "{text}");
        assert!(text.contains("the archive's base64 text is"), "{text}");
        assert!(text.contains("over the 20000-byte limit"), "{text}");
        assert!(text.contains("64 KiB"), "{text}");
        assert!(tgz_base64_within(dir.path(), 60_000).is_ok());
        // Far too big to ever compress under the limit: refused from the file sizes.
        let err = tgz_base64_within(dir.path(), 32).unwrap_err();
        assert!(
            err.to_string()
                .contains("the sum of its files is 40000 bytes"),
            "{err}"
        );
    }

    /// The limit is tight: an archive of exactly the limit fits a contract built with IBM's
    /// RSA-4096 keys and a small env, and one 2 KiB larger does not.
    #[test]
    fn contract_archive_limit_matches_the_user_data_limit() {
        use crate::contract::document::{
            build, ContractInput, Encryption, SigningInput, WorkloadInput, USER_DATA_LIMIT,
        };
        use crate::contract::token::Platform;
        let key =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(4096).unwrap()).unwrap();
        let recipient = crate::contract::keys::to_public(&key).unwrap();
        let env = "type: env
logging:
  logRouter:
    hostname: logs.example.com
    iamApiKey: k
";
        let size_with = |archive_len: usize| {
            let archive: String = "A".repeat(archive_len);
            let workload = format!("type: workload\ncompose:\n  archive: {archive}\n");
            let input = ContractInput {
                workload: WorkloadInput::Plaintext(workload),
                env,
                signing: Some(SigningInput {
                    key: &key,
                    certificate: None,
                }),
                attestation_public_key: None,
                encryption: Encryption::to(&recipient, Platform::Hpvs),
            };
            match build(&input) {
                Ok(built) => built.yaml.len(),
                Err(crate::contract::document::DocumentError::TooLarge { size, .. }) => size,
                Err(e) => panic!("{e}"),
            }
        };
        let at = MAX_CONTRACT_ARCHIVE_BASE64 as usize;
        assert!(size_with(at) <= USER_DATA_LIMIT, "{}", size_with(at));
        assert!(size_with(at + 2048) > USER_DATA_LIMIT);
    }

    #[test]
    fn long_names_survive() {
        let dir = tempfile::tempdir().unwrap();
        let long = "d".repeat(90);
        fs::create_dir(dir.path().join(&long)).unwrap();
        fs::write(dir.path().join(&long).join("f".repeat(60)), "x").unwrap();
        let listed = list(&tgz_base64(dir.path()).unwrap());
        assert_eq!(listed[1].0, format!("{long}/{}", "f".repeat(60)));
    }

    #[test]
    fn gnu_tar_lists_the_archive() {
        let dir = sample();
        let (bytes, _) = tgz_bytes(dir.path()).unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let tgz = out_dir.path().join("a.tgz");
        fs::write(&tgz, bytes).unwrap();
        let out = std::process::Command::new("tar")
            .arg("tzvf")
            .arg(&tgz)
            .arg("--numeric-owner")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines[0].starts_with("drwxr-xr-x 0/0"), "{text}");
        assert!(lines[0].ends_with(" conf/"), "{text}");
        assert!(lines[0].contains("1970-01-01"), "{text}");
        assert!(lines[6].starts_with("-rwxr-xr-x 0/0"), "{text}");
        assert!(lines[4].starts_with("-rw-r--r-- 0/0"), "{text}");
        assert!(lines[4].ends_with(" docker-compose.yml"), "{text}");
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        /// Files keyed by relative path; paths that would need a file to also be a folder are
        /// dropped.
        fn tree() -> impl Strategy<Value = BTreeMap<String, (Vec<u8>, bool)>> {
            let name = proptest::sample::select(vec!["a", "b", "B", "a-b", "a.b", "z9", "_"]);
            let path = proptest::collection::vec(name, 1..4).prop_map(|p| p.join("/"));
            proptest::collection::btree_map(
                path,
                (proptest::collection::vec(any::<u8>(), 0..64), any::<bool>()),
                0..12,
            )
            .prop_map(|mut files| {
                let keys: Vec<String> = files.keys().cloned().collect();
                files.retain(|k, _| !keys.iter().any(|other| other.starts_with(&format!("{k}/"))));
                files
            })
        }

        fn write(root: &Path, files: &BTreeMap<String, (Vec<u8>, bool)>, reverse: bool) {
            let mut entries: Vec<_> = files.iter().collect();
            if reverse {
                entries.reverse();
            }
            for (i, (name, (content, exec))) in entries.into_iter().enumerate() {
                let path = root.join(name);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, content).unwrap();
                let mode = if *exec { 0o750 } else { 0o640 };
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
                let f = fs::File::options().write(true).open(&path).unwrap();
                let when = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(
                        1_000 * i as u64 + if reverse { 7 } else { 0 },
                    );
                f.set_modified(when).unwrap();
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// The archive holds exactly the files (content and executable bit), and does not
            /// depend on creation order or timestamps.
            #[test]
            fn archive_round_trips_and_is_order_independent(files in tree()) {
                let one = tempfile::tempdir().unwrap();
                let two = tempfile::tempdir().unwrap();
                write(one.path(), &files, false);
                write(two.path(), &files, true);
                let a = tgz_base64(one.path()).unwrap();
                let b = tgz_base64(two.path()).unwrap();
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(content_fingerprint(one.path()).unwrap(), content_fingerprint(two.path()).unwrap());

                let listed = list(&a);
                let names: Vec<&String> = listed.iter().map(|e| &e.0).collect();
                let mut sorted = names.clone();
                sorted.sort_by_key(|n| n.trim_end_matches('/').split('/').map(str::to_string).collect::<Vec<_>>());
                prop_assert_eq!(&names, &sorted);
                let got: BTreeMap<String, (Vec<u8>, bool)> = listed
                    .into_iter()
                    .filter(|e| !e.1.is_dir())
                    .map(|e| (e.0, (e.8, e.2 == 0o755)))
                    .collect();
                prop_assert_eq!(got, files);
            }
        }
    }
}
