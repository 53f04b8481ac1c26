//! A small, deterministic ISO 9660 writer for flat images (files in the root directory only),
//! with the Rock Ridge (RRIP 1.09, `RRIP_1991A`) and Joliet extensions, as
//! `genisoimage -joliet -rock` writes them: a Linux kernel, blkid, cloud-init, `isoinfo`,
//! `xorriso` and `pycdlib` all read the files under their real names.
//!
//! Why our own writer: the images it serves (cloud-init seed disks) hold four small files,
//! and they must be byte-identical for the same inputs. The only maintained Rust ISO 9660
//! writer, `hadris-iso`, is a pre-release (3.0 release candidates) spread over seven crates;
//! this module is a few hundred lines with every timestamp fixed.
//!
//! Layout (2,048-byte sectors): 16 empty system-area sectors; the primary volume
//! descriptor (16), the Joliet supplementary descriptor (17), the terminator (18); the
//! primary and Joliet path tables, little- and big-endian (19-22); the primary root
//! directory; one continuation sector holding the Rock Ridge `ER` entry; the Joliet root
//! directory; then each file's data from a sector boundary. References: ECMA-119 (ISO 9660),
//! IEEE P1281 (SUSP 1.10) and P1282 (RRIP 1.09), Microsoft's Joliet specification.

use std::fmt;

/// Bytes per logical sector (and logical block).
pub const SECTOR: usize = 2048;

/// Longest file name Joliet stores (64 UCS-2 characters).
pub const MAX_NAME: usize = 64;

/// One file of the image's root directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsoFile {
    /// The name readers show (Rock Ridge and Joliet): letters, digits, `.`, `_` and `-`.
    pub name: String,
    pub data: Vec<u8>,
}

/// Why an image cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsoError {
    /// A volume id must be 1-32 d-characters (letters, digits, `_`).
    VolumeId(String),
    /// A file name outside the accepted characters or longer than [`MAX_NAME`].
    FileName(String),
    /// Two files with the same name, or whose ISO 9660 8.3 names collide.
    NameClash(String, String),
    /// The image would exceed what 32-bit sector numbers and sizes address.
    TooLarge,
}

impl fmt::Display for IsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsoError::VolumeId(v) => write!(
                f,
                "volume id {v:?} must be 1 to 32 letters, digits or underscores"
            ),
            IsoError::FileName(n) => write!(
                f,
                "file name {n:?} must be 1 to {MAX_NAME} letters, digits, '.', '_' or '-' \
                 (not starting with '.')"
            ),
            IsoError::NameClash(a, b) => write!(
                f,
                "file names {a:?} and {b:?} map to the same ISO 9660 name; rename one"
            ),
            IsoError::TooLarge => write!(f, "the image would exceed 4 GiB"),
        }
    }
}

impl std::error::Error for IsoError {}

/// The one timestamp every date in the image carries: 1980-01-01 00:00:00 UTC, so that the
/// same files always give the same bytes (the date genisoimage's `SOURCE_DATE_EPOCH` users
/// and reproducible zip files commonly pick).
const FIXED_DATE: Date = Date {
    year: 1980,
    month: 1,
    day: 1,
};

#[derive(Clone, Copy)]
struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// The 7-byte date of directory records and Rock Ridge `TF` entries (ECMA-119 9.1.5).
fn short_date(d: Date) -> [u8; 7] {
    [(d.year - 1900) as u8, d.month, d.day, 0, 0, 0, 0]
}

/// The 17-byte date of volume descriptors (ECMA-119 8.4.26.1): `YYYYMMDDHHMMSScc` + offset.
fn long_date(d: Date) -> [u8; 17] {
    let mut out = [0u8; 17];
    let text = format!("{:04}{:02}{:02}00000000", d.year, d.month, d.day);
    out[..16].copy_from_slice(text.as_bytes());
    out
}

/// "Not specified" in a 17-byte date field.
fn unset_long_date() -> [u8; 17] {
    let mut out = [b'0'; 17];
    out[16] = 0;
    out
}

fn both16(v: u16) -> [u8; 4] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], b[0], b[1]]
}

fn both32(v: u32) -> [u8; 8] {
    let (l, b) = (v.to_le_bytes(), v.to_be_bytes());
    [l[0], l[1], l[2], l[3], b[0], b[1], b[2], b[3]]
}

fn is_d_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'
}

/// The level-1 ISO 9660 identifier of a name (8.3, upper case, `;1`), as genisoimage derives
/// it without `-l`: `user-data` becomes `USER_DAT.;1`.
fn iso_identifier(name: &str) -> String {
    let (base, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    };
    let map = |s: &str, max: usize| -> String {
        s.bytes()
            .map(|c| c.to_ascii_uppercase())
            .map(|c| if is_d_char(c) { c as char } else { '_' })
            .take(max)
            .collect()
    };
    format!("{}.{};1", map(base, 8), map(ext, 3))
}

