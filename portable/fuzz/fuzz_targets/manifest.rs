//! Manifest JSON: parsing never panics, and what parses re-serializes to
//! JSON that parses to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portable::manifest::{Manifest, parse_backup_file_name};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::from_json("fuzz.manifest", data) {
        let again = Manifest::from_json("again", m.to_json().as_bytes()).expect("own output parses");
        assert_eq!(again, m);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_backup_file_name(s);
    }
});
