//! Per-version facts that V8's postmortem metadata does not carry.
//!
//! The metadata describes objects, not the heap around them: nothing about pages, spaces, the
//! Isolate or its roots table. Those facts live here, one row per V8 minor version (every Node.js
//! major ships one V8 minor for its whole life: 18 = 10.2, 20 = 11.3, 22 = 12.4, 24 = 13.6).
//! Each value was measured on real cores of official builds (disassembly of the accessors, page
//! headers read back, the roots table's meta map found to be its own map); the integration tests
//! re-verify them on cores made by the test run. Where a value exists in the metadata, the
//! metadata wins: the `field_fallbacks` here are used only when a build lacks the symbol.

use serde::Serialize;
use std::fmt;

/// A V8 version as `Version::major_` etc. hold it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
pub struct V8Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Build.
    pub build: u32,
    /// Patch.
    pub patch: u32,
}

impl fmt::Display for V8Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.build, self.patch
        )
    }
}

/// Where a page's bookkeeping (size, area, owner...) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataLoc {
    /// At the page start (`BasicMemoryChunk`, V8 10.x-11.x).
    InPage,
    /// At the page start, and the word at this offset points back at the page (V8 12.x
    /// `MemoryChunk` + `MemoryChunkMetadata` in one object).
    InPageSelfPointer(u64),
    /// Elsewhere (malloc'd `MemoryChunkMetadata`, V8 13.x): the word at this page offset points to it.
    Pointer(u64),
}

/// Layout of a V8 heap page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLayout {
    /// log2 of the page size and alignment (18: 256 KiB).
    pub page_size_log2: u32,
    /// Offset of the flags word in the page.
    pub flags: u64,
    /// Where the metadata is.
    pub metadata: MetadataLoc,
    /// Offsets from the metadata base:
    /// committed size of the chunk.
    pub size: u64,
    /// `Heap*` owning the page (0 for the shared read-only page).
    pub heap: u64,
    /// First object address.
    pub area_start: u64,
    /// End of the object area.
    pub area_end: u64,
    /// Bytes allocated on the page (maintained for paged spaces).
    pub allocated_bytes: u64,
    /// High-water mark (offset from the page of the highest allocation).
    pub high_water_mark: u64,
    /// Owning space (`BaseSpace*`; 0 for the detached read-only page).
    pub owner: u64,
    /// Offset of the `AllocationSpace` id (int32) in the space object.
    pub space_id_in_owner: u64,
    /// Offset, in the metadata, of the page's `list_node_.next_` in its space's page list
    /// (`prev_` follows). The list holds metadata addresses (= page addresses before V8 13).
    pub list_next: u64,
    /// Offset in the space object of `memory_chunk_list_.front_` (`back_` follows).
    pub space_list_front: u64,
    /// The `FROM_PAGE` chunk flag: a new-space page of the semispace not in use, whose contents
    /// are stale copies from before the last scavenge.
    pub from_page_flag: u64,
}

/// Indices into the Isolate's roots table (`RootIndex`): the same in V8 10.2-13.6; V8 14
/// put the oddballs first (`roots.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootIndices {
    /// `undefined_value`.
    pub undefined: u64,
    /// `the_hole_value`.
    pub the_hole: u64,
    /// `null_value`.
    pub null: u64,
    /// `true_value`.
    pub true_value: u64,
    /// `false_value`.
    pub false_value: u64,
    /// `empty_string`.
    pub empty_string: u64,
    /// `meta_map`: the map of maps.
    pub meta_map: u64,
    /// `fixed_array_map`.
    pub fixed_array_map: u64,
}

const ROOTS: RootIndices = RootIndices {
    undefined: 4,
    the_hole: 5,
    null: 6,
    true_value: 7,
    false_value: 8,
    empty_string: 9,
    meta_map: 10,
    fixed_array_map: 12,
};

// V8 14.0+ `roots.h`: undefined, the_hole, null, true, false, empty_string first; the map roots
// follow (fixed_array_map 10), the holes, then meta_map at 41. Checked on Node 25 and 26 cores
// (`v8::Internals::kUndefinedValueRootIndex` = 0 in their v8-internal.h).
const ROOTS_V14: RootIndices = RootIndices {
    undefined: 0,
    the_hole: 1,
    null: 2,
    true_value: 3,
    false_value: 4,
    empty_string: 5,
    meta_map: 41,
    fixed_array_map: 10,
};

