//! Unit tests of the ISO 9660 writer with a minimal reader written from ECMA-119 here. The
//! independent judges (isoinfo, xorriso, pycdlib) read the images in the acceptance tests.

use super::*;

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// A directory record as read back: identifier, extent, size, system use bytes.
#[derive(Debug)]
struct Record {
    id: Vec<u8>,
    extent: u32,
    size: u32,
    system_use: Vec<u8>,
}

fn read_records(image: &[u8], extent: u32, size: u32) -> Vec<Record> {
    let start = extent as usize * SECTOR;
    let dir = &image[start..start + size as usize];
    let mut out = Vec::new();
    let mut at = 0;
    while at < dir.len() {
        let len = dir[at] as usize;
        if len == 0 {
            at = (at / SECTOR + 1) * SECTOR; // rest of the sector is padding
            continue;
        }
        let r = &dir[at..at + len];
        assert_eq!(u32_le(r, 2), u32_be(r, 6), "both-endian extent");
        assert_eq!(u32_le(r, 10), u32_be(r, 14), "both-endian size");
        let id_len = r[32] as usize;
        let su_start = 33 + id_len + usize::from(id_len.is_multiple_of(2));
        out.push(Record {
            id: r[33..33 + id_len].to_vec(),
            extent: u32_le(r, 2),
            size: u32_le(r, 10),
            system_use: r[su_start..].to_vec(),
        });
        assert!(at % SECTOR + len <= SECTOR, "record crosses a sector");
        at += len;
    }
    out
}

/// The Rock Ridge `NM` name in a system use area.
fn rock_ridge_name(su: &[u8]) -> Option<String> {
    let mut at = 0;
    while at + 4 <= su.len() {
        let len = su[at + 2] as usize;
        if len == 0 {
            break;
        }
        if &su[at..at + 2] == b"NM" {
            return Some(String::from_utf8(su[at + 5..at + len].to_vec()).unwrap());
        }
        at += len;
    }
    None
}

fn root_of(image: &[u8], descriptor_sector: usize) -> (u32, u32) {
    let d = &image[descriptor_sector * SECTOR..];
    (u32_le(d, 156 + 2), u32_le(d, 156 + 10))
}

fn file_data<'a>(image: &'a [u8], r: &Record) -> &'a [u8] {
    let start = r.extent as usize * SECTOR;
    &image[start..start + r.size as usize]
}

fn sample() -> Vec<IsoFile> {
    vec![
        IsoFile {
            name: "user-data".into(),
            data: b"workload: x\nenv: y\n".to_vec(),
        },
        IsoFile {
            name: "meta-data".into(),
            data: b"local-hostname: a\n".to_vec(),
        },
        IsoFile {
            name: "vendor-data".into(),
            data: Vec::new(),
        },
        IsoFile {
            name: "network-config".into(),
            data: vec![b'n'; 5000],
        },
    ]
}

#[test]
fn descriptors_carry_the_label_and_the_size() {
    let image = build("cidata", &sample()).unwrap();
    assert_eq!(image.len() % SECTOR, 0);
    assert!(image[..16 * SECTOR].iter().all(|&b| b == 0));
    let pvd = &image[16 * SECTOR..17 * SECTOR];
    assert_eq!(&pvd[..7], b"\x01CD001\x01");
    assert_eq!(&pvd[40..72], format!("{:<32}", "cidata").as_bytes());
    assert_eq!(u32_le(pvd, 80) as usize * SECTOR, image.len());
    let svd = &image[17 * SECTOR..18 * SECTOR];
    assert_eq!(&svd[..7], b"\x02CD001\x01");
    assert_eq!(&svd[88..91], b"%/E");
    assert_eq!(&svd[40..52], &ucs2("cidata")[..]);
    assert_eq!(&svd[52..54], &[0x00, 0x20]);
    assert_eq!(&image[18 * SECTOR..18 * SECTOR + 7], b"\xffCD001\x01");
}

