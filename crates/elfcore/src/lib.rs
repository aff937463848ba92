//! ELF core dumps and the executables that produced them, seen as a process.
//!
//! This crate knows ELF, Linux core notes and address spaces, and nothing of V8 or Node.js.
//! Everything above it (the V8 heap, the CLI, the Python bridge) reads memory through the
//! [`Memory`] trait, so the same code runs on a core file, a live process or a byte image.
//!
//! Layers, bottom up:
//! * [`memory`]: the `Memory` trait, [`Address`], typed read helpers and [`MemError`], which
//!   always says *why* a read failed (not mapped, mapped but absent from the dump, I/O).
//! * [`core`]: the core file itself: PT_LOAD segments and the notes (threads and registers,
//!   mapped files, auxv, siginfo, process info).
//! * [`elfimage`]: an executable or library on disk: segments, build ID, symbols, DWARF lines.
//! * [`space`]: the process address space: the core's own segments over the file-backed pages
//!   of the executable and libraries, answering reads that cross mapping boundaries.
#![deny(missing_docs)]

pub mod arch;
pub mod core;
pub mod dump;
pub mod elfimage;
pub mod error;
pub mod malloc;
pub mod memory;
pub mod modules;
pub mod space;
pub mod unpack;

pub use crate::arch::{Arch, Regs};
pub use crate::core::{CoreFile, MappedFile, Segment, ThreadInfo};
pub use crate::dump::{CoreDump, Dump, LiveProcess, Overlay};
pub use crate::elfimage::{CfaBase, ElfImage, Symbol, UnwindRow};
pub use crate::error::{Error, Result};
pub use crate::memory::{Address, ByteImage, MemError, Memory};
pub use crate::modules::{Modules, NativeSymbol};
pub use crate::space::{AddressSpace, Backing, Region};