/// Everything version-specific that is not in the metadata, for one V8 minor version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionTable {
    /// V8 (major, minor).
    pub v8: (u32, u32),
    /// The Node.js major that ships it.
    pub node_major: u32,
    /// Page header layout.
    pub page: PageLayout,
    /// `AllocationSpace` names by id.
    pub spaces: &'static [&'static str],
    /// `offsetof(Isolate, heap_)`: the isolate is `Heap* - this`.
    pub isolate_heap_offset: u64,
    /// Offset of the roots table in the Isolate (in `IsolateData`).
    pub isolate_roots_offset: u64,
    /// Roots table indices.
    pub roots: RootIndices,
    /// Class field offsets that the metadata lacks: (class, field, offset).
    pub field_fallbacks: &'static [(&'static str, &'static str, i64)],
    /// ScopeInfo layout (none of it is in the metadata).
    pub scope_info: ScopeInfoLayout,
    /// `BytecodeArray::source_position_table` (not in the metadata): +32 in 10.2/11.3, +24
    /// from 12.4 (after the new `wrapper` field moved the tagged fields).
    pub bytecode_source_positions: u64,
    /// Where JIT code says which tier made it (checked on the official binaries' cores).
    pub code_kinds: CodeKinds,
    /// Whether `JSDate::value` is a raw float64 (V8 13) rather than a Smi or HeapNumber (the
    /// metadata still types it `Object`).
    pub date_value_is_raw_double: bool,
    /// How a source position table encodes its code offsets.
    pub position_table: PositionTable,
    /// Bytes per element of typed arrays by elements kind, where V8 keeps no length field
    /// (V8 14: `JSTypedArray::GetLength` is `byte_length / element_size`).
    pub typed_array_element_sizes: &'static [(u64, u64)],
    /// The complete `InstanceType` enum (`value<TAB>NAME` lines), decoded from the official
    /// binary by `v8dump debug instance-types` (`crate::meta::enum_decode`).
    pub instance_types: &'static str,
    /// Parameters of the object size rules.
    pub sizes: SizeParams,
    /// Map and PropertyDetails bits used for naming and property order.
    pub map_bits: MapBits,
    /// Frame slot offsets used when the metadata lacks `off_fp_<name>`.
    pub frame_fallbacks: &'static [(&'static str, i64)],
    /// How V8 names the type of a function receiver in a stack trace's method call
    /// (`CallSiteInfo::GetTypeName`): 13.6 added "the function's own name" before the
    /// constructor name (Node 22 prints `Function.executeUserEntryPoint` but `Tools.hop` for a
    /// static method of class Tools; Node 24 `Module.executeUserEntryPoint`).
    pub function_receiver_type: FunctionReceiverType,
    /// Roots-table indices of private symbols named in `inspect` (V8 keeps no name in the
    /// symbol): measured on the official binaries' cores, named after V8's root list.
    pub private_symbols: &'static [(u64, &'static str)],
    /// How a captured error stack is stored.
    pub error_stack: ErrorStackLayout,
    /// Where an API object's embedder (internal) fields start: after the JSObject header, and
    /// from 13.6 after `cpp_heap_wrappable` too (node's BaseObject pointer, embedder field 1,
    /// measured at +32 on 18-22 and +40 on 24-26).
    pub api_object_header: u64,
    /// Where the `Heap` keeps its limits, its external-memory counter and its GC trace (none
    /// of it is in the metadata): measured on the official binaries' cores against
    /// `--max-old-space-size`, `v8.getHeapStatistics().external_memory` and the "Last few GCs"
    /// text node prints on out-of-memory (`tests/memory.rs`).
    pub heap_state: HeapState,
    /// Offset of `total_mem_usage_` in node's `node::NodeArrayBufferAllocator` (what
    /// `process.memoryUsage().arrayBuffers` reports): after the vtable and `zero_fill_field_`
    /// (16) on Node 18-22; Node 24 dropped the field (8). Measured on the official binaries'
    /// cores against `arrayBuffers`.
    pub array_buffer_allocator_usage: u64,
    /// Offsets in the Isolate (its `IsolateData`) of the main thread's linear allocation
    /// areas `{start, top, limit}` for new space and old space, where V8 keeps them there
    /// (11.3 on; 10.2 keeps neither there).
    /// Measured on the official binaries' cores (triples inside one page of the space).
    pub allocation_areas: AllocationAreas,
}

/// See [`VersionTable::allocation_areas`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationAreas {
    /// New space's `{start, top, limit}`.
    pub new_space: Option<u64>,
    /// Old space's `{start, top, limit}`.
    pub old_space: Option<u64>,
    /// Whether V8 counts old space's unparsed stretches (its open allocation area) as used,
    /// where the area's offset is not known: measured so on 10.2 against `heapUsed`.
    pub old_gaps_used: bool,
    /// Whether V8 counts the unused end of old space's allocation area (`limit - top`) as used:
    /// 11.3 does (measured to the byte against `space_used_size`), 12.4 on do not.
    pub old_area_counted: bool,
}

/// Offsets in `v8::internal::Heap` (from the `Heap*` every page header holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapState {
    /// `max_old_generation_size_`: the old generation's limit (`--max-old-space-size`).
    pub max_old_generation: HeapField,
    /// `backing_store_bytes_`: what `HeapStatistics::external_memory` (and so
    /// `process.memoryUsage().external`) reports. `None` where V8 sums it from the spaces.
    pub backing_store_bytes: Option<u64>,
    /// `trace_ring_buffer_` (512 bytes of the last GCs' trace lines, written circularly).
    pub gc_ring_buffer: u64,
    /// `ring_buffer_full_` (a bool).
    pub gc_ring_full: u64,
    /// `ring_buffer_end_` (a size_t: where the next line is written).
    pub gc_ring_end: u64,
}

/// A word in the Heap: at `offset`, or at `offset` in the object a pointer at `via` points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapField {
    /// Offset in the Heap of a pointer to the object holding the field (V8 14.6 moved the
    /// limits into a separately allocated object).
    pub via: Option<u64>,
    /// Offset of the field.
    pub offset: u64,
}

/// Size of `Heap::trace_ring_buffer_` (`kTraceRingBufferSize`).
pub const GC_RING_BUFFER_SIZE: u64 = 512;

/// How a captured, not yet formatted, error stack is stored (under `error_stack_symbol`):
/// measured on the official binaries' cores (`tests/llnode.rs` checks every frame against
/// Node's own `err.stack`).
#[allow(missing_docs)] // the fields are named after V8's CallSiteInfo fields
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStackLayout {
    /// A FixedArray of CallSiteInfo structs; field offsets inside each.
    Objects {
        code: u64,
        receiver: u64,
        function: u64,
        offset: u64,
        flags: u64,
    },
    /// One FixedArray holding each frame's fields in a row of `stride` slots; slot indices.
    Flat {
        stride: u64,
        code: u64,
        receiver: u64,
        function: u64,
        offset: u64,
        flags: u64,
    },
}

/// CallSiteInfo { receiver, function, code, offset, flags, parameters } (10.2, 11.3).
const STACK_V10: ErrorStackLayout = ErrorStackLayout::Objects {
    receiver: 8,
    function: 16,
    code: 24,
    offset: 32,
    flags: 40,
};
/// CallSiteInfo { code, receiver, function, offset, flags, parameters } (12.4, 14.1).
const STACK_V12: ErrorStackLayout = ErrorStackLayout::Objects {
    code: 8,
    receiver: 16,
    function: 24,
    offset: 32,
    flags: 40,
};
/// Six slots per frame: code, receiver, function, offset, parameters, flags (13.6, 14.6).
const STACK_FLAT: ErrorStackLayout = ErrorStackLayout::Flat {
    stride: 6,
    code: 0,
    receiver: 1,
    function: 2,
    offset: 3,
    flags: 5,
};

