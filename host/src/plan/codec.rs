//! Event-log compression codecs as streaming readers: gzip, zstd, Spark's lz4
//! (lz4-java `LZ4BlockOutputStream`) and snappy (snappy-java `SnappyOutputStream`).
//! Memory is bounded by one compressed block, never by the file.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

const LZ4_MAGIC: &[u8] = b"LZ4Block";
const SNAPPY_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// Largest block either Spark codec writes is 64 KiB by default; refuse absurd
/// lengths (a corrupt header) instead of allocating them.
const MAX_BLOCK: usize = 64 << 20;

/// A compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    Zstd,
    Lz4,
    Snappy,
}

/// Recognise a codec from the first bytes.
pub fn sniff(head: &[u8]) -> Codec {
    if head.starts_with(GZIP_MAGIC) {
        Codec::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Codec::Zstd
    } else if head.starts_with(LZ4_MAGIC) {
        Codec::Lz4
    } else if head.starts_with(SNAPPY_MAGIC) {
        Codec::Snappy
    } else {
        Codec::Plain
    }
}

/// Wrap a reader in the decoder for its codec (sniffed from its first bytes).
pub fn decode<'a>(inner: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::with_capacity(1 << 16, inner);
    let codec = sniff(buf.fill_buf()?);
    Ok(match codec {
        Codec::Plain => Box::new(buf),
        Codec::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buf)?),
        Codec::Lz4 => Box::new(Lz4Block { inner: buf, out: Vec::new(), pos: 0 }),
        Codec::Snappy => Box::new(SnappyJava { inner: buf, out: Vec::new(), pos: 0, header_pending: true }),
    })
}

/// Open a file and decode it.
pub fn open(path: &Path) -> io::Result<Box<dyn Read>> {
    let f = std::fs::File::open(path)?;
    decode(f)
}

fn read_u32_le(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u32_be(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// lz4-java block stream: `LZ4Block` magic, token, compressed and original lengths
/// (LE), checksum, payload; a zero-length block ends a stream, and streams may follow.
struct Lz4Block<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> Lz4Block<R> {
    fn next_block(&mut self) -> io::Result<bool> {
        loop {
            if self.inner.fill_buf()?.is_empty() {
                return Ok(false);
            }
            let mut magic = [0u8; 8];
            self.inner.read_exact(&mut magic)?;
            if magic != LZ4_MAGIC {
                return Err(bad("lz4: bad block magic (not a Spark lz4 event log, or corrupt)".into()));
            }
            let mut token = [0u8; 1];
            self.inner.read_exact(&mut token)?;
            let clen = read_u32_le(&mut self.inner)? as usize;
            let olen = read_u32_le(&mut self.inner)? as usize;
            let _checksum = read_u32_le(&mut self.inner)?;
            if clen > MAX_BLOCK || olen > MAX_BLOCK {
                return Err(bad(format!("lz4: block of {olen} bytes is over the {MAX_BLOCK} byte limit (corrupt header?)")));
            }
            if olen == 0 {
                continue; // end of one stream; another may follow
            }
            let mut comp = vec![0u8; clen];
            self.inner.read_exact(&mut comp)?;
            self.out = match token[0] & 0xf0 {
                0x10 => comp,
                0x20 => lz4_flex::block::decompress(&comp, olen).map_err(|e| bad(format!("lz4: {e}")))?,
                m => return Err(bad(format!("lz4: unknown block method {m:#x}"))),
            };
            self.pos = 0;
            return Ok(true);
        }
    }
}

/// Copy from a decoded block into the caller's buffer.
fn serve(out: &[u8], pos: &mut usize, buf: &mut [u8]) -> usize {
    let n = buf.len().min(out.len() - *pos);
    buf[..n].copy_from_slice(&out[*pos..*pos + n]);
    *pos += n;
    n
}

impl<R: BufRead> Read for Lz4Block<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.out.len() && !self.next_block()? {
            return Ok(0);
        }
        Ok(serve(&self.out, &mut self.pos, buf))
    }
}

/// snappy-java stream: 16-byte header (magic, version, compatible version), then
/// chunks of a big-endian length and a raw snappy block; headers may repeat.
struct SnappyJava<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    header_pending: bool,
}

impl<R: BufRead> SnappyJava<R> {
    fn next_block(&mut self) -> io::Result<bool> {
        loop {
            let head = self.inner.fill_buf()?;
            if head.is_empty() {
                return Ok(false);
            }
            if self.header_pending || head.starts_with(SNAPPY_MAGIC) {
                let mut h = [0u8; 16];
                self.inner.read_exact(&mut h)?;
                if &h[..8] != SNAPPY_MAGIC {
                    return Err(bad("snappy: bad stream header (not a Spark snappy event log, or corrupt)".into()));
                }
                self.header_pending = false;
                continue;
            }
            let len = read_u32_be(&mut self.inner)? as usize;
            if len > MAX_BLOCK {
                return Err(bad(format!("snappy: chunk of {len} bytes is over the {MAX_BLOCK} byte limit (corrupt?)")));
            }
            let mut comp = vec![0u8; len];
            self.inner.read_exact(&mut comp)?;
            self.out = snap::raw::Decoder::new().decompress_vec(&comp).map_err(|e| bad(format!("snappy: {e}")))?;
            self.pos = 0;
            if !self.out.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Read for SnappyJava<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.out.len() && !self.next_block()? {
            return Ok(0);
        }
        Ok(serve(&self.out, &mut self.pos, buf))
    }
}
