//! Shard archives (gzip + tar + TSM inside).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portable::shard::read_shard_archive;

fuzz_target!(|data: &[u8]| {
    let _ = read_shard_archive("fuzz.tar.gz", data, true);
});
