//! Retained memory as a tree of frames: the dominator tree with siblings of one name merged.
//!
//! Every reachable object is a stack of frames, from the roots down its chain of dominators
//! to itself, each frame named in the program's vocabulary (constructor names, `system /
//! Context`, functions as `name (script:line:column)`). Objects whose stacks read the same
//! are one frame: the 2000 listener closures of one EventEmitter become one frame under its
//! listeners array, their contexts one frame under it, the sessions they hold one frame
//! under that. A frame's width is the bytes of everything below it, so what holds the memory
//! is the widest tower, whichever tool draws it.
//!
//! [`RetainedTree`] is the answer: frames below a size are folded into their parent and
//! counted, so the answer stays small whatever the heap. [`folded`], [`svg`] and [`pprof`]
//! encode it for flame-graph tools; the HTML report draws it as a treemap.

use crate::answer::Answer;
use crate::graph::describe::display_name;
use crate::graph::dominators::Dominators;
use crate::heap::loaded::Heap;
use crate::heap::marking::StoreRole;
use crate::meta::kinds::Kind;
use crate::objects::position::function_location;
use crate::objects::reader::Reader;
use crate::render::clean;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// How much of the tree to keep.
#[derive(Debug, Clone, Copy)]
pub struct TreeOptions {
    /// Frames deeper than this are folded into one `(deeper)` frame under the last one kept.
    pub max_depth: usize,
    /// Frames retaining less than this share of the total are folded into their parent.
    pub min_share: f64,
    /// Frames kept at most (the smallest folded first).
    pub max_frames: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions {
            max_depth: 64,
            min_share: 0.00001,
            max_frames: 100_000,
        }
    }
}

/// What a frame is: its name and sizes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FrameFigures {
    /// How the frame reads: a constructor name, `system / Context`, `name (script:line:col)`.
    pub name: String,
    /// One of its objects (`0x...` tagged address, or `@ID` in a heap snapshot).
    pub example: Option<String>,
    /// Bytes retained by the frame's objects: their own and everything below them.
    pub bytes: u64,
    /// Objects in that.
    pub objects: u64,
    /// The frame's objects' own bytes (for external memory: the bytes outside the heap).
    pub self_bytes: u64,
    /// The frame's objects.
    pub self_objects: u64,
    /// Bytes of the frames below this one too small to show.
    pub folded_bytes: u64,
    /// How many frames those are.
    pub folded_frames: u64,
}

/// One frame: the objects (of one name) at one place in the dominator tree.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Frame {
    /// Its name and sizes (in JSON, the frame's own fields).
    #[serde(flatten)]
    pub figures: FrameFigures,
    /// The frames below, largest first.
    pub children: Vec<Frame>,
}

impl std::ops::Deref for Frame {
    type Target = FrameFigures;
    fn deref(&self) -> &FrameFigures {
        &self.figures
    }
}

/// `flamegraph`: retained memory as a tree of frames (see the module documentation).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RetainedTree {
    /// Bytes in the tree: the reachable heap and the external memory its objects own.
    pub total_bytes: u64,
    /// Of which outside the V8 heap (ArrayBuffer backing stores, external strings).
    pub external_bytes: u64,
    /// Objects in the tree.
    pub objects: u64,
    /// Frames before folding.
    pub frames: u64,
    /// Frames shown.
    pub frames_shown: u64,
    /// Frames below this many bytes were folded into their parent.
    pub min_bytes: u64,
    /// Frames deeper than this were folded.
    pub max_depth: usize,
    /// The root frame, `(roots)`.
    pub root: Frame,
}

/// What a dominator tree is read through: a core's heap or a heap snapshot's graph.
pub(crate) trait FlameSource: Sync {
    /// Objects (node indexes `0..len`).
    fn len(&self) -> usize;
    /// The dominator tree.
    fn dominators(&self) -> &Dominators;
    /// Whether `v` stands for the roots themselves (a snapshot's synthetic root).
    fn is_root(&self, _v: usize) -> bool {
        false
    }
    /// `v`'s own size.
    fn self_size(&self, v: usize) -> u64;
    /// Objects with the same key under the same frame are one frame. Keys below
    /// [`KEY_RESERVED`] are free to use.
    fn key(&self, v: usize) -> u64;
    /// How the frame of object `v` reads.
    fn label(&self, v: usize) -> String;
    /// How answers name object `v`.
    fn address(&self, v: usize) -> String;
    /// Objects that own memory outside the heap, with how many bytes.
    fn external(&self) -> Vec<(u32, u64)> {
        Vec::new()
    }
}