/// See [`VersionTable::function_receiver_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FunctionReceiverType {
    /// A class constructor's own name, else `JSReceiver::GetConstructorName` (`Function`).
    ClassName,
    /// The receiver function's debug name, else its constructor name.
    DebugName,
}

/// Where a ScopeInfo keeps what function naming needs (`src/objects/scope-info.tq`).
/// After the fixed header come the context-local names (inline when fewer than
/// `max_inlined_locals`, else one hash table), one info Smi per local, then optional
/// slots whose presence the flags say: saved class variable, function variable (name, index),
/// inferred function name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ScopeInfoLayout {
    /// Offset of the flags.
    pub flags: u64,
    /// Whether the flags are a Smi (V8 <= 12) or a raw uint32 (13+).
    pub flags_is_smi: bool,
    /// Offset of the context-local count (a Smi).
    pub context_local_count: u64,
    /// Offset of the first variable-length slot.
    pub variable_start: u64,
    /// `(scope type, extra bytes)`: a scope type whose header has one more slot (module variable
    /// count of V8 13's module scopes).
    pub extra_slot_for_scope_type: Option<(u32, u64)>,
    /// Mask of the scope type in the flags.
    pub scope_type_mask: u32,
    /// `kScopeInfoMaxInlinedLocalNamesSize`.
    pub max_inlined_locals: u64,
    /// Flag bit: has_saved_class_variable.
    pub saved_class_variable_bit: u32,
    /// Flag shift of the 2-bit function_variable allocation (0 = none).
    pub function_variable_shift: u32,
    /// Flag bit: has_inferred_function_name.
    pub inferred_name_bit: u32,
    /// Scope types whose ScopeInfo has position info (start, end Smis) after the inferred
    /// name.
    pub position_info_scope_types: &'static [u32],
    /// CLASS_SCOPE: has position info only when not empty.
    pub class_scope_type: u32,
    /// Flag bit: is_empty (the empty ScopeInfo has no position info).
    pub is_empty_bit: u32,
    /// Position info at a fixed offset in the header (V8 13: always present) rather than after
    /// the inferred name.
    pub position_fixed: Option<u64>,
}

// scope-info.tq of V8 10.2: ScopeType CLASS 0, EVAL 1, FUNCTION 2, MODULE 3, SCRIPT 4; position
// info for function, script, eval and module scopes, and class scopes that are not empty.
const SCOPE_INFO_V10: ScopeInfoLayout = ScopeInfoLayout {
    flags: 8,
    flags_is_smi: true,
    context_local_count: 24,
    variable_start: 32,
    extra_slot_for_scope_type: None,
    scope_type_mask: 0xf,
    max_inlined_locals: 75,
    saved_class_variable_bit: 10,
    function_variable_shift: 12,
    inferred_name_bit: 14,
    position_info_scope_types: &[1, 2, 3, 4],
    class_scope_type: 0,
    is_empty_bit: 29,
    position_fixed: None,
};

// V8 11.3 adds SHADOW_REALM_SCOPE (8) to the scopes with position info.
const SCOPE_INFO_V11: ScopeInfoLayout = ScopeInfoLayout {
    position_info_scope_types: &[1, 2, 3, 4, 8],
    ..SCOPE_INFO_V10
};

// V8 12.4 moves a module's variable count to the header (+32), before the names.
const SCOPE_INFO_V12: ScopeInfoLayout = ScopeInfoLayout {
    extra_slot_for_scope_type: Some((3, 8)),
    ..SCOPE_INFO_V11
};

const PAGE_V10_V11: PageLayout = PageLayout {
    page_size_log2: 18,
    flags: 8,
    metadata: MetadataLoc::InPage,
    size: 0,
    heap: 16,
    area_start: 24,
    area_end: 32,
    allocated_bytes: 40,
    high_water_mark: 56,
    owner: 64,
    space_id_in_owner: 16,
    list_next: 0,
    space_list_front: 0,
    from_page_flag: 0x8,
};

/// Field offsets not in any version's metadata but stable across 10.2-14.6
/// (the first field after the JSObject header is JSArray's length).
/// The others are checked against real objects in the tests (`tests/inspect.rs`).
macro_rules! common_fields {
    ($($extra:expr),* $(,)?) => {
        &[
            $($extra,)*
    ("JSArray", "length", 24),
    // The function data (BytecodeArray, UncompiledData, ...) right after the map; 12.4+ call it
    // trusted_function_data and their metadata leaves it out.
    ("SharedFunctionInfo", "function_data", 8),
    ("Name", "raw_hash_field", 8),
    // Oddball { to_number_raw, to_string, to_number, type_of, kind }: 22+ dropped the symbol.
    ("Oddball", "to_string", 16),
    // JSRegExp { data, source, flags } after the JSObject header.
    ("JSRegExp", "flags", 40),
    // First in-object field after the JSObject header (24) in each of these classes.
    ("JSPrimitiveWrapper", "value", 24),
    ("JSCollection", "table", 24),
    ("JSWeakCollection", "table", 24),
    ("JSPromise", "reactions_or_result", 24),
    ("JSPromise", "flags", 32),
    ("JSBoundFunction", "bound_target_function", 24),
    ("JSBoundFunction", "bound_this", 32),
    ("JSBoundFunction", "bound_arguments", 40),
    ("JSWeakRef", "target", 24),
    // PropertyCell { name, property_details_raw, value, dependent_code }.
    ("PropertyCell", "name", 8),
    ("PropertyCell", "property_details_raw", 16),
    ("PropertyCell", "value", 24),
    // Tuple2 { value1, value2 } (a map's constructor slot may hold one).
    ("Tuple2", "value1", 8),
    // AccessorPair { getter, setter } (14.x metadata leaves the class out).
    ("AccessorPair", "getter", 8),
    ("AccessorPair", "setter", 16),
    // AccessorInfo { name, ... }: the name comes first (an inspected accessor whose slot is not
    // a string is shown as the accessor it is).
    ("AccessorInfo", "name", 8),
    // BigInt { bitfield (sign bit 0, length bits 1..30), padding, digits }.
    ("BigIntBase", "bitfield", 8),
    ("BigInt", "digits", 16),
        ]
    };
}

