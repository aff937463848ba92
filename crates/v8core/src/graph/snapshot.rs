//! Export of the reachable heap as a Chrome DevTools `.heapsnapshot`, loadable in DevTools
//! (Memory tab, Load) and in memlab.
//!
//! The format (documented by V8's `HeapSnapshotJSONSerializer`): a JSON object whose `nodes`
//! and `edges` are flat integer arrays described by `snapshot.meta`, with every name an index
//! into `strings`. Edges are grouped by their source node in node order; `to_node` is the
//! target's offset in `nodes` (index times the number of node fields). Ids are synthetic (odd,
//! as V8 gives JavaScript objects), so they fit the 32-bit arrays DevTools parses into.
//!
//! Nodes: a synthetic root, `(GC roots)`, then every reachable object. JavaScript objects are
//! named as V8's own snapshot names them ([`crate::objects::naming`]), so per-constructor counts and
//! self sizes are those of `findjsobjects`. Edges: named properties (from descriptors,
//! property arrays and dictionaries), elements, closure variables, and every other pointer
//! field as an internal edge; weakly tagged pointers as weak edges. Each ArrayBuffer's backing
//! store (memory outside the heap) is a native node `system / JSArrayBufferData` of its byte
//! length, held by the buffer's `backing_store` edge, as in V8's own snapshots.

use crate::heap::index::Progress;
use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::census::CensusRow;
use crate::objects::reader::{Elements, Reader};
use rayon::prelude::*;
use std::io::{self, Write};

/// Node types, in the order of `snapshot.meta.node_types[0]`.
pub(crate) const NODE_TYPES: [&str; 15] = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
    "concatenated string",
    "sliced string",
    "symbol",
    "bigint",
    "object shape",
];
pub(crate) const T_HIDDEN: u8 = 0;
pub(crate) const T_ARRAY: u8 = 1;
pub(crate) const T_STRING: u8 = 2;
pub(crate) const T_OBJECT: u8 = 3;
pub(crate) const T_CODE: u8 = 4;
pub(crate) const T_CLOSURE: u8 = 5;
pub(crate) const T_REGEXP: u8 = 6;
pub(crate) const T_NUMBER: u8 = 7;
pub(crate) const T_SYNTHETIC: u8 = 9;
pub(crate) const T_CONS: u8 = 10;
pub(crate) const T_SLICED: u8 = 11;
pub(crate) const T_SYMBOL: u8 = 12;
pub(crate) const T_BIGINT: u8 = 13;
pub(crate) const T_SHAPE: u8 = 14;

/// The snapshot node type of object `i` (an index into [`NODE_TYPES`]).
pub(crate) fn node_type(h: &Heap, i: usize) -> u8 {
    if h.names.get(i).is_some() {
        return T_OBJECT;
    }
    let type_name = || h.p.types.name(h.index.types[i]).unwrap_or_default();
    match h.index.kind(&h.p, i) {
        Kind::JSFunction | Kind::JSBoundFunction => T_CLOSURE,
        Kind::JSRegExp => T_REGEXP,
        Kind::String => match h.index.types[i] & 7 {
            1 => T_CONS,
            3 => T_SLICED,
            _ => T_STRING,
        },
        Kind::HeapNumber => T_NUMBER,
        Kind::Symbol => T_SYMBOL,
        Kind::BigInt => T_BIGINT,
        Kind::Map => T_SHAPE,
        Kind::FixedArray | Kind::FixedDoubleArray | Kind::PropertyArray => T_ARRAY,
        Kind::Context => T_OBJECT,
        // V8's snapshots type the native context `hidden` (`system / NativeContext`).
        Kind::NativeContext => T_HIDDEN,
        Kind::Other if type_name().contains("CODE") => T_CODE,
        _ => T_HIDDEN,
    }
}