/// Keys from here on are the tree's own.
pub(crate) const KEY_RESERVED: u64 = u64::MAX - 16;
const KEY_DEEPER: u64 = u64::MAX - 1;
const KEY_EXTERNAL: u64 = u64::MAX - 2;
const UNSET: u32 = u32::MAX;

struct Node {
    parent: u32,
    key: u64,
    rep: u32,
    depth: u32,
    self_bytes: u64,
    self_objects: u64,
    bytes: u64,
    objects: u64,
}

/// The merged tree before folding: node 0 is the root.
struct Trie {
    nodes: Vec<Node>,
    index: FxHashMap<(u32, u64), u32>,
    max_depth: u32,
}

impl Trie {
    fn child(&mut self, parent: u32, key: u64, rep: u32) -> u32 {
        let p = &self.nodes[parent as usize];
        if p.key == KEY_DEEPER {
            return parent;
        }
        let (key, depth) = if p.depth >= self.max_depth {
            (KEY_DEEPER, p.depth + 1)
        } else {
            (key, p.depth + 1)
        };
        let next = self.nodes.len() as u32;
        let id = *self.index.entry((parent, key)).or_insert(next);
        if id == next {
            self.nodes.push(Node {
                parent,
                key,
                rep,
                depth,
                self_bytes: 0,
                self_objects: 0,
                bytes: 0,
                objects: 0,
            });
        }
        id
    }
}

/// Merge the dominator tree of `src` into frames and fold it as `opts` says.
pub(crate) fn retained_tree(src: &dyn FlameSource, opts: &TreeOptions) -> RetainedTree {
    let n = src.len();
    let d = src.dominators();
    let mut t = Trie {
        nodes: vec![Node {
            parent: UNSET,
            key: KEY_RESERVED,
            rep: UNSET,
            depth: 0,
            self_bytes: 0,
            self_objects: 0,
            bytes: 0,
            objects: 0,
        }],
        index: FxHashMap::default(),
        max_depth: opts.max_depth.clamp(1, u32::MAX as usize - 2) as u32,
    };
    let mut frame = vec![UNSET; n];
    let mut stack: Vec<usize> = Vec::new();
    for v in 0..n {
        if frame[v] != UNSET || d.retained(v) == 0 {
            continue;
        }
        // Up the dominators to an object already placed (or the roots), then down again.
        let mut x = v;
        let mut base = 0u32;
        for _ in 0..=n {
            if frame[x] != UNSET {
                base = frame[x];
                break;
            }
            stack.push(x);
            match d.idom(x) {
                Some(p) if !src.is_root(x) => x = p,
                _ => break,
            }
        }
        let mut f = base;
        while let Some(y) = stack.pop() {
            f = if src.is_root(y) {
                0
            } else {
                t.child(f, src.key(y), y as u32)
            };
            frame[y] = f;
            let node = &mut t.nodes[f as usize];
            node.self_bytes += src.self_size(y);
            node.self_objects += 1;
        }
    }
    let mut external_bytes = 0;
    for (o, b) in src.external() {
        let Some(&f) = frame.get(o as usize) else {
            continue;
        };
        if f == UNSET {
            continue;
        }
        let e = t.child(f, KEY_EXTERNAL, o);
        t.nodes[e as usize].self_bytes += b;
        external_bytes += b;
    }
    drop(frame);
    // Children come after their parents: one pass from the end adds every subtree up.
    for i in (0..t.nodes.len()).rev() {
        let node = &mut t.nodes[i];
        node.bytes += node.self_bytes;
        node.objects += node.self_objects;
        let (p, b, o) = (node.parent, node.bytes, node.objects);
        if p != UNSET {
            t.nodes[p as usize].bytes += b;
            t.nodes[p as usize].objects += o;
        }
    }
    let total = t.nodes[0].bytes;
    let mut min_bytes = ((total as f64) * opts.min_share.max(0.0)).ceil() as u64;
    let cap = opts.max_frames.max(1);
    if t.nodes.len() > cap {
        let mut sizes: Vec<u64> = t.nodes.iter().map(|x| x.bytes).collect();
        let (_, kth, _) = sizes.select_nth_unstable_by(cap - 1, |a, b| b.cmp(a));
        // Strictly above the cap's size, so that ties never push past the cap.
        min_bytes = min_bytes.max(kth.saturating_add(1));
    }
    let min_bytes = min_bytes.max(1);
    let mut kids: Vec<Vec<u32>> = Vec::new();
    let mut slot: Vec<u32> = vec![UNSET; t.nodes.len()];
    slot[0] = 0;
    kids.push(Vec::new());
    let mut folded: Vec<(u64, u64)> = vec![(0, 0)];
    for i in 1..t.nodes.len() {
        let p = t.nodes[i].parent as usize;
        let ps = slot[p];
        if ps == UNSET {
            continue;
        }
        if t.nodes[i].bytes >= min_bytes {
            slot[i] = kids.len() as u32;
            kids.push(Vec::new());
            folded.push((0, 0));
            kids[ps as usize].push(i as u32);
        } else {
            folded[ps as usize].0 += t.nodes[i].bytes;
            folded[ps as usize].1 += 1;
        }
    }
    let shown = kids.len() as u64;
    let root = make_frame(src, &t, &kids, &slot, &folded, 0);
    RetainedTree {
        total_bytes: total,
        external_bytes,
        objects: t.nodes[0].objects,
        frames: t.nodes.len() as u64,
        frames_shown: shown,
        min_bytes,
        max_depth: t.max_depth as usize,
        root,
    }
}