/// `JSArrayBufferView::buffer` is the first field after the JSObject header until V8 12;
/// V8 13 put `cpp_heap_wrappable` (JSAPIObjectWithEmbedderSlots) before it.
const FIELDS_V10: &[(&str, &str, i64)] = common_fields![("JSArrayBufferView", "buffer", 24)];
const FIELDS_V13: &[(&str, &str, i64)] = common_fields![("JSArrayBufferView", "buffer", 32)];
/// 14.6's AccessorInfo has a slot before its name (seen on the Node 26 core: +8 undefined,
/// +16 the name string).
const FIELDS_V14_6: &[(&str, &str, i64)] = common_fields![
    ("JSArrayBufferView", "buffer", 32),
    ("AccessorInfo", "name", 16),
];

/// V8 13 made the flags a raw uint32 and moved the position info into the fixed header.
// V8 13.6: flags a raw uint32, ScopeType renumbered (SCRIPT 0 ... FUNCTION 4, MODULE 5, CLASS
// 2), position info always present at +32/+40, a module's variable count at +48, then the names.
const SCOPE_INFO_V13: ScopeInfoLayout = ScopeInfoLayout {
    flags: 8,
    flags_is_smi: false,
    context_local_count: 24,
    variable_start: 48,
    extra_slot_for_scope_type: Some((5, 8)),
    position_info_scope_types: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    class_scope_type: 2,
    position_fixed: Some(32),
    ..SCOPE_INFO_V10
};

/// How to read the tier of JIT code: the `Code` object's flags and the `CodeKind` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeKinds {
    /// `Code::flags` (a u32), when the metadata lacks it (Node 20's).
    pub flags: u64,
    /// Offset of the `Code` pointer in an `InstructionStream` (V8 11+); `None` when the code
    /// is inline in the `Code` object (V8 10).
    pub stream_to_code: Option<u64>,
    /// CodeKind::BASELINE.
    pub baseline: u32,
    /// CodeKind::MAGLEV.
    pub maglev: u32,
    /// CodeKind::TURBOFAN (TURBOFAN_JS in 13).
    pub turbofan: u32,
}

// code-kind.h: V8 10.2 and 11.3 have JS_TO_JS_FUNCTION (8), so BASELINE 11, MAGLEV 12, TURBOFAN
// 13; 12.4 dropped it: BASELINE 10, MAGLEV 11, TURBOFAN(_JS) 12. Code::flags +48, +52 in 13.6.
const CODE_KINDS_V10: CodeKinds = CodeKinds {
    flags: 48,
    stream_to_code: None,
    baseline: 11,
    maglev: 12,
    turbofan: 13,
};
const CODE_KINDS_V11: CodeKinds = CodeKinds {
    stream_to_code: Some(8),
    ..CODE_KINDS_V10
};
const CODE_KINDS_V12: CodeKinds = CodeKinds {
    flags: 48,
    stream_to_code: Some(8),
    baseline: 10,
    maglev: 11,
    turbofan: 12,
};
const CODE_KINDS_V13: CodeKinds = CodeKinds {
    flags: 52,
    ..CODE_KINDS_V12
};
// V8 14.6 added FOR_TESTING_JS before them (`code-kind.h`; metadata CodeKindBaseline = 11).
const CODE_KINDS_V14_6: CodeKinds = CodeKinds {
    baseline: 11,
    maglev: 12,
    turbofan: 13,
    ..CODE_KINDS_V13
};

/// `elements-kind.h` (13.6-14.6): UINT8 18, INT8, UINT16, INT16, UINT32, INT32, BIGUINT64,
/// BIGINT64, UINT8_CLAMPED, FLOAT32, FLOAT64, FLOAT16 29; the RAB/GSAB kinds 30-41 repeat them.
const TYPED_ARRAY_ELEMENT_SIZES_V14: &[(u64, u64)] = &[
    (18, 1),
    (19, 1),
    (20, 2),
    (21, 2),
    (22, 4),
    (23, 4),
    (24, 8),
    (25, 8),
    (26, 1),
    (27, 4),
    (28, 8),
    (29, 2),
    (30, 1),
    (31, 1),
    (32, 2),
    (33, 2),
    (34, 4),
    (35, 4),
    (36, 8),
    (37, 8),
    (38, 1),
    (39, 4),
    (40, 8),
    (41, 2),
];

/// How a bytecode array's source position table encodes the code-offset delta of each entry
/// (`source-position-table.cc`); the source-position delta is a zigzag VLQ in every version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionTable {
    /// A zigzag VLQ of the delta, negated (minus one) for expression positions (V8 10-13).
    SignedDelta,
    /// An unsigned VLQ of `delta << 2 | is_breakable << 1 | is_statement` (V8 14).
    FlaggedDelta,
}

/// How big a code object is (the object whose body is machine code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSize {
    /// V8 10: `CODE_TYPE` holds its instructions after a `header`-byte header:
    /// `roundup(header + u32@instruction_size + u32@metadata_size, 64)`.
    InCode {
        /// Bytes before the instructions (also where the tagged header ends).
        header: u64,
        /// Offset of the instruction size (u32).
        instruction_size: u64,
        /// Offset of the metadata size (u32).
        metadata_size: u64,
    },
    /// V8 11: an `INSTRUCTION_STREAM_TYPE` sized by its `Code` object (tagged at `code`):
    /// `roundup(header + code.u32@instruction_size + code.u32@metadata_size, 64)`.
    StreamSizedByCode {
        /// Bytes before the instructions.
        header: u64,
        /// Offset of the `Code` pointer in the stream.
        code: u64,
        /// Offset of the instruction size (u32) in the `Code` object.
        instruction_size: u64,
        /// Offset of the metadata size (u32) in the `Code` object.
        metadata_size: u64,
    },
    /// V8 12+: an `INSTRUCTION_STREAM_TYPE` that keeps its own body size (u32 at `body_size`):
    /// `roundup(header + u32@body_size, 64)`.
    StreamBody {
        /// Bytes before the instructions.
        header: u64,
        /// Offset of the body size (u32).
        body_size: u64,
    },
}

