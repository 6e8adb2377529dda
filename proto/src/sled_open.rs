//! Opening a sled database the way every node needs it.
//!
//! sled releases its directory lock only when its background flusher thread
//! lets go of the last reference, a moment after the `Db` is dropped. A node
//! reopening its own store in the same process (a restart in a test, a
//! restore that swaps the store) would otherwise fail with `WouldBlock`.

use std::time::Duration;

/// How long [`open`] waits for a lock held by a just-dropped `Db`.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens `config`, retrying for up to [`LOCK_WAIT`] while the directory lock
/// is still held by a `Db` dropped a moment ago. Any other error (and a lock
/// held longer, e.g. by another process) is returned as is.
pub fn open(config: &sled::Config) -> sled::Result<sled::Db> {
    let step = Duration::from_millis(20);
    let mut waited = Duration::ZERO;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if waited < LOCK_WAIT && is_lock_error(&e) => {
                std::thread::sleep(step);
                waited += step;
            }
            other => return other,
        }
    }
}

fn is_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopening_right_after_drop_succeeds() {
        let dir = std::env::temp_dir().join(format!("sled-open-{}", std::process::id()));
        let config = sled::Config::new().path(&dir);
        for i in 0..20u8 {
            let db = open(&config).unwrap();
            db.insert([i], vec![i]).unwrap();
            db.flush().unwrap();
            drop(db);
        }
        let db = open(&config).unwrap();
        assert_eq!(db.len(), 20);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
