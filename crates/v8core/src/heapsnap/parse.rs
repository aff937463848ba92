//! A streaming reader of V8's `.heapsnapshot` JSON, built for files of many gigabytes.
//!
//! The file is mmapped and never turned into a JSON tree. Only `snapshot.meta` (a few hundred
//! bytes) goes through `serde_json`. The `nodes` and `edges` arrays, which are nearly the whole
//! file, are plain unsigned integers: they are cut into chunks at commas, parsed in parallel,
//! and scattered into one compact column per field ([`Columns`]), a few chunks at a time so
//! nothing proportional to the file but the columns is held. `strings` is scanned once for
//! where each string starts and ends; a string is decoded only when an answer shows it. Every
//! other member (`trace_tree`, `samples`...) is skipped by a bracket-counting scan.
//!
//! A file that is not a snapshot, or is cut short or malformed, gives
//! [`Error::SnapshotFormat`] with the byte offset where reading stopped.

use crate::error::{Error, Result};
use rayon::prelude::*;
use std::path::Path;

/// How the file's bytes are held: an mmap of the file itself, or of the unpacked copy of a
/// compressed one.
pub(crate) struct Bytes {
    map: memmap2::Mmap,
}

impl Bytes {
    fn open(path: &Path) -> Result<Bytes> {
        let io = |e: std::io::Error| Error::SnapshotIo {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let file = match elfcore::unpack::detect_file(path)? {
            Some(c) => elfcore::unpack::unpack(path, c)?,
            None => std::fs::File::open(path).map_err(io)?,
        };
        // SAFETY: the mapping is read-only and private; a snapshot file changed underneath
        // would give wrong answers, not undefined behaviour in safe code reading bytes.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(Bytes { map })
    }

    pub(crate) fn get(&self) -> &[u8] {
        &self.map
    }
}

/// Whether `head` (a file's first bytes, after any decompression) looks like a heap snapshot:
/// a JSON object whose first member is `"snapshot"`.
pub fn looks_like_snapshot(head: &[u8]) -> bool {
    let s = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &head[i..]);
    s.starts_with(b"{") && {
        let rest = &s[1..];
        let rest = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&[][..], |i| &rest[i..]);
        rest.starts_with(b"\"snapshot\"")
    }
}

/// Whether the file at `path` (compressed or not) is a heap snapshot, by its content.
pub fn is_snapshot_file(path: &Path) -> Result<bool> {
    use std::io::Read;
    let head = match elfcore::unpack::detect_file(path)? {
        Some(c) => elfcore::unpack::head(path, c, 64)?,
        None => {
            let mut head = Vec::with_capacity(64);
            std::fs::File::open(path)
                .and_then(|f| f.take(64).read_to_end(&mut head))
                .map_err(|e| Error::SnapshotIo {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?;
            head
        }
    };
    Ok(looks_like_snapshot(&head))
}

/// `snapshot.meta`: what the columns of `nodes` and `edges` are.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Meta {
    /// Names of a node's fields (`type`, `name`, `id`, `self_size`, `edge_count`...).
    pub node_fields: Vec<String>,
    /// `node_types[0]`: the names of the node types, by the number in a node's `type`.
    #[serde(deserialize_with = "first_list")]
    pub node_types: Vec<String>,
    /// Names of an edge's fields (`type`, `name_or_index`, `to_node`).
    pub edge_fields: Vec<String>,
    /// `edge_types[0]`: the names of the edge types.
    #[serde(deserialize_with = "first_list")]
    pub edge_types: Vec<String>,
    /// Names of a location's fields (`object_index`, `script_id`, `line`, `column`).
    #[serde(default)]
    pub location_fields: Vec<String>,
}

fn first_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    let v: Vec<serde_json::Value> = serde::Deserialize::deserialize(d)?;
    let first = v.into_iter().next().unwrap_or_default();
    Ok(first
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default())
}

#[derive(serde::Deserialize)]
struct SnapshotHeader {
    meta: Meta,
    #[serde(default)]
    node_count: Option<u64>,
    #[serde(default)]
    edge_count: Option<u64>,
}

/// A string of the `strings` table: where its characters are in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrSpan {
    /// Offset of the first character (after the opening quote).
    pub start: u64,
    /// Bytes up to the closing quote; the top bit says the text has escapes.
    pub len_flags: u32,
}

const ESCAPED: u32 = 1 << 31;

/// The parsed file: its header, columns and string spans, over the file's bytes.
pub(crate) struct Parsed {
    pub bytes: Bytes,
    pub meta: Meta,
    pub nodes: NodeCols,
    pub edges: EdgeCols,
    /// `locations`, row-major (`meta.location_fields` per row).
    pub locations: Vec<u64>,
    pub strings: Vec<StrSpan>,
}