/// Per-version parameters of the object size rules (`crate::meta::types::SizeRule`) that the
/// metadata does not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeParams {
    /// Arrays whose header grew a capacity word (V8 12+): (instance type name, header bytes).
    /// Every other FixedArray-like type has a 16-byte header.
    pub capacity_headers: &'static [(&'static str, u64)],
    /// Bytes per unit of a FreeSpace's size field (1 until V8 12, tagged words in 13).
    pub free_space_unit: u64,
    /// FeedbackVector header bytes before its slots.
    pub feedback_vector_header: u64,
    /// Bytes per create-closure slot in FeedbackMetadata (0 before V8 13).
    pub feedback_metadata_closure_bytes: u64,
    /// `BytecodeArray` header size, when the metadata lacks `class_BytecodeArray__data`.
    pub bytecode_header: u64,
    /// `DescriptorArray` header size, when the metadata lacks
    /// `class_DescriptorArray__header_size`.
    pub descriptors_header: u64,
    /// Code objects.
    pub code: CodeSize,
    /// The size of a `Hole` when its map says "variable size" (V8 14.6: an 8-byte header and
    /// a 64 KiB payload that is never mapped); `None` where the map has a fixed size.
    pub hole: Option<u64>,
    /// Types sized `header + per * u32@8` (a raw count after the map): (name, header, per).
    pub counted: &'static [(&'static str, u64, u64)],
}

/// Map bit fields the metadata does not name (`map.tq`), used by V8's constructor naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapBits {
    /// Bit of `bit_field2`: `new_target_is_base`.
    pub new_target_is_base_bit: u32,
    /// Bit of `bit_field3`: `is_prototype_map`.
    pub is_prototype_map_bit: u32,
    /// First bit of the enumeration index in a dictionary PropertyDetails word
    /// (`property-details.h`: after kind, constness, attributes and PropertyCellType).
    pub dictionary_storage_shift: u32,
}

const MAP_BITS: MapBits = MapBits {
    new_target_is_base_bit: 0,
    is_prototype_map_bit: 20,
    dictionary_storage_shift: 8,
};

// Arrays with a capacity word after the length (V8 12.4 and 13.6, `fixed-array.h`).
const CAPACITY_HEADERS_V12: &[(&str, u64)] = &[
    ("OBJECT_BOILERPLATE_DESCRIPTION_TYPE", 32),
    ("SCRIPT_CONTEXT_TABLE_TYPE", 32),
    ("ARRAY_LIST_TYPE", 24),
    ("REG_EXP_MATCH_INFO_TYPE", 40),
];

const SIZES_V10: SizeParams = SizeParams {
    capacity_headers: &[],
    free_space_unit: 1,
    feedback_vector_header: 48,
    feedback_metadata_closure_bytes: 0,
    bytecode_header: 56,
    descriptors_header: 24,
    code: CodeSize::InCode {
        header: 128,
        instruction_size: 40,
        metadata_size: 44,
    },
    hole: None,
    counted: &[],
};

const SIZES_V11: SizeParams = SizeParams {
    feedback_vector_header: 56,
    bytecode_header: 54,
    code: CodeSize::StreamSizedByCode {
        header: 16,
        code: 8,
        instruction_size: 56,
        metadata_size: 60,
    },
    ..SIZES_V10
};

const SIZES_V12: SizeParams = SizeParams {
    capacity_headers: CAPACITY_HEADERS_V12,
    feedback_vector_header: 56,
    bytecode_header: 64,
    code: CodeSize::StreamBody {
        header: 32,
        body_size: 24,
    },
    ..SIZES_V10
};

const SIZES_V13: SizeParams = SizeParams {
    free_space_unit: 8,
    feedback_vector_header: 48,
    feedback_metadata_closure_bytes: 2,
    ..SIZES_V12
};

// V8 14: DoubleStringCache (`number-string-cache.h`: a u32 capacity, then 16-byte entries of a
// raw double key and a tagged value); DescriptorArray's header (32) comes from the metadata.
const COUNTED_V14: &[(&str, u64, u64)] = &[("DOUBLE_STRING_CACHE_TYPE", 16, 16)];

const SIZES_V14_1: SizeParams = SizeParams {
    counted: COUNTED_V14,
    descriptors_header: 32,
    ..SIZES_V13
};

// V8 14.6 holes: `hole.h` kPayloadSize = 64 KiB after the map word, left unmapped.
const SIZES_V14_6: SizeParams = SizeParams {
    hole: Some(8 + (64 << 10)),
    ..SIZES_V14_1
};

/// Frame slot offsets from the frame pointer that some builds' metadata lacks
/// (`off_fp_<name>`; x64 `frame-constants-x64.h`, the same in V8 10.2-13.6).
const FRAME_FALLBACKS: &[(&str, i64)] = &[
    ("context_or_frame_type", -8),
    ("context", -8),
    ("function", -16),
    ("argc", -24),
    ("bytecode_array", -32),
    ("bytecode_offset", -40),
    ("args", 16),
];

