//! A small, hand-written binary encoding for [`Envelope`], [`Message`], [`Entry`],
//! [`Snapshot`] and [`HardState`]: what the transport sends and what the sled log stores.
//!
//! FORMAT
//!
//! A top-level value (what [`Codec::encode`] produces) is one version byte
//! ([`FORMAT_VERSION`]) followed by the value's body. Bodies are built from:
//!
//! - unsigned integers as LEB128 varints (1 to 10 bytes);
//! - `bool` and enum tags as one byte;
//! - `Option<u64>` as a tag byte (0 = none, 1 = some) and the value;
//! - byte strings and UTF-8 strings as a varint length and the bytes;
//! - sequences as a varint count and the elements;
//! - structs as their fields in declaration order.
//!
//! Decoding never panics and never allocates more than the input could describe: lengths and
//! counts are checked against the remaining input, varints against overflow, tags against the
//! known set, strings against UTF-8, and trailing bytes are an error.

use super::{Entry, EntryPayload, Envelope, Error, HardState, Member, Message, Result, Snapshot};

/// The version byte that starts every top-level encoding.
pub const FORMAT_VERSION: u8 = 1;

/// A value with a binary encoding.
pub trait Codec: Sized {
    /// Appends the value's body (without the version byte) to `out`.
    fn encode_body(&self, out: &mut Vec<u8>);

    /// Reads the value's body from `reader`.
    fn decode_body(reader: &mut Reader<'_>) -> Result<Self>;

    /// Encodes the value: the version byte and the body.
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        self.encode_body(&mut out);
        out
    }

    /// Decodes a value produced by [`Codec::encode`]. Errors (never panics) on garbage, a
    /// truncated input, an unknown version or trailing bytes.
    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader::new(bytes);
        let version = reader.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::Decode(format!("unknown format version {version}")));
        }
        let value = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }
}

/// A cursor over bytes being decoded.
pub struct Reader<'a> {
    /// The whole input.
    buf: &'a [u8],
    /// The next byte to read.
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn eof() -> Error {
        Error::Decode("unexpected end of input".into())
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8> {
        let byte = *self.buf.get(self.pos).ok_or_else(Self::eof)?;
        self.pos += 1;
        Ok(byte)
    }

    /// Reads a varint.
    pub fn u64(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err(Error::Decode("varint overflows u64".into()));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::Decode("varint too long".into()))
    }

    /// Reads a bool (0 or 1).
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::Decode(format!("invalid bool {b}"))),
        }
    }

    /// Reads an optional varint.
    pub fn opt_u64(&mut self) -> Result<Option<u64>> {
        if self.bool()? { Ok(Some(self.u64()?)) } else { Ok(None) }
    }

    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u64()?;
        if len > self.remaining() as u64 {
            return Err(Self::eof());
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// Reads a length-prefixed UTF-8 string.
    pub fn string(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Decode("invalid UTF-8".into()))
    }

    /// Reads a sequence count, checked against the remaining input (every element takes at
    /// least one byte), so a garbage count cannot trigger a huge allocation.
    pub fn count(&mut self) -> Result<usize> {
        let count = self.u64()?;
        if count > self.remaining() as u64 {
            return Err(Error::Decode(format!("count {count} exceeds input")));
        }
        Ok(count as usize)
    }

    /// Reads a sequence of values.
    pub fn seq<T: Codec>(&mut self) -> Result<Vec<T>> {
        let count = self.count()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(T::decode_body(self)?);
        }
        Ok(out)
    }

    /// Errors unless all input was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(Error::Decode(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_bool(out: &mut Vec<u8>, value: bool) {
    out.push(u8::from(value));
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    put_bool(out, value.is_some());
    if let Some(v) = value {
        put_u64(out, v);
    }
}

fn put_seq<T: Codec>(out: &mut Vec<u8>, items: &[T]) {
    put_u64(out, items.len() as u64);
    for item in items {
        item.encode_body(out);
    }
}

