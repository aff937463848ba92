//! The answers a [`Session`](crate::session::Session) gives: one typed, serializable struct per
//! question. Every front end shows these and nothing else: the CLI prints them as text
//! ([`crate::render`]) or JSON, the Python module returns them as dicts, the lldb plugin prints
//! their text. Their JSON is the documented, stable machine interface (`docs/JSON.md`).
//!
//! Every answer is wrapped in an [`Answer`], which says what was asked and how complete the
//! answer is ([`Partial`]): a core cut short, an executable used despite a build-ID mismatch, a
//! V8 version answered with a neighbouring version's table.

use crate::graph::edges::EdgeKind;
use crate::graph::paths::RootKind;
use crate::objects::census::CensusRow;
use serde::Serialize;

/// The version of the JSON shapes below; bumped when a field changes meaning or goes away
/// (new fields may be added without a bump).
pub const SCHEMA_VERSION: u32 = 1;

/// One answer with its envelope: `{"schema_version", "command", "partial", ...body}`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Answer<T> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The question answered (`findjsobjects`, `retainers`...).
    pub command: &'static str,
    /// Set when the answer may be incomplete or less certain than usual, and why.
    pub partial: Option<Partial>,
    /// The answer itself.
    #[serde(flatten)]
    pub body: T,
}

impl<T> Answer<T> {
    /// The same envelope (command, marks) around another body: what was made from this
    /// answer (a file written from it).
    pub fn with_body<U>(&self, body: U) -> Answer<U> {
        Answer {
            schema_version: self.schema_version,
            command: self.command,
            partial: self.partial.clone(),
            body,
        }
    }
}

/// Why an answer may be incomplete or uncertain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Partial {
    /// Each reason, most serious first.
    pub reasons: Vec<Caveat>,
}

/// One reason an answer is marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Caveat {
    /// What kind of problem.
    pub kind: CaveatKind,
    /// What was seen and what it affects, in one sentence.
    pub message: String,
}

/// The kinds of [`Caveat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaveatKind {
    /// Heap pages were found but no object could be parsed in them: the answer is empty
    /// because the heap could not be read. The CLI exits with status 4 after printing it.
    NoObjects,
    /// The core file is shorter than its headers say; memory past the cut is missing.
    TruncatedCore,
    /// Heap pages, or parts of pages, are not in the core (the message says how much of
    /// which space): counts may be low.
    MissingHeap,
    /// Stretches of heap pages could not be parsed as objects: damage, or a layout that does
    /// not fit. Counts may be low.
    DamagedHeap,
    /// The executable's build ID differs from the core's (`--force`).
    ExecutableMismatch,
    /// No table is verified for this V8 version; a neighbouring version's table was used
    /// after its checks passed (or one was forced with `--layout`).
    UnverifiedTable,
    /// A sanity check of the layout against the core failed.
    FailedCheck,
}

impl CaveatKind {
    /// Whether an answer with this caveat cannot be used at all (it is still given, so the
    /// reason is seen, but a script must not take it for a result).
    pub fn unusable(self) -> bool {
        matches!(self, CaveatKind::NoObjects)
    }
}

impl Partial {
    /// Whether any reason makes the answer unusable ([`CaveatKind::unusable`]).
    pub fn unusable(&self) -> bool {
        self.reasons.iter().any(|c| c.kind.unusable())
    }
}

/// An object as answers name it: its address (tagged, as V8 stores pointers to it) and how a
/// JavaScript developer calls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ObjectRef {
    /// Tagged address, `0x...`.
    pub address: String,
    /// Constructor name, `system / Context`, `Function name`, or the engine's type.
    pub name: String,
}

/// Which objects a census counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountScope {
    /// Objects reachable from the roots (what V8's own snapshot holds).
    Reachable,
    /// Every object found on the heap pages, dead ones too.
    All,
}

/// `findjsobjects`: objects per constructor.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Objects {
    /// What was counted.
    pub scope: CountScope,
    /// Rows are split by own property names (`-d`).
    pub by_properties: bool,
    /// Rows carry retained sizes and are sorted by them.
    pub retained: bool,
    /// Rows, largest first (total self size, or retained size with `retained`), cut to the
    /// number asked for.
    pub rows: Vec<CensusRow>,
    /// Totals over every row, also those cut.
    pub total: ObjectTotals,
    /// The heap the census ran over.
    pub heap: HeapCounts,
}

/// Totals of a census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ObjectTotals {
    /// Objects counted.
    pub objects: u64,
    /// Their total self size.
    pub bytes: u64,
    /// Distinct names (rows before any cut).
    pub names: u64,
}

