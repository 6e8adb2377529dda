//! Bad input: truncated files, flipped bytes, wrong magic, a manifest
//! naming a missing file, an index pointing past the end. Each gives a
//! typed error naming the file and the problem; nothing panics.

use std::fs;
use std::io::Cursor;

use portable::archive::{ArchiveOptions, ShardArchiveReader, ShardArchiveWriter};
use portable::error::{Corruption, Error};
use portable::manifest::{self, Manifest, ManifestFile, MetaEntry};
use portable::meta_file;
use portable::shard::read_shard_archive;
use portable::tsm::{self, TsmReader, ValueSlice};

fn sample_tsm() -> Vec<u8> {
    let ts: Vec<i64> = (0..1500).map(|i| i * 1_000_000_000).collect();
    let f: Vec<f64> = (0..1500).map(|i| i as f64 * 0.5).collect();
    let s: Vec<String> = (0..1500).map(|i| format!("v{i}")).collect();
    tsm::write_all([
        (&b"cpu,host=a#!~#f"[..], &ts[..], ValueSlice::Float(&f)),
        (&b"cpu,host=a#!~#s"[..], &ts[..], ValueSlice::String(&s)),
    ])
    .unwrap()
}

fn open_and_read(name: &str, bytes: &[u8]) -> Result<u64, Error> {
    let mut r = TsmReader::from_bytes(name, bytes)?;
    r.verify()
}

#[test]
fn tsm_truncated_at_every_length_is_an_error_naming_the_file() {
    let f = sample_tsm();
    for len in 0..f.len() {
        let e = open_and_read("cut.tsm", &f[..len]).expect_err("truncated file accepted");
        assert!(e.to_string().starts_with("cut.tsm: "), "{e}");
    }
}

#[test]
fn tsm_flipped_bytes_are_detected() {
    let f = sample_tsm();
    let n = f.len();
    let index_start = u64::from_be_bytes(f[n - 8..].try_into().unwrap()) as usize;
    // The index has no checksum: a flipped byte inside a key's name can give
    // another valid, still sorted key. Every other byte is covered.
    let mut key_bytes = Vec::new();
    let mut p = index_start;
    while p < n - 8 {
        let kl = u16::from_be_bytes([f[p], f[p + 1]]) as usize;
        key_bytes.push(p + 2..p + 2 + kl);
        let count = u16::from_be_bytes([f[p + 2 + kl + 1], f[p + 2 + kl + 2]]) as usize;
        p += 2 + kl + 3 + count * 28;
    }
    for i in 0..n {
        let mut g = f.clone();
        g[i] ^= 0x20;
        match open_and_read("flip.tsm", &g) {
            Err(e) => {
                assert!(e.to_string().starts_with("flip.tsm: "), "{e}");
                // Inside a block's CRC or payload: a CRC error.
                if (5..index_start).contains(&i) {
                    assert!(
                        matches!(e, Error::Corrupt { problem: Corruption::Crc { .. }, .. }),
                        "byte {i}: {e}"
                    );
                }
            }
            Ok(_) => assert!(
                key_bytes.iter().any(|r| r.contains(&i)),
                "flip at byte {i} of {n} not detected"
            ),
        }
    }
}

#[test]
fn tsm_wrong_magic_version_and_index_past_the_end() {
    let f = sample_tsm();
    let mut g = f.clone();
    g[0] = 0x17;
    let e = open_and_read("magic.tsm", &g).unwrap_err();
    assert!(matches!(e, Error::Corrupt { problem: Corruption::BadMagic { .. }, .. }), "{e}");
    assert!(e.to_string().contains("magic.tsm") && e.to_string().contains("magic"), "{e}");

    let mut g = f.clone();
    g[4] = 2;
    let e = open_and_read("version.tsm", &g).unwrap_err();
    assert!(
        matches!(e, Error::Corrupt { problem: Corruption::BadVersion { found: 2, .. }, .. }),
        "{e}"
    );

    // Footer pointing past the end.
    let mut g = f.clone();
    let n = g.len();
    g[n - 8..].copy_from_slice(&(n as u64 + 100).to_be_bytes());
    let e = open_and_read("footer.tsm", &g).unwrap_err();
    assert!(matches!(e, Error::Corrupt { problem: Corruption::OutOfBounds { .. }, .. }), "{e}");

    // An index entry whose block offset points past the data.
    let index_start = u64::from_be_bytes(f[n - 8..].try_into().unwrap()) as usize;
    let key_len = u16::from_be_bytes([f[index_start], f[index_start + 1]]) as usize;
    let first_entry = index_start + 2 + key_len + 3;
    let mut g = f.clone();
    g[first_entry + 16..first_entry + 24].copy_from_slice(&(n as u64 * 2).to_be_bytes());
    let e = open_and_read("index.tsm", &g).unwrap_err();
    assert!(matches!(e, Error::Corrupt { problem: Corruption::OutOfBounds { .. }, .. }), "{e}");
    assert!(e.to_string().starts_with("index.tsm: block (offset"), "{e}");

    // A huge block size is refused before any allocation.
    let mut g = f.clone();
    g[first_entry + 24..first_entry + 28].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(open_and_read("size.tsm", &g).is_err());
}