/// The node fields kept, one column each.
#[derive(Default)]
pub(crate) struct NodeCols {
    /// `type`, as numbered in `meta.node_types`.
    pub ty: Vec<u8>,
    /// `name`: a string index.
    pub name: Vec<u32>,
    /// `id`.
    pub id: Vec<u64>,
    /// `self_size`.
    pub size: Vec<u64>,
    /// `edge_count`.
    pub edge_count: Vec<u32>,
}

/// The edge fields, one column each.
#[derive(Default)]
pub(crate) struct EdgeCols {
    /// `type`, as numbered in `meta.edge_types`.
    pub ty: Vec<u8>,
    /// `name_or_index`: a string index, or an element or hidden edge's index.
    pub name: Vec<u32>,
    /// `to_node` divided by the number of node fields: the target's node index.
    pub to: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Type,
    Name,
    Id,
    Size,
    Count,
    To,
    Other,
}

fn roles(fields: &[String], edge: bool) -> Vec<Role> {
    fields
        .iter()
        .map(|f| match (edge, f.as_str()) {
            (_, "type") => Role::Type,
            (false, "name") | (true, "name_or_index") => Role::Name,
            (false, "id") => Role::Id,
            (false, "self_size") => Role::Size,
            (false, "edge_count") => Role::Count,
            (true, "to_node") => Role::To,
            _ => Role::Other,
        })
        .collect()
}

/// The snapshot file being read, for errors.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: impl Into<String>) -> Error {
        format_error(self.path, self.at as u64, what)
    }

    fn ws(&mut self) {
        while self.at < self.b.len() && self.b[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.at).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.at += 1;
                Ok(())
            }
            Some(x) => Err(self.err(format!(
                "expected '{}', found '{}'",
                c as char,
                printable(x)
            ))),
            None => Err(self.err(format!("the file ends where '{}' was expected", c as char))),
        }
    }

    /// A JSON string: its span (the cursor moves past the closing quote).
    fn string(&mut self) -> Result<StrSpan> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            let Some(k) = memchr::memchr2(b'"', b'\\', &self.b[self.at..]) else {
                self.at = self.b.len();
                return Err(self.err("the file ends inside a string"));
            };
            self.at += k;
            if self.b[self.at] == b'\\' {
                escaped = true;
                self.at += 2;
                if self.at > self.b.len() {
                    self.at = self.b.len();
                    return Err(self.err("the file ends inside a string"));
                }
                continue;
            }
            let len = self.at - start;
            self.at += 1;
            let len = u32::try_from(len)
                .ok()
                .filter(|&l| l < ESCAPED)
                .ok_or_else(|| self.err("a string of 2 GiB or more"))?;
            return Ok(StrSpan {
                start: start as u64,
                len_flags: len | if escaped { ESCAPED } else { 0 },
            });
        }
    }

    /// Skip any JSON value (bracket counting, strings respected).
    fn skip_value(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.err("the file ends inside a value")),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'[' | b'{') => {
                    depth += 1;
                    self.at += 1;
                }
                Some(b']' | b'}') => {
                    if depth == 0 {
                        return Err(self.err("unbalanced bracket"));
                    }
                    depth -= 1;
                    self.at += 1;
                }
                Some(_) => {
                    // A number, literal, comma or colon.
                    let k = self.b[self.at..]
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'[' | b']' | b'{' | b'}'))
                        .unwrap_or(self.b.len() - self.at);
                    self.at += k.max(1);
                }
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }
}

fn printable(c: u8) -> String {
    if c.is_ascii_graphic() {
        (c as char).to_string()
    } else {
        format!("\\x{c:02x}")
    }
}

fn format_error(path: &Path, offset: u64, what: impl Into<String>) -> Error {
    Error::SnapshotFormat {
        path: path.to_path_buf(),
        offset,
        what: what.into(),
    }
}

/// Text of a chunk of an integer array is parsed in pieces of about this many bytes.
const CHUNK: usize = 8 << 20;

