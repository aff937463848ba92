//! Reading another process's memory: the one trait every layer above reads through.

use byteorder::{ByteOrder, LittleEndian};
use std::fmt;

/// An address in the target process (never a pointer of ours).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub u64);

impl Address {
    /// The address `off` bytes further on, or `None` on overflow.
    pub fn checked_add(self, off: u64) -> Option<Address> {
        self.0.checked_add(off).map(Address)
    }
    /// The address `off` bytes further on, wrapping (for arithmetic on untrusted words).
    pub fn wrapping_add(self, off: u64) -> Address {
        Address(self.0.wrapping_add(off))
    }
    /// The raw value.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Addresses serialize as `"0x..."` strings: JSON numbers lose precision above 2^53.
impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

impl schemars::JsonSchema for Address {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Address".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^0x[0-9a-f]+$",
            "description": "A 64-bit address as a hexadecimal string (JSON numbers lose precision above 2^53)"
        })
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::LowerHex for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

/// Why a read of target memory failed. Every variant carries the first address that could not
/// be read, so a message can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemError {
    /// No mapping of the process covers the address.
    #[error("address {addr} is not mapped in the process")]
    Unmapped {
        /// First unreadable address.
        addr: Address,
    },
    /// The process had the address mapped, but its bytes are not in the dump: the kernel left the
    /// mapping out (coredump_filter, a file-backed page whose file is not here) or the core file
    /// was cut short.
    #[error("address {addr} was mapped in the process but its bytes are not in the dump ({why})")]
    NotInDump {
        /// First unreadable address.
        addr: Address,
        /// Which of the reasons applies.
        why: &'static str,
    },
    /// Reading a backing file failed.
    #[error("I/O error reading address {addr}: {message}")]
    Io {
        /// First unreadable address.
        addr: Address,
        /// The operating system's message.
        message: String,
    },
}

impl MemError {
    /// The address the error concerns.
    pub fn addr(&self) -> Address {
        match self {
            MemError::Unmapped { addr }
            | MemError::NotInDump { addr, .. }
            | MemError::Io { addr, .. } => *addr,
        }
    }
}

/// Fill `buf` with the bytes from `addr` on, one contiguous run at a time. `run_at(a)` returns
/// the readable bytes that start exactly at `a` (at least one byte), or why there are none; reads
/// that cross from one backing region into the next are stitched together here.
pub fn read_in_runs<'a>(
    addr: Address,
    buf: &mut [u8],
    mut run_at: impl FnMut(Address) -> Result<&'a [u8], MemError>,
) -> Result<(), MemError> {
    let mut done = 0usize;
    while done < buf.len() {
        let a = addr.checked_add(done as u64).ok_or(MemError::Unmapped {
            addr: Address(u64::MAX),
        })?;
        let run = run_at(a)?;
        if run.is_empty() {
            return Err(MemError::Unmapped { addr: a });
        }
        let n = run.len().min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&run[..n]);
        done += n;
    }
    Ok(())
}

/// Read access to a target's memory.
///
/// `read_at` is the one required method. `slice` is an optional zero-copy fast path: mmapped
/// cores return a borrowed view when the whole range lies in one backing region.
pub trait Memory {
    /// Fill `buf` with the bytes at `addr..addr+buf.len()`, or say why not.
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError>;

    /// The bytes at `addr..addr+len` without copying, when they are contiguous in one backing.
    fn slice(&self, _addr: Address, _len: usize) -> Option<&[u8]> {
        None
    }