#[test]
fn manifest_naming_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let stamp = "20240101T000000Z";
    let (meta, size) = meta_file::encode_portable(&Default::default());
    let m = Manifest {
        meta: MetaEntry { file_name: manifest::meta_file_name(stamp), size },
        files: vec![ManifestFile {
            database: "db".into(),
            policy: "rp".into(),
            shard_id: 1,
            file_name: manifest::shard_file_name(stamp, 1),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mpath = dir.path().join(manifest::manifest_file_name(stamp));
    m.save(&mpath).unwrap();

    // The meta file is missing: an error naming it.
    let e = manifest::load_incremental(dir.path()).unwrap_err();
    assert!(
        matches!(&e, Error::MissingFile { missing, .. } if missing == "20240101T000000Z.meta"),
        "{e}"
    );

    // With the meta present the missing shard archive is skipped as the real
    // restore does, and the strict check names it.
    fs::write(dir.path().join(manifest::meta_file_name(stamp)), meta).unwrap();
    let inc = manifest::load_incremental(dir.path()).unwrap();
    assert!(inc.files.is_empty());
    assert_eq!(inc.skipped.len(), 1);
    let e = m.verify_files("x.manifest", dir.path()).unwrap_err();
    assert_eq!(e.to_string(), "x.manifest: names missing file 20240101T000000Z.s1.tar.gz");

    // No manifest at all.
    let empty = tempfile::tempdir().unwrap();
    let e = manifest::load_incremental(empty.path()).unwrap_err();
    assert!(e.to_string().starts_with("No manifest files found in: "), "{e}");

    // A broken manifest.
    fs::write(&mpath, b"{\"meta\": ").unwrap();
    let e = manifest::load_incremental(dir.path()).unwrap_err();
    assert!(e.to_string().contains("20240101T000000Z.manifest"), "{e}");
}

#[test]
fn meta_file_truncated_or_flipped() {
    let data = proto::meta::Data {
        databases: vec![proto::meta::DatabaseInfo {
            name: "telegraf".into(),
            default_retention_policy: "autogen".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (bytes, _) = meta_file::encode_portable(&data);
    for len in 1..bytes.len() - 2 {
        let e = meta_file::decode_portable("x.meta", &bytes[..len])
            .expect_err("truncated .meta accepted");
        assert!(e.to_string().starts_with("x.meta: "), "{e}");
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = meta_file::decode_portable("x.meta", &b);
    }
}

#[test]
fn archives_truncated_or_flipped() {
    let f = sample_tsm();
    let mut w = ShardArchiveWriter::new(Vec::new(), "db", "rp", 1, ArchiveOptions::default());
    w.append_tsm("000000001-000000001.tsm", Cursor::new(&f)).unwrap();
    let (gz, _) = w.finish().unwrap();
    for len in (0..gz.len()).step_by(7) {
        let Err(e) = read_shard_archive("s1.tar.gz", &gz[..len], false) else {
            panic!("archive truncated to {len} of {} bytes accepted", gz.len());
        };
        assert!(e.to_string().starts_with("s1.tar.gz"), "{e}");
    }
    for i in (0..gz.len()).step_by(3) {
        let mut g = gz.clone();
        g[i] ^= 0x55;
        if let Err(e) = read_shard_archive("s1.tar.gz", &g[..], false) {
            assert!(e.to_string().starts_with("s1.tar.gz"), "{e}");
        }
    }
    // Not gzip at all.
    let mut r = ShardArchiveReader::new("plain.tar", &b"hello world, not gzip"[..]);
    let e = r.entries().and_then(|mut it| it.next().unwrap().map(|_| ())).unwrap_err();
    assert!(e.to_string().starts_with("plain.tar: "), "{e}");
}
