//! V8 heap reconstruction from Node.js core dumps: the analysis layer of v8dump.
//!
//! Start at [`Session`]: it opens a core (or a stopped live process) and answers every
//! question v8dump asks with a typed, serializable [`answer::Answer`]; [`render`] turns an
//! answer into the text the CLI prints. Every front end (the `v8dump` CLI, the Python module,
//! the lldb plugin) is argument parsing, one session call and rendering.
//!
//! ```
//! # let core = v8dump_testkit::fixture("listener_leak", 20).core;
//! use v8core::session::{ObjectsQuery, Session};
//! use v8core::OpenOptions;
//!
//! let s = Session::open(&core, &OpenOptions::default())?;
//! let census = s.objects(&ObjectsQuery::default());
//! let sessions = census.body.rows.iter().find(|r| r.name == "UserSession").unwrap();
//! assert_eq!(sessions.count, 2000);
//! print!("{}", census.text());
//! # Ok::<(), v8core::Error>(())
//! ```
//!
//! Below the session, by what each part knows (built on [`elfcore`], which knows ELF and
//! address spaces and nothing of V8):
//!
//! * [`meta`]: V8 as this binary has it: its `v8dbg_` metadata, the per-version
//!   [`meta::tables`] for what the metadata lacks, the resolved layouts, the instance types.
//! * [`process`], [`calibrate`]: the opened, checked process (and, for a V8 version without a
//!   table, what is measured in the core).
//! * [`heap`]: pages, the object walk, the object index, liveness.
//! * [`objects`]: reading objects, V8's constructor names, the census, source positions.
//! * [`graph`]: the reverse reference index, named edges, retainer paths, dominators, the
//!   DevTools snapshot export.
//! * [`inspect`]: values as trees; [`crash`]: stacks, the Node.js process, the report, batches.
//!
//! It prints nothing and knows no terminal, lldb or Python.
#![deny(missing_docs)]

pub mod answer;
pub mod calibrate;
pub mod completeness;
pub mod crash;
pub mod error;
pub mod flame;
pub mod graph;
pub mod heap;
pub mod heapsnap;
pub mod info;
pub mod input;
pub mod inspect;
pub mod leaks;
pub mod memory;
pub mod meta;
pub mod objects;
pub mod page;
pub mod process;
pub mod redact;
pub mod render;
pub mod schema;
pub mod session;

pub use error::{Error, Result};
pub use heap::loaded::Heap;
pub use heapsnap::SnapshotSession;
pub use meta::tables::V8Version;
pub use process::{OpenOptions, Process};
pub use session::Session;
