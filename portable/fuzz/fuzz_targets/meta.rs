//! `.meta` files and the snapshotter metastore blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portable::meta_file;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = meta_file::decode_portable("fuzz.meta", data) {
        // Re-encoding what decoded must decode to the same metastore.
        let (bytes, _) = meta_file::encode_portable(&m.data);
        let again = meta_file::decode_portable("again", &bytes).expect("own output decodes");
        assert_eq!(again.data, m.data);
    }
    if let Ok(b) = meta_file::decode_snapshot_blob("meta.00", data) {
        assert!(meta_file::encode_snapshot_blob(&b.meta, &b.node_json).len() <= data.len());
    }
});
