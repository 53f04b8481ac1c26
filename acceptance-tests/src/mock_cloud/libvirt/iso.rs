//! Reading the cloud-init `cidata` disk a KVM guest boots with (an ISO 9660 image):
//! the guest looks for a filesystem labelled `cidata` (cloud-init's NoCloud data source:
//! "the filesystem volume label must be cidata or CIDATA") and reads `user-data`,
//! `meta-data` and `network-config` from its root. IBM's CCRT documentation builds that
//! disk with `genisoimage -volid cidata -joliet -rock`, so names come from Joliet or Rock
//! Ridge when present, else from the plain ISO 9660 names.

use std::collections::BTreeMap;

const SECTOR: usize = 2048;

fn le32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// The files in the root of a `cidata` ISO, by name.
pub fn read_cidata(image: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut primary = None;
    let mut joliet = None;
    for n in 16..64 {
        let Some(d) = image.get(n * SECTOR..(n + 1) * SECTOR) else {
            break;
        };
        if &d[1..6] != b"CD001" {
            return Err("not an ISO 9660 image".into());
        }
        match d[0] {
            1 => primary = Some(d),
            2 if matches!(&d[88..91], b"%/@" | b"%/C" | b"%/E") => joliet = Some(d),
            255 => break,
            _ => {}
        }
    }
    let pvd = primary.ok_or("no ISO 9660 primary volume descriptor")?;
    let label = String::from_utf8_lossy(&pvd[40..72]).trim().to_string();
    if !label.eq_ignore_ascii_case("cidata") {
        return Err(format!("volume label is {label:?}, not cidata"));
    }
    let (root, is_joliet) = match joliet {
        Some(j) => (j, true),
        None => (pvd, false),
    };
    let extent = le32(root, 156 + 2).ok_or("bad root directory record")?;
    let size = le32(root, 156 + 10).ok_or("bad root directory record")?;
    let dir = image
        .get(extent * SECTOR..extent * SECTOR + size)
        .ok_or("root directory lies outside the image")?;
    let mut files = BTreeMap::new();
    let mut at = 0;
    while at < dir.len() {
        let len = dir[at] as usize;
        if len == 0 {
            // Records do not cross sectors: go on at the next one.
            at = (at / SECTOR + 1) * SECTOR;
            continue;
        }
        let rec = dir.get(at..at + len).ok_or("truncated directory record")?;
        at += len;
        let name_len = *rec.get(32).ok_or("short directory record")? as usize;
        let raw = rec.get(33..33 + name_len).ok_or("short directory record")?;
        let is_dir = rec[25] & 2 != 0;
        if is_dir || raw == [0] || raw == [1] {
            continue;
        }
        let name = if is_joliet {
            let units: Vec<u16> = raw
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            let system_use = &rec[(33 + name_len + (1 - name_len % 2)).min(rec.len())..];
            rock_ridge_name(system_use).unwrap_or_else(|| {
                String::from_utf8_lossy(raw)
                    .to_lowercase()
                    .replace('_', "-")
            })
        };
        let name = name
            .split(';')
            .next()
            .unwrap_or("")
            .trim_end_matches('.')
            .to_string();
        let (extent, size) = (le32(rec, 2).unwrap_or(0), le32(rec, 10).unwrap_or(0));
        let data = image
            .get(extent * SECTOR..extent * SECTOR + size)
            .ok_or_else(|| format!("file {name} lies outside the image"))?;
        files.insert(name, data.to_vec());
    }
    Ok(files)
}

/// The Rock Ridge alternate name (`NM` entry) in a directory record's system use area.
fn rock_ridge_name(mut su: &[u8]) -> Option<String> {
    let mut name = String::new();
    while su.len() >= 4 {
        let len = su[2] as usize;
        if len < 4 || len > su.len() {
            break;
        }
        if &su[..2] == b"NM" && len >= 5 {
            name.push_str(&String::from_utf8_lossy(&su[5..len]));
        }
        su = &su[len..];
    }
    (!name.is_empty()).then_some(name)
}