impl Codec for Member {
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u64(out, self.id);
        put_bytes(out, self.raft_addr.as_bytes());
        put_bytes(out, self.http_addr.as_bytes());
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Member { id: r.u64()?, raft_addr: r.string()?, http_addr: r.string()? })
    }
}

impl Codec for EntryPayload {
    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            EntryPayload::Noop => out.push(0),
            EntryPayload::Command(data) => {
                out.push(1);
                put_bytes(out, data);
            }
            EntryPayload::Bootstrap(members) => {
                out.push(2);
                put_seq(out, members);
            }
            EntryPayload::AddMember(member) => {
                out.push(3);
                member.encode_body(out);
            }
            EntryPayload::RemoveMember(id) => {
                out.push(4);
                put_u64(out, *id);
            }
        }
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            0 => EntryPayload::Noop,
            1 => EntryPayload::Command(r.bytes()?.to_vec()),
            2 => EntryPayload::Bootstrap(r.seq()?),
            3 => EntryPayload::AddMember(Member::decode_body(r)?),
            4 => EntryPayload::RemoveMember(r.u64()?),
            tag => return Err(Error::Decode(format!("unknown entry payload tag {tag}"))),
        })
    }
}

impl Codec for Entry {
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u64(out, self.index);
        put_u64(out, self.term);
        self.payload.encode_body(out);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Entry { index: r.u64()?, term: r.u64()?, payload: EntryPayload::decode_body(r)? })
    }
}

impl Codec for Snapshot {
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u64(out, self.last_index);
        put_u64(out, self.last_term);
        put_seq(out, &self.members);
        put_bytes(out, &self.data);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Snapshot {
            last_index: r.u64()?,
            last_term: r.u64()?,
            members: r.seq()?,
            data: r.bytes()?.to_vec(),
        })
    }
}

impl Codec for HardState {
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u64(out, self.term);
        put_opt_u64(out, self.vote);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(HardState { term: r.u64()?, vote: r.opt_u64()? })
    }
}

impl Codec for Message {
    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Message::PreVote { last_index, last_term } => {
                out.push(0);
                put_u64(out, *last_index);
                put_u64(out, *last_term);
            }
            Message::PreVoteResponse { granted } => {
                out.push(1);
                put_bool(out, *granted);
            }
            Message::Vote { last_index, last_term } => {
                out.push(2);
                put_u64(out, *last_index);
                put_u64(out, *last_term);
            }
            Message::VoteResponse { granted } => {
                out.push(3);
                put_bool(out, *granted);
            }
            Message::Append { prev_index, prev_term, entries, commit, read_seq } => {
                out.push(4);
                put_u64(out, *prev_index);
                put_u64(out, *prev_term);
                put_seq(out, entries);
                put_u64(out, *commit);
                put_u64(out, *read_seq);
            }
            Message::AppendResponse { success, index, hint, read_seq } => {
                out.push(5);
                put_bool(out, *success);
                put_u64(out, *index);
                put_u64(out, *hint);
                put_u64(out, *read_seq);
            }
            Message::InstallSnapshot { snapshot, read_seq } => {
                out.push(6);
                snapshot.encode_body(out);
                put_u64(out, *read_seq);
            }
            Message::InstallSnapshotResponse { index, read_seq } => {
                out.push(7);
                put_u64(out, *index);
                put_u64(out, *read_seq);
            }
        }
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match r.u8()? {
            0 => Message::PreVote { last_index: r.u64()?, last_term: r.u64()? },
            1 => Message::PreVoteResponse { granted: r.bool()? },
            2 => Message::Vote { last_index: r.u64()?, last_term: r.u64()? },
            3 => Message::VoteResponse { granted: r.bool()? },
            4 => Message::Append {
                prev_index: r.u64()?,
                prev_term: r.u64()?,
                entries: r.seq()?,
                commit: r.u64()?,
                read_seq: r.u64()?,
            },
            5 => Message::AppendResponse {
                success: r.bool()?,
                index: r.u64()?,
                hint: r.u64()?,
                read_seq: r.u64()?,
            },
            6 => {
                Message::InstallSnapshot { snapshot: Snapshot::decode_body(r)?, read_seq: r.u64()? }
            }
            7 => Message::InstallSnapshotResponse { index: r.u64()?, read_seq: r.u64()? },
            tag => return Err(Error::Decode(format!("unknown message tag {tag}"))),
        })
    }
}

