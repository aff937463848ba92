//! Compressed cores: systemd-coredump stores zstd files, archives hold gzip or lz4 ones. A core
//! must be mmapped, so a compressed one is decompressed once into an unnamed temporary file
//! (`O_TMPFILE`: it disappears with the process, whatever happens) in `$V8DUMP_UNPACK_DIR` or
//! the system's temporary directory. Runs of zeros are written as holes, so the temporary file
//! takes about the space of the core's data, not of its address-space reservations. It is
//! readable by its owner only.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A compression format recognized by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Zstandard (systemd-coredump's `.zst`).
    Zstd,
    /// gzip.
    Gzip,
    /// LZ4 frame format.
    Lz4,
}

impl Compression {
    /// The format of a file that starts with `head`, if it is a compressed one.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        match head {
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x04, 0x22, 0x4d, 0x18, ..] => Some(Compression::Lz4),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
        }
    }
}

/// The compression of the file at `path`, if any.
pub fn detect_file(path: &Path) -> Result<Option<Compression>> {
    let mut head = [0u8; 4];
    let mut f = File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let n = f.read(&mut head).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    Ok(Compression::detect(&head[..n]))
}

/// Where compressed cores are unpacked.
pub fn unpack_dir() -> PathBuf {
    std::env::var_os("V8DUMP_UNPACK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A writer that turns aligned all-zero blocks into holes.
struct SparseWriter {
    f: File,
    pending_hole: u64,
}

impl SparseWriter {
    const BLOCK: usize = 64 << 10;

    fn write_block(&mut self, b: &[u8]) -> io::Result<()> {
        if b.iter().all(|&x| x == 0) {
            self.pending_hole += b.len() as u64;
            return Ok(());
        }
        if self.pending_hole > 0 {
            self.f.seek(SeekFrom::Current(self.pending_hole as i64))?;
            self.pending_hole = 0;
        }
        self.f.write_all(b)
    }

    fn finish(mut self) -> io::Result<File> {
        let end = self.f.stream_position()? + self.pending_hole;
        self.f.set_len(end)?;
        Ok(self.f)
    }
}

fn decoder<'a>(input: impl Read + 'a, c: Compression) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match c {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
    })
}

/// The first `n` bytes of `path` as they unpack (all of them, if fewer): what a compressed
/// file holds, told by its content before anything is written to disk.
pub fn head(path: &Path, c: Compression, n: usize) -> Result<Vec<u8>> {
    let io_err = |source: io::Error| Error::Io {
        path: path.into(),
        source,
    };
    let input = File::open(path).map_err(io_err)?;
    let mut r = decoder(io::BufReader::new(input), c).map_err(io_err)?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Decompress `path` (in format `c`) into a new unnamed temporary file and return it; more
/// than `limit` bytes (the size the content's own headers give) is an error, found as soon
/// as the stream passes it.
pub fn unpack(path: &Path, c: Compression, limit: Option<u64>) -> Result<File> {
    let dir = unpack_dir();
    let io_err = |source: io::Error| Error::Io {
        path: path.into(),
        source,
    };
    let tmp = tempfile::tempfile_in(&dir).map_err(|source| Error::Unpack {
        path: path.into(),
        dir: dir.clone(),
        message: format!("cannot create a temporary file there: {source}"),
    })?;
    // The unpacked core holds the process's memory, secrets included: owner-only, before a
    // byte is written (O_TMPFILE files are made with the umask's mode, often 0644).
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|source| Error::Unpack {
                path: path.into(),
                dir: dir.clone(),
                message: format!("cannot make the temporary file owner-only: {source}"),
            })?;
    }
    let input = File::open(path).map_err(io_err)?;
    let input = io::BufReader::with_capacity(1 << 20, input);
    let mut reader = decoder(input, c).map_err(io_err)?;
    let mut w = SparseWriter {
        f: tmp,
        pending_hole: 0,
    };
    let mut buf = vec![0u8; SparseWriter::BLOCK];
    let mut total: u64 = 0;
    loop {
        // Fill a whole block (decoders return short reads) so holes stay block-aligned.
        let mut got = 0;
        while got < buf.len() {
            match reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Unpack {
                        path: path.into(),
                        dir,
                        message: format!(
                            "the {} data is damaged or cut short after {total} bytes: {e}",
                            c.name()
                        ),
                    })
                }
            }
        }
        if got == 0 {
            break;
        }
        if let Some(limit) = limit.filter(|&l| total + got as u64 > l) {
            return Err(Error::Unpack {
                path: path.into(),
                dir,
                message: format!(
                    "it unpacks to more than the {limit} bytes its own headers give: the {} \
                     data is damaged, or holds more than one core",
                    c.name()
                ),
            });
        }
        w.write_block(&buf[..got]).map_err(|e| {
            let message = if e.raw_os_error() == Some(libc::ENOSPC) {
                format!(
                    "no space left after {total} bytes; free some, or set V8DUMP_UNPACK_DIR to \
                     a directory with room for the uncompressed core"
                )
            } else {
                format!("writing the uncompressed core failed after {total} bytes: {e}")
            };
            Error::Unpack {
                path: path.into(),
                dir: dir.clone(),
                message,
            }
        })?;
        total += got as u64;
    }
    w.finish().map_err(io_err)
}
