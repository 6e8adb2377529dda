//! TSM reader: whole files (header, index, every block), single blocks and
//! tombstone files. Nothing may panic; a block that decodes re-encodes to a
//! block that decodes to the same points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portable::tsm::{self, Tombstones, TsmReader};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = TsmReader::from_bytes("fuzz.tsm", data) {
        let _ = r.time_range();
        let _ = r.verify();
        for s in r.series() {
            let _ = s;
        }
    }
    // The same bytes behind a valid header, to get past the magic check.
    let mut with_header = vec![0x16, 0xD1, 0x16, 0xD1, 0x01];
    with_header.extend_from_slice(data);
    if let Ok(mut r) = TsmReader::from_bytes("fuzz.tsm", &with_header) {
        let _ = r.verify();
    }
    if let Ok((ts, vs)) = tsm::decode_block(data) {
        let mut again = Vec::new();
        // Decoded blocks may hold unsorted timestamps (the format does not
        // forbid them); only sorted ones can be re-encoded.
        if !ts.is_empty() && ts.windows(2).all(|w| w[0] < w[1]) && tsm::encode_block(&ts, vs.as_slice(), &mut again).is_ok() {
            let (t2, v2) = tsm::decode_block(&again).expect("own block decodes");
            assert_eq!(t2, ts);
            assert_eq!(v2.len(), vs.len());
        }
    }
    let _ = tsm::count_points(data);
    let _ = Tombstones::parse("fuzz.tombstone", data);
});
