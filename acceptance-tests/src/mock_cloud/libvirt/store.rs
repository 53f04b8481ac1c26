//! Persistence of the emulated KVM host, so that killing and restarting mock-cloud loses
//! nothing (as a LinuxONE host keeps its guests, pools and leases when libvirtd
//! restarts): `DIR/host.json` holds domains, pools, volume metadata, networks and leases;
//! each volume's bytes live in `DIR/volumes/POOL/HEX(NAME)`. Both are replaced
//! atomically, so a crash leaves the old or the new version, never a mix.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::host::Host;
use crate::mock_cloud::state::write_atomic;

fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what} {}: {e}", path.display()))
}

fn volume_file(dir: &Path, pool: &str, name: &str) -> PathBuf {
    dir.join("volumes")
        .join(hex::encode(pool))
        .join(hex::encode(name))
}

impl Host {
    /// The host kept in `dir`, or a freshly seeded one written there.
    pub fn open(dir: &Path) -> std::io::Result<Host> {
        let state = dir.join("host.json");
        let mut host = if state.exists() {
            let bytes = std::fs::read(&state).map_err(|e| io_error("reading", &state, e))?;
            let mut host: Host =
                serde_json::from_slice(&bytes).map_err(|e| io_error("parsing", &state, e))?;
            for pool in host.pools.values_mut() {
                for v in pool.volumes.values_mut() {
                    let f = volume_file(dir, &pool.name, &v.name);
                    v.data = std::fs::read(&f).map_err(|e| io_error("reading", &f, e))?;
                }
            }
            // Guests that were running keep running; their uptime restarts with us.
            for d in host.domains.values_mut() {
                if d.id.is_some() {
                    d.started = Some(Instant::now());
                }
            }
            host
        } else {
            Host::seeded()
        };
        host.persist(dir)?;
        Ok(host)
    }

    /// Writes what changed since the last call.
    pub fn persist(&mut self, dir: &Path) -> std::io::Result<()> {
        if !self.changed {
            return Ok(());
        }
        for (pool, name) in std::mem::take(&mut self.dirty_volumes) {
            let f = volume_file(dir, &pool, &name);
            match self.pools.get(&pool).and_then(|p| p.volumes.get(&name)) {
                Some(v) => {
                    let parent = f.parent().expect("volume files live in a folder");
                    std::fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
                    write_atomic(&f, &v.data).map_err(|e| io_error("writing", &f, e))?;
                }
                None => match std::fs::remove_file(&f) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error("removing", &f, e)),
                },
            }
        }
        let state = dir.join("host.json");
        let bytes = serde_json::to_vec(&*self).map_err(|e| io_error("serializing", &state, e))?;
        write_atomic(&state, &bytes).map_err(|e| io_error("writing", &state, e))?;
        self.changed = false;
        Ok(())
    }

    /// A volume's bytes changed (an upload finished).
    pub fn volume_written(&mut self, pool: &str, name: &str) {
        self.changed = true;
        self.dirty_volumes
            .insert((pool.to_string(), name.to_string()));
    }
}