/// The frame of trie node `i` with its shown children (recursion bounded by the depth cap).
fn make_frame(
    src: &dyn FlameSource,
    t: &Trie,
    kids: &[Vec<u32>],
    slot: &[u32],
    folded: &[(u64, u64)],
    i: usize,
) -> Frame {
    let node = &t.nodes[i];
    let s = slot[i] as usize;
    let mut children: Vec<Frame> = kids[s]
        .iter()
        .map(|&c| make_frame(src, t, kids, slot, folded, c as usize))
        .collect();
    children.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let name = match node.key {
        _ if i == 0 => "(roots)".to_string(),
        KEY_DEEPER => "(deeper frames)".to_string(),
        KEY_EXTERNAL => "(external memory)".to_string(),
        _ => short(clean(&src.label(node.rep as usize))),
    };
    let example =
        (node.rep != UNSET && node.key != KEY_DEEPER).then(|| src.address(node.rep as usize));
    Frame {
        figures: FrameFigures {
            name,
            example,
            bytes: node.bytes,
            objects: node.objects,
            self_bytes: node.self_bytes,
            self_objects: node.self_objects,
            folded_bytes: folded[s].0,
            folded_frames: folded[s].1,
        },
        children,
    }
}

/// A core's heap as a [`FlameSource`].
pub(crate) struct HeapFlame<'a> {
    h: &'a Heap,
    d: &'a Dominators,
    r: Reader<'a>,
    /// Keys of the objects named by their type, per type and store role.
    type_keys: std::sync::Mutex<FxHashMap<u32, u64>>,
}

impl<'a> HeapFlame<'a> {
    pub(crate) fn new(h: &'a Heap, d: &'a Dominators) -> HeapFlame<'a> {
        HeapFlame {
            h,
            d,
            r: h.reader(),
            type_keys: Default::default(),
        }
    }
}