/// Parse the integer array starting at `c.at` (at its `[`): its numbers are handed to
/// `on_piece` in order, a piece at a time. Returns how many numbers there were.
fn int_array(c: &mut Cursor, on_piece: &mut dyn FnMut(&[u64], u64) -> Result<()>) -> Result<u64> {
    c.expect(b'[')?;
    let start = c.at;
    let end = start
        + memchr::memchr(b']', &c.b[start..]).ok_or_else(|| {
            format_error(
                c.path,
                c.b.len() as u64,
                "the file ends inside a number array",
            )
        })?;
    let text = &c.b[start..end];
    // Piece boundaries just after a comma, so no number is cut.
    let mut cuts = vec![0usize];
    while let Some(&last) = cuts.last() {
        let want = last + CHUNK;
        if want >= text.len() {
            break;
        }
        match memchr::memchr(b',', &text[want..]) {
            Some(k) => cuts.push(want + k + 1),
            None => break,
        }
    }
    cuts.push(text.len());
    let batch = rayon::current_num_threads().max(1) * 2;
    let pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let mut count = 0u64;
    for group in pieces.chunks(batch) {
        let parsed: Vec<Result<Vec<u64>>> = group
            .par_iter()
            .map(|&(a, b)| {
                parse_ints(&text[a..b], a == 0, b == text.len()).map_err(|off| {
                    format_error(
                        c.path,
                        (start + a + off) as u64,
                        "not an unsigned integer in a number array",
                    )
                })
            })
            .collect();
        for (p, &(a, _)) in parsed.into_iter().zip(group) {
            let p = p?;
            on_piece(&p, (start + a) as u64)?;
            count += p.len() as u64;
        }
    }
    c.at = end + 1;
    Ok(count)
}

/// The integers of one piece of an array's text (`1,2,3` with whitespace anywhere). Every
/// piece but the last ends just after a comma. On error: the offset in the piece.
fn parse_ints(t: &[u8], first: bool, last: bool) -> std::result::Result<Vec<u64>, usize> {
    let mut out = Vec::with_capacity(t.len() / 3);
    let n = t.len();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < n && t[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if i == n {
        // Only an empty array is all whitespace.
        return if first && last { Ok(out) } else { Err(i) };
    }
    loop {
        skip_ws(&mut i);
        let s = i;
        let mut v: u64 = 0;
        while i < n && t[i].is_ascii_digit() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((t[i] - b'0') as u64))
                .ok_or(s)?;
            i += 1;
        }
        if i == s {
            return Err(s);
        }
        out.push(v);
        skip_ws(&mut i);
        if i == n {
            return if last { Ok(out) } else { Err(i) };
        }
        if t[i] != b',' {
            return Err(i);
        }
        i += 1;
        if i == n {
            // A piece ends after a comma; the array does not.
            return if last { Err(i - 1) } else { Ok(out) };
        }
    }
}

/// The `strings` array: each string's span.
fn string_array(c: &mut Cursor) -> Result<Vec<StrSpan>> {
    c.expect(b'[')?;
    let mut out = Vec::new();
    if c.peek() == Some(b']') {
        c.at += 1;
        return Ok(out);
    }
    loop {
        out.push(c.string()?);
        match c.peek() {
            Some(b',') => c.at += 1,
            Some(b']') => {
                c.at += 1;
                return Ok(out);
            }
            Some(x) => {
                return Err(c.err(format!(
                    "expected ',' or ']' in strings, found '{}'",
                    printable(x)
                )))
            }
            None => return Err(c.err("the file ends inside the strings array")),
        }
    }
}