impl Codec for Envelope {
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u64(out, self.from);
        put_u64(out, self.to);
        put_u64(out, self.term);
        self.message.encode_body(out);
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Envelope {
            from: r.u64()?,
            to: r.u64()?,
            term: r.u64()?,
            message: Message::decode_body(r)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng::Rng;
    use super::*;

    fn member(id: u64) -> Member {
        Member::new(id, format!("m{id}:8089"), format!("m{id}:8091"))
    }

    fn samples() -> Vec<Envelope> {
        let entries = vec![
            Entry { index: 3, term: 2, payload: EntryPayload::Noop },
            Entry { index: 4, term: 2, payload: EntryPayload::Command(vec![0, 1, 2, 255]) },
            Entry { index: 5, term: 2, payload: EntryPayload::Bootstrap(vec![member(1)]) },
            Entry { index: 6, term: 2, payload: EntryPayload::AddMember(member(7)) },
            Entry { index: 7, term: u64::MAX, payload: EntryPayload::RemoveMember(u64::MAX) },
        ];
        let messages = vec![
            Message::PreVote { last_index: 1, last_term: 300 },
            Message::PreVoteResponse { granted: true },
            Message::Vote { last_index: u64::MAX, last_term: 0 },
            Message::VoteResponse { granted: false },
            Message::Append { prev_index: 2, prev_term: 2, entries, commit: 1, read_seq: 9 },
            Message::AppendResponse { success: false, index: 5, hint: 3, read_seq: 1 << 40 },
            Message::InstallSnapshot {
                snapshot: Snapshot {
                    last_index: 10,
                    last_term: 3,
                    members: vec![member(1), member(2)],
                    data: b"state".to_vec(),
                },
                read_seq: 0,
            },
            Message::InstallSnapshotResponse { index: 10, read_seq: 2 },
        ];
        messages.into_iter().map(|message| Envelope { from: 1, to: 2, term: 7, message }).collect()
    }

    #[test]
    fn roundtrip_all_messages() {
        for env in samples() {
            let bytes = env.encode();
            assert_eq!(Envelope::decode(&bytes).unwrap(), env);
        }
        let hs = HardState { term: 5, vote: Some(3) };
        assert_eq!(HardState::decode(&hs.encode()).unwrap(), hs);
        let hs = HardState { term: 0, vote: None };
        assert_eq!(HardState::decode(&hs.encode()).unwrap(), hs);
    }

    #[test]
    fn truncated_and_trailing_inputs_are_errors() {
        for env in samples() {
            let bytes = env.encode();
            for len in 0..bytes.len() {
                assert!(Envelope::decode(&bytes[..len]).is_err(), "prefix {len} of {env:?}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Envelope::decode(&longer).is_err());
        }
        assert!(Envelope::decode(&[2, 1, 2, 3]).is_err(), "unknown version");
        // A varint that overflows u64.
        assert!(
            HardState::decode(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .is_err()
        );
        // A huge count must not allocate.
        assert!(Entry::decode(&[1, 1, 1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn random_garbage_never_panics() {
        let mut rng = Rng::new(42);
        let samples: Vec<Vec<u8>> = samples().iter().map(|e| e.encode()).collect();
        for i in 0..20_000 {
            // Half pure garbage, half mutated valid encodings.
            let bytes: Vec<u8> = if i % 2 == 0 {
                let len = rng.below(40) as usize;
                (0..len).map(|_| rng.next_u64() as u8).collect()
            } else {
                let mut bytes = samples[rng.below(samples.len() as u64) as usize].clone();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(bytes.len() as u64) as usize;
                    bytes[at] = rng.next_u64() as u8;
                }
                bytes
            };
            let _ = Envelope::decode(&bytes);
            let _ = Entry::decode(&bytes);
            let _ = Snapshot::decode(&bytes);
            let _ = HardState::decode(&bytes);
        }
    }
}
