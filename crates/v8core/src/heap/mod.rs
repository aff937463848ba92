//! The heap as memory: V8's pages, the object-by-object walk, the object index and liveness,
//! and the loaded heap every question shares.

pub mod index;
pub mod loaded;
pub mod marking;
pub mod pages;
pub mod walk;

/// Bytes of the core a pass that reads all over the heap (marking, the dominator search, the
/// exports) may keep resident before it lets the core's pages go: they stay in the page cache,
/// so reading them again costs a page fault, not a disk read.
pub const RESIDENT_CORE_BYTES: u64 = 64 << 20;