    /// Read a little-endian u8.
    fn read_u8(&self, addr: Address) -> Result<u8, MemError> {
        let mut b = [0u8; 1];
        self.read_at(addr, &mut b)?;
        Ok(b[0])
    }
    /// Read a little-endian u16.
    fn read_u16(&self, addr: Address) -> Result<u16, MemError> {
        let mut b = [0u8; 2];
        self.read_at(addr, &mut b)?;
        Ok(LittleEndian::read_u16(&b))
    }
    /// Read a little-endian u32.
    fn read_u32(&self, addr: Address) -> Result<u32, MemError> {
        let mut b = [0u8; 4];
        self.read_at(addr, &mut b)?;
        Ok(LittleEndian::read_u32(&b))
    }
    /// Read a little-endian i32.
    fn read_i32(&self, addr: Address) -> Result<i32, MemError> {
        Ok(self.read_u32(addr)? as i32)
    }
    /// Read a little-endian u64.
    fn read_u64(&self, addr: Address) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read_at(addr, &mut b)?;
        Ok(LittleEndian::read_u64(&b))
    }
    /// Read a pointer-sized word as an address.
    fn read_addr(&self, addr: Address) -> Result<Address, MemError> {
        self.read_u64(addr).map(Address)
    }
    /// Read `len` bytes into a new vector. `len` is the caller's bound: callers reading
    /// lengths out of target memory must cap them first.
    fn read_vec(&self, addr: Address, len: usize) -> Result<Vec<u8>, MemError> {
        if let Some(s) = self.slice(addr, len) {
            return Ok(s.to_vec());
        }
        // Lengths often come from the dump itself: memory grows as the reads succeed, a MiB at
        // a time, so a damaged length fails at the first unreadable byte instead of asking for
        // gigabytes first.
        const CHUNK: usize = 1 << 20;
        let mut v = Vec::with_capacity(len.min(CHUNK));
        while v.len() < len {
            let at = v.len();
            let n = (len - at).min(CHUNK);
            v.resize(at + n, 0);
            self.read_at(Address(addr.0.wrapping_add(at as u64)), &mut v[at..])?;
        }
        Ok(v)
    }
    /// Read a NUL-terminated string of at most `max` bytes (lossy UTF-8). Stops early, without
    /// error, at the end of readable memory once at least one byte was read.
    fn read_cstr(&self, addr: Address, max: usize) -> Result<String, MemError> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        let mut a = addr;
        while out.len() < max {
            let n = chunk.len().min(max - out.len());
            let n = if self.read_at(a, &mut chunk[..n]).is_ok() {
                n
            } else {
                // The chunk runs into unreadable memory: take what is readable byte by byte.
                let mut k = 0;
                while k < n
                    && self
                        .read_at(a.wrapping_add(k as u64), &mut chunk[k..k + 1])
                        .is_ok()
                {
                    k += 1;
                }
                if k == 0 {
                    if out.is_empty() {
                        self.read_at(a, &mut chunk[..1])?;
                    }
                    break;
                }
                k
            };
            if let Some(z) = chunk[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&chunk[..z]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&chunk[..n]);
            a = a.wrapping_add(n as u64);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

impl<M: Memory + ?Sized> Memory for &M {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        (**self).read_at(addr, buf)
    }
    fn slice(&self, addr: Address, len: usize) -> Option<&[u8]> {
        (**self).slice(addr, len)
    }
}

/// A byte image at a fixed base address: memory for unit tests and for small snapshots.
#[derive(Debug, Clone, Default)]
pub struct ByteImage {
    chunks: Vec<(Address, Vec<u8>)>,
}

impl ByteImage {
    /// An empty image: every read is `Unmapped`.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add bytes at `base`. Later chunks win where they overlap earlier ones.
    pub fn with(mut self, base: Address, bytes: Vec<u8>) -> Self {
        self.chunks.push((base, bytes));
        self
    }
}

impl Memory for ByteImage {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        read_in_runs(addr, buf, |a| {
            let (b, v) = self
                .chunks
                .iter()
                .rev()
                .find(|(b, v)| a >= *b && a.0 < b.0 + v.len() as u64)
                .ok_or(MemError::Unmapped { addr: a })?;
            Ok(&v[(a.0 - b.0) as usize..])
        })
    }
    fn slice(&self, addr: Address, len: usize) -> Option<&[u8]> {
        let (b, v) = self
            .chunks
            .iter()
            .rev()
            .find(|(b, v)| addr.0 >= b.0 && addr.0 < b.0 + v.len() as u64)?;
        let off = (addr.0 - b.0) as usize;
        v.get(off..off.checked_add(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_image_reads_across_chunks_and_reports_unmapped() {
        let m = ByteImage::new()
            .with(Address(0x1000), vec![1, 2, 3, 4])
            .with(Address(0x1004), vec![5, 6, 7, 8]);
        assert_eq!(m.read_u64(Address(0x1000)).unwrap(), 0x0807060504030201);
        assert_eq!(m.read_u16(Address(0x1003)).unwrap(), 0x0504);
        assert_eq!(
            m.read_u32(Address(0x1006)),
            Err(MemError::Unmapped {
                addr: Address(0x1008)
            })
        );
        assert_eq!(
            m.read_u8(Address(0xfff)),
            Err(MemError::Unmapped {
                addr: Address(0xfff)
            })
        );
        assert!(
            m.slice(Address(0x1002), 3).is_none(),
            "a slice never spans chunks"
        );
        assert_eq!(m.slice(Address(0x1001), 2), Some(&[2u8, 3][..]));
    }

    #[test]
    fn cstr_stops_at_nul_and_at_end_of_memory() {
        let m = ByteImage::new().with(Address(0x40), b"hello\0world".to_vec());
        assert_eq!(m.read_cstr(Address(0x40), 100).unwrap(), "hello");
        assert_eq!(m.read_cstr(Address(0x46), 100).unwrap(), "world");
        assert_eq!(m.read_cstr(Address(0x40), 3).unwrap(), "hel");
        assert!(m.read_cstr(Address(0x10), 3).is_err());
    }
}
