//! What `info` reports: a serializable summary of an opened process, shared by every front end.

use crate::heap::pages::SpaceTotals;
use crate::heap::walk::{WalkTotals, Walker};
use crate::meta::layout::Resolved;
use crate::process::{Check, ExeCheck, IsolateInfo, Process};
use elfcore::core::signal_name;
use elfcore::Address;
use serde::Serialize;
use std::collections::BTreeMap;

/// Summary of a core.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// The core file.
    pub core: CoreSummary,
    /// Why the process died.
    pub crash: Crash,
    /// The executable and its check.
    pub executable: ExeCheck,
    /// Node.js version (`20.20.2`), when readable.
    pub node_version: Option<String>,
    /// V8 version.
    pub v8_version: String,
    /// The version table used.
    pub layout_table: String,
    /// Metadata counts and fallbacks.
    pub metadata: MetadataSummary,
    /// Sanity checks.
    pub checks: Vec<Check>,
    /// The heap.
    pub heap: HeapSummary,
    /// Every heap page, when asked for (`info --pages`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<Vec<crate::heap::pages::Page>>,
}

/// The core file.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CoreSummary {
    /// Path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Process id.
    pub pid: Option<u32>,
    /// Command line as the kernel recorded it (80 bytes at most).
    pub command: Option<String>,
    /// Threads (tid, signal), signalled thread first.
    pub threads: Vec<ThreadSummary>,
    /// Memory segments.
    pub segments: usize,
    /// Set when the core is truncated: a description of what is missing.
    pub truncated: Option<String>,
}

/// One thread.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ThreadSummary {
    /// Kernel thread id.
    pub tid: u32,
    /// Signal it was handling (0: none).
    pub signal: u32,
    /// Instruction pointer.
    pub pc: Address,
}

/// The fatal signal.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Crash {
    /// Signal number.
    pub signal: Option<i32>,
    /// Signal name.
    pub signal_name: Option<String>,
    /// The thread that received it.
    pub thread: Option<u32>,
    /// `si_code` from NT_SIGINFO.
    pub si_code: Option<i32>,
    /// The sender, for signals sent by a process (abort() sends to itself).
    pub sender_pid: Option<u32>,
    /// The faulting address, for SIGSEGV and friends.
    pub fault_addr: Option<Address>,
}

/// Metadata counts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MetadataSummary {
    /// `v8dbg_` constants.
    pub constants: usize,
    /// Of which class field offsets.
    pub class_fields: usize,
    /// Instance types named.
    pub instance_types: usize,
    /// Values taken from the version table: field and frame offsets the metadata lacks, and
    /// the table's own facts (page header, isolate, roots, ScopeInfo, code kinds, sizes).
    pub table_values: Vec<Resolved>,
}

/// The heap.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HeapSummary {
    /// The `Heap*` of the main isolate.
    pub heap: Address,
    /// Isolate and roots, when verified.
    pub isolate: Option<IsolateInfo>,
    /// Pages.
    pub pages: u64,
    /// Committed bytes.
    pub committed: u64,
    /// Per space, by name.
    pub spaces: BTreeMap<String, SpaceTotals>,
    /// Pages of other heaps (worker isolates), not included above.
    pub other_heap_pages: usize,
    /// Pages with a header that are not on their space's list (pooled), not included above.
    pub unlisted_pages: usize,
    /// What the object walk found per space: objects, free space, and bytes it could not parse.
    pub walk: BTreeMap<String, WalkTotals>,
}

impl Summary {
    /// Summarize an opened process; `pages` lists every heap page too.
    pub fn of(p: &Process, pages: bool) -> Summary {
        let core = p.dump();
        let spaces = p.pages.per_space();
        let threads = core
            .threads()
            .iter()
            .map(|t| ThreadSummary {
                tid: t.tid,
                signal: t.signal,
                pc: Address(t.regs.pc()),
            })
            .collect();
        let sig = core.signal();
        let si = core.siginfo();
        Summary {
            core: CoreSummary {
                path: core.name(),
                size: core.size(),
                pid: core.process().map(|pi| pi.pid),
                command: core.process().map(|pi| pi.psargs.clone()),
                threads,
                segments: core.segments().len(),
                truncated: core.truncation().map(|t| {
                    format!(
                        "{} of {} bytes present; {} segments cut short",
                        t.file_size,
                        t.expected_size,
                        t.segments.len()
                    )
                }),
            },
            crash: Crash {
                signal: sig,
                signal_name: sig.map(|s| signal_name(s).to_string()),
                thread: core.threads().first().map(|t| t.tid),
                si_code: si.map(|s| s.code),
                sender_pid: si.and_then(|s| s.sender_pid),
                fault_addr: si.and_then(|s| s.fault_addr),
            },
            executable: p.exe_check.clone(),
            node_version: p.versions.node.clone(),
            v8_version: p.versions.v8.to_string(),
            layout_table: format!(
                "V8 {}.{} (Node.js {})",
                p.table.v8.0, p.table.v8.1, p.table.node_major
            ),
            metadata: MetadataSummary {
                constants: p.metadata.len(),
                class_fields: p.metadata.field_count(),
                instance_types: p.metadata.instance_types().count(),
                table_values: p.table_values(),
            },
            checks: p.checks.clone(),
            heap: HeapSummary {
                heap: p.pages.heap,
                isolate: p.isolate.clone(),
                pages: spaces.values().map(|s| s.pages).sum(),
                committed: spaces.values().map(|s| s.committed).sum(),
                spaces,
                other_heap_pages: p.pages.other_heap_pages.len(),
                unlisted_pages: p.pages.unlisted_pages.len(),
                walk: Walker::new(p).walk_all(|_, _| {}).per_space,
            },
            pages: pages.then(|| p.pages.pages.clone()),
        }
    }
}