fn check_name(name: &str) -> Result<(), IsoError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(IsoError::FileName(name.to_string()))
    }
}

fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A fixed-width identifier field padded with spaces (single bytes, or UCS-2 for Joliet).
fn padded(text: &str, width: usize, joliet: bool) -> Vec<u8> {
    let mut out = if joliet {
        ucs2(text)
    } else {
        text.as_bytes().to_vec()
    };
    out.truncate(width);
    while out.len() < width {
        if joliet && out.len() + 1 < width {
            out.extend_from_slice(&[0x00, 0x20]);
        } else {
            out.push(b' ');
        }
    }
    out
}

// --- System Use Sharing Protocol / Rock Ridge entries -----------------------------------

const RRIP_ID: &str = "RRIP_1991A";
const RRIP_DESCRIPTOR: &str =
    "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RRIP_SOURCE: &str = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER \
                           IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

const MODE_DIR: u32 = 0o040555;
const MODE_FILE: u32 = 0o100444;

fn entry(sig: &[u8; 2], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(sig);
    out.push((4 + body.len()) as u8);
    out.push(1); // entry version
    out.extend_from_slice(body);
    out
}

/// `SP`: marks the use of SUSP, in the root directory's `.` record only.
fn sp() -> Vec<u8> {
    entry(b"SP", &[0xBE, 0xEF, 0])
}

/// `RR` (RRIP 1.09): which Rock Ridge entries follow (bit 0 PX, bit 3 NM, bit 7 TF).
fn rr(with_name: bool) -> Vec<u8> {
    entry(b"RR", &[0x01 | 0x80 | if with_name { 0x08 } else { 0 }])
}

/// `PX` (RRIP 1.09 form, without the inode serial number): mode, links, owner root.
fn px(mode: u32, links: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    for v in [mode, links, 0, 0] {
        body.extend_from_slice(&both32(v));
    }
    entry(b"PX", &body)
}

/// `TF`: modification, access and attribute-change times, all [`FIXED_DATE`].
fn tf() -> Vec<u8> {
    let mut body = vec![0x02 | 0x04 | 0x08];
    for _ in 0..3 {
        body.extend_from_slice(&short_date(FIXED_DATE));
    }
    entry(b"TF", &body)
}

/// `NM`: the file's real name.
fn nm(name: &str) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(name.as_bytes());
    entry(b"NM", &body)
}

/// `CE`: the rest of the system use entries are at `sector`, offset 0, `len` bytes.
fn ce(sector: u32, len: u32) -> Vec<u8> {
    let mut body = Vec::with_capacity(24);
    body.extend_from_slice(&both32(sector));
    body.extend_from_slice(&both32(0));
    body.extend_from_slice(&both32(len));
    entry(b"CE", &body)
}

/// `ER`: names the extension in use (Rock Ridge, RRIP 1.09).
fn er() -> Vec<u8> {
    let mut body = vec![
        RRIP_ID.len() as u8,
        RRIP_DESCRIPTOR.len() as u8,
        RRIP_SOURCE.len() as u8,
        1,
    ];
    body.extend_from_slice(RRIP_ID.as_bytes());
    body.extend_from_slice(RRIP_DESCRIPTOR.as_bytes());
    body.extend_from_slice(RRIP_SOURCE.as_bytes());
    entry(b"ER", &body)
}

// --- Directory records and volume descriptors --------------------------------------------

/// One directory record (ECMA-119 9.1), padded to an even length.
fn dir_record(
    identifier: &[u8],
    extent: u32,
    size: u32,
    is_dir: bool,
    system_use: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(34 + identifier.len() + system_use.len());
    out.push(0); // length, set below
    out.push(0); // extended attribute record length
    out.extend_from_slice(&both32(extent));
    out.extend_from_slice(&both32(size));
    out.extend_from_slice(&short_date(FIXED_DATE));
    out.push(if is_dir { 0x02 } else { 0x00 });
    out.push(0); // file unit size (not interleaved)
    out.push(0); // interleave gap
    out.extend_from_slice(&both16(1)); // volume sequence number
    out.push(identifier.len() as u8);
    out.extend_from_slice(identifier);
    if identifier.len().is_multiple_of(2) {
        out.push(0); // padding field
    }
    out.extend_from_slice(system_use);
    if !out.len().is_multiple_of(2) {
        out.push(0);
    }
    out[0] = out.len() as u8;
    out
}