/// The known versions.
pub static TABLES: &[VersionTable] = &[
    VersionTable {
        v8: (10, 2),
        node_major: 18,
        page: PageLayout {
            list_next: 0xe8,
            space_list_front: 0xa8,
            ..PAGE_V10_V11
        },
        spaces: &[
            "read_only_space",
            "old_space",
            "code_space",
            "map_space",
            "large_object_space",
            "code_large_object_space",
            "new_large_object_space",
            "new_space",
        ],
        isolate_heap_offset: 0xc638,
        isolate_roots_offset: 0x120,
        roots: ROOTS,
        field_fallbacks: FIELDS_V10,
        scope_info: SCOPE_INFO_V10,
        bytecode_source_positions: 32,
        code_kinds: CODE_KINDS_V10,
        date_value_is_raw_double: false,
        position_table: PositionTable::SignedDelta,
        typed_array_element_sizes: &[],
        instance_types: include_str!("../../data/instance-types-v8-10.2.txt"),
        sizes: SIZES_V10,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::ClassName,
        private_symbols: &[(582, "error_stack_symbol")],
        error_stack: STACK_V10,
        api_object_header: 24,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: None,
                offset: 0xe0,
            },
            backing_store_bytes: Some(0x128),
            gc_ring_buffer: 0xa68,
            gc_ring_full: 0xa68 + 513,
            gc_ring_end: 0xa68 + 520,
        },
        array_buffer_allocator_usage: 16,
        allocation_areas: AllocationAreas {
            new_space: None,
            old_space: None,
            old_gaps_used: true,
            old_area_counted: false,
        },
    },
    VersionTable {
        v8: (11, 3),
        node_major: 20,
        page: PageLayout {
            list_next: 0x108,
            space_list_front: 0x28,
            ..PAGE_V10_V11
        },
        spaces: &[
            "read_only_space",
            "new_space",
            "old_space",
            "code_space",
            "shared_space",
            "new_large_object_space",
            "large_object_space",
            "code_large_object_space",
            "shared_large_object_space",
        ],
        isolate_heap_offset: 0xd2c0,
        isolate_roots_offset: 0x1f0,
        roots: ROOTS,
        field_fallbacks: FIELDS_V10,
        scope_info: SCOPE_INFO_V11,
        bytecode_source_positions: 32,
        code_kinds: CODE_KINDS_V11,
        date_value_is_raw_double: false,
        position_table: PositionTable::SignedDelta,
        typed_array_element_sizes: &[],
        instance_types: include_str!("../../data/instance-types-v8-11.3.txt"),
        sizes: SIZES_V11,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::ClassName,
        private_symbols: &[(615, "error_stack_symbol")],
        error_stack: STACK_V10,
        api_object_header: 24,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: None,
                offset: 0xe0,
            },
            backing_store_bytes: Some(0x128),
            gc_ring_buffer: 0xa00,
            gc_ring_full: 0xa00 + 512,
            gc_ring_end: 0xa00 + 520,
        },
        array_buffer_allocator_usage: 16,
        allocation_areas: AllocationAreas {
            new_space: Some(0xb8),
            old_space: Some(0xd0),
            old_gaps_used: false,
            old_area_counted: true,
        },
    },
    VersionTable {
        v8: (12, 4),
        node_major: 22,
        page: PageLayout {
            page_size_log2: 18,
            flags: 0,
            metadata: MetadataLoc::InPageSelfPointer(8),
            size: 16,
            heap: 24,
            area_start: 32,
            area_end: 40,
            allocated_bytes: 48,
            high_water_mark: 64,
            owner: 72,
            space_id_in_owner: 16,
            list_next: 0x108,
            space_list_front: 0x28,
            from_page_flag: 0x8,
        },
        spaces: &[
            "read_only_space",
            "new_space",
            "old_space",
            "code_space",
            "shared_space",
            "trusted_space",
            "new_large_object_space",
            "large_object_space",
            "code_large_object_space",
            "shared_large_object_space",
            "trusted_large_object_space",
        ],
        isolate_heap_offset: 0xdea0,
        isolate_roots_offset: 0x250,
        roots: ROOTS,
        field_fallbacks: FIELDS_V10,
        scope_info: SCOPE_INFO_V12,
        bytecode_source_positions: 24,
        code_kinds: CODE_KINDS_V12,
        date_value_is_raw_double: false,
        position_table: PositionTable::SignedDelta,
        typed_array_element_sizes: &[],
        instance_types: include_str!("../../data/instance-types-v8-12.4.txt"),
        sizes: SIZES_V12,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::ClassName,
        private_symbols: &[(633, "error_stack_symbol")],
        error_stack: STACK_V12,
        api_object_header: 24,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: None,
                offset: 0x48,
            },
            backing_store_bytes: Some(0x90),
            gc_ring_buffer: 0x820,
            gc_ring_full: 0x820 + 512,
            gc_ring_end: 0x820 + 520,
        },
        array_buffer_allocator_usage: 16,
        allocation_areas: AllocationAreas {
            new_space: Some(0xc0),
            old_space: Some(0xd8),
            old_gaps_used: false,
            old_area_counted: false,
        },
    },
    VersionTable {
        v8: (13, 6),
        node_major: 24,
        page: PageLayout {
            page_size_log2: 18,
            flags: 0,
            metadata: MetadataLoc::Pointer(8),
            size: 48,
            heap: 64,
            area_start: 72,
            area_end: 56,
            allocated_bytes: 24,
            high_water_mark: 40,
            owner: 80,
            space_id_in_owner: 16,
            list_next: 0x108,
            space_list_front: 0x28,
            from_page_flag: 0x8,
        },
        spaces: &[
            "read_only_space",
            "new_space",
            "old_space",
            "code_space",
            "shared_space",
            "trusted_space",
            "shared_trusted_space",
            "new_large_object_space",
            "large_object_space",
            "code_large_object_space",
            "shared_large_object_space",
            "shared_trusted_large_object_space",
            "trusted_large_object_space",
        ],
        isolate_heap_offset: 0xeff8,
        isolate_roots_offset: 0x280,
        roots: ROOTS,
        field_fallbacks: FIELDS_V13,
        scope_info: SCOPE_INFO_V13,
        bytecode_source_positions: 24,
        code_kinds: CODE_KINDS_V13,
        date_value_is_raw_double: true,
        position_table: PositionTable::SignedDelta,
        typed_array_element_sizes: &[],
        instance_types: include_str!("../../data/instance-types-v8-13.6.txt"),
        sizes: SIZES_V13,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::DebugName,
        private_symbols: &[(893, "error_message_symbol"), (895, "error_stack_symbol")],
        error_stack: STACK_FLAT,
        api_object_header: 32,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: None,
                offset: 0x50,
            },
            backing_store_bytes: Some(0x98),
            gc_ring_buffer: 0x868,
            gc_ring_full: 0x868 + 512,
            gc_ring_end: 0x868 + 520,
        },
        array_buffer_allocator_usage: 8,
        allocation_areas: AllocationAreas {
            new_space: Some(0xc8),
            old_space: Some(0xe0),
            old_gaps_used: false,
            old_area_counted: false,
        },
    },
    VersionTable {
        v8: (14, 1),
        node_major: 25,
        page: PageLayout {
            page_size_log2: 18,
            flags: 0,
            metadata: MetadataLoc::Pointer(8),
            size: 48,
            heap: 64,
            area_start: 72,
            area_end: 56,
            allocated_bytes: 24,
            high_water_mark: 40,
            owner: 80,
            space_id_in_owner: 16,
            list_next: 0x110,
            space_list_front: 0x28,
            from_page_flag: 0x8,
        },
        spaces: &[
            "read_only_space",
            "new_space",
            "old_space",
            "code_space",
            "shared_space",
            "trusted_space",
            "shared_trusted_space",
            "new_large_object_space",
            "large_object_space",
            "code_large_object_space",
            "shared_large_object_space",
            "shared_trusted_large_object_space",
            "trusted_large_object_space",
        ],
        isolate_heap_offset: 0xd8a8,
        isolate_roots_offset: 0x288,
        roots: ROOTS_V14,
        field_fallbacks: FIELDS_V13,
        scope_info: SCOPE_INFO_V13,
        bytecode_source_positions: 24,
        code_kinds: CODE_KINDS_V13,
        date_value_is_raw_double: true,
        position_table: PositionTable::FlaggedDelta,
        typed_array_element_sizes: TYPED_ARRAY_ELEMENT_SIZES_V14,
        instance_types: include_str!("../../data/instance-types-v8-14.1.txt"),
        sizes: SIZES_V14_1,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::DebugName,
        private_symbols: &[(911, "error_message_symbol"), (913, "error_stack_symbol")],
        error_stack: STACK_V12,
        api_object_header: 32,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: None,
                offset: 0x50,
            },
            backing_store_bytes: Some(0x98),
            gc_ring_buffer: 0x860,
            gc_ring_full: 0x860 + 512,
            gc_ring_end: 0x860 + 520,
        },
        array_buffer_allocator_usage: 8,
        allocation_areas: AllocationAreas {
            new_space: Some(0xc8),
            old_space: Some(0xe0),
            old_gaps_used: false,
            old_area_counted: false,
        },
    },
    VersionTable {
        v8: (14, 6),
        node_major: 26,
        page: PageLayout {
            page_size_log2: 18,
            flags: 0,
            metadata: MetadataLoc::Pointer(8),
            size: 48,
            heap: 64,
            area_start: 72,
            area_end: 56,
            allocated_bytes: 24,
            high_water_mark: 40,
            owner: 80,
            space_id_in_owner: 16,
            list_next: 0x100,
            space_list_front: 0x28,
            from_page_flag: 0x8,
        },
        spaces: &[
            "read_only_space",
            "new_space",
            "old_space",
            "code_space",
            "shared_space",
            "trusted_space",
            "shared_trusted_space",
            "new_large_object_space",
            "large_object_space",
            "code_large_object_space",
            "shared_large_object_space",
            "shared_trusted_large_object_space",
            "trusted_large_object_space",
        ],
        isolate_heap_offset: 0xf3c0,
        isolate_roots_offset: 0x2b0,
        roots: ROOTS_V14,
        field_fallbacks: FIELDS_V14_6,
        scope_info: SCOPE_INFO_V13,
        bytecode_source_positions: 24,
        code_kinds: CODE_KINDS_V14_6,
        date_value_is_raw_double: true,
        position_table: PositionTable::FlaggedDelta,
        typed_array_element_sizes: TYPED_ARRAY_ELEMENT_SIZES_V14,
        instance_types: include_str!("../../data/instance-types-v8-14.6.txt"),
        sizes: SIZES_V14_6,
        map_bits: MAP_BITS,
        frame_fallbacks: FRAME_FALLBACKS,
        function_receiver_type: FunctionReceiverType::DebugName,
        private_symbols: &[(917, "error_message_symbol"), (919, "error_stack_symbol")],
        error_stack: STACK_FLAT,
        api_object_header: 32,
        heap_state: HeapState {
            max_old_generation: HeapField {
                via: Some(0x7b8),
                offset: 0x10,
            },
            backing_store_bytes: None,
            gc_ring_buffer: 0x888,
            gc_ring_full: 0x888 + 512,
            gc_ring_end: 0x888 + 520,
        },
        array_buffer_allocator_usage: 8,
        allocation_areas: AllocationAreas {
            new_space: Some(0xc8),
            old_space: Some(0xe0),
            old_gaps_used: false,
            old_area_counted: false,
        },
    },
];

