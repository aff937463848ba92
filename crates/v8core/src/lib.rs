//! V8 heap reconstruction from Node.js core dumps.
//!
//! Built on [`elfcore`] (which knows ELF and address spaces, nothing of V8), this crate knows V8:
//! its postmortem metadata ([`metadata`]), the per-version facts the metadata lacks
//! ([`tables`]), the resolved object layout ([`layout`]), heap pages ([`pages`]), and the
//! opened, checked process ([`process`]). It prints nothing and knows no terminal, lldb or
//! Python: front ends translate its typed results.
#![deny(missing_docs)]

pub mod answer;
pub mod calibrate;
pub mod crash;
pub mod error;
pub mod graph;
pub mod heap;
pub mod info;
pub mod inspect;
pub mod meta;
pub mod objects;
pub mod process;
pub mod render;
pub mod session;

pub use error::{Error, Result};
pub use heap::loaded::Heap;
pub use meta::tables::V8Version;
pub use process::{OpenOptions, Process};
pub use session::Session;
