//! The complete `InstanceType` enum of a node binary, read from its code.
//!
//! V8's postmortem metadata names only the instance types that have a class with metadata
//! (about 200 of 260-320); a heap walk needs all of them, and their numbers move in every V8
//! minor version (and with build flags: Node 25's V8 has no Temporal types, Node 26's has).
//! The one complete copy inside an official binary is the code V8 generates to print a type:
//! `v8::internal::operator<<(std::ostream&, InstanceType)` (V8 10-12) or
//! `v8::internal::ToString(InstanceType)` (V8 13+), a `switch` with one
//! `case TYPE: return "TYPE";` per enumerator.
//!
//! In every official x86-64 build from Node 18 to 26 that switch compiles to one dense table of
//! 8-byte absolute addresses, indexed by the type value after a bound check
//! (`cmp $MAX, reg; ja default; jmp *TABLE(,reg,8)`); the JS API object range is handled
//! before it in V8 11+ (those values print as `[api object] N` and have no name of their own).
//! Each case body loads its string literal with `mov $STR, %esi` (or `%edi`) within its first
//! instructions. This decoder finds the jump, reads the table, and takes the first such
//! literal of each case; the entries equal to the most common target are the holes.
//!
//! It is used for two things: `v8dump debug instance-types NODE` writes the data files the
//! version tables embed (`crates/v8core/data/instance-types-v8-X.Y.txt`), and a V8 version
//! without a table gets its enum from its own binary. Every result is checked against the
//! metadata's `type_` constants before use ([`crate::meta::types::InstanceTypes`]).

use elfcore::ElfImage;

/// Why the enum could not be read from a binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Neither printing function is in the symbol table (a stripped binary).
    #[error("the binary has no symbol v8::internal::ToString(InstanceType) or operator<<(ostream&, InstanceType) (stripped?)")]
    NoFunction,
    /// The function's code is not readable from the file.
    #[error("the code of {function} at {addr:#x} is not in the file")]
    Unreadable {
        /// Which function.
        function: &'static str,
        /// Its address.
        addr: u64,
    },
    /// No `jmp *TABLE(,reg,8)` in the function.
    #[error("no jump table found in {function}")]
    NoJumpTable {
        /// Which function.
        function: &'static str,
    },
    /// Too few cases decoded to be the enum.
    #[error("only {found} instance-type names decoded from {function}'s jump table")]
    TooFew {
        /// Which function.
        function: &'static str,
        /// Names found.
        found: usize,
    },
}

/// `(mangled name, what to call it)` of the functions that hold the switch, newest first.
const FUNCTIONS: [(&str, &str); 2] = [
    (
        "_ZN2v88internal8ToStringB5cxx11ENS0_12InstanceTypeE",
        "v8::internal::ToString(InstanceType)",
    ),
    (
        "_ZN2v88internallsERSoNS0_12InstanceTypeE",
        "v8::internal::operator<<(std::ostream&, InstanceType)",
    ),
];

/// Most entries a table may have (the enum's largest value is below 2^12 in every version).
const MAX_ENTRIES: usize = 1 << 12;

/// Bytes of a case body searched for its string literal.
const CASE_PREFIX: usize = 24;

/// An instance-type name as V8 spells them.
fn is_type_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_uppercase())
        && s.len() <= 80
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The NUL-terminated string at link-time address `addr`, if it is a type name.
fn name_at(exe: &ElfImage, addr: u64) -> Option<String> {
    let mut buf = [0u8; 96];
    exe.read_static(addr, &mut buf).ok()?;
    let end = buf.iter().position(|&b| b == 0)?;
    let s = std::str::from_utf8(&buf[..end]).ok()?;
    is_type_name(s).then(|| s.to_string())
}

/// Where `jmp *disp32(,reg,8)` sits in `code`: (offset of the instruction, table address).
/// Encoded `[REX] FF 24 SIB disp32` with SIB scale 8 and no base (`base = 101`).
fn find_jump_table(code: &[u8]) -> Option<(usize, u64)> {
    (0..code.len().saturating_sub(6)).find_map(|i| {
        let (op, modrm, sib) = (code[i], code[i + 1], code[i + 2]);
        let ok = op == 0xff && modrm == 0x24 && sib >> 6 == 3 && sib & 7 == 5;
        let disp = i32::from_le_bytes(code.get(i + 3..i + 7)?.try_into().ok()?);
        ok.then_some((i, disp as i64 as u64))
    })
}

/// The number of table entries from the bound check before the jump: `cmp $imm, reg` in one
/// of the forms compilers emit for a 16- or 32-bit index (`66 81 /7 iw`, `81 /7 id`,
/// `3d id`, `66 3d iw`, with an optional REX), the last one within 48 bytes before it.
fn bound_before(code: &[u8], jump: usize) -> Option<usize> {
    let from = jump.saturating_sub(48);
    let mut found = None;
    let mut i = from;
    while i < jump {
        let rest = &code[i..jump];
        let imm = |at: usize, n: usize| -> Option<u32> {
            let b = rest.get(at..at + n)?;
            Some(match n {
                2 => u16::from_le_bytes([b[0], b[1]]) as u32,
                _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            })
        };
        let rex = rest.first().is_some_and(|&b| (0x40..0x50).contains(&b)) as usize;
        let v = match rest {
            [0x66, 0x81, m, ..] if m >> 6 == 3 && (m >> 3) & 7 == 7 => imm(3, 2),
            [0x66, 0x3d, ..] => imm(2, 2),
            [0x3d, ..] => imm(1, 4),
            _ => match rest.get(rex..) {
                Some([0x81, m, ..]) if m >> 6 == 3 && (m >> 3) & 7 == 7 => imm(rex + 2, 4),
                _ => None,
            },
        };
        if let Some(v) = v.filter(|&v| (v as usize) < MAX_ENTRIES) {
            found = Some(v as usize + 1);
        }
        i += 1;
    }
    found
}

