//! The emulator's persistent state and its store.
//!
//! Everything a client created (VPCs, subnets, keys, instances with their status timeline,
//! console lines and attestation records) plus the token-signing secret lives in one
//! `DIR/state.json`. Every mutation rewrites that file atomically (temp file, fsync, rename,
//! fsync of the directory) before the request is answered, so a response the client saw is
//! never lost by a crash or restart. Concurrent writers are group-committed: whoever takes
//! the write lock first writes a snapshot that already contains the others' changes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use super::hpcr::AttestationRecord;

/// Bumped when the file layout changes incompatibly.
pub const STATE_FORMAT: u32 = 1;
pub const STATE_FILE: &str = "state.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is not valid mock-cloud state: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state file {path} has format {found}, this mock-cloud reads format {STATE_FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("serializing state: {0}")]
    Serialize(#[source] serde_json::Error),
    #[error("state writer task failed: {0}")]
    Join(String),
}

/// Instance status as the VPC API reports it, plus `Gone` (deleted; answers 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Starting,
    Running,
    Stopping,
    Stopped,
    Restarting,
    Deleting,
    Failed,
    Gone,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Restarting => "restarting",
            Status::Deleting => "deleting",
            Status::Failed => "failed",
            Status::Gone => "deleted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

/// From `at` (Unix ms) on, the instance is in `status` (until the next step).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub status: Status,
    pub at: i64,
    #[serde(default)]
    pub reasons: Vec<Reason>,
}

