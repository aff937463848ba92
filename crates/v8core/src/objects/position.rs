//! Source positions: where a function starts, which source position a bytecode offset is at,
//! and the line and column of a position in a script's source.

use crate::meta::tables::PositionTable;
use crate::objects::reader::Reader;

/// Most characters of a script read to turn a position into a line (a 16 MiB bundle).
pub const MAX_SOURCE_CHARS: u64 = 16 << 20;

/// Decode one unsigned VLQ integer of a source position table.
fn read_vlq(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *bytes.get(*at)?;
        *at += 1;
        if shift >= 64 {
            return None;
        }
        v |= ((b & 0x7f) as u64) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    Some(v)
}

/// Decode one zigzag VLQ integer: `(x << 1) ^ (x >> 63)`.
fn read_int(bytes: &[u8], at: &mut usize) -> Option<i64> {
    let v = read_vlq(bytes, at)?;
    Some(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// The entries of an encoded source position table as (code offset, raw source position),
/// at most `limit`, in the version's encoding.
pub fn decode_table(bytes: &[u8], limit: usize, enc: PositionTable) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    // The running code offset starts at kFunctionEntryBytecodeOffset (-1).
    let (mut at, mut code, mut pos) = (0usize, -1i64, 0i64);
    while at < bytes.len() && out.len() < limit {
        let delta = match enc {
            // The sign of the code-offset delta carries is_statement.
            PositionTable::SignedDelta => match read_int(bytes, &mut at) {
                Some(c) if c >= 0 => c,
                Some(c) => -(c + 1),
                None => break,
            },
            // The two low bits are is_breakable and is_statement.
            PositionTable::FlaggedDelta => match read_vlq(bytes, &mut at) {
                Some(u) => (u >> 2) as i64,
                None => break,
            },
        };
        let Some(p) = read_int(bytes, &mut at) else {
            break;
        };
        code += delta;
        pos += p;
        out.push((code, pos));
    }
    out
}

/// The script offset held in a raw `SourcePosition` (bit 0 external; 30 bits of script
/// offset + 1; then the inlining id).
pub fn script_offset(raw: i64) -> Option<u64> {
    let off = ((raw as u64) >> 1) & ((1 << 30) - 1);
    off.checked_sub(1)
}

/// The source position of an interpreted or baseline frame: `frame_offset` is the Smi the
/// frame holds (the bytecode offset plus the BytecodeArray header, minus the heap-object tag).
pub fn bytecode_position(r: &Reader, bytecode_array: u64, frame_offset: u64) -> Option<u64> {
    let f = &r.p.fields;
    let header = f.bytecode_header?;
    let offset = r.smi(frame_offset)? - (header as i64 - 1);
    bytecode_offset_position(r, bytecode_array, offset)
}

/// The source position of bytecode offset `offset` of a BytecodeArray (V8's
/// `AbstractCode::SourcePosition`): the last table entry at or before the offset.
pub fn bytecode_offset_position(r: &Reader, bytecode_array: u64, offset: i64) -> Option<u64> {
    let bytes = position_table_bytes(r, bytecode_array)?;
    let entries = decode_table(&bytes, 1 << 22, r.p.table.position_table);
    entries
        .iter()
        .take_while(|(code, _)| *code <= offset)
        .filter_map(|(_, p)| script_offset(*p))
        .last()
}

/// The encoded source position table of a BytecodeArray (`None` when positions were not
/// collected: the slot holds undefined, Smi 0 or an exception oddball).
pub fn position_table_bytes(r: &Reader, bytecode_array: u64) -> Option<Vec<u8>> {
    let f = &r.p.fields;
    let table = r.slot(bytecode_array, f.bytecode_source_positions?)?;
    let is_table = r
        .itype(table)
        .and_then(|t| r.p.types.name(t))
        .is_some_and(|n| n == "BYTE_ARRAY_TYPE" || n == "TRUSTED_BYTE_ARRAY_TYPE");
    if !is_table {
        return None;
    }
    let len = r.array_length(table)? as usize;
    r.bytes_at(table, f.fixed_array_data, len.min(1 << 24))
}

/// Whether `bytes` decode, in `enc`, to what a table of a bytecode array of `length` bytes
/// must be: code offsets that never decrease and stay inside the bytecode, script offsets
/// that are not negative.
pub fn table_fits(bytes: &[u8], enc: PositionTable, length: u64) -> bool {
    let entries = decode_table(bytes, 1 << 16, enc);
    let mut last = -1i64;
    !entries.is_empty()
        && entries.iter().all(|&(code, pos)| {
            let ok = code >= last && code < length as i64 && pos >= 0;
            last = code;
            ok
        })
}

/// The source positions where the function of a SharedFunctionInfo starts and ends
/// (exclusive), from its ScopeInfo's position info, or for a function never compiled from its
/// UncompiledData (which keeps the parser's positions). Either may be unreadable.
fn function_range(r: &Reader, sfi: u64) -> (Option<u64>, Option<u64>) {
    let f = &r.p.fields;
    let Some(si) = r.slot(sfi, f.sfi_name_or_scope_info) else {
        return (None, None);
    };
    if let Some((start, end)) = r.scope_info_position(si) {
        return (Some(start), Some(end));
    }
    let data = f.sfi_function_data.and_then(|o| r.slot(sfi, o));
    let Some(data) = data.filter(|&d| r.kind(d) == Some(crate::meta::kinds::Kind::UncompiledData))
    else {
        return (None, None);
    };
    let at = |off: u64| {
        r.u32_at(data, off)
            .map(|v| v as i32)
            .filter(|&v| v >= 0)
            .map(|v| v as u64)
    };
    (
        at(f.uncompiled_start_position),
        at(f.uncompiled_end_position),
    )
}

/// The source position where the function of a SharedFunctionInfo starts.
pub fn function_start(r: &Reader, sfi: u64) -> Option<u64> {
    function_range(r, sfi).0
}

/// The source position where a function ends (exclusive).
pub fn function_end(r: &Reader, sfi: u64) -> Option<u64> {
    function_range(r, sfi).1
}

/// `SharedFunctionInfo::function_token_position`: where `Function.prototype.toString()`
/// starts (the `function` keyword, a method's name, an arrow's parameters): the start position
/// less the raw function token offset, unless that is out of range (0xffff).
pub fn function_token_start(r: &Reader, sfi: u64) -> Option<u64> {
    let start = function_start(r, sfi)?;
    let Some(off) = r.p.fields.sfi_function_token_offset else {
        return Some(start);
    };
    match r.u16_at(sfi, off)? {
        0xffff => Some(start),
        d => start.checked_sub(d as u64),
    }
}

/// Where a function is defined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FunctionLocation {
    /// The function's debug name (`(anonymous)` when it has none).
    pub name: String,
    /// Its script's name (file or URL), if any.
    pub script: Option<String>,
    /// 1-based line of the function's start, when known.
    pub line: Option<u64>,
    /// 1-based column.
    pub column: Option<u64>,
}

