//! Export-file parser (`influx -import` rules), plain and gzip input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portable::export::{ImportBatches, ImportOptions, ImportReader};

fuzz_target!(|data: &[u8]| {
    let opts = ImportOptions { max_line_len: 4096, ..Default::default() };
    for item in ImportReader::new("fuzz.lp", data, opts.clone()) {
        if item.is_err() {
            break;
        }
    }
    let r = ImportReader::new("fuzz.lp", data, opts.clone());
    for b in ImportBatches::with_batch_size(r, 3) {
        if b.is_err() {
            break;
        }
    }
    let owned = data.to_vec();
    for item in ImportReader::with_compression("fuzz.lp.gz", std::io::Cursor::new(owned), true, opts) {
        if item.is_err() {
            break;
        }
    }
});
