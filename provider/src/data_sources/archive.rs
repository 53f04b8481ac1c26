//! `hyperprotect_archive`: a folder as the reproducible base64 tar.gz a workload's
//! `compose.archive` / `play.archive` takes. The bytes depend only on relative names,
//! contents and executable bits (see `contract::archive`), so touching mtimes, changing
//! owners or cloning the repository again never changes `sha256`, while editing, adding or
//! removing a file always does.

use std::path::Path;

use crate::contract::archive::{self, ArchiveError};
use crate::model;
use crate::runtime::diag::{AttrPath, Diagnostic};
use crate::runtime::framework::model::{Field, Model};
use crate::runtime::framework::{Ctx, DataSource, Outcome};
use crate::runtime::schema::{Attribute, Block, Schema};
use crate::runtime::value::{Known, ToValue, Type, Value};

/// The `hyperprotect_archive` data source.
pub struct ArchiveDataSource;

model! {
    /// The configuration and result of `hyperprotect_archive`.
    pub struct ArchiveModel {
        pub folder: Known<String>,
        pub base64: Known<String>,
        pub sha256: Known<String>,
        pub entries: Known<u64>,
    }
}

#[async_trait::async_trait]
impl DataSource for ArchiveDataSource {
    fn type_name(&self) -> &'static str {
        "hyperprotect_archive"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(vec![
                Attribute::required("folder", Type::String).describe(
                    "Folder to archive (usually `\"${path.module}/compose\"`). Only regular \
                     files and folders are allowed (Hyper Protect supports no links or pipes). \
                     The archive must fit a contract: at most 45 KiB of base64.",
                ),
                Attribute::computed("base64", Type::String).describe(
                    "The folder as a gzip-compressed tar, base64-encoded on one line: the value \
                     for a workload's `compose.archive` or `play.archive`. Entries are sorted, \
                     with mtime 0, owner 0:0 and modes 0644/0755, so the same content always \
                     gives the same bytes.",
                ),
                Attribute::computed("sha256", Type::String).describe(
                    "SHA-256 (lowercase hex) of `base64`: changes exactly when a file's content, \
                     name or executable bit changes or a file or folder is added or removed.",
                ),
                Attribute::computed("entries", Type::Number)
                    .describe("Number of files and folders in the archive."),
            ])
            .describe(
                "Archives a folder reproducibly for a workload's `compose.archive` or \
                 `play.archive`.",
            ),
        )
    }

    fn model(&self) -> Option<Vec<Field>> {
        Some(ArchiveModel::fields())
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        let config = match ArchiveModel::build(config) {
            Ok(c) => c,
            Err(d) => return Outcome::failed(Value::Null, d),
        };
        let folder = config.folder.value().unwrap_or_default();
        if folder.trim().is_empty() {
            return Outcome::failed(
                Value::Null,
                Diagnostic::error("Missing folder", "`folder` must name a folder to archive.")
                    .at(AttrPath::attr("folder")),
            );
        }
        // Reading and compressing files is blocking work: keep it off the gRPC threads.
        let path = folder.clone();
        let result =
            tokio::task::spawn_blocking(move || archive::tgz_base64_for_contract(Path::new(&path)))
                .await;
        let archive = match result {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => return Outcome::failed(Value::Null, archive_error(&e)),
            Err(join) => {
                return Outcome::failed(
                    Value::Null,
                    Diagnostic::error("Archiving failed", join.to_string())
                        .at(AttrPath::attr("folder")),
                )
            }
        };
        let result = ArchiveModel {
            folder: Known::Value(folder),
            base64: Known::Value(archive.base64),
            sha256: Known::Value(archive.sha256),
            entries: Known::Value(archive.entries as u64),
        };
        Outcome::ok(result.to_value())
    }
}

fn archive_error(e: &ArchiveError) -> Diagnostic {
    let summary = match e {
        ArchiveError::TooLarge { .. } => "Folder too large for a contract",
        ArchiveError::Unsupported { .. } => "Unsupported file in folder",
        ArchiveError::NotAFolder { .. } => "Not a folder",
        _ => "Cannot archive folder",
    };
    Diagnostic::error(summary, e.to_string()).at(AttrPath::attr("folder"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::framework::plan::get;

    fn config(folder: &str) -> Value {
        Value::object([
            ("folder", Value::string(folder)),
            ("base64", Value::Null),
            ("sha256", Value::Null),
            ("entries", Value::Null),
        ])
    }

    #[tokio::test]
    async fn reads_a_folder_and_points_errors_at_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        let ctx = Ctx::for_tests(None);
        let out = ArchiveDataSource
            .read(&ctx, &config(&dir.path().display().to_string()))
            .await;
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let want = archive::tgz_base64(dir.path()).unwrap();
        assert_eq!(
            get(&out.state, "sha256").as_str(),
            Some(want.sha256.as_str())
        );
        assert_eq!(
            get(&out.state, "base64").as_str(),
            Some(want.base64.as_str())
        );

        let missing = dir.path().join("nope").display().to_string();
        let out = ArchiveDataSource.read(&ctx, &config(&missing)).await;
        let d = &out.diagnostics.0[0];
        assert_eq!(d.path, Some(AttrPath::attr("folder")));
        assert!(d.detail.contains("nope"), "{}", d.detail);
    }
}
