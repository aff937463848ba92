//! [`Input`]: a core or a heap snapshot, told apart by content, behind one set of questions.
//! Front ends open an `Input` and ask it; a question only a core can answer (stacks, the
//! process, memory outside the heap) gives [`Error::NeedsCore`] on a snapshot, saying why.

use crate::answer::*;
use crate::error::{Error, Result};
use crate::heapsnap::SnapshotSession;
use crate::inspect::Limits;
use crate::session::{parse_address, DiffSide, ObjectsQuery, ProgressFn, Session};
use crate::OpenOptions;
use std::path::Path;

/// An opened dump of either kind.
pub enum Input {
    /// A core file (or a live process).
    Core(Session),
    /// A `.heapsnapshot` file.
    Snapshot(SnapshotSession),
}

/// How an object is named on the command line: an address (cores) or `@ID` (snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `0x...` or a decimal address.
    Address(u64),
    /// `@ID`: a heap snapshot node id.
    Node(u64),
}

/// Parse `0x...`, a decimal address, or `@ID`.
///
/// ```
/// use v8core::input::{parse_target, Target};
/// assert_eq!(parse_target("@123").unwrap(), Target::Node(123));
/// assert_eq!(parse_target("0x10").unwrap(), Target::Address(16));
/// assert!(parse_target("@x").is_err());
/// ```
pub fn parse_target(s: &str) -> Result<Target> {
    match s.trim().strip_prefix('@') {
        Some(id) => id.parse().map(Target::Node).map_err(|_| Error::BadAddress {
            text: s.to_string(),
        }),
        None => parse_address(s).map(Target::Address),
    }
}

impl Input {
    /// Open `path`: a heap snapshot if its content is one (compressed or not), else a core
    /// with `opts`.
    pub fn open(path: &Path, opts: &OpenOptions, progress: Option<ProgressFn>) -> Result<Input> {
        if crate::heapsnap::is_snapshot_file(path)? {
            return Ok(Input::Snapshot(SnapshotSession::open_with(path, progress)?));
        }
        let s = Session::open(path, opts)?;
        Ok(Input::Core(match progress {
            Some(p) => s.with_progress(p),
            None => s,
        }))
    }

    /// The core session, or why a snapshot cannot answer `command`.
    pub fn core(&self, command: &'static str) -> Result<&Session> {
        match self {
            Input::Core(s) => Ok(s),
            Input::Snapshot(s) => Err(Error::NeedsCore {
                command,
                path: s.path().to_path_buf(),
                what: needs(command),
            }),
        }
    }

    /// `findjsobjects`.
    pub fn objects(&self, q: &ObjectsQuery) -> Answer<Objects> {
        match self {
            Input::Core(s) => s.objects(q),
            Input::Snapshot(s) => s.objects(q),
        }
    }

    /// `findjsinstances NAME`.
    pub fn instances(
        &self,
        name: &str,
        all: bool,
        limit: usize,
        skip: usize,
    ) -> Result<Answer<Instances>> {
        match self {
            Input::Core(s) => s.instances(name, all, limit, skip),
            Input::Snapshot(s) => s.instances(name, all, limit, skip),
        }
    }

    /// `inspect TARGET`.
    pub fn inspect(&self, target: &str, limits: Limits) -> Result<Answer<Inspection>> {
        match self {
            Input::Core(s) => Ok(s.inspect(self.address(target)?, limits)),
            Input::Snapshot(s) => s.inspect(self.node(target)?, limits),
        }
    }

    /// `findrefs TARGET`.
    pub fn refs(&self, target: &str, limit: usize) -> Result<Answer<Refs>> {
        match self {
            Input::Core(s) => s.refs(self.address(target)?, limit),
            Input::Snapshot(s) => s.refs(self.node(target)?, limit),
        }
    }

    /// `findrefs -n NAME`.
    pub fn property_holders(&self, name: &str, limit: usize) -> Answer<PropertyHolders> {
        match self {
            Input::Core(s) => s.property_holders(name, limit),
            Input::Snapshot(s) => s.property_holders(name, limit),
        }
    }

    /// `findrefs -s TEXT`.
    pub fn string_refs(&self, text: &str, limit: usize) -> Answer<StringRefs> {
        match self {
            Input::Core(s) => s.string_refs(text, limit),
            Input::Snapshot(s) => s.string_refs(text, limit),
        }
    }

    /// `retainers TARGET`.
    pub fn retainers(&self, target: &str, paths: usize, depth: usize) -> Result<Answer<Retainers>> {
        match self {
            Input::Core(s) => s.retainers(self.address(target)?, paths, depth),
            Input::Snapshot(s) => s.retainers(self.node(target)?, paths, depth),
        }
    }

    /// `top`.
    pub fn top(&self, limit: usize) -> Answer<Top> {
        match self {
            Input::Core(s) => s.top(limit),
            Input::Snapshot(s) => s.top(limit),
        }
    }

    /// `flamegraph`: retained memory as a tree of frames.
    pub fn retained_tree(
        &self,
        opts: &crate::flame::TreeOptions,
    ) -> Answer<crate::flame::RetainedTree> {
        match self {
            Input::Core(s) => s.retained_tree(opts),
            Input::Snapshot(s) => s.retained_tree(opts),
        }
    }

    /// `leaks`.
    pub fn leaks(&self, opts: &crate::leaks::LeakOptions) -> Answer<crate::leaks::Leaks> {
        match self {
            Input::Core(s) => s.leaks(opts),
            Input::Snapshot(s) => s.leaks(opts),
        }
    }

    /// One side of `diff`; holders of memory too when `holders`.
    pub fn diff_side_with(&self, holders: bool) -> DiffSide {
        match self {
            Input::Core(s) => s.diff_side_with(holders),
            Input::Snapshot(s) => s.diff_side_with(holders),
        }
    }

    fn address(&self, target: &str) -> Result<u64> {
        match parse_target(target)? {
            Target::Address(a) => Ok(a),
            Target::Node(_) => Err(Error::BadAddress {
                text: format!("{target} (an @ID names a heap snapshot's node; a core's objects are named by address)"),
            }),
        }
    }

    fn node(&self, target: &str) -> Result<u64> {
        match parse_target(target)? {
            Target::Node(id) => Ok(id),
            Target::Address(_) => Err(Error::BadAddress {
                text: format!("{target} (a heap snapshot names its objects @ID, as findjsinstances lists them)"),
            }),
        }
    }
}

/// What a heap snapshot lacks for a command that needs a core.
fn needs(command: &str) -> &'static str {
    match command {
        "bt" | "source" => "threads, stacks or code",
        "nodeinfo" => "process state (argv, environment, versions)",
        "memory" => "memory outside the V8 heap or its page layout",
        "handles" => "libuv handles or requests",
        "heapsnapshot" => "more than it already is",
        _ => "process memory",
    }
}