/// The group DevTools' Summary view puts objects of a snapshot node type in, for the types
/// not grouped by constructor: `(string)`, `(concatenated string)`, `(array)`, `(compiled
/// code)`, `(closure)`, `(system)`...
pub(crate) fn summary_group(node_type: u8) -> &'static str {
    match node_type {
        T_HIDDEN => "(system)",
        T_ARRAY => "(array)",
        T_STRING => "(string)",
        T_CODE => "(compiled code)",
        T_CLOSURE => "(closure)",
        T_REGEXP => "(regexp)",
        T_NUMBER => "(number)",
        T_CONS => "(concatenated string)",
        T_SLICED => "(sliced string)",
        T_SYMBOL => "(symbol)",
        T_BIGINT => "(bigint)",
        T_SHAPE => "(object shape)",
        _ => "(object)",
    }
}

/// Census rows for the objects `findjsobjects` does not group by constructor, one per
/// DevTools Summary group (`(string)`, `(array)`...), so that with them the rows add up to
/// the whole heap.
pub fn type_rows(h: &Heap, scope: crate::objects::census::Scope) -> Vec<CensusRow> {
    let all = scope == crate::objects::census::Scope::All;
    let per_type = (0..h.index.len())
        .into_par_iter()
        .fold(
            || [(0u64, 0u64, 0u64); 15],
            |mut acc, i| {
                let live = h.marking.is_marked(i);
                if h.names.get(i).is_none() && (all || live) {
                    let t = node_type(h, i) as usize;
                    acc[t].0 += 1;
                    acc[t].1 += h.index.size(i) as u64;
                    acc[t].2 += (!live) as u64;
                }
                acc
            },
        )
        .reduce(
            || [(0u64, 0u64, 0u64); 15],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    x.0 += y.0;
                    x.1 += y.1;
                    x.2 += y.2;
                }
                a
            },
        );
    per_type
        .iter()
        .enumerate()
        .filter(|(_, c)| c.0 > 0)
        .map(|(t, &(count, size, dead))| CensusRow {
            name: summary_group(t as u8).to_string(),
            count,
            size,
            unreachable: all.then_some(dead),
            retained: None,
            properties: None,
        })
        .collect()
}

/// Edge types, in the order of `snapshot.meta.edge_types[0]`.
const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];
const E_CONTEXT: u8 = 0;
const E_ELEMENT: u8 = 1;
const E_PROPERTY: u8 = 2;
const E_INTERNAL: u8 = 3;
const E_SHORTCUT: u8 = 5;
const E_WEAK: u8 = 6;

const NODE_FIELDS: usize = 7;
const NO_NODE: u32 = u32::MAX;
/// Characters of a string's value used as its node name.
const STRING_NAME_CAP: usize = 1024;

/// What an export wrote.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotStats {
    /// Nodes (two synthetic ones included).
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Distinct strings.
    pub strings: u64,
}

/// An edge's name: a string, or an index for element edges. Property keys and field offsets
/// are kept unformatted until written.
enum Name {
    Str(String),
    Static(&'static str),
    Index(u64),
    Key(u64),
    Offset(u64),
}

/// A chunk's own string table: chunks of objects are named in parallel, then their tables are
/// merged in order into the snapshot's. Each string's hash for the snapshot's table
/// ([`Keys`]) is taken here, in parallel, so that the merge only looks it up.
struct Local<'k> {
    list: Vec<(String, [u64; 2])>,
    ids: rustc_hash::FxHashMap<String, u32>,
    keys: &'k Keys,
}

impl<'k> Local<'k> {
    fn new(keys: &'k Keys) -> Local<'k> {
        Local {
            list: Vec::new(),
            ids: Default::default(),
            keys,
        }
    }

    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push((s.to_string(), self.keys.hash(s)));
        self.ids.insert(s.to_string(), i);
        i
    }
}

/// The two keyed hashes the string table knows a string by, with keys drawn at random per
/// run: a program cannot choose strings that collide.
#[derive(Default)]
struct Keys(
    std::collections::hash_map::RandomState,
    std::collections::hash_map::RandomState,
);

impl Keys {
    fn hash(&self, s: &str) -> [u64; 2] {
        use std::hash::BuildHasher;
        [self.0.hash_one(s), self.1.hash_one(s)]
    }
}

