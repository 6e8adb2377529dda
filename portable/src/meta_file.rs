//! The `.meta` file (spec §2.1) and the snapshotter metastore blob (§2.2).
//!
//! `.meta` is a protobuf `backup_util.PortableData { required bytes Data = 1;
//! required uint64 MaxNodeID = 2; }` whose `Data` is a serialized
//! `meta.Data`. The blob the snapshotter serves (and the legacy `meta.NN`
//! file) is: magic `0x59590101` as u64 BE, u64 BE length, `meta.Data`, u64
//! BE length, node JSON.
//!
//! prost writes proto2 required fields even when zero, in field order, with
//! unpacked repeated scalars: the same bytes as Go's marshaller.

use prost::Message;
use proto::backup_util::PortableData;
use proto::meta::Data;

use crate::error::{Corruption, Error, Result};

/// The snapshotter's metastore blob magic, written as a u64 BE.
pub const BACKUP_MAGIC_HEADER: u64 = 0x5959_0101;

/// A decoded `.meta` file.
#[derive(Debug, Clone, PartialEq)]
pub struct PortableMeta {
    /// The metastore.
    pub data: Data,
    /// The raw `meta.Data` bytes (`PortableData.Data`); its length is the
    /// manifest's `meta.size`.
    pub raw: Vec<u8>,
    /// `PortableData.MaxNodeID` (0 from the OSS backup).
    pub max_node_id: u64,
}

/// Encodes a `.meta` file from already serialized `meta.Data` bytes.
pub fn encode_portable_raw(meta_data: &[u8], max_node_id: u64) -> Vec<u8> {
    PortableData { data: meta_data.to_vec(), max_node_id }.encode_to_vec()
}

/// Encodes a `.meta` file for `data` with `MaxNodeID = 0` (as the OSS
/// backup does). Returns the file bytes and the `meta.Data` length (the
/// manifest's `meta.size`).
pub fn encode_portable(data: &Data) -> (Vec<u8>, i64) {
    let raw = data.encode_to_vec();
    let len = raw.len() as i64;
    (encode_portable_raw(&raw, 0), len)
}

/// Decodes a `.meta` file; errors name it `name`.
pub fn decode_portable(name: &str, bytes: &[u8]) -> Result<PortableMeta> {
    let pd = PortableData::decode(bytes).map_err(|e| {
        Error::corrupt(name, Corruption::invalid("PortableData protobuf", e.to_string()))
    })?;
    let data = Data::decode(pd.data.as_slice()).map_err(|e| {
        Error::corrupt(name, Corruption::invalid("meta.Data protobuf", e.to_string()))
    })?;
    Ok(PortableMeta { data, raw: pd.data, max_node_id: pd.max_node_id })
}

/// Reads and decodes a `.meta` file.
pub fn load_portable(path: &std::path::Path) -> Result<PortableMeta> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&name, e))?;
    decode_portable(&name, &bytes)
}

/// The snapshotter metastore blob, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotBlob {
    /// The serialized `meta.Data`.
    pub meta: Vec<u8>,
    /// The node JSON (e.g. `{"ID":0}` + newline).
    pub node_json: Vec<u8>,
}

/// Encodes the snapshotter metastore blob.
pub fn encode_snapshot_blob(meta: &[u8], node_json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + meta.len() + node_json.len());
    out.extend_from_slice(&BACKUP_MAGIC_HEADER.to_be_bytes());
    out.extend_from_slice(&(meta.len() as u64).to_be_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(&(node_json.len() as u64).to_be_bytes());
    out.extend_from_slice(node_json);
    out
}

/// Decodes the snapshotter metastore blob; errors name it `name`. Lengths
/// are checked against the data before anything is copied.
pub fn decode_snapshot_blob(name: &str, b: &[u8]) -> Result<SnapshotBlob> {
    let corrupt = |c| Error::corrupt(name, c);
    let u64_at = |at: usize, what: &str| -> Result<u64> {
        b.get(at..at + 8)
            .map(|s| u64::from_be_bytes(s.try_into().expect("8 bytes")))
            .ok_or_else(|| corrupt(Corruption::truncated(what.to_string())))
    };
    let magic = u64_at(0, "magic")?;
    if magic != BACKUP_MAGIC_HEADER {
        return Err(corrupt(Corruption::BadMagic { found: magic, expected: BACKUP_MAGIC_HEADER }));
    }
    let n = u64_at(8, "meta length")?;
    let meta_end = usize::try_from(n)
        .ok()
        .and_then(|n| 16usize.checked_add(n))
        .filter(|&e| e <= b.len())
        .ok_or_else(|| {
            corrupt(Corruption::out_of_bounds(format!(
                "meta length {n} ({} bytes in blob)",
                b.len()
            )))
        })?;
    let m = u64_at(meta_end, "node JSON length")?;
    let node_end = usize::try_from(m)
        .ok()
        .and_then(|m| (meta_end + 8).checked_add(m))
        .filter(|&e| e <= b.len())
        .ok_or_else(|| {
            corrupt(Corruption::out_of_bounds(format!(
                "node JSON length {m} ({} bytes in blob)",
                b.len()
            )))
        })?;
    Ok(SnapshotBlob {
        meta: b[16..meta_end].to_vec(),
        node_json: b[meta_end + 8..node_end].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::meta::{DatabaseInfo, RetentionPolicyInfo};

    #[test]
    fn portable_round_trip_keeps_required_zeros() {
        let data = Data {
            databases: vec![DatabaseInfo {
                name: "db".into(),
                default_retention_policy: "autogen".into(),
                retention_policies: vec![RetentionPolicyInfo {
                    name: "autogen".into(),
                    replica_n: 1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (bytes, size) = encode_portable(&data);
        // PortableData: 0a <len> <Data> 10 00 (MaxNodeID written although 0).
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(&bytes[bytes.len() - 2..], &[0x10, 0x00]);
        // meta.Data starts with Term=0, Index=0, ClusterID=0 on the wire.
        assert_eq!(&bytes[2..8], &[0x08, 0x00, 0x10, 0x00, 0x18, 0x00]);
        let back = decode_portable("x.meta", &bytes).unwrap();
        assert_eq!(back.data, data);
        assert_eq!(back.raw.len() as i64, size);
        assert!(decode_portable("x.meta", &[0x0a, 0x05, 1]).is_err());
    }

    #[test]
    fn snapshot_blob_round_trip_and_errors() {
        let blob = encode_snapshot_blob(b"meta-bytes", b"{\"ID\":0}\n");
        assert_eq!(&blob[..8], &[0, 0, 0, 0, 0x59, 0x59, 0x01, 0x01]);
        let s = decode_snapshot_blob("meta.00", &blob).unwrap();
        assert_eq!(s.meta, b"meta-bytes");
        assert_eq!(s.node_json, b"{\"ID\":0}\n");
        for cut in 0..blob.len() {
            assert!(decode_snapshot_blob("meta.00", &blob[..cut]).is_err());
        }
        let mut bad = blob.clone();
        bad[7] = 0;
        let e = decode_snapshot_blob("meta.00", &bad).unwrap_err().to_string();
        assert!(e.contains("meta.00") && e.contains("magic"), "{e}");
        let mut huge = blob;
        huge[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(decode_snapshot_blob("meta.00", &huge).is_err());
    }
}