impl FunctionLocation {
    /// `name (script:line:column)`, the script shortened to its file name.
    pub fn text(&self) -> String {
        match self.place() {
            Some(p) => format!("{} ({p})", self.name),
            None => self.name.clone(),
        }
    }

    /// `name @ script:line:column` (as leak sentences cite code), or the name alone.
    pub fn at_text(&self) -> String {
        match self.place() {
            Some(p) => format!("{} @ {p}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether the function is Node's own (its script is a `node:` builtin).
    pub fn is_node_internal(&self) -> bool {
        self.script
            .as_deref()
            .is_some_and(|s| s.starts_with("node:"))
    }

    /// `script:line:column` (the script shortened to its file name), when known.
    pub fn place(&self) -> Option<String> {
        let s = self.script.as_deref()?;
        let s = if s.starts_with("node:") {
            s
        } else {
            s.rsplit('/').next().unwrap_or(s)
        };
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{s}:{l}:{c}"),
            (Some(l), None) => format!("{s}:{l}"),
            _ => s.to_string(),
        })
    }
}

/// The script of a SharedFunctionInfo.
pub fn sfi_script(r: &Reader, sfi: u64) -> Option<u64> {
    r.slot(sfi, r.p.fields.sfi_script)
        .filter(|&s| r.kind(s) == Some(crate::meta::kinds::Kind::Script))
}

/// 1-based line and column of source position `pos` in the script of SharedFunctionInfo
/// `sfi`.
pub fn sfi_line_col(r: &Reader, sfi: u64, pos: u64) -> Option<(u64, u64)> {
    let source = r.slot(sfi_script(r, sfi)?, r.p.fields.script_source)?;
    line_col(r, source, pos)
}

/// Name, script and start of a JSFunction.
pub fn function_location(r: &Reader, func: u64) -> FunctionLocation {
    let name = r.function_name(func);
    let sfi = r.function_shared(func);
    let script = sfi
        .and_then(|s| sfi_script(r, s))
        .and_then(|s| r.slot(s, r.p.fields.script_name))
        .and_then(|n| r.string_text(n))
        .filter(|n| !n.is_empty());
    let at = sfi.and_then(|s| sfi_line_col(r, s, function_start(r, s)?));
    FunctionLocation {
        name: if name.is_empty() {
            "(anonymous)".into()
        } else {
            name
        },
        script,
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
    }
}

/// 1-based line and column of position `pos` (UTF-16 code units) in the source string
/// `source`. Lines end as V8 ends them (`Script::GetPositionInfo`): `\n`, a `\r` not followed
/// by `\n`, U+2028 and U+2029.
pub fn line_col(r: &Reader, source: u64, pos: u64) -> Option<(u64, u64)> {
    if pos >= MAX_SOURCE_CHARS {
        return None;
    }
    let s = r.string(source, pos as usize + 2)?;
    line_col_in(&s.text.encode_utf16().collect::<Vec<u16>>(), pos)
}

/// The lines of a source (1-based numbers, text without terminators), split where V8 splits
/// them (see [`line_col`]).
pub fn numbered_lines(units: &[u16]) -> impl Iterator<Item = (u64, String)> + '_ {
    let mut at = 0usize;
    let mut n = 0u64;
    std::iter::from_fn(move || {
        if at > units.len() || (at == units.len() && n > 0) {
            return None;
        }
        let begin = at;
        let mut k = at;
        while k < units.len() && !matches!(units[k], 0x0a | 0x0d | 0x2028 | 0x2029) {
            k += 1;
        }
        let text = String::from_utf16_lossy(&units[begin..k]);
        at = if k + 1 < units.len() && units[k] == 0x0d && units[k + 1] == 0x0a {
            k + 2
        } else {
            k + 1
        };
        n += 1;
        Some((n, text))
    })
}