/// Read the snapshot at `path`. `progress(stage, done, total)` hears about the stages.
pub(crate) fn parse(path: &Path, progress: &(dyn Fn(&str, u64, u64) + Sync)) -> Result<Parsed> {
    let bytes = Bytes::open(path)?;
    let b = bytes.get();
    if !looks_like_snapshot(&b[..b.len().min(64)]) {
        return Err(format_error(
            path,
            0,
            "not a V8 heap snapshot (a JSON object whose first member is \"snapshot\")",
        ));
    }
    let mut c = Cursor { b, at: 0, path };
    c.expect(b'{')?;
    let mut header: Option<SnapshotHeader> = None;
    let (mut nodes, mut edges) = (None::<NodeCols>, None::<EdgeCols>);
    let (mut strings, mut locations) = (None, Vec::new());
    let too_big =
        |at: u64, what: &str| format_error(path, at, format!("{what} does not fit 32 bits"));
    loop {
        let key_at = c.at as u64;
        let key = c.string()?;
        let key = &b[key.start as usize..(key.start + (key.len_flags & !ESCAPED) as u64) as usize];
        c.expect(b':')?;
        let need_header = || {
            header
                .as_ref()
                .ok_or_else(|| format_error(path, key_at, "the arrays come before snapshot.meta"))
        };
        match key {
            b"snapshot" => {
                let s = c.at;
                c.skip_value()?;
                let h: SnapshotHeader = serde_json::from_slice(&b[s..c.at])
                    .map_err(|e| format_error(path, s as u64, format!("snapshot.meta: {e}")))?;
                for (list, want) in [
                    (
                        &h.meta.node_fields,
                        &["type", "name", "id", "self_size", "edge_count"][..],
                    ),
                    (
                        &h.meta.edge_fields,
                        &["type", "name_or_index", "to_node"][..],
                    ),
                ] {
                    if let Some(w) = want.iter().find(|w| !list.iter().any(|f| f == *w)) {
                        return Err(format_error(
                            path,
                            s as u64,
                            format!("snapshot.meta has no field {w:?}"),
                        ));
                    }
                }
                header = Some(h);
            }
            b"nodes" => {
                let h = need_header()?;
                let roles = roles(&h.meta.node_fields, false);
                let cap = h.node_count.unwrap_or(0).min(1 << 31) as usize;
                let mut n = NodeCols {
                    ty: Vec::with_capacity(cap),
                    name: Vec::with_capacity(cap),
                    id: Vec::with_capacity(cap),
                    size: Vec::with_capacity(cap),
                    edge_count: Vec::with_capacity(cap),
                };
                let mut k = 0usize;
                let total = b.len() as u64;
                let count = int_array(&mut c, &mut |vals, at| {
                    progress("reading nodes", at, total);
                    for &v in vals {
                        match roles[k] {
                            Role::Type => {
                                n.ty.push(u8::try_from(v).map_err(|_| too_big(at, "a node type"))?)
                            }
                            Role::Name => n
                                .name
                                .push(u32::try_from(v).map_err(|_| too_big(at, "a node name"))?),
                            Role::Id => n.id.push(v),
                            Role::Size => n.size.push(v),
                            Role::Count => n
                                .edge_count
                                .push(u32::try_from(v).map_err(|_| too_big(at, "an edge count"))?),
                            _ => {}
                        }
                        k = if k + 1 == roles.len() { 0 } else { k + 1 };
                    }
                    Ok(())
                })?;
                if count % roles.len() as u64 != 0 {
                    return Err(format_error(
                        path,
                        c.at as u64,
                        format!(
                            "nodes holds {count} numbers, not a multiple of its {} fields",
                            roles.len()
                        ),
                    ));
                }
                nodes = Some(n);
            }
            b"edges" => {
                let h = need_header()?;
                let roles = roles(&h.meta.edge_fields, true);
                let nf = h.meta.node_fields.len() as u64;
                let cap = h.edge_count.unwrap_or(0).min(1 << 32) as usize;
                let mut e = EdgeCols {
                    ty: Vec::with_capacity(cap),
                    name: Vec::with_capacity(cap),
                    to: Vec::with_capacity(cap),
                };
                let mut k = 0usize;
                let total = b.len() as u64;
                let count = int_array(&mut c, &mut |vals, at| {
                    progress("reading edges", at, total);
                    for &v in vals {
                        match roles[k] {
                            Role::Type => {
                                e.ty.push(u8::try_from(v).map_err(|_| too_big(at, "an edge type"))?)
                            }
                            Role::Name => e
                                .name
                                .push(u32::try_from(v).map_err(|_| too_big(at, "an edge name"))?),
                            Role::To => {
                                if v % nf != 0 {
                                    return Err(format_error(path, at, format!(
                                        "an edge's to_node {v} is not a multiple of the {nf} node fields")));
                                }
                                e.to.push(
                                    u32::try_from(v / nf)
                                        .map_err(|_| too_big(at, "a node index"))?,
                                )
                            }
                            _ => {}
                        }
                        k = if k + 1 == roles.len() { 0 } else { k + 1 };
                    }
                    Ok(())
                })?;
                if count % roles.len() as u64 != 0 {
                    return Err(format_error(
                        path,
                        c.at as u64,
                        format!(
                            "edges holds {count} numbers, not a multiple of its {} fields",
                            roles.len()
                        ),
                    ));
                }
                edges = Some(e);
            }
            b"locations" => {
                let h = need_header()?;
                let fields = h.meta.location_fields.len().max(1) as u64;
                let count = int_array(&mut c, &mut |vals, _| {
                    locations.extend_from_slice(vals);
                    Ok(())
                })?;
                if count % fields != 0 {
                    locations.clear();
                }
            }
            b"strings" => {
                progress("reading strings", c.at as u64, b.len() as u64);
                strings = Some(string_array(&mut c)?);
            }
            _ => c.skip_value()?,
        }
        match c.peek() {
            Some(b',') => c.at += 1,
            Some(b'}') => break,
            Some(x) => return Err(c.err(format!("expected ',' or '}}', found '{}'", printable(x)))),
            None => {
                return Err(c.err("the file ends before the snapshot's closing '}' (cut short?)"))
            }
        }
    }
    progress("reading strings", b.len() as u64, b.len() as u64);
    let end = b.len() as u64;
    let missing = |what: &str| format_error(path, end, format!("the snapshot has no {what}"));
    let header = header.ok_or_else(|| missing("snapshot.meta"))?;
    let nodes = nodes.ok_or_else(|| missing("nodes array"))?;
    let edges = edges.ok_or_else(|| missing("edges array"))?;
    let strings: Vec<StrSpan> = strings.ok_or_else(|| missing("strings array"))?;
    // The arrays must agree with one another.
    let n = nodes.ty.len() as u64;
    let want_edges: u64 = nodes.edge_count.iter().map(|&c| c as u64).sum();
    if want_edges != edges.ty.len() as u64 {
        return Err(format_error(
            path,
            end,
            format!(
                "the nodes' edge counts add up to {want_edges} edges, the edges array holds {}",
                edges.ty.len()
            ),
        ));
    }
    if let Some(i) = edges.to.iter().position(|&t| t as u64 >= n) {
        return Err(format_error(
            path,
            end,
            format!("edge {i} points to node {} of {n}", edges.to[i]),
        ));
    }
    let ns = strings.len() as u64;
    if let Some(i) = nodes.name.iter().position(|&s| s as u64 >= ns) {
        return Err(format_error(
            path,
            end,
            format!("node {i} is named by string {} of {ns}", nodes.name[i]),
        ));
    }
    if n == 0 {
        return Err(format_error(path, end, "the snapshot has no nodes"));
    }
    Ok(Parsed {
        meta: header.meta,
        nodes,
        edges,
        strings,
        locations,
        bytes,
    })
}

