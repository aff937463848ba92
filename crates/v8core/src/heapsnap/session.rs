//! [`SnapshotSession`]: the questions a heap snapshot can answer, each as the same typed
//! answer a core gives, so that the renderers, the JSON and every front end are shared.
//! Objects are named by their node id as `@ID` (DevTools' convention) where a core gives an
//! address.

use super::graph::{
    DevtoolsDom, SnapGraph, E_CONTEXT, E_ELEMENT, E_HIDDEN, E_INTERNAL, E_PROPERTY, E_SHORTCUT,
    E_WEAK, T_UNKNOWN,
};
use crate::answer::*;
use crate::error::{Error, Result};
use crate::graph::dominators::Dominators;
use crate::graph::edges::EdgeKind;
use crate::graph::paths::RootKind;
use crate::graph::snapshot as ex;
use crate::inspect::{Entry, Limits, Section, Value, ValueKind};
use crate::objects::census::CensusRow;
use crate::session::{DiffSide, ObjectsQuery, ProgressFn};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// An opened heap snapshot and what has been built from it so far.
pub struct SnapshotSession {
    path: PathBuf,
    file_bytes: u64,
    g: SnapGraph,
    dominators: OnceLock<Dominators>,
    globals: OnceLock<Vec<usize>>,
    progress: Option<ProgressFn>,
}

/// `info` of a heap snapshot: what the file holds.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotSummary {
    /// The file.
    pub path: String,
    /// Its size on disk.
    pub file_bytes: u64,
    /// Nodes (objects, and V8's synthetic root groups).
    pub nodes: u64,
    /// Edges.
    pub edges: u64,
    /// Strings in its table.
    pub strings: u64,
    /// Total self size of every node.
    pub self_bytes: u64,
    /// Nodes and bytes per node type, largest first.
    pub types: Vec<CensusRow>,
    /// The node fields the file declares.
    pub node_fields: Vec<String>,
}

fn no_progress(_: &str, _: u64, _: u64) {}

impl SnapshotSession {
    /// Open and read the snapshot at `path` (compressed or not).
    pub fn open(path: impl AsRef<Path>) -> Result<SnapshotSession> {
        Self::open_with(path, None)
    }