/// One boot of a Hyper Protect guest, visible from `at` (the moment it reached `running`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boot {
    pub at: i64,
    pub console: Vec<String>,
    pub attestation: Option<AttestationRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NicKind {
    /// `primary_network_interface` (legacy network interfaces).
    Interface,
    /// `primary_network_attachment` with a virtual network interface.
    Attachment,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Nic {
    pub id: String,
    pub name: String,
    pub subnet_id: String,
    pub address: String,
    /// The virtual network interface id, for attachments.
    pub vni_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Volume {
    pub attachment_id: String,
    pub attachment_name: String,
    pub id: String,
    pub name: String,
    pub capacity_gb: u32,
    pub profile: String,
    pub delete_on_instance_delete: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataService {
    pub enabled: bool,
    pub protocol: String,
    pub response_hop_limit: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Instance {
    pub seq: u64,
    pub id: String,
    pub crn: String,
    pub name: String,
    pub created_at: i64,
    pub profile: String,
    pub image_id: String,
    pub zone: String,
    pub vpc_id: String,
    pub nic_kind: NicKind,
    pub primary_nic: Nic,
    pub key_ids: Vec<String>,
    /// Kept only to boot the guest again on start/reboot; never returned by the API.
    pub user_data: Option<String>,
    pub boot_volume: Volume,
    pub data_volumes: Vec<Volume>,
    pub confidential_compute_mode: String,
    pub enable_secure_boot: bool,
    pub metadata_service: MetadataService,
    /// Bumped by every client-visible configuration change; drives the ETag.
    pub revision: u64,
    /// Status changes, oldest first: the status at time t is that of the last step with
    /// `at <= t`. Statuses are computed from this on read, so no background task is
    /// needed and a restart resumes exactly where the clock says it should be.
    pub timeline: Vec<Step>,
    pub boots: Vec<Boot>,
}

impl Instance {
    pub fn step_at(&self, now: i64) -> Option<&Step> {
        self.timeline.iter().rev().find(|s| s.at <= now)
    }

    pub fn status_at(&self, now: i64) -> Status {
        self.step_at(now)
            .map(|s| s.status)
            .or_else(|| self.timeline.first().map(|s| s.status))
            .unwrap_or(Status::Pending)
    }

    pub fn etag(&self) -> String {
        format!(
            "W/\"{}-{}\"",
            self.revision,
            &self.id[self.id.len().saturating_sub(12)..]
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vpc {
    pub seq: u64,
    pub id: String,
    pub crn: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Subnet {
    pub seq: u64,
    pub id: String,
    pub crn: String,
    pub name: String,
    pub vpc_id: String,
    pub zone: String,
    pub ipv4_cidr_block: String,
    pub created_at: i64,
    /// Next host offset to hand out (the first 4 addresses are reserved, as in VPC).
    pub next_host: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Key {
    pub seq: u64,
    pub id: String,
    pub crn: String,
    pub name: String,
    pub key_type: String,
    pub public_key: String,
    pub fingerprint: String,
    pub length: u32,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub format: u32,
    /// Creation order of every resource; drives list order and opaque page tokens.
    pub next_seq: u64,
    /// Hex HMAC key that signs access tokens (so tokens survive a restart).
    pub token_secret: String,
    /// Tokens issued at or before this instant (Unix ms) are expired.
    pub tokens_not_before_ms: i64,
    pub vpcs: BTreeMap<u64, Vpc>,
    pub subnets: BTreeMap<u64, Subnet>,
    pub keys: BTreeMap<u64, Key>,
    pub instances: BTreeMap<u64, Instance>,
    /// Global Tagging user tags per CRN (sorted, lower case).
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
}

impl State {
    pub fn empty(token_secret: String) -> State {
        State {
            format: STATE_FORMAT,
            // Catalog images use small fixed sequence numbers.
            next_seq: 1000,
            token_secret,
            tokens_not_before_ms: 0,
            vpcs: BTreeMap::new(),
            subnets: BTreeMap::new(),
            keys: BTreeMap::new(),
            instances: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    pub fn take_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub fn instance(&self, id: &str, now: i64) -> Option<&Instance> {
        self.instances
            .values()
            .find(|i| i.id == id && i.status_at(now) != Status::Gone)
    }

    pub fn instance_mut(&mut self, id: &str, now: i64) -> Option<&mut Instance> {
        self.instances
            .values_mut()
            .find(|i| i.id == id && i.status_at(now) != Status::Gone)
    }

    pub fn vpc(&self, id: &str) -> Option<&Vpc> {
        self.vpcs.values().find(|v| v.id == id)
    }

    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.subnets.values().find(|s| s.id == id)
    }

    pub fn key(&self, id: &str) -> Option<&Key> {
        self.keys.values().find(|k| k.id == id)
    }

    /// Drops instances whose deletion has completed.
    pub fn purge_gone(&mut self, now: i64) {
        self.instances
            .retain(|_, i| i.status_at(now) != Status::Gone);
        // A deleted instance's tags go with it.
        let live: std::collections::BTreeSet<&str> =
            self.instances.values().map(|i| i.crn.as_str()).collect();
        self.tags.retain(|crn, _| live.contains(crn.as_str()));
    }
}

/// The state plus its file: reads are concurrent, every write is persisted before it returns.
pub struct Store {
    path: PathBuf,
    state: RwLock<State>,
    /// Number of mutations applied in memory.
    generation: AtomicU64,
    /// Highest generation known to be on disk.
    persisted: AtomicU64,
    write_lock: tokio::sync::Mutex<()>,
}

impl Store {
    /// Loads `dir/state.json`, or creates it from `seed()` when absent. A file that exists
    /// but cannot be read is an error: it is never overwritten.
    pub fn open(dir: &Path, seed: impl FnOnce() -> State) -> Result<Store, StoreError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(STATE_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let state: State =
                    serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                if state.format != STATE_FORMAT {
                    return Err(StoreError::Format {
                        path,
                        found: state.format,
                    });
                }
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let state = seed();
                let bytes = serde_json::to_vec(&state).map_err(StoreError::Serialize)?;
                write_atomic(&path, &bytes)?;
                state
            }
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(Store {
            path,
            state: RwLock::new(state),
            generation: AtomicU64::new(0),
            persisted: AtomicU64::new(0),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way that
        // matters more than refusing all further requests would, so ignore poisoning.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `f` to the state and, if it succeeds, persists before returning. `f` must
    /// validate before it mutates: on `Err` nothing is written.
    pub async fn update<R, E>(
        &self,
        now: i64,
        f: impl FnOnce(&mut State) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let (result, generation) = {
            let mut st = self.write_guard();
            st.purge_gone(now);
            let r = f(&mut st)?;
            let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            (r, g)
        };
        self.persist(generation).await?;
        Ok(result)
    }

    async fn persist(&self, generation: u64) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        if self.persisted.load(Ordering::SeqCst) >= generation {
            return Ok(());
        }
        let (bytes, snapshot_gen) = {
            let st = self.read();
            let g = self.generation.load(Ordering::SeqCst);
            (serde_json::to_vec(&*st).map_err(StoreError::Serialize)?, g)
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))??;
        self.persisted.store(snapshot_gen, Ordering::SeqCst);
        Ok(())
    }
}

/// Replaces `path` with `bytes` so that a reader (or a crash) sees either the old or the new
/// file, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| StoreError::Io { path: p, source }
    };
    let tmp = path.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    // The state holds user_data (contracts) and the token-signing secret: owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(err(&tmp))?;
    f.write_all(bytes).map_err(err(&tmp))?;
    f.sync_all().map_err(err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err(path))?;
    if let Some(dir) = path.parent() {
        // Make the rename itself durable.
        let d = std::fs::File::open(dir).map_err(err(dir))?;
        d.sync_all().map_err(err(dir))?;
    }
    Ok(())
}

/// An instance of `profile`/`image_id` with the given timeline, for unit tests.
#[cfg(test)]
pub(crate) fn sample_instance(
    seq: u64,
    profile: &str,
    image_id: &str,
    timeline: Vec<Step>,
) -> Instance {
    Instance {
        seq,
        id: "0717_x".into(),
        crn: String::new(),
        name: "a".into(),
        created_at: 0,
        profile: profile.into(),
        image_id: image_id.into(),
        zone: "us-south-1".into(),
        vpc_id: String::new(),
        nic_kind: NicKind::Interface,
        primary_nic: Nic {
            id: String::new(),
            name: "eth0".into(),
            subnet_id: String::new(),
            address: "10.0.0.4".into(),
            vni_id: None,
        },
        key_ids: vec![],
        user_data: None,
        boot_volume: Volume {
            attachment_id: String::new(),
            attachment_name: String::new(),
            id: String::new(),
            name: String::new(),
            capacity_gb: 100,
            profile: "general-purpose".into(),
            delete_on_instance_delete: true,
        },
        data_volumes: vec![],
        confidential_compute_mode: "disabled".into(),
        enable_secure_boot: false,
        metadata_service: MetadataService {
            enabled: false,
            protocol: "http".into(),
            response_hop_limit: 1,
        },
        revision: 1,
        timeline,
        boots: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_timeline() {
        let mut st = State::empty("00".into());
        let seq = st.take_seq();
        assert_eq!(seq, 1000);
        let steps = [
            (Status::Pending, 0),
            (Status::Starting, 10),
            (Status::Running, 20),
        ];
        let timeline: Vec<Step> = steps
            .iter()
            .map(|&(status, at)| Step {
                status,
                at,
                reasons: vec![],
            })
            .collect();
        let inst = sample_instance(seq, "bx2-2x8", "", timeline);
        assert_eq!(inst.status_at(5), Status::Pending);
        assert_eq!(inst.status_at(10), Status::Starting);
        assert_eq!(inst.status_at(19), Status::Starting);
        assert_eq!(inst.status_at(1000), Status::Running);
    }

    #[test]
    fn unreadable_state_is_an_error_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        let err = Store::open(dir.path(), || State::empty("00".into()))
            .err()
            .expect("must fail");
        assert!(matches!(err, StoreError::Parse { .. }), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join(STATE_FILE)).unwrap(),
            b"{not json"
        );
    }
}
