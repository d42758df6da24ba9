//! Sanity checks of the index file's header before redb reads it.
//!
//! redb trusts its header's geometry (page size, region sizes, root page numbers): damaged
//! values make it allocate terabytes (the process aborts: no panic to catch) or assert. These
//! checks refuse such a header first. Offsets and encodings are redb 4's (file format 3,
//! `src/tree_store/page_store/header.rs` and `base.rs` of redb 4.1.0); a test pins them
//! against files redb writes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

const MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
const GOD_BYTE: usize = 9;
const PAGE_SIZE: usize = 12;
const REGION_HEADER_PAGES: usize = 16;
const REGION_MAX_DATA_PAGES: usize = 20;
const FULL_REGIONS: usize = 24;
const TRAILING_PAGES: usize = 28;
const SLOT_0: usize = 64;
const SLOT_SIZE: usize = 128;
const HEADER_SIZE: usize = SLOT_0 + 2 * SLOT_SIZE;
/// In a commit slot: format version, "user root present", "system root present", the roots.
const SLOT_VERSION: usize = 0;
const USER_ROOT_PRESENT: usize = 1;
const SYSTEM_ROOT_PRESENT: usize = 2;
const USER_ROOT: usize = 8;
const SYSTEM_ROOT: usize = 40;
const FORMAT_VERSION: u8 = 3;
const MAX_PAGE_ORDER: u64 = 20;
const MAX_PAGE_INDEX: u64 = 0x000F_FFFF;

fn u32_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(a))
}

/// `Err(reason)` when the header of the (non-empty) file at `path` cannot be a sound redb
/// header for a file of this length.
pub(crate) fn check(path: &Path) -> std::io::Result<Result<(), String>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut h = [0u8; HEADER_SIZE];
    if len < HEADER_SIZE as u64 {
        return Ok(Err(format!(
            "it is truncated to {len} bytes, shorter than its header"
        )));
    }
    f.read_exact(&mut h)?;
    Ok(check_bytes(&h, len))
}

fn check_bytes(h: &[u8; HEADER_SIZE], len: u64) -> Result<(), String> {
    if h[..MAGIC.len()] != MAGIC {
        return Err("its header does not start with redb's magic number".into());
    }
    if h[GOD_BYTE] > 7 {
        return Err(format!("its header flags byte is {:#04x}", h[GOD_BYTE]));
    }
    let page = u32_at(h, PAGE_SIZE);
    if !page.is_power_of_two() || !(512..=65536).contains(&page) {
        return Err(format!("its header gives a page size of {page} bytes"));
    }
    let rhp = u32_at(h, REGION_HEADER_PAGES);
    let rmdp = u32_at(h, REGION_MAX_DATA_PAGES);
    let full = u32_at(h, FULL_REGIONS);
    let trailing = u32_at(h, TRAILING_PAGES);
    if rhp > 1 << 16 || rmdp == 0 || rmdp > MAX_PAGE_INDEX + 1 || trailing > rmdp {
        return Err(format!(
            "its header gives regions of {rhp} header and {rmdp} data pages ({trailing} in the last)"
        ));
    }
    let region_len = (rhp + rmdp) * page;
    let regions = full + u64::from(trailing > 0);
    let layout_len = page
        + full * region_len
        + if trailing > 0 {
            (rhp + trailing) * page
        } else {
            0
        };
    if layout_len > len {
        return Err(format!(
            "its header describes {layout_len} bytes of regions but the file has {len}"
        ));
    }
    let primary = usize::from(h[GOD_BYTE] & 1);
    let slot = &h[SLOT_0 + primary * SLOT_SIZE..SLOT_0 + (primary + 1) * SLOT_SIZE];
    if slot[SLOT_VERSION] != FORMAT_VERSION {
        // redb reports versions itself (upgrade required, or corrupted).
        return Ok(());
    }
    for (present, at, what) in [
        (USER_ROOT_PRESENT, USER_ROOT, "user"),
        (SYSTEM_ROOT_PRESENT, SYSTEM_ROOT, "system"),
    ] {
        if slot[present] == 0 {
            continue;
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&slot[at..at + 8]);
        let n = u64::from_le_bytes(a);
        let order = n >> 59;
        let region = (n >> 20) & 0x000F_FFFF;
        let index = n & (0x000F_FFFF >> order.min(20));
        if order > MAX_PAGE_ORDER || region >= regions {
            return Err(format!(
                "its {what} root page (region {region}, order {order}) is outside the file"
            ));
        }
        let start = page + region * region_len + (rhp + (index << order)) * page;
        let end = start + (page << order);
        if end > len {
            return Err(format!(
                "its {what} root page ends at byte {end} but the file has {len}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets above match the files redb 4 writes: a fresh and a grown database pass,
    /// and damage to each checked field is refused.
    #[test]
    fn redb_files_pass_and_damaged_headers_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.redb");
        let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("t");
        {
            let db = redb::Database::create(&path).expect("create");
            for i in 0..50 {
                let txn = db.begin_write().expect("write");
                {
                    let mut t = txn.open_table(def).expect("table");
                    let v = vec![i as u8; 20_000];
                    t.insert(format!("k{i}").as_str(), v.as_slice())
                        .expect("insert");
                }
                txn.commit().expect("commit");
            }
        }
        assert_eq!(check(&path).expect("read"), Ok(()));
        let pristine = std::fs::read(&path).expect("read");
        let len = pristine.len() as u64;
        let mut h = [0u8; HEADER_SIZE];
        h.copy_from_slice(&pristine[..HEADER_SIZE]);
        assert_eq!(check_bytes(&h, len), Ok(()));
        for (at, bytes) in [
            (0usize, [0xde, 0xad, 0xbe, 0xef]),
            (PAGE_SIZE, [0xde, 0xad, 0xbe, 0xef]),
            (REGION_MAX_DATA_PAGES, [0xff, 0xff, 0xff, 0x7f]),
            (FULL_REGIONS, [0xff, 0xff, 0x00, 0x00]),
        ] {
            let mut d = h;
            d[at..at + 4].copy_from_slice(&bytes);
            assert!(check_bytes(&d, len).is_err(), "offset {at}");
        }
        // A root page number far outside the file.
        let primary = usize::from(h[GOD_BYTE] & 1);
        let at = SLOT_0 + primary * SLOT_SIZE + USER_ROOT + 4;
        let mut d = h;
        d[USER_ROOT_PRESENT + SLOT_0 + primary * SLOT_SIZE] = 1;
        d[at..at + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert!(check_bytes(&d, len).is_err());
    }
}