/// [`line_col`] over the code units of a source.
pub fn line_col_in(units: &[u16], pos: u64) -> Option<(u64, u64)> {
    if pos as usize > units.len() {
        return None;
    }
    let (mut line, mut col) = (1u64, 1u64);
    for (k, &c) in units.iter().enumerate().take(pos as usize) {
        let ends = c == 0x0a
            || c == 0x2028
            || c == 0x2029
            || (c == 0x0d && units.get(k + 1) != Some(&0x0a));
        if ends {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    Some((line, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zigzag_vlq(x: i64) -> Vec<u8> {
        let mut v = ((x << 1) ^ (x >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn table_entries_accumulate_deltas_and_drop_the_statement_sign() {
        // (code 0, pos 100, statement), (code 5, pos 90, expression), (code 300, pos 5000).
        let mut bytes = Vec::new();
        for (c, p) in [(0i64, 100i64), (-(5) - 1, -10), (295, 4910)] {
            bytes.extend(zigzag_vlq(c));
            bytes.extend(zigzag_vlq(p));
        }
        // The running offset starts at -1 (the function-entry position).
        let enc = PositionTable::SignedDelta;
        assert_eq!(
            decode_table(&bytes, 10, enc),
            vec![(-1, 100), (4, 90), (299, 5000)]
        );
        // A cut-off table stops cleanly.
        assert_eq!(decode_table(&bytes[..bytes.len() - 1], 10, enc).len(), 2);
    }

    fn vlq(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    #[test]
    fn v8_14_tables_keep_two_flag_bits_below_the_code_delta() {
        // (delta 0, statement), (delta 5, breakable), (delta 300, both): positions as above.
        let mut bytes = Vec::new();
        for (d, flags, p) in [(0u64, 1u64, 100i64), (5, 2, -10), (295, 3, 4910)] {
            bytes.extend(vlq(d << 2 | flags));
            bytes.extend(zigzag_vlq(p));
        }
        assert_eq!(
            decode_table(&bytes, 10, PositionTable::FlaggedDelta),
            vec![(-1, 100), (4, 90), (299, 5000)]
        );
    }

    #[test]
    fn lines_end_where_v8_ends_them() {
        let u = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        assert_eq!(line_col_in(&u("ab\ncd"), 4), Some((2, 2)));
        assert_eq!(line_col_in(&u("a\r\nb"), 3), Some((2, 1)));
        assert_eq!(line_col_in(&u("a\rb"), 2), Some((2, 1)));
        assert_eq!(line_col_in(&u("a\u{2028}b"), 2), Some((2, 1)));
        assert_eq!(line_col_in(&u("abc"), 9), None);
    }

    #[test]
    fn script_offsets_come_out_of_raw_positions() {
        // SourcePosition(42): external bit 0, offset field 43.
        assert_eq!(script_offset(43 << 1), Some(42));
        assert_eq!(script_offset(0), None);
    }
}