impl VersionTable {
    /// "14.6" for messages.
    pub fn name(&self) -> String {
        format!("{}.{}", self.v8.0, self.v8.1)
    }

    /// Every value of this table that the metadata cannot supply (page header, isolate and
    /// roots, ScopeInfo, code kinds, size rules, map bits), as (what, value), for `info`.
    /// Field and frame fallbacks are listed where they are resolved, and only when used.
    pub fn facts(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = Vec::new();
        let mut put = |k: &str, x: i64| v.push((k.to_string(), x));
        let p = &self.page;
        put("page.size_log2", p.page_size_log2 as i64);
        put("page.flags", p.flags as i64);
        match p.metadata {
            MetadataLoc::InPage => put("page.metadata_in_page", 0),
            MetadataLoc::InPageSelfPointer(o) => put("page.metadata_self_pointer", o as i64),
            MetadataLoc::Pointer(o) => put("page.metadata_pointer", o as i64),
        }
        put("page.size", p.size as i64);
        put("page.heap", p.heap as i64);
        put("page.area_start", p.area_start as i64);
        put("page.area_end", p.area_end as i64);
        put("page.allocated_bytes", p.allocated_bytes as i64);
        put("page.high_water_mark", p.high_water_mark as i64);
        put("page.owner", p.owner as i64);
        put("page.space_id", p.space_id_in_owner as i64);
        put("page.list_next", p.list_next as i64);
        put("page.space_list_front", p.space_list_front as i64);
        put("page.from_page_flag", p.from_page_flag as i64);
        put("page.spaces", self.spaces.len() as i64);
        put("isolate.heap_", self.isolate_heap_offset as i64);
        put("isolate.roots", self.isolate_roots_offset as i64);
        let h = &self.heap_state;
        if let Some(via) = h.max_old_generation.via {
            put("heap.limits_pointer", via as i64);
        }
        put(
            "heap.max_old_generation_size",
            h.max_old_generation.offset as i64,
        );
        if let Some(o) = h.backing_store_bytes {
            put("heap.backing_store_bytes", o as i64);
        }
        put("heap.trace_ring_buffer", h.gc_ring_buffer as i64);
        put("heap.ring_buffer_full", h.gc_ring_full as i64);
        put("heap.ring_buffer_end", h.gc_ring_end as i64);
        put(
            "node.array_buffer_allocator.total_mem_usage",
            self.array_buffer_allocator_usage as i64,
        );
        if let Some(o) = self.allocation_areas.new_space {
            put("isolate.new_allocation_info", o as i64);
        }
        if let Some(o) = self.allocation_areas.old_space {
            put("isolate.old_allocation_info", o as i64);
        }
        let r = &self.roots;
        for (k, x) in [
            ("undefined", r.undefined),
            ("the_hole", r.the_hole),
            ("null", r.null),
            ("true", r.true_value),
            ("false", r.false_value),
            ("empty_string", r.empty_string),
            ("meta_map", r.meta_map),
            ("fixed_array_map", r.fixed_array_map),
        ] {
            put(&format!("roots.{k}"), x as i64);
        }
        let s = &self.scope_info;
        put("scopeinfo.flags", s.flags as i64);
        put(
            "scopeinfo.context_local_count",
            s.context_local_count as i64,
        );
        put("scopeinfo.variable_start", s.variable_start as i64);
        put("scopeinfo.max_inlined_locals", s.max_inlined_locals as i64);
        put("scopeinfo.inferred_name_bit", s.inferred_name_bit as i64);
        if let Some(o) = s.position_fixed {
            put("scopeinfo.position_info", o as i64);
        }
        put(
            "code.bytecode_source_positions",
            self.bytecode_source_positions as i64,
        );
        let c = &self.code_kinds;
        put("code.flags", c.flags as i64);
        put("code.BASELINE", c.baseline as i64);
        put("code.MAGLEV", c.maglev as i64);
        put("code.TURBOFAN", c.turbofan as i64);
        put(
            "objects.date_value_is_raw_double",
            self.date_value_is_raw_double as i64,
        );
        let z = &self.sizes;
        put("sizes.free_space_unit", z.free_space_unit as i64);
        put(
            "sizes.feedback_vector_header",
            z.feedback_vector_header as i64,
        );
        put(
            "sizes.feedback_metadata_closure_bytes",
            z.feedback_metadata_closure_bytes as i64,
        );
        for (n, h) in z.capacity_headers {
            put(
                &format!("sizes.{}", n.trim_end_matches("_TYPE").to_lowercase()),
                *h as i64,
            );
        }
        match z.code {
            CodeSize::InCode { header, .. } => put("sizes.code_header", header as i64),
            CodeSize::StreamSizedByCode { header, .. } | CodeSize::StreamBody { header, .. } => {
                put("sizes.instruction_stream_header", header as i64)
            }
        }
        if let Some(h) = z.hole {
            put("sizes.hole", h as i64);
        }
        for (n, h, per) in z.counted {
            let n = n.trim_end_matches("_TYPE").to_lowercase();
            put(&format!("sizes.{n}_header"), *h as i64);
            put(&format!("sizes.{n}_entry"), *per as i64);
        }
        put(
            "code.position_table_flagged",
            (self.position_table == PositionTable::FlaggedDelta) as i64,
        );
        let b = &self.map_bits;
        put(
            "objects.new_target_is_base_bit",
            b.new_target_is_base_bit as i64,
        );
        put(
            "objects.is_prototype_map_bit",
            b.is_prototype_map_bit as i64,
        );
        put(
            "objects.dictionary_storage_shift",
            b.dictionary_storage_shift as i64,
        );
        v
    }
}