/// Lays records out in sectors (a record never crosses a sector boundary).
fn directory_extent(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let used = out.len() % SECTOR;
        if used + r.len() > SECTOR {
            out.resize(out.len() + SECTOR - used, 0);
        }
        out.extend_from_slice(r);
    }
    let rem = out.len() % SECTOR;
    if rem != 0 || out.is_empty() {
        out.resize(out.len() + SECTOR - rem, 0);
    }
    out
}

/// The path table of a volume whose only directory is the root (ECMA-119 9.4).
fn path_table(root_extent: u32, big_endian: bool) -> Vec<u8> {
    let mut out = vec![1, 0];
    if big_endian {
        out.extend_from_slice(&root_extent.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
    } else {
        out.extend_from_slice(&root_extent.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
    }
    out.extend_from_slice(&[0, 0]); // root identifier 0x00, padding
    out
}

const PATH_TABLE_SIZE: u32 = 10;

struct Descriptor<'a> {
    joliet: bool,
    volume_id: &'a str,
    total_sectors: u32,
    l_path_table: u32,
    m_path_table: u32,
    root_record: Vec<u8>,
}

/// A primary (type 1) or Joliet supplementary (type 2) volume descriptor (ECMA-119 8.4/8.5).
fn volume_descriptor(d: &Descriptor<'_>) -> Vec<u8> {
    let mut out = vec![0u8; SECTOR];
    out[0] = if d.joliet { 2 } else { 1 };
    out[1..6].copy_from_slice(b"CD001");
    out[6] = 1;
    out[8..40].copy_from_slice(&padded("", 32, d.joliet));
    out[40..72].copy_from_slice(&padded(d.volume_id, 32, d.joliet));
    out[80..88].copy_from_slice(&both32(d.total_sectors));
    if d.joliet {
        out[88..91].copy_from_slice(b"%/E"); // UCS-2 level 3
    }
    out[120..124].copy_from_slice(&both16(1)); // volume set size
    out[124..128].copy_from_slice(&both16(1)); // volume sequence number
    out[128..132].copy_from_slice(&both16(SECTOR as u16));
    out[132..140].copy_from_slice(&both32(PATH_TABLE_SIZE));
    out[140..144].copy_from_slice(&d.l_path_table.to_le_bytes());
    out[148..152].copy_from_slice(&d.m_path_table.to_be_bytes());
    out[156..190].copy_from_slice(&d.root_record);
    for (start, width) in [(190, 128), (318, 128), (446, 128), (574, 128)] {
        out[start..start + width].copy_from_slice(&padded("", width, d.joliet));
    }
    for start in [702, 739, 776] {
        out[start..start + 37].copy_from_slice(&padded("", 37, d.joliet));
    }
    out[813..830].copy_from_slice(&long_date(FIXED_DATE));
    out[830..847].copy_from_slice(&long_date(FIXED_DATE));
    out[847..864].copy_from_slice(&unset_long_date());
    out[864..881].copy_from_slice(&unset_long_date());
    out[881] = 1; // file structure version
    out
}

fn terminator() -> Vec<u8> {
    let mut out = vec![0u8; SECTOR];
    out[0] = 255;
    out[1..6].copy_from_slice(b"CD001");
    out[6] = 1;
    out
}

fn sectors_for(len: usize) -> usize {
    len.div_ceil(SECTOR)
}

/// Builds the image: `volume_id` as the primary and Joliet volume identifier, `files` in the
/// root directory (sorted by name in the image, whatever their order here).
pub fn build(volume_id: &str, input: &[IsoFile]) -> Result<Vec<u8>, IsoError> {
    let vid_ok = (1..=32).contains(&volume_id.len())
        && volume_id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if !vid_ok {
        return Err(IsoError::VolumeId(volume_id.to_string()));
    }
    let mut files: Vec<(&IsoFile, String)> = Vec::with_capacity(input.len());
    for f in files_sorted(input) {
        check_name(&f.name)?;
        files.push((f, iso_identifier(&f.name)));
    }
    for pair in files.windows(2) {
        if pair[0].0.name == pair[1].0.name || pair[0].1 == pair[1].1 {
            return Err(IsoError::NameClash(
                pair[0].0.name.clone(),
                pair[1].0.name.clone(),
            ));
        }
    }
    // ISO 9660 orders records by identifier; Rock Ridge readers follow the records.
    let mut primary_order: Vec<usize> = (0..files.len()).collect();
    primary_order.sort_by(|&a, &b| files[a].1.cmp(&files[b].1));

    // Sizes first: directory extents depend only on names, not on where things go.
    let placeholder_su = |i: usize| file_system_use(&files[i].0.name);
    let primary_records_len = {
        let mut r = vec![
            dir_record(&[0], 0, 0, true, &root_dot_system_use(0)),
            dir_record(&[1], 0, 0, true, &root_dotdot_system_use()),
        ];
        r.extend(
            primary_order
                .iter()
                .map(|&i| dir_record(files[i].1.as_bytes(), 0, 0, false, &placeholder_su(i))),
        );
        directory_extent(&r).len()
    };
    let joliet_records_len = {
        let mut r = vec![
            dir_record(&[0], 0, 0, true, &[]),
            dir_record(&[1], 0, 0, true, &[]),
        ];
        r.extend(
            files
                .iter()
                .map(|(f, _)| dir_record(&ucs2(&f.name), 0, 0, false, &[])),
        );
        directory_extent(&r).len()
    };

    let primary_root = 23u32;
    let continuation = primary_root + (primary_records_len / SECTOR) as u32;
    let joliet_root = continuation + 1;
    let mut next = joliet_root as usize + joliet_records_len / SECTOR;
    let mut extents = Vec::with_capacity(files.len());
    for (f, _) in &files {
        extents.push(next as u32);
        next += sectors_for(f.data.len());
    }
    let total_sectors = u32::try_from(next).map_err(|_| IsoError::TooLarge)?;
    if files
        .iter()
        .any(|(f, _)| u32::try_from(f.data.len()).is_err())
    {
        return Err(IsoError::TooLarge);
    }

    let primary_size = primary_records_len as u32;
    let joliet_size = joliet_records_len as u32;
    let mut primary = vec![
        dir_record(
            &[0],
            primary_root,
            primary_size,
            true,
            &root_dot_system_use(continuation),
        ),
        dir_record(
            &[1],
            primary_root,
            primary_size,
            true,
            &root_dotdot_system_use(),
        ),
    ];
    primary.extend(primary_order.iter().map(|&i| {
        let (f, id) = &files[i];
        dir_record(
            id.as_bytes(),
            extents[i],
            f.data.len() as u32,
            false,
            &file_system_use(&f.name),
        )
    }));
    let mut joliet = vec![
        dir_record(&[0], joliet_root, joliet_size, true, &[]),
        dir_record(&[1], joliet_root, joliet_size, true, &[]),
    ];
    joliet.extend(files.iter().enumerate().map(|(i, (f, _))| {
        dir_record(&ucs2(&f.name), extents[i], f.data.len() as u32, false, &[])
    }));

    let mut image = vec![0u8; 16 * SECTOR];
    image.extend(volume_descriptor(&Descriptor {
        joliet: false,
        volume_id,
        total_sectors,
        l_path_table: 19,
        m_path_table: 20,
        root_record: dir_record(&[0], primary_root, primary_size, true, &[]),
    }));
    image.extend(volume_descriptor(&Descriptor {
        joliet: true,
        volume_id,
        total_sectors,
        l_path_table: 21,
        m_path_table: 22,
        root_record: dir_record(&[0], joliet_root, joliet_size, true, &[]),
    }));
    image.extend(terminator());
    for (extent, big_endian) in [
        (primary_root, false),
        (primary_root, true),
        (joliet_root, false),
        (joliet_root, true),
    ] {
        let mut sector = path_table(extent, big_endian);
        sector.resize(SECTOR, 0);
        image.extend(sector);
    }
    image.extend(directory_extent(&primary));
    let mut ce_sector = er();
    ce_sector.resize(SECTOR, 0);
    image.extend(ce_sector);
    image.extend(directory_extent(&joliet));
    for (f, _) in &files {
        image.extend_from_slice(&f.data);
        let rem = f.data.len() % SECTOR;
        if rem != 0 {
            image.resize(image.len() + SECTOR - rem, 0);
        }
    }
    debug_assert_eq!(image.len(), total_sectors as usize * SECTOR);
    Ok(image)
}

fn files_sorted(files: &[IsoFile]) -> Vec<&IsoFile> {
    let mut sorted: Vec<&IsoFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted
}

fn root_dot_system_use(continuation: u32) -> Vec<u8> {
    let mut su = sp();
    su.extend(rr(false));
    su.extend(px(MODE_DIR, 2));
    su.extend(tf());
    su.extend(ce(continuation, er().len() as u32));
    su
}

fn root_dotdot_system_use() -> Vec<u8> {
    let mut su = rr(false);
    su.extend(px(MODE_DIR, 2));
    su.extend(tf());
    su
}

fn file_system_use(name: &str) -> Vec<u8> {
    let mut su = rr(true);
    su.extend(px(MODE_FILE, 1));
    su.extend(tf());
    su.extend(nm(name));
    su
}

#[cfg(test)]
#[path = "iso9660_tests.rs"]
mod tests;
