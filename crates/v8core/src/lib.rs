//! V8 heap reconstruction from Node.js core dumps.
//!
//! Built on [`elfcore`] (which knows ELF and address spaces, nothing of V8), this crate knows V8:
//! its postmortem metadata ([`metadata`]), the per-version facts the metadata lacks
//! ([`tables`]), the resolved object layout ([`layout`]), heap pages ([`pages`]), and the
//! opened, checked process ([`process`]). It prints nothing and knows no terminal, lldb or
//! Python: front ends translate its typed results.
#![deny(missing_docs)]

pub mod batch;
pub mod census;
pub mod dominators;
pub mod error;
pub mod fields;
pub mod graph;
pub mod heap;
pub mod heapindex;
pub mod inspect;
pub mod kinds;
pub mod layout;
pub mod metadata;
pub mod naming;
pub mod nodeinfo;
pub mod objects;
pub mod pages;
pub mod position;
pub mod process;
pub mod report;
pub mod session;
pub mod snapshot;
pub mod stack;
pub mod summary;
pub mod tables;
pub mod types;

pub use error::{Error, Result};
pub use process::{OpenOptions, Process};
pub use session::Heap;
pub use tables::V8Version;