impl FlameSource for HeapFlame<'_> {
    fn len(&self) -> usize {
        self.h.index.len()
    }
    fn dominators(&self) -> &Dominators {
        self.d
    }
    fn self_size(&self, v: usize) -> u64 {
        self.h.index.size(v) as u64
    }
    fn key(&self, v: usize) -> u64 {
        // Named objects by their name id; functions by their code (SharedFunctionInfo);
        // the engine's objects by their type (and role, for stores).
        let kind = self.h.index.kind(&self.h.p, v);
        if kind == Kind::JSGlobalObject {
            return 3 << 56;
        }
        if let Some(id) = self.h.names.id(v) {
            return id as u64;
        }
        if kind == Kind::JSFunction {
            if let Some(sfi) = self.r.function_shared(self.h.index.tagged(v)) {
                return (1 << 56) | (sfi & ((1 << 56) - 1));
            }
        }
        let role = match self.h.store_role(v) {
            None => 0,
            Some(StoreRole::Elements) => 1,
            Some(StoreRole::Properties) => 2,
        };
        // By how the type reads, so that the string types are one `(string)`.
        let by_type = ((self.h.index.types[v] as u32) << 8) | role;
        let mut cache = self.type_keys.lock().unwrap_or_else(|e| e.into_inner());
        *cache.entry(by_type).or_insert_with(|| {
            let mut hasher = rustc_hash::FxHasher::default();
            std::hash::Hash::hash(&display_name(self.h, v), &mut hasher);
            (2 << 56) | (std::hash::Hasher::finish(&hasher) & ((1 << 56) - 1))
        })
    }
    fn label(&self, v: usize) -> String {
        if self.h.index.kind(&self.h.p, v) == Kind::JSFunction {
            return function_location(&self.r, self.h.index.tagged(v)).text();
        }
        display_name(self.h, v)
    }
    fn address(&self, v: usize) -> String {
        format!("{:#x}", self.h.index.tagged(v))
    }
    /// ArrayBuffer stores and external strings, but not the strings whose text is in a
    /// mapped file (node's builtin sources, static in the executable): no allocation of the
    /// process holds those bytes, and none would be freed with the string.
    fn external(&self) -> Vec<(u32, u64)> {
        let dump = self.h.p.dump();
        crate::memory::external_owners(self.h, None)
            .into_iter()
            .filter(|o| o.reachable)
            .filter(|o| {
                let t = self.h.index.types[o.object];
                let cached_string = o.store == 0 && t & 0x10 == 0;
                !cached_string
                    || self
                        .r
                        .slot(
                            self.h.index.tagged(o.object),
                            self.h.p.fields.external_resource + 8,
                        )
                        .is_none_or(|d| dump.mapped_file_at(elfcore::Address(d)).is_none())
            })
            .map(|o| (o.object as u32, o.bytes))
            .collect()
    }
}

/// Frame names are cut to this many characters (a program may name a class anything).
const MAX_NAME: usize = 160;

fn short(s: String) -> String {
    if s.chars().count() <= MAX_NAME {
        return s;
    }
    let mut t: String = s.chars().take(MAX_NAME - 1).collect();
    t.push('\u{2026}');
    t
}

/// The tree in the folded-stacks format of flamegraph.pl, inferno and speedscope: one line
/// per frame that holds bytes of its own (or folded ones), `root;frame;...;frame bytes`.
/// `;` inside a name is written as `,`.
pub fn folded(t: &RetainedTree) -> String {
    let mut out = String::new();
    let mut path: Vec<String> = Vec::new();
    fold_into(&t.root, &mut path, &mut out);
    out
}

fn fold_into(f: &Frame, path: &mut Vec<String>, out: &mut String) {
    path.push(f.name.replace(';', ","));
    let own = f.self_bytes + f.folded_bytes;
    if own > 0 {
        out.push_str(&path.join(";"));
        out.push(' ');
        out.push_str(&own.to_string());
        out.push('\n');
    }
    for c in &f.children {
        fold_into(c, path, out);
    }
    path.pop();
}

/// The tree drawn as an SVG flame graph (inferno), titled `title`.
pub fn svg(t: &RetainedTree, title: &str) -> crate::Result<Vec<u8>> {
    let text = folded(t);
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = title.to_string();
    opts.subtitle = Some(format!(
        "retained memory: {} in {} objects; a frame's width is what its objects keep alive",
        crate::render::bytes(t.total_bytes),
        t.objects
    ));
    opts.count_name = "bytes".into();
    // Colours from the names, so the same tree draws the same picture.
    opts.hash = true;
    // Roots at the top, as the dominator tree reads from them down (an icicle graph).
    opts.direction = inferno::flamegraph::Direction::Inverted;
    opts.deterministic = true;
    opts.name_type = "Retained by:".into();
    opts.colors =
        inferno::flamegraph::Palette::Basic(inferno::flamegraph::color::BasicPalette::Mem);
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut opts, text.lines(), &mut out).map_err(|e| {
        crate::Error::Render {
            what: "the flame graph",
            why: e.to_string(),
        }
    })?;
    Ok(out)
}

