//! The snapshotter client of `data-node backup` and `data-node restore`
//! (blocking sockets; InfluxDB's `snapshotter.Client` and the download code
//! of `influxd backup`), with its error texts.
//!
//! Beyond InfluxDB's client: an answer in HTTP (the `-host` names an HTTP
//! port, where the real tool fails with `invalid character 'H' looking for
//! beginning of value` or `invalid metadata received`) is reported as a
//! wrong port; a shard tar cut short, a metastore blob whose lengths do not
//! add up, and a failed ShardUpdate (`ERR …` from a testbed data node) are
//! errors instead of silently short backups or restores.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::wire::{self, BACKUP_MAGIC, MUX_HEADER, Request, RequestType};

/// Connect timeout.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while reading or writing.
const IO_TIMEOUT: Duration = Duration::from_secs(600);
/// Largest DatabaseInfo answer read.
const MAX_INFO_BYTES: u64 = 64 << 20;

/// A client failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection could not be made (Go's `dial tcp` text).
    #[error("dial tcp {host}: {reason}")]
    Dial {
        /// `-host`.
        host: String,
        /// Go's words for the failure.
        reason: String,
    },
    /// The host answered in HTTP: `-host` names an HTTP port.
    #[error(
        "{host} answered in HTTP ({status:?}), not in the snapshotter protocol: -host takes a data node's TCP bind address (bind-address, port 8088 by default), not its HTTP address (port 8086)"
    )]
    Http {
        /// `-host`.
        host: String,
        /// The status line.
        status: String,
    },
    /// The connection failed midway.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// An answer that is not what the protocol says (Go's texts where the
    /// real client has one).
    #[error("{0}")]
    Protocol(String),
}

impl ClientError {
    /// Whether a retry may help (the host did not answer at all).
    pub fn retryable(&self) -> bool {
        match self {
            ClientError::Dial { .. } => true,
            ClientError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }
}

type Result<T> = std::result::Result<T, ClientError>;

/// Go's description of a dial error.
fn dial_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "i/o timeout".into(),
        io::ErrorKind::HostUnreachable => "connect: no route to host".into(),
        io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => format!("connect: {}", s[..i].to_lowercase()),
                None => s,
            }
        }
    }
}

