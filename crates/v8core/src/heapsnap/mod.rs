//! Heap snapshots as input: `.heapsnapshot` files written by `v8.writeHeapSnapshot()`,
//! `--heapsnapshot-near-heap-limit`, `--heapsnapshot-signal`, DevTools, or v8dump's own
//! `heapsnapshot` export, plain or compressed.
//!
//! * `parse`: the streaming reader (mmapped, the number arrays parsed in parallel into
//!   compact columns, strings decoded when shown).
//! * `graph`: [`SnapGraph`], the nodes and edges in compact arrays, the reverse edges, and
//!   the dominator rules of DevTools.
//! * `session`: [`SnapshotSession`], which answers with the same typed answers as a core's
//!   [`crate::Session`], objects named `@ID`.

mod graph;
mod leaks;
mod parse;
mod session;

pub use graph::SnapGraph;
pub use parse::{is_snapshot_file, looks_like_snapshot, Meta};
pub use session::{SnapshotReport, SnapshotSession, SnapshotSummary};