/// The pprof `profile.proto` messages written (field numbers from pprof's profile.proto).
mod proto {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// `name (script:line:column)` split into the name, the script and the line, for pprof's
/// function table; other names are the whole text.
fn code_parts(name: &str) -> (&str, &str, i64) {
    if let Some(open) = name.rfind(" (") {
        if let Some(inner) = name[open + 2..].strip_suffix(')') {
            let mut it = inner.rsplitn(3, ':');
            let (c, l, s) = (it.next(), it.next(), it.next());
            if let (Some(c), Some(l), Some(s)) = (c, l, s) {
                if let (Ok(l), Ok(_)) = (l.parse::<i64>(), c.parse::<u64>()) {
                    return (name, s, l);
                }
            }
        }
    }
    (name, "", 0)
}

/// The tree as a gzipped pprof profile: one sample per frame with bytes or objects of its
/// own, its stack the frames from the roots down (leaf first, as pprof stores it), values
/// `objects` (count) and `space` (bytes, the default). Functions (`name (script:line:col)`)
/// carry their script as the file name and their line.
pub fn pprof(t: &RetainedTree, comment: &str) -> crate::Result<Vec<u8>> {
    use prost::Message;
    let mut strings: Vec<String> = vec![String::new()];
    let mut ids: FxHashMap<String, i64> = FxHashMap::default();
    let mut s = |x: &str| -> i64 {
        if let Some(&i) = ids.get(x) {
            return i;
        }
        strings.push(x.to_string());
        let i = strings.len() as i64 - 1;
        ids.insert(x.to_string(), i);
        i
    };
    let objects = s("objects");
    let count = s("count");
    let space = s("space");
    let bytes_unit = s("bytes");
    let mut functions: Vec<proto::Function> = Vec::new();
    let mut fn_of: FxHashMap<String, u64> = FxHashMap::default();
    let mut samples: Vec<proto::Sample> = Vec::new();
    // Depth-first with an explicit stack of (frame, location path length).
    let mut path: Vec<u64> = Vec::new();
    let mut todo: Vec<(&Frame, usize)> = vec![(&t.root, 0)];
    while let Some((f, depth)) = todo.pop() {
        path.truncate(depth);
        let id = match fn_of.get(&f.name) {
            Some(&id) => id,
            None => {
                let (name, file, line) = code_parts(&f.name);
                let id = functions.len() as u64 + 1;
                let n = s(name);
                functions.push(proto::Function {
                    id,
                    name: n,
                    system_name: n,
                    filename: s(file),
                    start_line: line,
                });
                fn_of.insert(f.name.clone(), id);
                id
            }
        };
        path.push(id);
        let own = f.self_bytes + f.folded_bytes;
        if own > 0 || f.self_objects > 0 {
            samples.push(proto::Sample {
                location_id: path.iter().rev().copied().collect(),
                value: vec![f.self_objects as i64, own as i64],
            });
        }
        for c in f.children.iter().rev() {
            todo.push((c, depth + 1));
        }
    }
    // One location per function: the frames carry no addresses.
    let location = functions
        .iter()
        .map(|f| proto::Location {
            id: f.id,
            line: vec![proto::Line {
                function_id: f.id,
                line: f.start_line,
            }],
        })
        .collect();
    let c = s(comment);
    let profile = proto::Profile {
        sample_type: vec![
            proto::ValueType {
                r#type: objects,
                unit: count,
            },
            proto::ValueType {
                r#type: space,
                unit: bytes_unit,
            },
        ],
        sample: samples,
        location,
        function: functions,
        string_table: strings,
        time_nanos: 0,
        period_type: Some(proto::ValueType {
            r#type: space,
            unit: bytes_unit,
        }),
        period: 1,
        comment: vec![c],
        default_sample_type: space,
    };
    let raw = profile.encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw)
        .and_then(|_| gz.finish())
        .map_err(|e| crate::Error::Render {
            what: "the pprof profile",
            why: e.to_string(),
        })
}

/// A frame of [`FlatTree`]: a [`Frame`]'s figures, with its place in the list.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlatFrame {
    /// Its index in `frames`.
    pub id: usize,
    /// Its parent's index (`null` for the roots' frame).
    pub parent: Option<usize>,
    /// Its depth: 0 for the roots' frame.
    pub depth: usize,
    /// Its name and sizes (in JSON, the frame's own fields).
    #[serde(flatten)]
    pub figures: FrameFigures,
}

/// `flamegraph --format json`: the tree's figures and its frames in depth-first order, each
/// after its parent, children largest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlatTree {
    /// See [`RetainedTree::total_bytes`].
    pub total_bytes: u64,
    /// See [`RetainedTree::external_bytes`].
    pub external_bytes: u64,
    /// See [`RetainedTree::objects`].
    pub objects: u64,
    /// See [`RetainedTree::frames`].
    pub frames_before_folding: u64,
    /// See [`RetainedTree::min_bytes`].
    pub min_bytes: u64,
    /// See [`RetainedTree::max_depth`].
    pub max_depth: usize,
    /// The frames.
    pub frames: Vec<FlatFrame>,
}