/// The table for a V8 version, matched on (major, minor).
pub fn table_for(v: V8Version) -> Option<&'static VersionTable> {
    table_for_minor(v.major, v.minor)
}

/// The table of V8 `major.minor`.
pub fn table_for_minor(major: u32, minor: u32) -> Option<&'static VersionTable> {
    TABLES.iter().find(|t| t.v8 == (major, minor))
}

/// "10.2, 11.3, ..." for messages.
pub fn known_versions() -> String {
    TABLES
        .iter()
        .map(|t| format!("{}.{}", t.v8.0, t.v8.1))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_self_consistent() {
        for t in TABLES {
            let p = t.page;
            // The fields of the metadata must not overlap each other.
            let mut offs = vec![
                p.size,
                p.heap,
                p.area_start,
                p.area_end,
                p.allocated_bytes,
                p.high_water_mark,
                p.owner,
                p.list_next,
                p.list_next + 8,
            ];
            offs.sort();
            offs.dedup();
            assert_eq!(offs.len(), 9, "V8 {:?}: page fields overlap", t.v8);
            assert!(t.spaces.contains(&"old_space") && t.spaces[0] == "read_only_space");
            assert!(t.isolate_heap_offset > t.isolate_roots_offset);
        }
        let v = V8Version {
            major: 12,
            minor: 4,
            build: 254,
            patch: 21,
        };
        assert_eq!(table_for(v).unwrap().node_major, 22);
        assert!(table_for(V8Version {
            major: 9,
            minor: 4,
            build: 0,
            patch: 0
        })
        .is_none());
        assert_eq!(known_versions(), "10.2, 11.3, 12.4, 13.6, 14.1, 14.6");
    }
}