/// Opens a connection to the snapshotter at `host` (mux byte written).
pub fn dial(host: &str) -> Result<TcpStream> {
    let addrs: Vec<_> = host
        .to_socket_addrs()
        .map_err(|e| ClientError::Dial {
            host: host.to_string(),
            reason: match host.rsplit_once(':') {
                Some((h, _)) if !e.to_string().contains("invalid port") => {
                    format!("lookup {h}: no such host")
                }
                _ => format!("address {host}: missing port in address"),
            },
        })?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, DIAL_TIMEOUT) {
            Ok(s) => {
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                let _ = s.set_nodelay(true);
                let mut s = s;
                s.write_all(&[MUX_HEADER])
                    .map_err(|e| ClientError::Protocol(format!("write mux header: {e}")))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    let reason = last.map_or_else(|| "no address".to_string(), |e| dial_reason(&e));
    Err(ClientError::Dial { host: host.to_string(), reason })
}

/// Sends the type byte and the JSON request (with Go's newline).
fn send_request(host: &str, req: &Request) -> Result<TcpStream> {
    let mut s = dial(host)?;
    s.write_all(&[req.typ])?;
    let mut j = req.to_json();
    j.push('\n');
    s.write_all(j.as_bytes()).map_err(|e| {
        ClientError::Protocol(format!("encode snapshot request: write tcp {host}: {e}"))
    })?;
    Ok(s)
}

/// Fails with [`ClientError::Http`] when an answer starts like HTTP.
pub fn check_http(host: &str, first: &[u8]) -> Result<()> {
    if first.starts_with(b"HTTP/") {
        let line = first.split(|b| *b == b'\r' || *b == b'\n').next().unwrap_or_default();
        return Err(ClientError::Http {
            host: host.to_string(),
            status: String::from_utf8_lossy(line).into_owned(),
        });
    }
    Ok(())
}

/// Reads a whole answer (until the server closes), at most `limit` bytes.
fn read_all(s: &mut TcpStream, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    s.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// Downloads a MetastoreBackup, ShardBackup or ShardExport answer into
/// `out`; returns the bytes. An empty answer is an error, as in InfluxDB.
pub fn download(host: &str, req: &Request, out: &mut impl Write) -> Result<u64> {
    let mut s = send_request(host, req)?;
    let mut first = vec![0u8; 8192];
    let n = read_some(&mut s, &mut first)?;
    first.truncate(n);
    if n == 0 {
        return Err(ClientError::Protocol(
            "copy backup to file: no data returned, check server logs for snapshot errors".into(),
        ));
    }
    check_http(host, &first)?;
    out.write_all(&first)?;
    let rest = io::copy(&mut s, out)
        .map_err(|e| ClientError::Protocol(format!("copy backup to file: err={e}, n={n}")))?;
    Ok(n as u64 + rest)
}

/// Reads until `buf` is full or the server closes.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// DatabaseInfo / RetentionPolicyInfo: the shard paths.
pub fn request_info(host: &str, req: &Request) -> Result<Vec<String>> {
    let mut s = send_request(host, req)?;
    let body = read_all(&mut s, MAX_INFO_BYTES)?;
    check_http(host, &body)?;
    // Go's json.Decoder: nothing at all is `EOF`.
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(ClientError::Protocol("EOF".into()));
    };
    let mut framer = wire::JsonFramer::new();
    let mut end = None;
    for (i, b) in body[start..].iter().enumerate() {
        match framer.push(*b) {
            Ok(true) => {
                end = Some(start + i + 1);
                break;
            }
            Ok(false) => {}
            Err(e) => return Err(ClientError::Protocol(e.to_string())),
        }
    }
    let Some(end) = end else {
        return Err(ClientError::Protocol("unexpected EOF".into()));
    };
    wire::parse_paths(&body[start..end]).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// MetaStoreUpdate: uploads `meta` and returns the old → new shard IDs,
/// with InfluxDB's client checks and texts.
pub fn update_meta(host: &str, req: &Request, meta: &[u8]) -> Result<Vec<(u64, u64)>> {
    let mut s = send_request(host, req)?;
    if let Err(e) = s.write_all(meta) {
        return Err(ClientError::Protocol(format!(
            "error uploading file: err={e}, n=0, uploadSize: {}",
            req.upload_size
        )));
    }
    let resp = match read_all(&mut s, u64::MAX) {
        Ok(r) => r,
        Err(e) => {
            return Err(ClientError::Protocol(format!(
                "updating metadata on influxd service failed: err={e}, n=0"
            )));
        }
    };
    check_http(host, &resp)?;
    if resp.is_empty() {
        return Err(ClientError::Protocol(
            "updating metadata on influxd service failed: err=<nil>, n=0".into(),
        ));
    }
    if resp.len() < 16 {
        return Err(ClientError::Protocol(format!(
            "response too short to be a metadata update response: {}",
            resp.len()
        )));
    }
    let word = |i: usize| u64::from_be_bytes(resp[i..i + 8].try_into().unwrap_or([0; 8]));
    let (header, npairs) = (word(0), word(8));
    if npairs == 0 {
        return Err(ClientError::Protocol(
            "DB metadata not changed. database may already exist".into(),
        ));
    }
    if header != BACKUP_MAGIC {
        return Err(ClientError::Protocol(
            "Response did not contain the proper header tag.".into(),
        ));
    }
    let pairs = &resp[16..];
    if Some(pairs.len() as u64) != npairs.checked_mul(16) {
        return Err(ClientError::Protocol(
            "expected an even number of integer pairs in update meta repsonse".into(),
        ));
    }
    Ok(pairs
        .chunks_exact(16)
        .map(|c| {
            let a = u64::from_be_bytes(c[..8].try_into().unwrap_or([0; 8]));
            let b = u64::from_be_bytes(c[8..].try_into().unwrap_or([0; 8]));
            (a, b)
        })
        .collect())
}

/// ShardUpdate: streams the tar `src` into shard `new_id`, renaming every
/// entry `<db>/<rp>/<new_id>/<file…>` as InfluxDB's `UploadShard` does
/// (`db`/`rp` empty: taken from the first entry). Then waits for the data
/// node to finish: a testbed node answers `ERR <reason>` on failure.
pub fn upload_shard(host: &str, new_id: u64, db: &str, rp: &str, src: impl Read) -> Result<()> {
    let mut s = dial(host)?;
    let mut head = [0u8; 9];
    head[0] = RequestType::ShardUpdate.byte();
    head[1..].copy_from_slice(&new_id.to_be_bytes());
    s.write_all(&head)?;
    let mut out = tar::Builder::new(io::BufWriter::with_capacity(256 << 10, &mut s));
    let copied = copy_renamed(src, &mut out, new_id, db, rp);
    // Local errors (a bad archive) come first; a failed send is explained
    // by the node's answer when it sent one.
    let sent = match copied {
        Ok(()) => out.into_inner().and_then(|mut w| w.flush()),
        Err(Copy::Local(e)) => {
            // No end marker: the node sees a cut stream and installs nothing.
            std::mem::forget(out);
            let _ = s.shutdown(Shutdown::Both);
            return Err(e);
        }
        Err(Copy::Send(e)) => {
            std::mem::forget(out);
            Err(e)
        }
    };
    // Half-close, then read what the node says (nothing when it is done).
    let _ = s.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let read = s.take(64 << 10).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).trim().to_string();
    if let Some(reason) = text.strip_prefix("ERR ") {
        return Err(ClientError::Protocol(format!("data node {host}: {reason}")));
    }
    check_http(host, &answer)?;
    sent?;
    if let Err(e) = read {
        return Err(ClientError::Protocol(format!(
            "the data node at {host} closed the connection ({e}) after shard {new_id} was sent: see its log"
        )));
    }
    Ok(())
}

/// Where copying an archive failed.
enum Copy {
    /// Reading the local archive.
    Local(ClientError),
    /// Sending to the node.
    Send(io::Error),
}

fn copy_renamed<W: Write>(
    src: impl Read,
    out: &mut tar::Builder<W>,
    new_id: u64,
    db: &str,
    rp: &str,
) -> std::result::Result<(), Copy> {
    let local = |e: String| Copy::Local(ClientError::Protocol(e));
    let mut input = tar::Archive::new(src);
    let (mut db, mut rp) = (db.to_string(), rp.to_string());
    let entries = input.entries().map_err(|e| local(format!("reading the tar: {e}")))?;
    for entry in entries {
        let mut e = entry.map_err(|e| local(format!("reading the tar: {e}")))?;
        let name = e
            .path()
            .map_err(|err| local(format!("reading the tar: {err}")))?
            .to_string_lossy()
            .into_owned();
        let names: Vec<&str> = name.split('/').collect();
        if names.len() < 4 {
            return Err(local(format!("error parsing file name from shard tarfile: {name}")));
        }
        if db.is_empty() {
            db = names[0].to_string();
        }
        if rp.is_empty() {
            rp = names[1].to_string();
        }
        let mut new_name = format!("{db}/{rp}/{new_id}");
        for p in names[3..].iter().filter(|p| !p.is_empty()) {
            new_name.push('/');
            new_name.push_str(p);
        }
        let size = e.size();
        let mut h = e.header().clone();
        let mut exact = Exact { inner: &mut e, left: size, short: false };
        if let Err(err) = out.append_data(&mut h, &new_name, &mut exact) {
            if exact.short {
                return Err(local(format!("reading {name}: the archive is truncated")));
            }
            return Err(Copy::Send(err));
        }
    }
    Ok(())
}

/// Reads exactly `left` bytes; an earlier end is an error (a cut archive).
struct Exact<R> {
    inner: R,
    left: u64,
    short: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = b.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut b[..max]).inspect_err(|_| self.short = true)?;
        if n == 0 {
            self.short = true;
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "archive truncated"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