    /// [`SnapshotSession::open`], telling `progress` how reading goes.
    pub fn open_with(
        path: impl AsRef<Path>,
        progress: Option<ProgressFn>,
    ) -> Result<SnapshotSession> {
        let path = path.as_ref();
        let file_bytes = std::fs::metadata(path)
            .map_err(|e| Error::SnapshotIo {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?
            .len();
        let parsed = match &progress {
            Some(p) => super::parse::parse(path, &|s, a, b| p(s, a, b))?,
            None => super::parse::parse(path, &no_progress)?,
        };
        let g = SnapGraph::new(parsed).map_err(|e| match e {
            Error::SnapshotFormat { offset, what, .. } => Error::SnapshotFormat {
                path: path.to_path_buf(),
                offset,
                what,
            },
            e => e,
        })?;
        Ok(SnapshotSession {
            path: path.to_path_buf(),
            file_bytes,
            g,
            dominators: OnceLock::new(),
            globals: OnceLock::new(),
            progress,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The graph.
    pub fn graph(&self) -> &SnapGraph {
        &self.g
    }

    pub(crate) fn answer<T>(&self, command: &'static str, body: T) -> Answer<T> {
        Answer {
            schema_version: SCHEMA_VERSION,
            command,
            partial: None,
            body,
        }
    }

    /// The dominator tree, computed as DevTools does (built on first use).
    pub fn dominators(&self) -> &Dominators {
        self.dominators.get_or_init(|| {
            let dg = DevtoolsDom::new(&self.g);
            let p = |s: &str, a: u64, b: u64| {
                if let Some(f) = &self.progress {
                    f(s, a, b)
                }
            };
            Dominators::compute(&dg, self.g.len() as u64, &p)
        })
    }

    /// The node an `@ID` (or a plain id) names.
    pub fn node(&self, id: u64) -> Result<usize> {
        self.g.node_of_id(id).ok_or(Error::NoNode { id })
    }

    /// `@ID` of node v.
    pub fn at(&self, v: usize) -> String {
        format!("@{}", self.g.id(v))
    }

    /// One instance of `name` that stands for how most of them are held: the instances are
    /// grouped by the name of the first object that holds each, and the middle one of the
    /// largest group is taken (by snapshot order, which is no sign of age). The few instances
    /// node keeps for itself, which the snapshot can list among the many, are not chosen.
    /// Its snapshot id.
    pub fn representative_instance(&self, name: &str) -> Option<u64> {
        let g = &self.g;
        let mut groups: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for v in (0..g.len()).filter(|&v| self.counted(v) && g.name(v) == name) {
            let holder = g
                .retaining_edges(v)
                .next()
                .map(|e| g.name(g.source(e)).into_owned())
                .unwrap_or_default();
            groups.entry(holder).or_default().push(v);
        }
        // The largest group; of equal ones, the first by holder name.
        let (_, group) =
            groups
                .into_iter()
                .fold(None::<(String, Vec<usize>)>, |best, (k, vs)| match best {
                    Some((bk, bv)) if bv.len() >= vs.len() => Some((bk, bv)),
                    _ => Some((k, vs)),
                })?;
        group.get(group.len() / 2).map(|&v| g.id(v))
    }

    /// Whether node v is one `findjsobjects` counts by name (type "object").
    fn counted(&self, v: usize) -> bool {
        self.g.ty[v] == ex::T_OBJECT
    }

    /// How node v is called in answers, as a core names the same object.
    pub fn display_name(&self, v: usize) -> String {
        let g = &self.g;
        if g.ty[v] == ex::T_OBJECT && g.name(v).starts_with("global") && self.globals().contains(&v)
        {
            return "global".into();
        }
        match g.ty[v] {
            ex::T_OBJECT
            | ex::T_SYNTHETIC
            | ex::T_HIDDEN
            | ex::T_CODE
            | ex::T_SHAPE
            | ex::T_ARRAY => {
                let n = g.name(v);
                if n.is_empty() {
                    ex::summary_group(g.ty[v]).to_string()
                } else {
                    n.into_owned()
                }
            }
            ex::T_CLOSURE => self.function_text(v),
            T_UNKNOWN => format!("({})", g.type_name(v)),
            t => ex::summary_group(t).to_string(),
        }
    }

    /// A closure as `name @ file:line:column` where its location is recorded.
    fn function_text(&self, v: usize) -> String {
        let g = &self.g;
        let name = g.name(v);
        let name = if name.is_empty() {
            "(anonymous)".to_string()
        } else {
            name.into_owned()
        };
        match self.function_place(v) {
            Some(p) => format!("{name} @ {p}"),
            None => name,
        }
    }

    /// `file:line:column` of a closure (1-based, the file shortened to its name).
    fn function_place(&self, v: usize) -> Option<String> {
        let (script, line, col) = self.place_parts(v)?;
        let file = script
            .as_deref()
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            .unwrap_or_else(|| "?".into());
        Some(format!("{file}:{line}:{col}"))
    }

    /// A closure's script (from its SharedFunctionInfo) and 1-based line and column.
    pub(crate) fn place_parts(&self, v: usize) -> Option<(Option<String>, u64, u64)> {
        let g = &self.g;
        let (_, line, col) = g.location(v)?;
        let script = self.child(v, "shared").and_then(|sfi| {
            g.edges(sfi)
                .find(|&e| g.ety[e] == E_INTERNAL && g.edge_name(e).starts_with("script"))
                .map(|e| g.name(g.to(e)).into_owned())
        });
        Some((script, line + 1, col + 1))
    }

    /// The target of v's first edge named `name`.
    fn child(&self, v: usize, name: &str) -> Option<usize> {
        let g = &self.g;
        g.edges(v)
            .find(|&e| !matches!(g.ety[e], E_ELEMENT | E_HIDDEN) && g.edge_name(e) == name)
            .map(|e| g.to(e))
    }

    /// `info`: what the snapshot holds.
    pub fn info(&self) -> Answer<SnapshotSummary> {
        let g = &self.g;
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for v in 0..g.len() {
            let e = by.entry(g.type_name(v).to_string()).or_default();
            e.0 += 1;
            e.1 += g.self_size(v);
        }
        let mut types: Vec<CensusRow> = by
            .into_iter()
            .map(|(name, (count, size))| row(name, count, size))
            .collect();
        types.sort_by(|a, b| b.size.cmp(&a.size).then(a.name.cmp(&b.name)));
        self.answer(
            "info",
            SnapshotSummary {
                path: self.path.display().to_string(),
                file_bytes: self.file_bytes,
                nodes: g.len() as u64,
                edges: g.edge_count() as u64,
                strings: g.string_count() as u64,
                self_bytes: (0..g.len()).map(|v| g.self_size(v)).sum(),
                types,
                node_fields: g.file.meta.node_fields.clone(),
            },
        )
    }

    /// Per name id: (count, self size) of the nodes of type "object".
    fn census_by_id(&self) -> FxHashMap<u32, (u64, u64)> {
        let g = &self.g;
        (0..g.len())
            .into_par_iter()
            .fold(
                FxHashMap::default,
                |mut m: FxHashMap<u32, (u64, u64)>, v| {
                    if self.counted(v) {
                        let e = m.entry(g.name_id(v)).or_default();
                        e.0 += 1;
                        e.1 += g.self_size(v);
                    }
                    m
                },
            )
            .reduce(FxHashMap::default, |mut a, b| {
                for (k, (c, s)) in b {
                    let e = a.entry(k).or_default();
                    e.0 += c;
                    e.1 += s;
                }
                a
            })
    }

    /// The census by name (several string indexes can hold one text).
    fn census_rows(&self, by_properties: bool) -> Vec<CensusRow> {
        let g = &self.g;
        // (name, own property names with -d): (count, self size).
        type GroupKey = (String, Option<Vec<String>>);
        let mut rows: FxHashMap<GroupKey, (u64, u64)> = FxHashMap::default();
        if by_properties {
            for v in 0..g.len() {
                if !self.counted(v) {
                    continue;
                }
                let props: Vec<String> = g
                    .edges(v)
                    .filter(|&e| g.ety[e] == E_PROPERTY)
                    .map(|e| g.edge_name(e).into_owned())
                    .filter(|k| k != "__proto__")
                    .take(64)
                    .collect();
                let e = rows
                    .entry((g.name(v).into_owned(), Some(props)))
                    .or_default();
                e.0 += 1;
                e.1 += g.self_size(v);
            }
        } else {
            for (id, (c, s)) in self.census_by_id() {
                let e = rows.entry((g.string(id).into_owned(), None)).or_default();
                e.0 += c;
                e.1 += s;
            }
        }
        let mut out: Vec<CensusRow> = rows
            .into_iter()
            .map(|((name, properties), (count, size))| CensusRow {
                properties,
                ..row(name, count, size)
            })
            .collect();
        sort_rows(&mut out);
        out
    }

    /// Rows for the nodes not counted by name, one per DevTools Summary group.
    fn type_rows(&self) -> Vec<CensusRow> {
        let g = &self.g;
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for v in 0..g.len() {
            if self.counted(v) || g.ty[v] == ex::T_SYNTHETIC {
                continue;
            }
            let name = match g.ty[v] {
                T_UNKNOWN => format!("({})", g.type_name(v)),
                t => ex::summary_group(t).to_string(),
            };
            let e = by.entry(name).or_default();
            e.0 += 1;
            e.1 += g.self_size(v);
        }
        by.into_iter().map(|(n, (c, s))| row(n, c, s)).collect()
    }

    /// `findjsobjects`: objects per constructor, as the snapshot names them.
    pub fn objects(&self, q: &ObjectsQuery) -> Answer<Objects> {
        let g = &self.g;
        let mut rows = self.census_rows(q.by_properties);
        if q.all_types {
            rows.extend(self.type_rows());
            sort_rows(&mut rows);
        }
        if q.retained {
            let by_name = self.retained_by_name();
            for r in rows.iter_mut() {
                r.retained = Some(by_name.get(&r.name).copied().unwrap_or(0));
            }
            rows.sort_by(|a, b| b.retained.cmp(&a.retained).then(b.size.cmp(&a.size)));
        }
        let total = ObjectTotals {
            objects: rows.iter().map(|r| r.count).sum(),
            bytes: rows.iter().map(|r| r.size).sum(),
            names: rows.len() as u64,
        };
        if let Some(n) = q.top {
            rows.truncate(n);
        }
        let roots = g.edges(0).count() as u64;
        self.answer(
            "findjsobjects",
            Objects {
                scope: if q.all {
                    CountScope::All
                } else {
                    CountScope::Reachable
                },
                by_properties: q.by_properties,
                retained: q.retained,
                rows,
                total,
                heap: HeapCounts {
                    objects: g.len() as u64,
                    reachable: g.len() as u64,
                    roots,
                },
            },
        )
    }

    /// Retained size per name: the union of what the objects of that name retain.
    fn retained_by_name(&self) -> FxHashMap<String, u64> {
        let g = &self.g;
        let d = self.dominators();
        let per_id = (0..g.len())
            .into_par_iter()
            .fold(FxHashMap::default, |mut acc: FxHashMap<u32, u64>, v| {
                if !self.counted(v) || d.retained(v) == 0 {
                    return acc;
                }
                let id = g.name_id(v);
                let name = g.string(id);
                let mut x = d.idom(v);
                let mut steps = 0;
                while let Some(u) = x {
                    if self.counted(u) && (g.name_id(u) == id || g.name(u) == name)
                        || steps > 100_000
                    {
                        return acc;
                    }
                    x = d.idom(u);
                    steps += 1;
                }
                *acc.entry(id).or_default() += d.retained(v);
                acc
            })
            .reduce(FxHashMap::default, |mut a, b| {
                for (k, v) in b {
                    *a.entry(k).or_default() += v;
                }
                a
            });
        let mut out: FxHashMap<String, u64> = FxHashMap::default();
        for (id, r) in per_id {
            *out.entry(g.string(id).into_owned()).or_default() += r;
        }
        out
    }

    /// `findjsinstances NAME`: the objects of one constructor, `skip` then at most `limit`, in
    /// the snapshot's order.
    pub fn instances(
        &self,
        name: &str,
        _all: bool,
        limit: usize,
        skip: usize,
    ) -> Result<Answer<Instances>> {
        let g = &self.g;
        let found: Vec<usize> = (0..g.len())
            .filter(|&v| self.counted(v) && g.name(v) == name)
            .collect();
        if found.is_empty() {
            let known = self.census_rows(false).into_iter().map(|r| r.name);
            return Err(Error::no_instances(name, known));
        }
        let instances = found
            .iter()
            .skip(skip)
            .take(limit)
            .map(|&v| InstanceRow {
                address: self.at(v),
                size: g.self_size(v).min(u32::MAX as u64) as u32,
                reachable: true,
                summary: self.summary(v),
            })
            .collect();
        Ok(self.answer(
            "findjsinstances",
            Instances {
                name: name.to_string(),
                total: found.len(),
                skip,
                instances,
            },
        ))
    }

    /// One line describing node v: `<Name {a: ..., b: ...}>`, a string's text, a function.
    pub fn summary(&self, v: usize) -> String {
        let g = &self.g;
        match g.ty[v] {
            t if g.is_string(v) => {
                let _ = t;
                format!("{:?}", truncate(&g.name(v), 60))
            }
            ex::T_CLOSURE => format!("<function: {}>", self.function_text(v)),
            ex::T_NUMBER => format!("<number {}>", g.name(v)),
            _ => {
                let props: Vec<String> = g
                    .edges(v)
                    .filter(|&e| g.ety[e] == E_PROPERTY)
                    .filter(|&e| g.edge_name(e) != "__proto__")
                    .take(4)
                    .map(|e| format!("{}: {}", g.edge_name(e), self.short(g.to(e))))
                    .collect();
                let elements = g.edges(v).filter(|&e| g.ety[e] == E_ELEMENT).count();
                let name = self.display_name(v);
                if let Some(text) = self.oddball(v) {
                    text
                } else if name == "Array" {
                    format!("<Array> length={elements}")
                } else if props.is_empty() {
                    format!("<{name}>")
                } else {
                    format!("<{name}> {{{}}}", props.join(", "))
                }
            }
        }
    }

    /// `true`, `false`, `undefined`, `null` or `hole` for V8's oddballs (`system / Oddball`
    /// nodes, named by their `to_string` edge).
    pub(crate) fn oddball_text(&self, v: usize) -> Option<String> {
        self.oddball(v)
    }

    fn oddball(&self, v: usize) -> Option<String> {
        let g = &self.g;
        if g.ty[v] != ex::T_HIDDEN || g.name(v) != "system / Oddball" {
            return None;
        }
        g.edges(v)
            .map(|e| g.to(e))
            .find(|&t| g.is_string(t))
            .map(|t| g.name(t).into_owned())
    }

    /// A value in a few characters: a string's text, a number, or what the object is.
    fn short(&self, v: usize) -> String {
        let g = &self.g;
        if let Some(t) = self.oddball(v) {
            t
        } else if g.is_string(v) {
            format!("{:?}", truncate(&g.name(v), 24))
        } else if g.ty[v] == ex::T_NUMBER {
            g.name(v).into_owned()
        } else {
            format!("<{}>", self.display_name(v))
        }
    }

    /// `inspect @ID`: the node as a value tree, from its edges and strings.
    pub fn inspect(&self, id: u64, limits: Limits) -> Result<Answer<Inspection>> {
        let v = self.node(id)?;
        let mut seen = Vec::new();
        let value = self.value(v, limits, 0, &mut seen);
        Ok(self.answer("inspect", Inspection { value }))
    }

    fn value(&self, v: usize, limits: Limits, depth: usize, seen: &mut Vec<usize>) -> Value {
        let g = &self.g;
        let kind = match g.ty[v] {
            _ if g.is_string(v) => ValueKind::String,
            ex::T_NUMBER => ValueKind::Number,
            ex::T_CLOSURE => ValueKind::Function,
            ex::T_REGEXP => ValueKind::Regexp,
            ex::T_SYMBOL => ValueKind::Symbol,
            ex::T_BIGINT => ValueKind::Bigint,
            ex::T_OBJECT => match &*g.name(v) {
                "Array" => ValueKind::Array,
                "Map" => ValueKind::Map,
                "Set" => ValueKind::Set,
                "Promise" => ValueKind::Promise,
                "Date" => ValueKind::Date,
                "ArrayBuffer" => ValueKind::ArrayBuffer,
                n if n.starts_with("system / Context") => ValueKind::Context,
                n if n.ends_with("Error") => ValueKind::Error,
                _ => ValueKind::Object,
            },
            _ => ValueKind::Internal,
        };
        let mut out = Value {
            address: Some(self.at(v)),
            kind,
            constructor: Some(self.display_name(v)),
            text: None,
            length: None,
            details: vec![
                ("node type".into(), g.type_name(v).to_string()),
                ("self size".into(), g.self_size(v).to_string()),
            ],
            entries: Vec::new(),
            truncated: false,
            notes: Vec::new(),
            frames: Vec::new(),
        };
        if let Some(text) = self.oddball(v) {
            out.kind = match text.as_str() {
                "true" | "false" => ValueKind::Boolean,
                "undefined" => ValueKind::Undefined,
                "null" => ValueKind::Null,
                _ => ValueKind::Hole,
            };
            out.text = Some(text);
            out.details.clear();
            out.constructor = None;
            return out;
        }
        if kind == ValueKind::String || kind == ValueKind::Number || kind == ValueKind::Regexp {
            let text = g.name(v);
            out.length = (kind == ValueKind::String).then(|| text.chars().count() as u64);
            out.text = Some(truncate(&text, limits.string));
            if kind == ValueKind::String && g.ty[v] != ex::T_STRING {
                out.details
                    .push(("representation".into(), g.type_name(v).to_string()));
            }
        }
        if kind == ValueKind::Function {
            if let Some(p) = self.function_place(v) {
                out.details.push(("location".into(), p));
            }
        }
        if kind.is_primitive() {
            return out;
        }
        if depth > limits.depth || seen.contains(&v) {
            out.truncated = !g.edges(v).is_empty();
            if seen.contains(&v) {
                out.notes
                    .push("cycle: this object is already shown above".into());
            }
            return out;
        }
        seen.push(v);
        let mut shown = 0usize;
        let mut elements = 0u64;
        for e in g.edges(v) {
            let section = match g.ety[e] {
                E_PROPERTY => Section::Property,
                E_ELEMENT => {
                    elements += 1;
                    Section::Element
                }
                E_CONTEXT => Section::Context,
                E_INTERNAL | E_HIDDEN | E_SHORTCUT => Section::Internal,
                E_WEAK => Section::Internal,
                _ => Section::Internal,
            };
            if section == Section::Internal
                && kind != ValueKind::Internal
                && kind != ValueKind::Context
            {
                // The engine's fields (map, properties store, ...) are left out of JS values.
                continue;
            }
            if shown == limits.entries {
                out.truncated = true;
                continue;
            }
            shown += 1;
            let key = match g.ety[e] {
                E_ELEMENT => format!("[{}]", g.edge_name(e)),
                E_WEAK => format!("{} (weak)", g.edge_name(e)),
                _ => g.edge_name(e).into_owned(),
            };
            let t = g.to(e);
            let value = self.value(t, limits, depth + 1, seen);
            out.entries.push(Entry {
                section,
                key,
                key_value: None,
                value,
                accessor: false,
                native_getter: false,
            });
        }
        seen.pop();
        if kind == ValueKind::Array {
            out.length = Some(elements);
        }
        out
    }

    /// `findrefs @ID`: every edge to the node, at most `limit` shown.
    pub fn refs(&self, id: u64, limit: usize) -> Result<Answer<Refs>> {
        let g = &self.g;
        let v = self.node(id)?;
        let all: Vec<usize> = g.retaining_edges(v).collect();
        let refs = all.iter().take(limit).map(|&e| self.edge_ref(e)).collect();
        Ok(self.answer(
            "findrefs",
            Refs {
                target: self.at(v),
                target_name: self.display_name(v),
                total: all.len(),
                refs,
            },
        ))
    }

    fn edge_ref(&self, e: usize) -> Ref {
        let g = &self.g;
        let s = g.source(e);
        Ref {
            holder: self.at(s),
            holder_name: self.display_name(s),
            edge: g.edge_label(e),
            kind: edge_kind(g.ety[e]),
            reachable: true,
            via: Vec::new(),
        }
    }

    /// `findrefs -n NAME`: objects with an own property `NAME`.
    pub fn property_holders(&self, name: &str, limit: usize) -> Answer<PropertyHolders> {
        let g = &self.g;
        let mut objects = Vec::new();
        let mut total = 0;
        for v in 0..g.len() {
            if let Some(e) = g
                .edges(v)
                .find(|&e| g.ety[e] == E_PROPERTY && g.edge_name(e) == name)
            {
                total += 1;
                if objects.len() < limit {
                    objects.push(PropertyHolder {
                        holder: self.at(v),
                        holder_name: self.display_name(v),
                        value: self.short(g.to(e)),
                    });
                }
            }
        }
        self.answer(
            "findrefs",
            PropertyHolders {
                property: name.to_string(),
                total,
                objects,
            },
        )
    }

    /// `findrefs -s TEXT`: who references strings equal to `TEXT`.
    pub fn string_refs(&self, text: &str, limit: usize) -> Answer<StringRefs> {
        let g = &self.g;
        let strings: Vec<usize> = (0..g.len())
            .filter(|&v| g.is_string(v) && g.name(v) == text)
            .collect();
        let mut refs = Vec::new();
        let mut total = 0;
        for &s in &strings {
            for e in g.retaining_edges(s) {
                total += 1;
                if refs.len() < limit {
                    refs.push(StringRef {
                        string: self.at(s),
                        r: self.edge_ref(e),
                    });
                }
            }
        }
        self.answer(
            "findrefs",
            StringRefs {
                text: text.to_string(),
                strings: strings.iter().map(|&s| self.at(s)).collect(),
                total,
                refs,
            },
        )
    }

    /// `retainers @ID`: the shortest paths of strong edges from the snapshot's roots to the
    /// node, those through a global object first.
    pub fn retainers(&self, id: u64, paths: usize, depth: usize) -> Result<Answer<Retainers>> {
        let g = &self.g;
        let target = self.node(id)?;
        let found = self.retainer_paths(target, paths, depth);
        let (t, tn) = (self.at(target), self.display_name(target));
        let paths = found
            .into_iter()
            .map(|(steps, root)| {
                let mut chain = tn.clone();
                let steps: Vec<PathStep> = steps
                    .iter()
                    .map(|&e| {
                        let (h, x) = (g.source(e), g.to(e));
                        chain.push_str(&format!(
                            " <- {} {}",
                            g.edge_label(e),
                            self.display_name(h)
                        ));
                        PathStep {
                            target: self.at(x),
                            target_name: self.display_name(x),
                            holder: self.at(h),
                            holder_name: self.display_name(h),
                            edge: g.edge_label(e),
                            kind: edge_kind(g.ety[e]),
                        }
                    })
                    .collect();
                let root_kind = self.root_kind(root);
                PathOut {
                    root: self.at(root),
                    root_name: self.display_name(root),
                    root_words: root_words(&root_kind),
                    root_kind,
                    steps,
                    chain,
                }
            })
            .collect();
        Ok(self.answer(
            "retainers",
            Retainers {
                target: t,
                target_name: tn,
                depth,
                paths,
            },
        ))
    }

    /// The global objects: the targets of the root's shortcut edges (DevTools' user roots),
    /// and where such a target is a native context (V8 14.6), its `global_object`.
    pub(crate) fn globals(&self) -> Vec<usize> {
        self.globals
            .get_or_init(|| {
                let g = &self.g;
                let mut out: Vec<usize> = g
                    .edges(0)
                    .filter(|&e| g.ety[e] == E_SHORTCUT)
                    .map(|e| g.to(e))
                    .collect();
                let contexts: Vec<usize> = out
                    .iter()
                    .copied()
                    .filter(|&c| g.name(c) == "system / NativeContext")
                    .collect();
                for c in contexts {
                    if let Some(go) = self.child(c, "global_object") {
                        out.push(go);
                    }
                }
                out
            })
            .clone()
    }

    fn root_kind(&self, root: usize) -> RootKind {
        let g = &self.g;
        if g.ty[root] == ex::T_SYNTHETIC {
            RootKind::Snapshot {
                group: g.name(root).into_owned(),
            }
        } else {
            RootKind::Global
        }
    }

    /// Whether a path may end at node v: a global object (a target of the root's shortcut
    /// edges), or one of V8's root groups (`(Global handles)`, `(Stack roots)`...).
    fn is_path_end(&self, v: usize, globals: &[usize]) -> bool {
        globals.contains(&v) || (v != 0 && self.g.ty[v] == ex::T_SYNTHETIC)
    }

    /// Breadth-first from the node over the edges that retain it (weak and shortcut edges
    /// left out), up to `max` paths of at most `max_depth` edges: those ending at a global
    /// object first, then those ending at a root group. Each path is its edges, from the node
    /// out, and where it ends.
    pub(crate) fn retainer_paths(
        &self,
        target: usize,
        max: usize,
        max_depth: usize,
    ) -> Vec<(Vec<usize>, usize)> {
        let g = &self.g;
        let globals = self.globals();
        // Per node reached: the edge it was reached by (towards the target), its depth.
        let mut via: FxHashMap<usize, (usize, u32)> = FxHashMap::default();
        let mut q = VecDeque::new();
        via.insert(target, (usize::MAX, 0));
        q.push_back(target);
        let (mut global_ends, mut other_ends) = (Vec::new(), Vec::new());
        if self.is_path_end(target, &globals) {
            return vec![(Vec::new(), target)];
        }
        while let Some(v) = q.pop_front() {
            let d = via[&v].1;
            if d as usize >= max_depth || global_ends.len() >= max {
                continue;
            }
            for e in g.retaining_edges(v) {
                if matches!(g.ety[e], E_WEAK | E_SHORTCUT) {
                    continue;
                }
                let s = g.source(e);
                if s == 0 || via.contains_key(&s) {
                    continue;
                }
                via.insert(s, (e, d + 1));
                if self.is_path_end(s, &globals) {
                    if globals.contains(&s) {
                        global_ends.push(s);
                    } else {
                        other_ends.push(s);
                    }
                    continue;
                }
                q.push_back(s);
            }
        }
        let path_to = |end: usize| -> Vec<usize> {
            let mut edges = Vec::new();
            let mut x = end;
            // Walk from the end back to the target, collecting edges; then reverse.
            while let Some(&(e, _)) = via.get(&x) {
                if e == usize::MAX {
                    break;
                }
                edges.push(e);
                x = g.to(e);
            }
            // Collected from the root end inwards; a path reads from the object out.
            edges.reverse();
            edges
        };
        global_ends
            .into_iter()
            .chain(other_ends)
            .take(max)
            .map(|end| (path_to(end), end))
            .collect()
    }

    /// `top`: the `limit` nodes with the largest retained sizes (the root and V8's root groups
    /// left out).
    pub fn top(&self, limit: usize) -> Answer<Top> {
        let g = &self.g;
        let d = self.dominators();
        let rows = d
            .top(limit + 64)
            .into_iter()
            .filter(|&v| g.ty[v] != ex::T_SYNTHETIC)
            .take(limit)
            .map(|v| TopRow {
                address: self.at(v),
                name: self.display_name(v),
                self_size: g.self_size(v).min(u32::MAX as u64) as u32,
                retained: d.retained(v),
                summary: self.summary(v),
            })
            .collect();
        self.answer(
            "top",
            Top {
                rows,
                reached: d.reached,
                reachable: g.len() as u64,
            },
        )
    }

    /// One side of a `diff`: the census by name.
    pub fn diff_side(&self) -> DiffSide {
        DiffSide {
            path: self.path.display().to_string(),
            build_id: None,
            census: self
                .census_rows(false)
                .into_iter()
                .map(|r| (r.name, (r.count, r.size)))
                .collect(),
            partial: None,
            holders: None,
        }
    }
}

fn row(name: String, count: u64, size: u64) -> CensusRow {
    CensusRow {
        name,
        count,
        size,
        unreachable: None,
        retained: None,
        properties: None,
    }
}

fn sort_rows(rows: &mut [CensusRow]) {
    rows.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
            .then(a.properties.cmp(&b.properties))
    });
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

fn edge_kind(t: u8) -> EdgeKind {
    match t {
        E_PROPERTY => EdgeKind::Property,
        E_ELEMENT => EdgeKind::Element,
        E_CONTEXT => EdgeKind::Context,
        E_WEAK => EdgeKind::Weak,
        _ => EdgeKind::Internal,
    }
}

fn root_words(k: &RootKind) -> String {
    crate::graph::paths::root_words(k)
}

/// `report` of a heap snapshot: what a core's report says about the heap, without the crash
/// section (a snapshot records no signal, threads or stacks), and saying so.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotReport {
    /// What the snapshot is.
    pub summary: SnapshotSummary,
    /// Why there is no crash section.
    pub no_crash: String,
    /// Largest constructors by total self size.
    pub top_by_size: Vec<CensusRow>,
    /// Most numerous constructors.
    pub top_by_count: Vec<CensusRow>,
    /// The objects retaining the most.
    pub top_retainers: Vec<TopRow>,
    /// The leak suspects.
    pub leaks: crate::leaks::Leaks,
    /// Whether strings were replaced by lengths and hashes (`report --redact`).
    pub redacted: bool,
}

/// A snapshot's graph as a [`crate::flame::FlameSource`].
struct SnapFlame<'a>(&'a SnapshotSession);

impl crate::flame::FlameSource for SnapFlame<'_> {
    fn len(&self) -> usize {
        self.0.g.len()
    }
    fn dominators(&self) -> &Dominators {
        self.0.dominators()
    }
    fn is_root(&self, v: usize) -> bool {
        v == 0
    }
    fn self_size(&self, v: usize) -> u64 {
        self.0.g.self_size(v)
    }
    fn key(&self, v: usize) -> u64 {
        let g = &self.0.g;
        let ty = g.ty[v] as u64 + 1;
        match g.ty[v] {
            // Closures by name and place (the script id, line and column).
            ex::T_CLOSURE => {
                let (s, l, c) = g.location(v).unwrap_or((0, 0, 0));
                let mut h = rustc_hash::FxHasher::default();
                std::hash::Hash::hash(&(g.name_id(v), s, l, c), &mut h);
                (1 << 56) | (std::hash::Hasher::finish(&h) & ((1 << 56) - 1))
            }
            ex::T_OBJECT
            | ex::T_SYNTHETIC
            | ex::T_HIDDEN
            | ex::T_CODE
            | ex::T_SHAPE
            | ex::T_ARRAY => (2 << 56) | (ty << 32) | g.name_id(v) as u64,
            // Strings, numbers and the rest by their group.
            _ => (3 << 56) | ty,
        }
    }
    fn label(&self, v: usize) -> String {
        let s = self.0;
        if s.g.ty[v] == ex::T_CLOSURE {
            let name = s.g.name(v);
            let name = if name.is_empty() {
                "(anonymous)".into()
            } else {
                name
            };
            return match s.function_place(v) {
                Some(p) => format!("{name} ({p})"),
                None => name.into_owned(),
            };
        }
        // Code is named by its function; shown in its DevTools group so that it does not read
        // as an object of that constructor.
        if s.g.ty[v] == ex::T_CODE {
            let name = s.g.name(v);
            let group = ex::summary_group(ex::T_CODE);
            return if name.is_empty() {
                group.to_string()
            } else {
                format!("{group} {name}")
            };
        }
        s.display_name(v)
    }
    fn address(&self, v: usize) -> String {
        format!("@{}", self.0.g.id(v))
    }
}

impl SnapshotSession {
    /// `flamegraph`: retained memory as a tree of frames (see [`crate::flame`]), over
    /// DevTools' dominator tree.
    pub fn retained_tree(
        &self,
        opts: &crate::flame::TreeOptions,
    ) -> Answer<crate::flame::RetainedTree> {
        self.answer(
            "flamegraph",
            crate::flame::retained_tree(&SnapFlame(self), opts),
        )
    }
}

impl SnapshotSession {
    /// `report`: the heap's summary, largest constructors, largest retainers and leak
    /// suspects.
    pub fn report(&self) -> Answer<SnapshotReport> {
        self.report_with(false)
    }

    /// [`SnapshotSession::report`], its strings replaced by lengths and hashes when `redact`.
    pub fn report_with(&self, redact: bool) -> Answer<SnapshotReport> {
        let mut a = self.report_plain();
        if redact {
            crate::redact::Redact::redact(&mut a.body);
        }
        a
    }

    fn report_plain(&self) -> Answer<SnapshotReport> {
        let rows = self.census_rows(false);
        let mut by_count = rows.clone();
        by_count.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
        by_count.truncate(10);
        let mut top_by_size = rows;
        top_by_size.truncate(10);
        self.answer(
            "report",
            SnapshotReport {
                summary: self.info().body,
                no_crash: "a heap snapshot records no signal, threads, stacks or process state: \
                           the crash section needs the core"
                    .into(),
                top_by_size,
                top_by_count: by_count,
                top_retainers: self.top(10).body.rows,
                leaks: self.leaks(&crate::leaks::LeakOptions::default()).body,
                redacted: false,
            },
        )
    }
}