impl Parsed {
    /// The text of string `i` of the table (empty for an index out of range).
    pub fn string(&self, i: u64) -> std::borrow::Cow<'_, str> {
        let Some(s) = self.strings.get(i as usize) else {
            return "".into();
        };
        let len = (s.len_flags & !ESCAPED) as usize;
        let raw = &self.bytes.get()[s.start as usize..s.start as usize + len];
        if s.len_flags & ESCAPED == 0 {
            return String::from_utf8_lossy(raw);
        }
        unescape(raw).into()
    }
}

/// JSON string escapes undone; lone surrogates (which V8 writes for broken UTF-16) become
/// U+FFFD.
fn unescape(raw: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    let hex4 = |i: usize| -> Option<u32> {
        let h = raw.get(i..i + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let push = |out: &mut Vec<u8>, ch: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    };
    while i < raw.len() {
        if raw[i] != b'\\' || i + 1 >= raw.len() {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let e = raw[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'u' => {
                let Some(u) = hex4(i) else {
                    push(&mut out, '\u{fffd}');
                    continue;
                };
                i += 4;
                if (0xd800..0xdc00).contains(&u)
                    && raw.get(i) == Some(&b'\\')
                    && raw.get(i + 1) == Some(&b'u')
                {
                    if let Some(lo) = hex4(i + 2).filter(|l| (0xdc00..0xe000).contains(l)) {
                        i += 6;
                        let c = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                        push(&mut out, char::from_u32(c).unwrap_or('\u{fffd}'));
                        continue;
                    }
                }
                push(&mut out, char::from_u32(u).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_split_anywhere_after_a_comma() {
        assert_eq!(parse_ints(b"1,22,333", true, true), Ok(vec![1, 22, 333]));
        assert_eq!(parse_ints(b"1,\n22,", true, false), Ok(vec![1, 22]));
        assert_eq!(parse_ints(b" 7 ,8", false, true), Ok(vec![7, 8]));
        assert_eq!(parse_ints(b"", true, true), Ok(vec![]));
        assert_eq!(parse_ints(b"1,-2", true, true), Err(2));
        assert_eq!(parse_ints(b"1,,2", true, true), Err(2));
        assert_eq!(parse_ints(b"99999999999999999999999", true, true), Err(0));
    }

    #[test]
    fn escapes_and_surrogates() {
        assert_eq!(unescape(br#"a\"b\\c\n\u00e9"#), "a\"b\\c\né");
        assert_eq!(unescape(br#"\ud83d\ude00"#), "😀");
        assert_eq!(unescape(br#"\ud800x"#), "\u{fffd}x");
    }

    #[test]
    fn detection() {
        assert!(looks_like_snapshot(b" {\n\"snapshot\":{"));
        assert!(!looks_like_snapshot(b"{\"nodes\":[]}"));
        assert!(!looks_like_snapshot(b"\x7fELF"));
    }
}