/// The snapshot's string table, which grows with the heap (every string's text is a node
/// name): each distinct string is written once, JSON-encoded, to an anonymous temporary file
/// (readable by no one else, gone when closed) and remembered by a 128-bit keyed hash of its
/// text, so that memory holds about 21 bytes a string (its hash, and its id in a table of ids
/// whose hashes are looked up by id), not the text twice. Two hashes with keys drawn at random
/// per run: a program cannot choose strings that collide.
struct Strings {
    /// String ids, found by the first half of their hash.
    ids: hashbrown::HashTable<u32>,
    /// The hash of each id's string.
    hashes: Vec<[u64; 2]>,
    /// Shared with the chunks, which hash their strings with them.
    keys: std::sync::Arc<Keys>,
    text: io::BufWriter<std::fs::File>,
}

impl Strings {
    fn new(file: std::fs::File) -> Strings {
        Strings {
            ids: hashbrown::HashTable::new(),
            hashes: Vec::new(),
            keys: Default::default(),
            text: io::BufWriter::with_capacity(1 << 20, file),
        }
    }

    fn id(&mut self, s: &str) -> io::Result<u32> {
        let k = self.keys.hash(s);
        self.id_hashed(s, k)
    }

    /// [`Strings::id`] of `s`, whose hash `k` was taken with this table's [`Keys`].
    fn id_hashed(&mut self, s: &str, k: [u64; 2]) -> io::Result<u32> {
        let hashes = &self.hashes;
        if let Some(&i) = self.ids.find(k[0], |&i| hashes[i as usize] == k) {
            return Ok(i);
        }
        if !self.hashes.is_empty() {
            self.text.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.text, s).map_err(io::Error::other)?;
        let i = self.hashes.len() as u32;
        self.hashes.push(k);
        let hashes = &self.hashes;
        self.ids.insert_unique(k[0], i, |&j| hashes[j as usize][0]);
        Ok(i)
    }

    /// Copies the strings, comma-separated, to `w`.
    fn copy_to(self, w: &mut impl Write) -> io::Result<()> {
        append_temp(self.text, w)
    }
}

/// Copies what was written to the temporary file `t` to `w`.
fn append_temp(t: io::BufWriter<std::fs::File>, w: &mut impl Write) -> io::Result<()> {
    use std::io::Seek;
    let mut f = t.into_inner().map_err(|e| e.into_error())?;
    f.seek(io::SeekFrom::Start(0))?;
    io::copy(&mut f, w)?;
    Ok(())
}

/// How `heapsnapshot` writes.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Replace the text of every string and regular expression by its length and a hash of
    /// its first 1024 characters (`<redacted: 12 characters, #1f2e3d4c>`), so that copies stay
    /// visible and the snapshot can be shared where the heap's data may not. Constructor,
    /// function and property names are kept.
    pub redact: bool,
    /// Where the writer's temporary files go (the node lines, the edges and the strings
    /// until the header can be written: together about half the output's size): best the
    /// output's own file system. `None`: the system's temporary directory.
    pub temp_dir: Option<std::path::PathBuf>,
}

impl ExportOptions {
    /// An anonymous temporary file (readable by this process only, gone when closed).
    fn temp_file(&self) -> io::Result<std::fs::File> {
        match &self.temp_dir {
            Some(d) => tempfile::tempfile_in(d),
            None => tempfile::tempfile(),
        }
    }
}

/// The name a redacted string's node gets.
fn redacted(text: &str, length: u64) -> String {
    crate::redact::string(text, length)
}

/// Writes one heap as a `.heapsnapshot`.
struct Exporter<'h> {
    h: &'h Heap,
    r: Reader<'h>,
    redact: bool,
    /// Node number of each object index (`NO_NODE` for unreachable objects).
    node_of: Vec<u32>,
    /// Object index of each node after the two synthetic ones.
    objects: Vec<u32>,
    /// Root objects, children of `(GC roots)`.
    roots: Vec<u32>,
    globals: Vec<u32>,
    /// ArrayBuffer backing stores (each once, with its owner's object index and its bytes), as
    /// native nodes after the objects, as V8's own snapshot gives them.
    stores: Vec<(u32, u64)>,
    /// Node number of each owner's store.
    store_node: rustc_hash::FxHashMap<u32, u32>,
}