/// `t` as a [`FlatTree`].
pub fn flat(t: &RetainedTree) -> FlatTree {
    let mut frames = Vec::new();
    let mut todo: Vec<(&Frame, Option<usize>, usize)> = vec![(&t.root, None, 0)];
    while let Some((f, parent, depth)) = todo.pop() {
        let id = frames.len();
        frames.push(FlatFrame {
            id,
            parent,
            depth,
            figures: f.figures.clone(),
        });
        for c in f.children.iter().rev() {
            todo.push((c, Some(id), depth + 1));
        }
    }
    FlatTree {
        total_bytes: t.total_bytes,
        external_bytes: t.external_bytes,
        objects: t.objects,
        frames_before_folding: t.frames,
        min_bytes: t.min_bytes,
        max_depth: t.max_depth,
        frames,
    }
}

/// The encodings of a [`RetainedTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlameFormat {
    /// An SVG flame graph (inferno), to open in a browser.
    Svg,
    /// Folded stacks, for flamegraph.pl, inferno and speedscope.
    Folded,
    /// A gzipped pprof profile, for `go tool pprof`, pprof's web UI, Pyroscope, speedscope.
    Pprof,
    /// The tree as JSON, its frames as a flat list in depth-first order, each naming its
    /// parent ([`FlatTree`]): no reader needs to nest 64 levels deep.
    Json,
}

impl FlameFormat {
    /// The format a file name asks for: `.svg`, `.pb.gz`/`.pprof`, `.json`, else folded.
    pub fn from_path(path: &std::path::Path) -> FlameFormat {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".svg") {
            FlameFormat::Svg
        } else if name.ends_with(".pb.gz") || name.ends_with(".pprof") || name.ends_with(".pb") {
            FlameFormat::Pprof
        } else if name.ends_with(".json") {
            FlameFormat::Json
        } else {
            FlameFormat::Folded
        }
    }
}

/// `flamegraph -o FILE`: what was written.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FlameWritten {
    /// The file (`-` for standard output).
    pub path: String,
    /// Its format.
    pub format: FlameFormat,
    /// Bytes written.
    pub file_bytes: u64,
    /// Bytes in the tree.
    pub total_bytes: u64,
    /// Frames shown, and before folding.
    pub frames_shown: u64,
    /// Frames before folding.
    pub frames: u64,
    /// The widest tower ([`widest`]): its frames from the roots up, each with its bytes.
    pub widest: Vec<(String, u64)>,
}

/// The widest tower of `t` (see [`FlameWritten::widest`]): from the roots down, at each frame
/// the child whose column is the largest. A column is a frame with the chain of largest frames
/// above it (as a flame graph draws it), and its size is its area: the bytes of every frame in
/// it added up. So a tower that stays wide for many frames (an emitter, its listeners array,
/// the closures, their contexts, the sessions) wins over a wider frame that fans out at once
/// into many small ones (the engine's native context).
pub fn widest(t: &RetainedTree) -> Vec<(String, u64)> {
    fn column(f: &Frame) -> u128 {
        let mut area = 0u128;
        let mut x = f;
        loop {
            area += x.bytes as u128;
            match x.children.first() {
                Some(c) => x = c,
                None => return area,
            }
        }
    }
    let mut out = vec![(t.root.name.clone(), t.root.bytes)];
    let mut f = &t.root;
    while let Some(c) = f
        .children
        .iter()
        .max_by(|a, b| column(a).cmp(&column(b)).then_with(|| b.name.cmp(&a.name)))
    {
        out.push((c.name.clone(), c.bytes));
        f = c;
    }
    out
}

/// Encode `t` as `format` (titled `title`, for the SVG).
pub fn encode(t: &RetainedTree, format: FlameFormat, title: &str) -> crate::Result<Vec<u8>> {
    Ok(match format {
        FlameFormat::Svg => svg(t, title)?,
        FlameFormat::Folded => folded(t).into_bytes(),
        FlameFormat::Pprof => pprof(t, title)?,
        FlameFormat::Json => {
            let mut v = serde_json::to_vec(&flat(t)).map_err(|e| crate::Error::Render {
                what: "the tree as JSON",
                why: e.to_string(),
            })?;
            v.push(b'\n');
            v
        }
    })
}