/// The first `mov $imm32, %esi` / `mov $imm32, %edi` (`BE id` / `BF id`) of a case body whose
/// immediate is the address of a type name.
fn case_name(exe: &ElfImage, at: u64) -> Option<String> {
    let mut body = [0u8; CASE_PREFIX + 5];
    exe.read_static(at, &mut body).ok()?;
    (0..CASE_PREFIX).find_map(|i| {
        if body[i] != 0xbe && body[i] != 0xbf {
            return None;
        }
        let imm = u32::from_le_bytes(body[i + 1..i + 5].try_into().ok()?);
        name_at(exe, imm as u64)
    })
}

/// The instance types the binary's printing function names, as (value, name), sorted.
pub fn decode_instance_types(exe: &ElfImage) -> Result<Vec<(u16, String)>, DecodeError> {
    let (sym, function) = FUNCTIONS
        .iter()
        .filter_map(|(m, f)| Some((exe.symbol(m)?, *f)))
        .max_by_key(|(s, _)| s.size)
        .ok_or(DecodeError::NoFunction)?;
    let (start, size) = (sym.addr, sym.size.clamp(1, 1 << 20));
    let mut code = vec![0u8; size as usize];
    exe.read_static(start, &mut code)
        .map_err(|_| DecodeError::Unreadable {
            function,
            addr: start,
        })?;
    let (jump, table) = find_jump_table(&code).ok_or(DecodeError::NoJumpTable { function })?;
    let inside = |a: u64| a >= start && a < start + size;
    // The bound check says how many entries; without one, as many as point into the function.
    let bound = bound_before(&code, jump);
    let mut targets = Vec::new();
    for k in 0..bound.unwrap_or(MAX_ENTRIES) {
        let mut w = [0u8; 8];
        if exe.read_static(table + 8 * k as u64, &mut w).is_err() {
            break;
        }
        let t = u64::from_le_bytes(w);
        if !inside(t) {
            if bound.is_some() {
                return Err(DecodeError::NoJumpTable { function });
            }
            break;
        }
        targets.push(t);
    }
    // The holes all jump to the default case: the most common target.
    let mut counts: std::collections::HashMap<u64, usize> = Default::default();
    for &t in &targets {
        *counts.entry(t).or_default() += 1;
    }
    let default = counts
        .iter()
        .max_by_key(|(t, n)| (**n, std::cmp::Reverse(**t)))
        .map(|(t, _)| *t);
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (v, &t) in targets.iter().enumerate() {
        if Some(t) == default {
            continue;
        }
        if let Some(name) = case_name(exe, t) {
            if seen.insert(name.clone()) {
                out.push((v as u16, name));
            }
        }
    }
    if out.len() < 100 {
        return Err(DecodeError::TooFew {
            function,
            found: out.len(),
        });
    }
    Ok(out)
}

/// The enum of `exe` as the embedded data files spell it: a `#` header naming the binary,
/// then `value<TAB>NAME` lines.
pub fn describe(exe: &ElfImage) -> Result<String, DecodeError> {
    let types = decode_instance_types(exe)?;
    let version = ["major_", "minor_", "build_", "patch_"]
        .iter()
        .map(|f| {
            let sym = exe.symbol(&format!("_ZN2v88internal7Version{}{f}E", f.len()))?;
            let mut b = [0u8; 4];
            exe.read_static(sym.addr, &mut b).ok()?;
            Some(u32::from_le_bytes(b).to_string())
        })
        .collect::<Option<Vec<_>>>()
        .map(|v| v.join("."))
        .unwrap_or_else(|| "?".into());
    let name = exe
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = exe
        .build_id()
        .map(elfcore::elfimage::hex)
        .unwrap_or_default();
    let mut s = format!(
        "# InstanceType value -> name of V8 {version} ({name}, build ID {id}), decoded by \
         `v8dump debug instance-types` from the jump table of its ToString/operator<<\n"
    );
    for (v, n) in &types {
        s.push_str(&format!("{v}\t{n}\n"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_and_bounds_are_found_in_their_encodings() {
        // cmp $0x877,%si ; ja ... ; movzwl %si,%eax ; jmp *0x1234567(,%rax,8)
        let mut code = vec![0x90; 8];
        code.extend([0x66, 0x81, 0xfe, 0x77, 0x08]);
        code.extend([0x0f, 0x87, 0, 0, 0, 0]);
        code.extend([0x0f, 0xb7, 0xc6]);
        code.extend([0xff, 0x24, 0xc5, 0x67, 0x45, 0x23, 0x01]);
        let (at, table) = find_jump_table(&code).unwrap();
        assert_eq!((at, table), (22, 0x1234567));
        assert_eq!(bound_before(&code, at), Some(0x878));
        // cmp $0x86e,%r12d ; ja ; jmp *T(,%r12,8)
        let mut code = vec![0x41, 0x81, 0xfc, 0x6e, 0x08, 0, 0, 0x0f, 0x87, 0, 0, 0, 0];
        code.extend([0x42, 0xff, 0x24, 0xe5, 0x10, 0, 0, 0]);
        let (at, table) = find_jump_table(&code).unwrap();
        assert_eq!((at, table), (14, 0x10));
        assert_eq!(bound_before(&code, at), Some(0x86f));
        assert!(is_type_name("JS_OBJECT_TYPE") && !is_type_name("[api object]"));
    }
}