/// The node type of memory outside the V8 heap.
const T_NATIVE: u8 = 8;

impl<'h> Exporter<'h> {
    fn new(h: &'h Heap, opts: ExportOptions) -> Exporter<'h> {
        let n = h.index.len();
        let mut node_of = vec![NO_NODE; n];
        let mut objects = Vec::with_capacity(h.marking.reachable as usize);
        for (i, slot) in node_of.iter_mut().enumerate() {
            if h.marking.is_marked(i) {
                *slot = (objects.len() + 2) as u32;
                objects.push(i as u32);
            }
        }
        let mut roots: Vec<u32> = h.marking.root_at.keys().copied().collect();
        roots.sort_unstable();
        let globals = objects
            .iter()
            .copied()
            .filter(|&i| h.index.kind(&h.p, i as usize) == Kind::JSGlobalObject)
            .collect();
        let stores: Vec<(u32, u64)> = crate::memory::external_owners(h, None)
            .into_iter()
            .filter(|o| o.reachable && o.store != 0)
            .map(|o| (o.object as u32, o.bytes))
            .collect();
        let first_store = objects.len() as u32 + 2;
        let store_node = stores
            .iter()
            .enumerate()
            .map(|(k, &(o, _))| (o, first_store + k as u32))
            .collect();
        Exporter {
            h,
            r: h.reader(),
            redact: opts.redact,
            node_of,
            objects,
            roots,
            globals,
            stores,
            store_node,
        }
    }

    /// Node type and name of object `i`.
    fn type_and_name(&self, i: usize) -> (u8, String) {
        let h = self.h;
        let r = &self.r;
        let obj = h.index.tagged(i);
        if let Some(n) = h.names.get(i) {
            return (T_OBJECT, n.to_string());
        }
        let system = |t: &str| format!("system / {t}");
        let type_name = || {
            h.p.types
                .name(h.index.types[i])
                .map(|t| t.trim_end_matches("_TYPE").to_string())
                .unwrap_or_default()
        };
        let ty = node_type(h, i);
        let name = match ty {
            T_CLOSURE => r.function_name(obj),
            T_REGEXP => {
                let source = r
                    .slot(obj, h.p.fields.regexp_source)
                    .and_then(|s| r.string_text(s))
                    .unwrap_or_default();
                if self.redact {
                    redacted(&source, source.encode_utf16().count() as u64)
                } else {
                    source
                }
            }
            T_STRING | T_CONS | T_SLICED => match r.string(obj, STRING_NAME_CAP) {
                Some(s) if self.redact => redacted(&s.text, s.length),
                Some(s) => s.text,
                None => String::new(),
            },
            T_NUMBER => "heap number".into(),
            T_SYMBOL => "symbol".into(),
            T_BIGINT => "bigint".into(),
            T_SHAPE => system("Map"),
            _ if h.index.kind(&h.p, i) == Kind::NativeContext => system("NativeContext"),
            _ => system(&type_name()),
        };
        (ty, name)
    }

    /// The edges of object `i`, in a fixed order: properties, elements, closure variables,
    /// then every other pointer field.
    fn edges(&self, i: usize, out: &mut Vec<(u8, Name, u32)>) {
        out.clear();
        let h = self.h;
        let r = &self.r;
        let f = &h.p.fields;
        let obj = h.index.tagged(i);
        let kind = h.index.kind(&h.p, i);
        let node = |w: u64| -> Option<u32> {
            let t = h.index.target(w)?;
            let n = self.node_of[t];
            (n != NO_NODE).then_some(n)
        };
        // Byte offsets covered by named edges: not repeated as internal ones.
        let mut covered = (0u64, 0u64);
        if kind.is_receiver() {
            r.for_each_own_property_raw(obj, |p| {
                if let Some(n) = node(p.value) {
                    out.push((E_PROPERTY, Name::Key(p.key_word), n));
                }
                true
            });
            match r.elements(obj, usize::MAX >> 1) {
                Some(Elements::Tagged { values, .. }) => {
                    // As V8's snapshot: up to an array's length, holes left out.
                    let hole = r.the_hole();
                    let len = if kind == Kind::JSArray {
                        r.js_array_length(obj).map_or(values.len(), |l| l as usize)
                    } else {
                        values.len()
                    };
                    for (k, v) in values.into_iter().enumerate().take(len) {
                        if Some(v) == hole {
                            continue;
                        }
                        if let Some(n) = node(v) {
                            out.push((E_ELEMENT, Name::Index(k as u64), n));
                        }
                    }
                }
                Some(Elements::Dictionary { entries }) => {
                    for (k, v) in entries {
                        if let Some(n) = node(v) {
                            out.push((E_ELEMENT, Name::Index(k), n));
                        }
                    }
                }
                _ => {}
            }
            if let Some(map) = r.map(obj) {
                let words = r
                    .u8_at(map, h.p.layout.map_instance_size_in_words as u64)
                    .unwrap_or(0) as u64;
                let start = r.u8_at(map, f.map_inobject_start).unwrap_or(0) as u64;
                if start > 0 && words > start {
                    covered = (start * 8, words * 8);
                }
            }
        }
        if kind == Kind::Context {
            let names = r
                .array_get(obj, f.context_scope_info)
                .map(|si| r.scope_local_names(si))
                .unwrap_or_default();
            for (k, name) in names.into_iter().enumerate() {
                let slot = f.context_min_slots + k as u64;
                if let Some(n) = r.array_get(obj, slot).and_then(node) {
                    out.push((E_CONTEXT, Name::Str(name), n));
                }
                let off = f.fixed_array_data + 8 * slot;
                covered = (covered.0.min(off), off + 8);
            }
        }
        let start = h.index.addr(i);
        let data = f.fixed_array_data;
        let array_like = matches!(
            kind,
            Kind::FixedArray | Kind::PropertyArray | Kind::NameDictionary | Kind::NumberDictionary
        );
        h.index.for_each_slot(&h.p, i, |a, w| {
            let off = a - start;
            if off >= covered.0 && off < covered.1 {
                return;
            }
            let Some(n) = node(w) else { return };
            let weak = w & 3 == 3;
            let name = match off {
                0 => Name::Static("map"),
                _ if kind.is_receiver() && off == f.receiver_properties => {
                    Name::Static("properties")
                }
                _ if kind.is_receiver() && off == f.object_elements => Name::Static("elements"),
                _ if kind == Kind::JSFunction && off == f.function_context => {
                    Name::Static("context")
                }
                _ if kind == Kind::JSFunction && off == f.function_shared => Name::Static("shared"),
                _ if array_like && off >= data => Name::Index((off - data) / 8),
                _ => Name::Offset(off),
            };
            let ty = if weak {
                E_WEAK
            } else if matches!(name, Name::Index(_)) {
                E_ELEMENT
            } else {
                E_INTERNAL
            };
            out.push((ty, name, n));
        });
        if let Some(&n) = self.store_node.get(&(i as u32)) {
            out.push((E_INTERNAL, Name::Static("backing_store"), n));
        }
    }
}

impl Exporter<'_> {
    /// The string of an edge name that is not an element index.
    fn name_text(&self, name: &Name) -> String {
        match name {
            Name::Str(s) => s.clone(),
            Name::Static(s) => s.to_string(),
            Name::Index(k) => k.to_string(),
            Name::Key(k) => self.r.key(*k).to_string(),
            Name::Offset(off) => format!("+{off:#x}"),
        }
    }

