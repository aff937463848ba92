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
            Some(c) => elfcore::unpack::unpack(path, c, None)?,
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

    /// Let go of the resident pages of `offset..offset+len` (whole pages inside it): parsed
    /// number arrays are not read again, so their pages need not count in the resident set.
    fn release(&self, offset: usize, len: usize) {
        const PAGE: usize = 4096;
        let (a, b) = (offset.div_ceil(PAGE) * PAGE, (offset + len) / PAGE * PAGE);
        if a >= b || b > self.map.len() {
            return;
        }
        // SAFETY: a read-only private file mapping this process never writes: MADV_DONTNEED
        // drops only page table entries, and a later read sees the file's same bytes.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, a, b - a)
        };
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
    /// Where parsed bytes are let go of.
    bytes: &'a Bytes,
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

/// One column of a number array, as kept: narrow where the field allows.
enum Col {
    U8(Vec<u8>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    Skip,
}

/// A piece's share of one column.
enum ColMut<'a> {
    U8(&'a mut [u8]),
    U32(&'a mut [u32]),
    U64(&'a mut [u64]),
    Skip,
}

impl Col {
    fn new(r: Role, n: usize) -> Col {
        match r {
            Role::Type => Col::U8(vec![0; n]),
            Role::Name | Role::Count | Role::To => Col::U32(vec![0; n]),
            Role::Id | Role::Size => Col::U64(vec![0; n]),
            Role::Other => Col::Skip,
        }
    }
}

/// Split every column at element `at`: (the first part, the rest).
fn split_cols<'a>(cols: Vec<ColMut<'a>>, at: usize) -> (Vec<ColMut<'a>>, Vec<ColMut<'a>>) {
    cols.into_iter()
        .map(|c| match c {
            ColMut::U8(s) => {
                let (a, b) = s.split_at_mut(at);
                (ColMut::U8(a), ColMut::U8(b))
            }
            ColMut::U32(s) => {
                let (a, b) = s.split_at_mut(at);
                (ColMut::U32(a), ColMut::U32(b))
            }
            ColMut::U64(s) => {
                let (a, b) = s.split_at_mut(at);
                (ColMut::U64(a), ColMut::U64(b))
            }
            ColMut::Skip => (ColMut::Skip, ColMut::Skip),
        })
        .unzip()
}

/// Parse the number array at `c.at` (its `[`) of `roles.len()` fields per element straight
/// into columns, in parallel: commas are counted per 8 MiB chunk, chunks are moved to element
/// boundaries, and each piece fills its own disjoint part of every column. `to_div` divides
/// `to_node` values (the node field count), which must be its multiples.
fn columns(
    c: &mut Cursor,
    roles: &[Role],
    to_div: u64,
    what: &str,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<Vec<Col>> {
    c.expect(b'[')?;
    let start = c.at;
    let path = c.path;
    let end = start
        + memchr::memchr(b']', &c.b[start..]).ok_or_else(|| {
            format_error(
                path,
                c.b.len() as u64,
                "the file ends inside a number array",
            )
        })?;
    let text = &c.b[start..end];
    let k = roles.len();
    let total_bytes = c.b.len() as u64;
    let chunks: Vec<(usize, usize)> = (0..text.len())
        .step_by(CHUNK)
        .map(|a| (a, (a + CHUNK).min(text.len())))
        .collect();
    let commas: Vec<usize> = chunks
        .par_iter()
        .map(|&(a, b)| memchr::memchr_iter(b',', &text[a..b]).count())
        .collect();
    let total_commas: usize = commas.iter().sum();
    let empty = text.iter().all(|b| b.is_ascii_whitespace());
    let numbers = if empty { 0 } else { total_commas + 1 };
    if numbers % k != 0 {
        return Err(format_error(
            path,
            end as u64,
            format!(
                "the {} array holds {numbers} numbers, not a multiple of its {k} fields",
                what.trim_start_matches("reading ")
            ),
        ));
    }
    let n = numbers / k;
    // Piece boundaries: just after the comma that ends an element, at or after each chunk's
    // start; each piece's first element.
    let mut cuts: Vec<(usize, usize)> = vec![(0, 0)];
    let mut seen = 0usize;
    for (i, &(a, _)) in chunks.iter().enumerate().skip(1) {
        seen += commas[i - 1];
        // Commas before byte `a`: `seen`. The next element boundary is after comma number
        // `want` (0-based), the first with want + 1 a multiple of k.
        let want = (seen + 1).div_ceil(k) * k - 1;
        let pos = memchr::memchr_iter(b',', &text[a..])
            .nth(want - seen)
            .map(|p| a + p + 1);
        match pos {
            Some(p) if p > cuts.last().map_or(0, |x| x.0) => cuts.push((p, (want + 1) / k)),
            _ => {}
        }
    }
    cuts.push((text.len(), n));
    cuts.dedup_by_key(|x| x.0);
    let mut cols: Vec<Col> = roles.iter().map(|&r| Col::new(r, n)).collect();
    {
        let mut rest: Vec<ColMut> = cols
            .iter_mut()
            .map(|c| match c {
                Col::U8(v) => ColMut::U8(v),
                Col::U32(v) => ColMut::U32(v),
                Col::U64(v) => ColMut::U64(v),
                Col::Skip => ColMut::Skip,
            })
            .collect();
        let mut jobs = Vec::with_capacity(cuts.len());
        for w in cuts.windows(2) {
            let ((a, e0), (b, e1)) = (w[0], w[1]);
            let (mine, tail) = split_cols(rest, e1 - e0);
            rest = tail;
            jobs.push((a, b, e1 - e0, mine));
        }
        let done = std::sync::atomic::AtomicU64::new(0);
        let last = text.len();
        jobs.into_par_iter()
            .try_for_each(|(a, b, elems, mut mine)| {
                fill(&text[a..b], b == last, roles, to_div, elems, &mut mine)
                    .map_err(|(off, why)| format_error(path, (start + a + off) as u64, why))?;
                c.bytes.release(start + a, b - a);
                let d = done.fetch_add((b - a) as u64, std::sync::atomic::Ordering::Relaxed);
                progress(what, start as u64 + d, total_bytes);
                Ok::<(), Error>(())
            })?;
    }
    c.at = end + 1;
    Ok(cols)
}

/// The columns one piece fills, by role: (field index, the piece's part of the column).
#[derive(Default)]
struct Targets<'a, 'b> {
    ty: Option<(usize, &'b mut [u8])>,
    name: Option<(usize, &'b mut [u32])>,
    count: Option<(usize, &'b mut [u32])>,
    to: Option<(usize, &'b mut [u32])>,
    id: Option<(usize, &'b mut [u64])>,
    size: Option<(usize, &'b mut [u64])>,
    _l: std::marker::PhantomData<&'a ()>,
}

/// Parse one piece (`elems` whole elements; every piece but the last ends after a comma)
/// into its columns. On error: (offset in the piece, why).
fn fill(
    t: &[u8],
    last: bool,
    roles: &[Role],
    to_div: u64,
    elems: usize,
    cols: &mut [ColMut],
) -> std::result::Result<(), (usize, String)> {
    let k = roles.len();
    let mut tg = Targets::default();
    for (f, (r, c)) in roles.iter().zip(cols.iter_mut()).enumerate() {
        match (r, c) {
            (Role::Type, ColMut::U8(s)) => tg.ty = Some((f, &mut s[..])),
            (Role::Name, ColMut::U32(s)) => tg.name = Some((f, &mut s[..])),
            (Role::Count, ColMut::U32(s)) => tg.count = Some((f, &mut s[..])),
            (Role::To, ColMut::U32(s)) => tg.to = Some((f, &mut s[..])),
            (Role::Id, ColMut::U64(s)) => tg.id = Some((f, &mut s[..])),
            (Role::Size, ColMut::U64(s)) => tg.size = Some((f, &mut s[..])),
            _ => {}
        }
    }
    let bad = |i: usize| (i, "not an unsigned integer in a number array".to_string());
    let wide = |i: usize, v: u64| (i, format!("{v} does not fit its field"));
    let mut vals = vec![0u64; k];
    let (mut field, mut elem) = (0usize, 0usize);
    let n = t.len();
    let mut i = 0usize;
    let ws = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t');
    loop {
        while i < n && ws(t[i]) {
            i += 1;
        }
        if i == n {
            // Only whitespace after the last comma of a piece, or an empty array.
            if last && (elem > 0 || field > 0) {
                return Err(bad(i));
            }
            break;
        }
        let s = i;
        let mut v = 0u64;
        while i < n {
            let d = t[i].wrapping_sub(b'0');
            if d >= 10 {
                break;
            }
            v = v * 10 + d as u64;
            i += 1;
        }
        if i == s || i - s > 19 {
            return Err(bad(s));
        }
        vals[field] = v;
        field += 1;
        if field == k {
            if elem >= elems {
                return Err((s, "more numbers than the array's element count".into()));
            }
            if let Some((f, c)) = &mut tg.ty {
                c[elem] = u8::try_from(vals[*f]).map_err(|_| wide(s, vals[*f]))?;
            }
            if let Some((f, c)) = &mut tg.name {
                c[elem] = u32::try_from(vals[*f]).map_err(|_| wide(s, vals[*f]))?;
            }
            if let Some((f, c)) = &mut tg.count {
                c[elem] = u32::try_from(vals[*f]).map_err(|_| wide(s, vals[*f]))?;
            }
            if let Some((f, c)) = &mut tg.to {
                let v = vals[*f];
                if !v.is_multiple_of(to_div) {
                    return Err((
                        s,
                        format!(
                            "an edge's to_node {v} is not a multiple of the {to_div} node fields"
                        ),
                    ));
                }
                c[elem] = u32::try_from(v / to_div).map_err(|_| wide(s, v))?;
            }
            if let Some((f, c)) = &mut tg.id {
                c[elem] = vals[*f];
            }
            if let Some((f, c)) = &mut tg.size {
                c[elem] = vals[*f];
            }
            field = 0;
            elem += 1;
        }
        while i < n && ws(t[i]) {
            i += 1;
        }
        if i == n {
            if !last {
                return Err(bad(i));
            }
            break;
        }
        if t[i] != b',' {
            return Err(bad(i));
        }
        i += 1;
    }
    if field != 0 || elem != elems {
        return Err((
            n,
            format!("a piece holds {elem} elements where {elems} were expected"),
        ));
    }
    Ok(())
}

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
    let mut out = Vec::with_capacity(t.len() / 4);
    // 0: before a number; 1: in one; 2: after one (whitespace).
    let mut state = 0u8;
    let (mut v, mut digits) = (0u64, 0u32);
    for (i, &c) in t.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d < 10 {
            if state == 2 || digits == 19 {
                return Err(i);
            }
            v = v * 10 + d as u64;
            digits += 1;
            state = 1;
        } else if c == b',' {
            if state == 0 {
                return Err(i);
            }
            out.push(v);
            (v, digits, state) = (0, 0, 0);
        } else if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            if state == 1 {
                state = 2;
            }
        } else {
            return Err(i);
        }
    }
    match state {
        // Whitespace only: an empty array, or a piece that ends after its comma.
        0 if out.is_empty() => (first || !last).then_some(out).ok_or(t.len()),
        0 => (!last).then_some(out).ok_or(t.len()),
        _ if last => {
            out.push(v);
            Ok(out)
        }
        _ => Err(t.len()),
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
    let mut c = Cursor {
        b,
        at: 0,
        path,
        bytes: &bytes,
    };
    c.expect(b'{')?;
    let mut header: Option<SnapshotHeader> = None;
    let (mut nodes, mut edges) = (None::<NodeCols>, None::<EdgeCols>);
    let (mut strings, mut locations) = (None, Vec::new());
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
                let mut cols = columns(&mut c, &roles, 1, "reading nodes", progress)?;
                let mut n = NodeCols::default();
                for (r, col) in roles.iter().zip(cols.drain(..)) {
                    match (r, col) {
                        (Role::Type, Col::U8(v)) => n.ty = v,
                        (Role::Name, Col::U32(v)) => n.name = v,
                        (Role::Id, Col::U64(v)) => n.id = v,
                        (Role::Size, Col::U64(v)) => n.size = v,
                        (Role::Count, Col::U32(v)) => n.edge_count = v,
                        _ => {}
                    }
                }
                nodes = Some(n);
            }
            b"edges" => {
                let h = need_header()?;
                let roles = roles(&h.meta.edge_fields, true);
                let nf = h.meta.node_fields.len() as u64;
                let mut cols = columns(&mut c, &roles, nf, "reading edges", progress)?;
                let mut e = EdgeCols::default();
                for (r, col) in roles.iter().zip(cols.drain(..)) {
                    match (r, col) {
                        (Role::Type, Col::U8(v)) => e.ty = v,
                        (Role::Name, Col::U32(v)) => e.name = v,
                        (Role::To, Col::U32(v)) => e.to = v,
                        _ => {}
                    }
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
    // The arrays must agree with one another and with the header.
    let n = nodes.ty.len() as u64;
    for (what, said, has) in [
        ("nodes", header.node_count, n),
        ("edges", header.edge_count, edges.ty.len() as u64),
    ] {
        if said.is_some_and(|x| x != has) {
            return Err(format_error(
                path,
                end,
                format!(
                    "snapshot.meta says {} {what}, the {what} array holds {has}",
                    said.unwrap_or(0)
                ),
            ));
        }
    }
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
        assert_eq!(parse_ints(b"99999999999999999999999", true, true), Err(19));
        assert_eq!(parse_ints(b"1 2", true, true), Err(2));
        assert_eq!(parse_ints(b"1,2,", true, true), Err(4));
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