/// How many objects the heap holds and how many are alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HeapCounts {
    /// Objects found on the heap pages.
    pub objects: u64,
    /// Of which reachable from the roots.
    pub reachable: u64,
    /// Objects pointed at from outside the heap (stacks, handles, globals).
    pub roots: u64,
}

/// One object in a listing.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InstanceRow {
    /// Tagged address.
    pub address: String,
    /// Self size in bytes.
    pub size: u32,
    /// Reachable from the roots.
    pub reachable: bool,
    /// One line describing it.
    pub summary: String,
}

/// `findjsinstances NAME`: the objects of one constructor, paged.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Instances {
    /// The constructor name.
    pub name: String,
    /// Objects of that name in all.
    pub total: usize,
    /// How many were skipped before the first shown.
    pub skip: usize,
    /// The objects shown, in address order.
    pub instances: Vec<InstanceRow>,
}

/// `source ADDR`: a function's source text, read from its script in the core.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FunctionSource {
    /// The function (tagged).
    pub function: String,
    /// Its debug name (`(anonymous)` when it has none).
    pub name: String,
    /// Its script's name (file or URL).
    pub script: Option<String>,
    /// 1-based line and column where the text starts.
    pub start: SourcePoint,
    /// 1-based line and column of the text's last character.
    pub end: SourcePoint,
    /// The function's text, as `Function.prototype.toString()` gives it.
    pub text: String,
    /// The whole lines the function spans, with the context lines asked for around them.
    pub lines: Vec<SourceLine>,
    /// For a frame's function: the line it was executing, when known exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_line: Option<u64>,
}

/// A line and column in a script (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SourcePoint {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

/// One numbered line of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SourceLine {
    /// 1-based line number.
    pub line: u64,
    /// The line's text, without its terminator.
    pub text: String,
    /// Whether the function's text covers part of the line (false for context lines).
    pub in_function: bool,
}

/// `inspect ADDR`: one value as a tree.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Inspection {
    /// The value.
    #[serde(flatten)]
    pub value: crate::inspect::Value,
}

/// One reference to an object.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Ref {
    /// The object holding the reference (tagged), as a JavaScript developer sees it (the owner of
    /// a property store or elements store, not the store).
    pub holder: String,
    /// The holder's name.
    pub holder_name: String,
    /// The edge: `.name`, `[17]`, a closure variable, an internal field.
    pub edge: String,
    /// How the edge reads.
    pub kind: EdgeKind,
    /// Whether the holder is reachable (a dead holder retains nothing).
    pub reachable: bool,
    /// Engine objects the reference passes through (`PropertyArray 0x...`), outermost last.
    pub via: Vec<String>,
}

/// `findrefs ADDR`: who references an object.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Refs {
    /// The object (tagged).
    pub target: String,
    /// Its name.
    pub target_name: String,
    /// References in all.
    pub total: usize,
    /// The references shown.
    pub refs: Vec<Ref>,
}

/// One object with a property of the name asked for.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PropertyHolder {
    /// The object (tagged).
    pub holder: String,
    /// Its name.
    pub holder_name: String,
    /// The property's value, on one line.
    pub value: String,
}

/// `findrefs -n NAME`: objects with an own property `NAME`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PropertyHolders {
    /// The property name.
    pub property: String,
    /// Objects in all.
    pub total: usize,
    /// The objects shown.
    pub objects: Vec<PropertyHolder>,
}

/// A reference to a string equal to the text asked for.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StringRef {
    /// The string object (tagged).
    pub string: String,
    /// The reference.
    #[serde(flatten)]
    pub r: Ref,
}

/// `findrefs -s TEXT`: who references strings equal to `TEXT`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StringRefs {
    /// The text.
    pub text: String,
    /// Every string object equal to it (tagged).
    pub strings: Vec<String>,
    /// References in all.
    pub total: usize,
    /// The references shown.
    pub refs: Vec<StringRef>,
}

/// One step of a retainer path: `target` is held by `holder` under `edge`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PathStep {
    /// The object held (tagged).
    pub target: String,
    /// Its name.
    pub target_name: String,
    /// The holder (tagged).
    pub holder: String,
    /// Its name.
    pub holder_name: String,
    /// The edge.
    pub edge: String,
    /// How the edge reads.
    pub kind: EdgeKind,
}

/// One retainer path, from the object out to a root.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PathOut {
    /// The object at the root end (tagged).
    pub root: String,
    /// Its name.
    pub root_name: String,
    /// Why it is a root.
    pub root_kind: RootKind,
    /// The same in words: `a global object`, `root: pointed at from the stack of thread 2`.
    pub root_words: String,
    /// Steps from the object outwards.
    pub steps: Vec<PathStep>,
    /// The path on one line: `UserSession <- session system / Context <- ...`.
    pub chain: String,
}