    /// Objects `objs` (node order): each one's node type, local name id and edge count, and
    /// the edges as (type, local name id or element index, target node), with the chunk's
    /// string table.
    fn chunk<'k>(&self, objs: &[u32], keys: &'k Keys) -> Chunk<'k> {
        let mut c = Chunk {
            types: Vec::new(),
            names: Vec::new(),
            counts: Vec::new(),
            edges: Vec::new(),
            local: Local::new(keys),
        };
        // Property keys, field offsets and fixed names recur on almost every object: their
        // local ids by key word, offset or address, so that each is formatted once a chunk.
        let mut known: rustc_hash::FxHashMap<(u8, u64), u32> = Default::default();
        let mut buf = Vec::new();
        for (n, &i) in objs.iter().enumerate() {
            // The objects lie all over the core: let its pages go when much is resident.
            if n % 1024 == 1023 {
                self.h
                    .p
                    .dump()
                    .release_over(crate::heap::RESIDENT_CORE_BYTES);
            }
            let (ty, name) = self.type_and_name(i as usize);
            c.types.push(ty);
            c.names.push(c.local.id(&name));
            self.edges(i as usize, &mut buf);
            c.counts.push(buf.len() as u32);
            for (ty, name, to) in buf.drain(..) {
                let key = match &name {
                    // Array indices are below 2^32.
                    Name::Index(k) if ty == E_ELEMENT => {
                        c.edges
                            .push((ty, u32::try_from(*k).unwrap_or(u32::MAX), to));
                        continue;
                    }
                    Name::Str(s) => {
                        c.edges.push((ty, c.local.id(s), to));
                        continue;
                    }
                    Name::Key(k) => (0, *k),
                    Name::Offset(o) => (1, *o),
                    Name::Index(k) => (2, *k),
                    Name::Static(s) => (3, s.as_ptr() as u64),
                };
                let local = &mut c.local;
                let name_or_index = *known
                    .entry(key)
                    .or_insert_with(|| local.id(&self.name_text(&name)));
                c.edges.push((ty, name_or_index, to));
            }
        }
        c
    }
}