#[test]
fn rock_ridge_and_joliet_names_read_back_with_their_contents() {
    let files = sample();
    let image = build("cidata", &files).unwrap();
    let (extent, size) = root_of(&image, 16);
    let records = read_records(&image, extent, size);
    assert_eq!(records[0].id, [0]);
    assert_eq!(
        &records[0].system_use[..7],
        &[b'S', b'P', 7, 1, 0xBE, 0xEF, 0]
    );
    assert_eq!(records[1].id, [1]);
    let ids: Vec<String> = records[2..]
        .iter()
        .map(|r| String::from_utf8(r.id.clone()).unwrap())
        .collect();
    assert_eq!(
        ids,
        ["META_DAT.;1", "NETWORK_.;1", "USER_DAT.;1", "VENDOR_D.;1"]
    );
    for r in &records[2..] {
        let name = rock_ridge_name(&r.system_use).expect("NM entry");
        let want = files.iter().find(|f| f.name == name).expect("known name");
        assert_eq!(file_data(&image, r), &want.data[..], "{name}");
    }
    let (extent, size) = root_of(&image, 17);
    let joliet = read_records(&image, extent, size);
    assert_eq!(joliet.len(), 6);
    for r in &joliet[2..] {
        let name = String::from_utf16(
            &r.id
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let want = files.iter().find(|f| f.name == name).expect("known name");
        assert_eq!(file_data(&image, r), &want.data[..], "{name}");
    }
}

#[test]
fn continuation_area_holds_the_rock_ridge_er_entry() {
    let image = build("cidata", &sample()).unwrap();
    let (extent, size) = root_of(&image, 16);
    let dot = &read_records(&image, extent, size)[0];
    let ce_at = dot
        .system_use
        .windows(2)
        .position(|w| w == b"CE")
        .expect("CE entry");
    let ce = &dot.system_use[ce_at..];
    let sector = u32_le(ce, 4) as usize;
    let len = u32_le(ce, 20) as usize;
    let area = &image[sector * SECTOR..sector * SECTOR + len];
    assert_eq!(&area[..2], b"ER");
    assert_eq!(&area[8..18], b"RRIP_1991A");
}

#[test]
fn path_tables_point_at_the_roots() {
    let image = build("cidata", &sample()).unwrap();
    for (descriptor, root) in [(16, root_of(&image, 16).0), (17, root_of(&image, 17).0)] {
        let d = &image[descriptor * SECTOR..];
        let l = u32_le(d, 140) as usize * SECTOR;
        let m = u32_be(d, 148) as usize * SECTOR;
        assert_eq!(u32_le(&image, l + 2), root);
        assert_eq!(u32_be(&image, m + 2), root);
        assert_eq!(u32_le(d, 132), 10);
    }
}

#[test]
fn same_files_give_the_same_bytes_in_any_order() {
    let a = build("cidata", &sample()).unwrap();
    let mut reversed = sample();
    reversed.reverse();
    let b = build("cidata", &reversed).unwrap();
    assert_eq!(a, b);
    let mut changed = sample();
    changed[0].data.push(b'\n');
    assert_ne!(a, build("cidata", &changed).unwrap());
}

#[test]
fn many_files_spill_over_sector_boundaries() {
    let files: Vec<IsoFile> = (0..60)
        .map(|i| IsoFile {
            name: format!("file-{i:02}.txt"),
            data: format!("content {i}\n").into_bytes(),
        })
        .collect();
    // 8.3 names would clash (FILE_00.TXT vs FILE_01...: distinct), so all must read back.
    let image = build("MANY", &files).unwrap();
    let (extent, size) = root_of(&image, 16);
    assert!(size as usize > SECTOR, "directory spans sectors");
    let records = read_records(&image, extent, size);
    assert_eq!(records.len(), 62);
    for r in &records[2..] {
        let name = rock_ridge_name(&r.system_use).unwrap();
        let i: usize = name[5..7].parse().unwrap();
        assert_eq!(file_data(&image, r), format!("content {i}\n").as_bytes());
    }
}

#[test]
fn bad_names_and_clashes_are_refused() {
    let f = |name: &str| IsoFile {
        name: name.into(),
        data: vec![],
    };
    assert_eq!(
        build("cidata", &[f("a/b")]),
        Err(IsoError::FileName("a/b".into()))
    );
    assert!(matches!(
        build("cidata", &[f(".hidden")]),
        Err(IsoError::FileName(_))
    ));
    assert!(matches!(
        build("cidata", &[f(&"x".repeat(65))]),
        Err(IsoError::FileName(_))
    ));
    assert!(matches!(
        build("cidata", &[f("user-data1"), f("user-data2")]),
        Err(IsoError::NameClash(_, _))
    ));
    assert!(matches!(
        build("cidata", &[f("a"), f("a")]),
        Err(IsoError::NameClash(_, _))
    ));
    assert!(matches!(build("ci data", &[]), Err(IsoError::VolumeId(_))));
    assert!(matches!(build("", &[]), Err(IsoError::VolumeId(_))));
    assert!(build(&"V".repeat(32), &[]).is_ok());
}

#[test]
fn identifiers_follow_genisoimage_level_one() {
    assert_eq!(iso_identifier("user-data"), "USER_DAT.;1");
    assert_eq!(iso_identifier("network-config"), "NETWORK_.;1");
    assert_eq!(iso_identifier("archive.tar.gz"), "ARCHIVE_.GZ;1");
    assert_eq!(iso_identifier("README"), "README.;1");
}