/// Encode `t` as `format` into `path` (`-`: standard output).
pub fn write(
    t: &RetainedTree,
    format: FlameFormat,
    path: &std::path::Path,
    title: &str,
) -> crate::Result<FlameWritten> {
    let data = encode(t, format, title)?;
    let res = if path.as_os_str() == "-" {
        std::io::Write::write_all(&mut std::io::stdout().lock(), &data)
    } else {
        std::fs::write(path, &data)
    };
    res.map_err(|e| crate::Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(FlameWritten {
        path: path.display().to_string(),
        format,
        file_bytes: data.len() as u64,
        total_bytes: t.total_bytes,
        frames_shown: t.frames_shown,
        frames: t.frames,
        widest: widest(t),
    })
}

/// `flamegraph -o FILE`: write `tree` (an answer about `source`) as `format` to `path`, or
/// as the path's name says when `format` is `None`.
fn write_answer(
    tree: Answer<RetainedTree>,
    source: &str,
    path: &std::path::Path,
    format: Option<FlameFormat>,
) -> crate::Result<Answer<FlameWritten>> {
    let format = format.unwrap_or_else(|| FlameFormat::from_path(path));
    let written = write(
        &tree.body,
        format,
        path,
        &format!("Retained memory of {source}"),
    )?;
    Ok(tree.with_body(written))
}

impl crate::Session {
    /// `flamegraph -o FILE`: the retained-memory tree written as `format` (by default as the
    /// file's name says).
    pub fn flamegraph(
        &self,
        path: &std::path::Path,
        format: Option<FlameFormat>,
        opts: &TreeOptions,
    ) -> crate::Result<Answer<FlameWritten>> {
        let name = self.process().dump().name();
        write_answer(self.retained_tree(opts), &name, path, format)
    }
}

impl crate::SnapshotSession {
    /// `flamegraph -o FILE` of a heap snapshot.
    pub fn flamegraph(
        &self,
        path: &std::path::Path,
        format: Option<FlameFormat>,
        opts: &TreeOptions,
    ) -> crate::Result<Answer<FlameWritten>> {
        let name = self.path().display().to_string();
        write_answer(self.retained_tree(opts), &name, path, format)
    }
}

impl crate::input::Input {
    /// `flamegraph -o FILE`.
    pub fn flamegraph(
        &self,
        path: &std::path::Path,
        format: Option<FlameFormat>,
        opts: &TreeOptions,
    ) -> crate::Result<Answer<FlameWritten>> {
        match self {
            crate::input::Input::Core(s) => s.flamegraph(path, format, opts),
            crate::input::Input::Snapshot(s) => s.flamegraph(path, format, opts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_parts_split_functions_only() {
        assert_eq!(
            code_parts("onData (app.js:12:5)"),
            ("onData (app.js:12:5)", "app.js", 12)
        );
        assert_eq!(
            code_parts("x (node:internal/timers:3:1)"),
            ("x (node:internal/timers:3:1)", "node:internal/timers", 3)
        );
        assert_eq!(code_parts("system / Context"), ("system / Context", "", 0));
        assert_eq!(code_parts("Foo (bar)"), ("Foo (bar)", "", 0));
    }

    fn frame(name: &str, self_bytes: u64, children: Vec<Frame>) -> Frame {
        let bytes = self_bytes + children.iter().map(|c| c.bytes).sum::<u64>();
        Frame {
            figures: FrameFigures {
                name: name.into(),
                example: None,
                bytes,
                objects: 1,
                self_bytes,
                self_objects: 1,
                folded_bytes: 0,
                folded_frames: 0,
            },
            children,
        }
    }

    #[test]
    fn folded_lines_add_up_to_the_total() {
        let root = frame(
            "(roots)",
            0,
            vec![
                frame("a;b", 10, vec![frame("c", 5, vec![])]),
                frame("d", 7, vec![]),
            ],
        );
        let t = RetainedTree {
            total_bytes: root.bytes,
            external_bytes: 0,
            objects: 4,
            frames: 4,
            frames_shown: 4,
            min_bytes: 1,
            max_depth: 64,
            root,
        };
        let text = folded(&t);
        assert_eq!(text, "(roots);a,b 10\n(roots);a,b;c 5\n(roots);d 7\n");
        let sum: u64 = text
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, t.total_bytes);
    }
}