/// One chunk of objects: node types, name ids and edge counts; the edges as (type, name id
/// or element index, target node number); the names' local table.
struct Chunk<'k> {
    types: Vec<u8>,
    names: Vec<u32>,
    counts: Vec<u32>,
    edges: Vec<(u8, u32, u32)>,
    local: Local<'k>,
}

/// Bytes of an edge in the temporary file: type, name id or index, target node number.
const EDGE_RECORD: usize = 9;

/// Appends `,\n` and the numbers, comma-separated: one line of the nodes or edges array.
fn push_line(out: &mut Vec<u8>, fields: &[u64]) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b",\n");
    for (k, &f) in fields.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b.format(f).as_bytes());
    }
}

/// Objects per parallel chunk.
const CHUNK: usize = 1 << 13;
/// Chunks formatted per batch (bounds the memory held between computing and writing).
const BATCH: usize = 64;

/// Where [`write_batch`] writes: the node lines and the edge records' temporary files.
type BatchOut<'a> = (
    &'a mut io::BufWriter<std::fs::File>,
    &'a mut io::BufWriter<std::fs::File>,
);

/// Batch `b` (chunks `batch`, read into `parts`) into the snapshot: its names into the
/// string table in order (its ids follow the order names are first met), then its node lines
/// and edge records, made in parallel and written in order. Adds its nodes and edges to
/// `counts` (nodes done, edges in all).
fn write_batch(
    h: &Heap,
    b: usize,
    batch: &[&[u32]],
    mut parts: Vec<Chunk>,
    strings: &mut Strings,
    (node_text, edge_bin): BatchOut,
    (done, edge_total): (&mut u64, &mut u64),
) -> io::Result<()> {
    for c in parts.iter_mut() {
        let map = c
            .local
            .list
            .iter()
            .map(|(s, k)| strings.id_hashed(s, *k))
            .collect::<io::Result<Vec<u32>>>()?;
        for k in c.names.iter_mut() {
            *k = map[*k as usize];
        }
        for e in c.edges.iter_mut().filter(|e| e.0 != E_ELEMENT) {
            e.1 = map[e.1 as usize];
        }
        *done += c.types.len() as u64;
        *edge_total += c.edges.len() as u64;
    }
    let out: Vec<(Vec<u8>, Vec<u8>)> = parts
        .par_iter()
        .zip(batch.par_iter())
        .enumerate()
        .map(|(j, (c, objs))| {
            let from = (b * BATCH + j) * CHUNK;
            let mut lines = Vec::with_capacity(objs.len() * 24);
            for (x, &i) in objs.iter().enumerate() {
                let k = (from + x) as u64;
                let size = h.index.size(i as usize) as u64;
                let (t, n, e) = (c.types[x] as u64, c.names[x] as u64, c.counts[x] as u64);
                push_line(&mut lines, &[t, n, 5 + 2 * k, size, e, 0, 0]);
            }
            let mut records = Vec::with_capacity(c.edges.len() * EDGE_RECORD);
            for &(ty, name, to) in &c.edges {
                records.push(ty);
                records.extend_from_slice(&name.to_le_bytes());
                records.extend_from_slice(&to.to_le_bytes());
            }
            (lines, records)
        })
        .collect();
    for (lines, records) in out {
        node_text.write_all(&lines)?;
        edge_bin.write_all(&records)?;
    }
    // The batch's objects were read all over the core: let its pages go.
    h.p.dump().release_all();
    Ok(())
}