/// `retainers ADDR`: what keeps an object alive.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Retainers {
    /// The object (tagged).
    pub target: String,
    /// Its name.
    pub target_name: String,
    /// Steps searched at most.
    pub depth: usize,
    /// The shortest paths found, those ending at a global object first.
    pub paths: Vec<PathOut>,
}

/// One object among those retaining the most.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TopRow {
    /// Tagged address.
    pub address: String,
    /// Its name.
    pub name: String,
    /// Self size.
    pub self_size: u32,
    /// Retained size: what would be freed with it.
    pub retained: u64,
    /// One line describing it.
    pub summary: String,
}

/// `top`: the objects with the largest retained sizes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Top {
    /// Largest first.
    pub rows: Vec<TopRow>,
    /// Objects reached from the roots through strong references (the dominator tree's size).
    pub reached: u64,
    /// Objects reachable at all (weak references included).
    pub reachable: u64,
}

/// One constructor's change between two dumps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiffRow {
    /// Constructor name.
    pub name: String,
    /// Instances in the first dump.
    pub count_a: u64,
    /// Instances in the second.
    pub count_b: u64,
    /// `count_b - count_a`.
    pub count_delta: i64,
    /// Total self size in the first dump.
    pub size_a: u64,
    /// In the second.
    pub size_b: u64,
    /// `size_b - size_a`.
    pub size_delta: i64,
}

/// `diff A B`: per-constructor change, largest growth first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Diff {
    /// The first dump.
    pub a: String,
    /// The second.
    pub b: String,
    /// Whether the two come from different executables (names may not correspond).
    pub different_executables: bool,
    /// Constructors that changed (or all, when asked), largest growth first, cut to the
    /// number asked for.
    pub rows: Vec<DiffRow>,
    /// Constructors that changed, before any cut.
    pub changed: usize,
    /// Sum of the count deltas.
    pub count_delta: i64,
    /// Sum of the size deltas.
    pub size_delta: i64,
    /// Growth by holder (`--by holder`, or when limits are checked): largest growth first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holders: Option<Vec<HolderDiffRow>>,
    /// Memory of each side (reachable heap and the external memory its objects keep), when
    /// holders were compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryDelta>,
    /// The growth limits checked, when any were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
}

/// One holder's change between two dumps, matched by how the program names it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HolderDiffRow {
    /// How the program names it (`realtimeService._events['data-update']`).
    pub holder: String,
    /// What it is (`Array`, `Map`).
    pub holder_name: String,
    /// Its shape (`event_listeners`, `map_entries`, ...).
    pub kind: crate::leaks::SuspectKind,
    /// Children (elements, entries, listeners...) in A; 0 when A has no such holder above the
    /// size compared.
    pub children_a: u64,
    /// In B.
    pub children_b: u64,
    /// `children_b - children_a`.
    pub children_delta: i64,
    /// Bytes retained (heap and external) in A.
    pub retained_a: u64,
    /// In B.
    pub retained_b: u64,
    /// `retained_b - retained_a`.
    pub retained_delta: i64,
    /// The change in one line.
    pub sentence: String,
}

/// Reachable memory of both sides.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MemoryDelta {
    /// Heap bytes in A.
    pub heap_a: u64,
    /// In B.
    pub heap_b: u64,
    /// External bytes (ArrayBuffer backing stores, external strings) in A.
    pub external_a: u64,
    /// In B.
    pub external_b: u64,
    /// Change of the two together.
    pub total_delta: i64,
}

/// Growth limits and how the second dump fared against them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Gate {
    /// Each limit checked.
    pub checks: Vec<LimitCheck>,
    /// Whether any limit was exceeded.
    pub exceeded: bool,
    /// The holder that grew most, when a limit was exceeded.
    pub culprit: Option<String>,
}

/// One growth limit.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LimitCheck {
    /// What is limited: `memory` (heap and external), `holder <name>`, `constructor <name>`.
    pub what: String,
    /// The most growth allowed, in bytes.
    pub max: u64,
    /// The growth measured, in bytes.
    pub growth: i64,
    /// Whether `growth > max`.
    pub exceeded: bool,
}

/// `heapsnapshot -o FILE`: what was written.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SnapshotWritten {
    /// The file.
    pub path: String,
    /// Nodes (two synthetic ones included).
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Distinct strings.
    pub strings: u64,
    /// Whether string contents were replaced by their lengths and hashes (`--redact`).
    pub redacted: bool,
}

/// `bt`: thread stacks.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Backtraces {
    /// The signal that ended the process, if recorded.
    pub signal: Option<i32>,
    /// Its name.
    pub signal_name: Option<String>,
    /// One stack per thread asked for (the crashing thread first).
    pub threads: Vec<crate::crash::stack::Backtrace>,
}
