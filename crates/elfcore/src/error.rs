//! Errors of the ELF layer. Each names the file it concerns and reads as a sentence.

use crate::memory::{Address, MemError};
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong opening or reading a core file or an ELF image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening or mapping the file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A compressed core could not be unpacked.
    #[error("cannot unpack the compressed core {path} into {dir}: {message}")]
    Unpack {
        /// The compressed core.
        path: PathBuf,
        /// Where it was being unpacked.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file does not start with the ELF magic.
    #[error("{path} is not an ELF file (it does not start with the ELF magic bytes); is it really a core dump?")]
    NotElf {
        /// The file.
        path: PathBuf,
    },
    /// An ELF file, but not of the class/machine this tool reads.
    #[error(
        "{path} is an ELF file for {what}; only 64-bit little-endian x86-64 and arm64 Linux are supported"
    )]
    UnsupportedElf {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// An ELF file that is not a core dump (an executable, a library, an object file).
    #[error("{path} is an ELF {kind}, not a core dump (ELF type ET_CORE)")]
    NotACore {
        /// The file.
        path: PathBuf,
        /// Its ELF type in words.
        kind: &'static str,
    },
    /// The file is shorter than its own headers say.
    #[error("{path} is truncated: the file has {actual} bytes but {what} extends to offset {needed} (was the dump interrupted or the disk full?)")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What lies past the end.
        what: String,
        /// File offset needed.
        needed: u64,
        /// File size.
        actual: u64,
    },
    /// Headers or notes that do not parse.
    #[error("{path} is damaged: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A read of target memory failed.
    #[error(transparent)]
    Memory(#[from] MemError),
    /// A symbol that must exist does not.
    #[error("symbol {name} not found in {path}")]
    NoSymbol {
        /// The file searched.
        path: PathBuf,
        /// The symbol.
        name: String,
    },
    /// A build ID could not be found where it must be.
    #[error("no GNU build ID in the image at {addr}")]
    NoBuildId {
        /// Where the image was looked for.
        addr: Address,
    },
}