/// Write the reachable heap of `h` to `w` as a `.heapsnapshot`.
pub fn write_heapsnapshot(
    h: &Heap,
    w: impl Write,
    progress: Progress,
    opts: ExportOptions,
) -> io::Result<SnapshotStats> {
    let mut w = io::BufWriter::with_capacity(1 << 20, w);
    let mut strings = Strings::new(opts.temp_file()?);
    strings.id("")?;
    // One pass over the heap, in parallel chunks: every node's type, name and edges. The
    // header, which comes first, needs the edge count that only the whole pass knows, and
    // the strings come last: the node lines (as text) and the edges (as 9-byte records) go to
    // anonymous temporary files as they are made, so that nothing per node or edge is held.
    let mut node_text = io::BufWriter::with_capacity(1 << 20, opts.temp_file()?);
    let mut edge_bin = io::BufWriter::with_capacity(1 << 20, opts.temp_file()?);
    let ex = Exporter::new(h, opts);
    let total = ex.objects.len() as u64;
    let mut edge_total = 1 + ex.globals.len() as u64 + ex.roots.len() as u64;
    let chunks: Vec<&[u32]> = ex.objects.chunks(CHUNK).collect();
    let batches: Vec<&[&[u32]]> = chunks.chunks(BATCH).collect();
    let mut done = 0u64;
    // Batch b + 1 is read while batch b is merged and written: the merge runs on one thread,
    // and the reading takes whatever the pool has left.
    let keys = strings.keys.clone();
    let mut pending: Option<(usize, Vec<Chunk>)> = None;
    for next in 0..=batches.len() {
        let read = || -> Option<Vec<Chunk>> {
            let batch = batches.get(next)?;
            Some(batch.par_iter().map(|objs| ex.chunk(objs, &keys)).collect())
        };
        let (read, written) = match pending.take() {
            None => (read(), Ok(())),
            Some((b, parts)) => rayon::join(read, || {
                write_batch(
                    h,
                    b,
                    batches[b],
                    parts,
                    &mut strings,
                    (&mut node_text, &mut edge_bin),
                    (&mut done, &mut edge_total),
                )
            }),
        };
        written?;
        progress("snapshot: reading objects", done, total);
        pending = read.map(|parts| (next, parts));
    }

    let node_count = ex.objects.len() as u64 + 2 + ex.stores.len() as u64;
    let q = |s: &[&str]| {
        s.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    write!(
        w,
        "{{\"snapshot\":{{\"meta\":{{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\
         \"edge_count\",\"trace_node_id\",\"detachedness\"],\"node_types\":[[{}],\"string\",\
         \"number\",\"number\",\"number\",\"number\",\"number\"],\"edge_fields\":[\"type\",\
         \"name_or_index\",\"to_node\"],\"edge_types\":[[{}],\"string_or_number\",\"node\"],\
         \"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\",\
         \"line\",\"column\"],\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\
         \"size\",\"children\"],\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],\
         \"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}},\
         \"node_count\":{node_count},\"edge_count\":{edge_total},\"trace_function_count\":0}},\n\
         \"nodes\":[",
        q(&NODE_TYPES),
        q(&EDGE_TYPES)
    )?;
    // The synthetic root: (GC roots), then shortcuts to the global objects.
    let root_name = strings.id("")?;
    let gc_roots = strings.id("(GC roots)")?;
    write!(
        w,
        "{T_SYNTHETIC},{root_name},1,0,{},0,0,\n{T_SYNTHETIC},{gc_roots},3,0,{},0,0",
        1 + ex.globals.len(),
        ex.roots.len()
    )?;
    append_temp(node_text, &mut w)?;
    let store_name = strings.id("system / JSArrayBufferData")?;
    for (k, &(_, bytes)) in ex.stores.iter().enumerate() {
        let id = 5 + 2 * (ex.objects.len() + k) as u64;
        write!(w, ",\n{T_NATIVE},{store_name},{id},{bytes},0,0,0")?;
    }
    w.write_all(b"],\n\"edges\":[")?;
    // The root's edges: (GC roots), shortcuts to the global objects; (GC roots)' edges to the
    // root objects.
    let element = E_ELEMENT;
    write!(w, "{element},1,{}", NODE_FIELDS)?;
    let global = strings.id("global")?;
    for &g in &ex.globals {
        let n = ex.node_of[g as usize] as usize;
        write!(w, ",\n{E_SHORTCUT},{global},{}", n * NODE_FIELDS)?;
    }
    for (k, &r) in ex.roots.iter().enumerate() {
        let n = ex.node_of[r as usize] as usize;
        write!(w, ",\n{element},{k},{}", n * NODE_FIELDS)?;
    }
    // The edges, in node order, from their temporary file: formatted in parallel a block at
    // a time.
    let records = edge_total - 1 - ex.globals.len() as u64 - ex.roots.len() as u64;
    let mut f = edge_bin.into_inner().map_err(|e| e.into_error())?;
    {
        use std::io::{Read, Seek};
        f.seek(io::SeekFrom::Start(0))?;
        let mut f = io::BufReader::with_capacity(1 << 20, f);
        const BLOCK: usize = 1 << 20;
        let mut block = vec![0u8; BLOCK * EDGE_RECORD];
        let mut left = records;
        while left > 0 {
            let k = left.min(BLOCK as u64) as usize;
            let bytes = &mut block[..k * EDGE_RECORD];
            f.read_exact(bytes)?;
            let texts: Vec<Vec<u8>> = bytes
                .par_chunks(EDGE_RECORD << 13)
                .map(|part| {
                    let mut out = Vec::with_capacity(part.len() * 2);
                    for r in part.chunks_exact(EDGE_RECORD) {
                        let name = u32::from_le_bytes([r[1], r[2], r[3], r[4]]) as u64;
                        let to = u32::from_le_bytes([r[5], r[6], r[7], r[8]]) as u64;
                        push_line(&mut out, &[r[0] as u64, name, to * NODE_FIELDS as u64]);
                    }
                    out
                })
                .collect();
            for t in texts {
                w.write_all(&t)?;
            }
            left -= k as u64;
            progress("snapshot: writing edges", records - left, records);
        }
    }
    w.write_all(
        b"],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n\"samples\":[],\n\"locations\":[],\n\"strings\":[",
    )?;
    let string_count = strings.hashes.len() as u64;
    strings.copy_to(&mut w)?;
    w.write_all(b"]}\n")?;
    w.flush()?;
    Ok(SnapshotStats {
        nodes: node_count,
        edges: edge_total,
        strings: string_count,
    })
}
