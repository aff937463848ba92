//! Reading V8 objects: tagged words, strings of every representation, function names
//! (SharedFunctionInfo and ScopeInfo), own properties (fast, out-of-object, dictionary, global)
//! and elements. Every read can fail on a garbage pointer; nothing here panics or loops without
//! a bound.

use crate::meta::kinds::Kind;
use crate::meta::layout::Tagged;
use crate::process::Process;
use elfcore::{Address, MemError, Memory};

/// V8's `FixedArray::kMaxLength` on 64-bit builds without pointer compression (Node's): its
/// 1 GiB `kMaxSize` less the 16-byte header, in 8-byte slots.
const MAX_FIXED_ARRAY_LENGTH: u64 = 128 * 1024 * 1024 - 2;

/// Upper bound on the steps of any chain walk (cons trees, back pointers, prototype chains).
pub const MAX_STEPS: usize = 100_000;

/// String representation (low three bits of a string's instance type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StringRepr {
    /// Sequential: characters follow the header.
    Sequential,
    /// Cons: first + second.
    Cons,
    /// External: characters outside the V8 heap.
    External,
    /// Sliced: a window on a parent.
    Sliced,
    /// Thin: forwards to an internalized string.
    Thin,
}

/// A decoded string.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct JsString {
    /// The characters read (at most the cap).
    pub text: String,
    /// The string's length in UTF-16 code units.
    pub length: u64,
    /// Whether `text` stops short of `length` (cap reached, or a part was unreadable).
    pub truncated: bool,
    /// Whether a part could not be read (external data not in the dump...).
    pub incomplete: bool,
    /// What is impossible about it, when something is: a length beyond V8's limit, a cons
    /// string whose halves do not add up or that contains itself. Its text is then what could
    /// be read, not the string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    /// Representation of the outermost string.
    pub repr: StringRepr,
    /// One-byte (Latin-1) encoding.
    pub one_byte: bool,
}

/// A context slot's value (see [`Reader::context_slot`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlotValue {
    /// A tagged word (the value itself, or the one its cell holds).
    Tagged(u64),
    /// A number kept raw in the cell (int32 or float64 state).
    Number(f64),
    /// The cell no longer holds the variable.
    Detached,
}

/// A property key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Key {
    /// A string key.
    Name(String),
    /// A symbol key (`Symbol(description)`); private symbols are V8-internal slots.
    Symbol(String),
    /// A private symbol (V8-internal, e.g. an error's stack).
    Private(String),
    /// An element index.
    Index(u64),
    /// A key that could not be read.
    Unreadable(u64),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Name(n) => write!(f, "{n}"),
            Key::Symbol(d) => write!(f, "[Symbol({d})]"),
            Key::Private(d) if d.is_empty() => write!(f, "[[private]]"),
            Key::Private(d) => write!(f, "[[{d}]]"),
            Key::Index(i) => write!(f, "[{i}]"),
            Key::Unreadable(w) => write!(f, "<key {w:#x}>"),
        }
    }
}

/// One own property.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The key word (tagged) for named properties, else 0.
    pub key_word: u64,
    /// The key.
    pub key: Key,
    /// The value (tagged word). For accessors, the AccessorPair.
    pub value: u64,
    /// Accessor rather than data.
    pub accessor: bool,
    /// Not enumerable.
    pub hidden: bool,
    /// Dictionary enumeration index (insertion order), 0 for fast properties.
    pub order: u64,
}

/// An own named property as [`Reader::for_each_own_property_raw`] gives it: the key as its
/// word only, for callers that need no text (the key's text is a string read and an
/// allocation per property).
#[derive(Debug, Clone, Copy)]
pub struct RawProperty {
    /// The key word (tagged).
    pub key_word: u64,
    /// The value (tagged word). For accessors, the AccessorPair.
    pub value: u64,
    /// Accessor rather than data.
    pub accessor: bool,
    /// Not enumerable.
    pub hidden: bool,
    /// Dictionary enumeration index (insertion order), 0 for fast properties.
    pub order: u64,
}

/// Where an object's own named properties live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PropertyStore {
    /// Descriptors in the map, values in-object or in a PropertyArray.
    Fast,
    /// A NameDictionary.
    Dictionary,
    /// A GlobalDictionary of PropertyCells.
    Global,
}

/// Elements, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Elements {
    /// Tagged elements (Smi or object kinds); `the_hole` marks holes.
    Tagged {
        /// ElementsKind number.
        kind: u64,
        /// Values up to the limit.
        values: Vec<u64>,
        /// Capacity of the backing store.
        capacity: u64,
    },
    /// Unboxed doubles; `None` is a hole.
    Double {
        /// ElementsKind number.
        kind: u64,
        /// Values up to the limit.
        values: Vec<Option<f64>>,
        /// Capacity.
        capacity: u64,
    },
    /// A NumberDictionary: (index, value) pairs sorted by index.
    Dictionary {
        /// Entries up to the limit.
        entries: Vec<(u64, u64)>,
    },
    /// Anything else (typed-array, string-wrapper, arguments kinds).
    Other {
        /// ElementsKind number.
        kind: u64,
    },
}

/// The hole in a FixedDoubleArray (`kHoleNanInt64`).
pub const DOUBLE_HOLE: u64 = 0xfff7_ffff_fff7_ffff;

/// What follows a ScopeInfo's locals (see [`Reader::scope_info_names`]).
struct ScopeInfoTail {
    flags: u32,
    scope_type: u32,
    function_name: Option<u64>,
    inferred_name: Option<u64>,
    /// Where the position info is, if the scope type has it.
    position_offset: u64,
}

/// Reads objects of one process.
#[derive(Clone, Copy)]
pub struct Reader<'p> {
    /// The process.
    pub p: &'p Process,
}

impl<'p> Reader<'p> {
    /// A reader over `p`.
    pub fn new(p: &'p Process) -> Reader<'p> {
        Reader { p }
    }

    fn mem(&self) -> &'p (dyn Memory + Send + Sync) {
        self.p.memory()
    }

    /// The word at an untagged address.
    pub fn word(&self, addr: u64) -> Option<u64> {
        self.try_word(addr).ok()
    }

    /// The word at an untagged address, or why it cannot be read (not mapped, mapped but not
    /// in the dump, I/O).
    pub fn try_word(&self, addr: u64) -> Result<u64, MemError> {
        self.mem().read_u64(Address(addr))
    }

    /// The map of `obj` in the gimli style: `Ok(Some(map))`, `Ok(None)` when `obj` is not a
    /// pointer to an object with a map (a Smi, a weak or stale word, a word that is not a
    /// map), `Err` when the memory that would say cannot be read.
    pub fn try_map(&self, obj: u64) -> Result<Option<u64>, MemError> {
        if !self.is_heap(obj) {
            return Ok(None);
        }
        let l = &self.p.layout;
        let m = self.try_word(Tagged(obj).field(l.heap_object_map as u64).0)?;
        if !self.is_heap(m) {
            return Ok(None);
        }
        let mm = self.try_word(Tagged(m).field(l.heap_object_map as u64).0)?;
        if !self.is_heap(mm) {
            return Ok(None);
        }
        let t = self.mem().read_u16(Address(
            mm.wrapping_sub(1).wrapping_add(l.map_instance_type as u64),
        ))?;
        Ok((t == l.map_type).then_some(m))
    }

    /// Why the tagged word `w` is not an object, in words for an answer.
    pub fn why_not_an_object(&self, w: u64) -> String {
        if self.smi(w).is_some() {
            return format!("{w:#x} is a Smi, not a pointer");
        }
        if w & 3 == 3 {
            return format!("{w:#x} is a weak reference to something that is not an object");
        }
        match self.try_map(w) {
            Err(e @ MemError::NotInDump { .. }) => {
                format!("{w:#x} points into memory the process had but the dump lacks: {e}")
            }
            Err(e) => format!("{w:#x} cannot be read: {e}"),
            Ok(Some(_)) => format!("{w:#x} is an object"),
            Ok(None) => format!("{w:#x} is not a pointer to a V8 object with a valid map"),
        }
    }

    /// The tagged slot at byte offset `off` of object `obj` (tagged).
    pub fn slot(&self, obj: u64, off: u64) -> Option<u64> {
        self.word(Tagged(obj).field(off).0)
    }
    /// A u8 field.
    pub fn u8_at(&self, obj: u64, off: u64) -> Option<u8> {
        self.mem().read_u8(Tagged(obj).field(off)).ok()
    }
    /// A u16 field.
    pub fn u16_at(&self, obj: u64, off: u64) -> Option<u16> {
        self.mem().read_u16(Tagged(obj).field(off)).ok()
    }
    /// A u32 field.
    pub fn u32_at(&self, obj: u64, off: u64) -> Option<u32> {
        self.mem().read_u32(Tagged(obj).field(off)).ok()
    }
    /// A f64 field.
    pub fn f64_at(&self, obj: u64, off: u64) -> Option<f64> {
        self.slot(obj, off).map(f64::from_bits)
    }

    /// Whether `w` is tagged as a strong heap pointer.
    pub fn is_heap(&self, w: u64) -> bool {
        self.p.layout.is_heap_object(w)
    }

    /// The Smi value of `w`, if it is a Smi.
    pub fn smi(&self, w: u64) -> Option<i64> {
        self.p.layout.is_smi(w).then(|| self.p.layout.smi_value(w))
    }

    /// A Smi field.
    pub fn smi_at(&self, obj: u64, off: u64) -> Option<i64> {
        self.slot(obj, off).and_then(|w| self.smi(w))
    }

    /// The map of `obj`, checked to be a map (its own map's instance type is MAP_TYPE);
    /// [`Reader::try_map`] says why not.
    pub fn map(&self, obj: u64) -> Option<u64> {
        self.try_map(obj).ok().flatten()
    }

    /// Instance type stored in a map.
    pub fn map_type(&self, map: u64) -> Option<u16> {
        self.u16_at(map, self.p.layout.map_instance_type as u64)
    }

    /// Instance type of `obj`.
    pub fn itype(&self, obj: u64) -> Option<u16> {
        self.map(obj).and_then(|m| self.map_type(m))
    }

    /// Kind of `obj`; `None` for Smis and pointers that do not lead to an object with a map.
    pub fn kind(&self, obj: u64) -> Option<Kind> {
        self.itype(obj).map(|t| self.p.kinds.kind(t))
    }

    /// Whether `obj` is a string.
    pub fn is_string(&self, obj: u64) -> bool {
        self.kind(obj) == Some(Kind::String)
    }

    /// The root at `index` of the roots table.
    pub fn root(&self, index: u64) -> Option<u64> {
        let iso = self.p.isolate.as_ref()?;
        self.word(iso.roots.0 + 8 * index)
    }

    /// The V8 name of a private symbol the version table knows (`error_stack_symbol`).
    pub fn private_symbol_name(&self, sym: u64) -> Option<&'static str> {
        self.p
            .table
            .private_symbols
            .iter()
            .find(|&&(i, _)| self.root(i) == Some(sym))
            .map(|&(_, n)| n)
    }

    /// The private symbol the version table calls `name`.
    pub fn private_symbol(&self, name: &str) -> Option<u64> {
        let &(i, _) = self
            .p
            .table
            .private_symbols
            .iter()
            .find(|(_, n)| *n == name)?;
        self.root(i)
    }

    /// The hole value (`the_hole`).
    pub fn the_hole(&self) -> Option<u64> {
        self.root(self.p.table.roots.the_hole)
    }

    /// Length of a FixedArray-like object (Smi at the length field).
    ///
    /// A length read from a damaged heap is not believed past the room the array has: the
    /// rest of its heap page (or chunk), and never past V8's `FixedArray::kMaxLength`.
    pub fn array_length(&self, arr: u64) -> Option<u64> {
        let n = self
            .smi_at(arr, self.p.layout.fixed_array_length as u64)
            .filter(|&n| n >= 0)? as u64;
        let start = (arr & !1).wrapping_add(self.p.fields.fixed_array_data);
        let room = match self.p.pages.page_of(elfcore::Address(arr)) {
            Some(pg) => pg.area_end.0.saturating_sub(start) / 8,
            None => MAX_FIXED_ARRAY_LENGTH,
        };
        Some(n.min(room).min(MAX_FIXED_ARRAY_LENGTH))
    }

    /// Slot `i` of a FixedArray-like object.
    pub fn array_get(&self, arr: u64, i: u64) -> Option<u64> {
        self.slot(arr, self.p.fields.fixed_array_data + 8 * i)
    }

    // ------------------------------------------------------------------ strings

    /// Decode string `s` reading at most `cap` characters.
    pub fn string(&self, s: u64, cap: usize) -> Option<JsString> {
        let t = self.itype(s)?;
        if t >= 128 {
            return None;
        }
        let length = self.u32_at(s, self.p.layout.string_length as u64)? as u64;
        let repr = repr_of(t);
        let mut damage = None;
        if length > MAX_STRING_LENGTH {
            damage = Some(format!(
                "its length {length} is beyond V8's limit for a string ({MAX_STRING_LENGTH})"
            ));
        }
        let mut out: Vec<u16> = Vec::with_capacity(cap.min(length as usize).min(1 << 20));
        let mut incomplete = false;
        // Work list of (string, from, to) windows, processed depth-first left to right.
        let mut work = vec![(s, 0u64, length)];
        let mut steps = 0;
        while let Some((cur, from, to)) = work.pop() {
            if out.len() >= cap || from >= to {
                continue;
            }
            steps += 1;
            if steps > MAX_STEPS {
                damage.get_or_insert_with(|| {
                    format!("it is made of more than {MAX_STEPS} pieces, or leads back to itself")
                });
                break;
            }
            if damage.is_some() {
                break;
            }
            let Some(ct) = self.itype(cur).filter(|&t| t < 128) else {
                incomplete = true;
                break;
            };
            let one = ct & 8 != 0;
            let f = &self.p.fields;
            match repr_of(ct) {
                StringRepr::Sequential | StringRepr::External => {
                    let data = if repr_of(ct) == StringRepr::Sequential {
                        Some(cur - 1 + 16)
                    } else if ct & 0x10 != 0 {
                        None // uncached external: the data pointer is only in the resource
                    } else {
                        self.slot(cur, f.external_resource + 8)
                    };
                    let n = ((to - from) as usize).min(cap - out.len());
                    let unit = if one { 1 } else { 2 };
                    let bytes = data.and_then(|d| {
                        self.mem()
                            .read_vec(
                                Address(d.wrapping_add(from.wrapping_mul(unit))),
                                n * unit as usize,
                            )
                            .ok()
                    });
                    match bytes {
                        Some(b) if one => out.extend(b.iter().map(|&c| c as u16)),
                        Some(b) => {
                            out.extend(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
                        }
                        None => {
                            incomplete = true;
                            break;
                        }
                    }
                }
                StringRepr::Cons => {
                    let (Some(a), Some(b)) =
                        (self.slot(cur, f.cons_first), self.slot(cur, f.cons_second))
                    else {
                        incomplete = true;
                        break;
                    };
                    let len_of = |x: u64| {
                        self.u32_at(x, self.p.layout.string_length as u64)
                            .map(u64::from)
                    };
                    // Halves that cannot be read are a gap in the dump, not damage.
                    let (la, lb, whole) = (len_of(a), len_of(b), len_of(cur));
                    let alen = la.unwrap_or(0);
                    let adds_up = match (la, lb, whole) {
                        (Some(x), Some(y), Some(w)) => x + y == w,
                        _ => true,
                    };
                    if a == cur || b == cur || !adds_up {
                        damage = Some(format!(
                            "a cons string at {cur:#x} whose halves ({alen} + {} characters) \
                             are not its length {}{}",
                            lb.unwrap_or(0),
                            whole.unwrap_or(0),
                            if a == cur || b == cur {
                                ", one of them itself"
                            } else {
                                ""
                            }
                        ));
                        break;
                    }
                    if to > alen {
                        work.push((b, from.saturating_sub(alen), to - alen));
                    }
                    if from < alen {
                        work.push((a, from, to.min(alen)));
                    }
                }
                StringRepr::Sliced => {
                    let (Some(parent), Some(off)) = (
                        self.slot(cur, f.sliced_parent),
                        self.smi_at(cur, f.sliced_offset),
                    ) else {
                        incomplete = true;
                        break;
                    };
                    let off = off.max(0) as u64;
                    work.push((parent, from + off, to + off));
                }
                StringRepr::Thin => match self.slot(cur, f.thin_actual) {
                    Some(a) => work.push((a, from, to)),
                    None => {
                        incomplete = true;
                        break;
                    }
                },
            }
        }
        Some(JsString {
            text: String::from_utf16_lossy(&out),
            length,
            truncated: (out.len() as u64) < length,
            incomplete,
            damage,
            repr,
            one_byte: t & 8 != 0,
        })
    }

    /// The whole string (capped at 1 MiB characters) or `None`.
    pub fn string_text(&self, s: u64) -> Option<String> {
        self.string(s, 1 << 20)
            .filter(|j| !j.incomplete)
            .map(|j| j.text)
    }

    /// Whether `s` is a string equal to `want` (cheap length check first).
    pub fn string_eq(&self, s: u64, want: &str) -> bool {
        if self.kind(s) != Some(Kind::String) {
            return false;
        }
        let want16: Vec<u16> = want.encode_utf16().collect();
        match self.u32_at(s, self.p.layout.string_length as u64) {
            Some(n) if n as usize == want16.len() => {}
            _ => return false,
        }
        self.string(s, want16.len())
            .is_some_and(|j| !j.incomplete && j.text == want)
    }

    /// A symbol's description, if it has a string one.
    pub fn symbol_description(&self, sym: u64) -> Option<String> {
        let d = self.slot(sym, self.p.fields.symbol_description)?;
        self.string_text(d)
    }

    /// A property key as people read it.
    pub fn key(&self, k: u64) -> Key {
        if let Some(i) = self.smi(k) {
            return Key::Index(i.max(0) as u64);
        }
        match self.kind(k) {
            Some(Kind::String) => self
                .string_text(k)
                .map(Key::Name)
                .unwrap_or(Key::Unreadable(k)),
            Some(Kind::Symbol) => {
                let d = self.symbol_description(k).unwrap_or_default();
                // Symbol flags (u32 after the hash field): bit 0 is_private.
                let private = self.u32_at(k, 12).is_some_and(|f| f & 1 != 0);
                if private {
                    if d.is_empty() {
                        if let Some(name) = self.private_symbol_name(k) {
                            return Key::Private(name.to_string());
                        }
                    }
                    Key::Private(d)
                } else {
                    Key::Symbol(d)
                }
            }
            _ => Key::Unreadable(k),
        }
    }

    // ------------------------------------------------------------------ functions

    /// The SharedFunctionInfo of a JSFunction.
    pub fn function_shared(&self, f: u64) -> Option<u64> {
        self.slot(f, self.p.fields.function_shared)
            .filter(|&s| self.kind(s) == Some(Kind::SharedFunctionInfo))
    }

    /// `(function name, inferred name)` from a ScopeInfo, per the version's ScopeInfo layout.
    pub fn scope_info_names(&self, si: u64) -> (Option<u64>, Option<u64>) {
        self.scope_info_tail(si)
            .map(|t| (t.function_name, t.inferred_name))
            .unwrap_or((None, None))
    }

    /// `(start, end)` source positions of a ScopeInfo's scope, when it has position info
    /// (function, script, eval, module and class scopes).
    pub fn scope_info_position(&self, si: u64) -> Option<(u64, u64)> {
        let t = self.scope_info_tail(si)?;
        let l = &self.p.fields.scope_info;
        if t.flags >> l.is_empty_bit & 1 != 0 {
            return None;
        }
        let at = match l.position_fixed {
            Some(off) => off,
            None if l.position_info_scope_types.contains(&t.scope_type)
                || t.scope_type == l.class_scope_type =>
            {
                t.position_offset
            }
            None => return None,
        };
        let start = self.smi_at(si, at)?;
        let end = self.smi_at(si, at + 8)?;
        (start >= 0 && end >= start).then_some((start as u64, end as u64))
    }

    /// The optional fields after a ScopeInfo's locals, located per the version's layout.
    fn scope_info_tail(&self, si: u64) -> Option<ScopeInfoTail> {
        if self.kind(si) != Some(Kind::ScopeInfo) {
            return None;
        }
        let l = &self.p.fields.scope_info;
        let flags = if l.flags_is_smi {
            self.smi_at(si, l.flags).map(|v| v as u32)
        } else {
            self.u32_at(si, l.flags)
        }?;
        let locals = self.smi_at(si, l.context_local_count)?.max(0) as u64;
        let scope_type = flags & l.scope_type_mask;
        let mut off = l.variable_start;
        if let Some((ty, extra)) = l.extra_slot_for_scope_type {
            if scope_type == ty {
                off += extra;
            }
        }
        off += if locals < l.max_inlined_locals {
            8 * locals
        } else {
            8
        };
        off += 8 * locals;
        if flags >> l.saved_class_variable_bit & 1 != 0 {
            off += 8;
        }
        let mut function_name = None;
        if flags >> l.function_variable_shift & 3 != 0 {
            function_name = self.slot(si, off);
            off += 16;
        }
        let mut inferred_name = None;
        if flags >> l.inferred_name_bit & 1 != 0 {
            inferred_name = self.slot(si, off);
            off += 8;
        }
        Some(ScopeInfoTail {
            flags,
            scope_type,
            function_name,
            inferred_name,
            position_offset: off,
        })
    }

    /// `SharedFunctionInfo::DebugName`: the name, else the inferred name; "" if neither.
    pub fn sfi_debug_name(&self, sfi: u64) -> String {
        let (name, inferred) = self.sfi_names(sfi);
        if name.is_empty() {
            inferred
        } else {
            name
        }
    }

    /// A SharedFunctionInfo's own name and its inferred name (`o.p.f` for `o.p.f = function(){}`,
    /// from the ScopeInfo, or from the UncompiledData of a function never compiled); "" where
    /// there is none.
    pub fn sfi_names(&self, sfi: u64) -> (String, String) {
        let f = &self.p.fields;
        let Some(v) = self.slot(sfi, f.sfi_name_or_scope_info) else {
            return (String::new(), String::new());
        };
        let mut name = String::new();
        let mut inferred = None;
        match self.kind(v) {
            Some(Kind::String) => name = self.string_text(v).unwrap_or_default(),
            Some(Kind::ScopeInfo) => {
                let (fname, inf) = self.scope_info_names(v);
                if let Some(n) = fname.filter(|&n| self.is_string(n)) {
                    name = self.string_text(n).unwrap_or_default();
                }
                inferred = inf.filter(|&n| self.is_string(n));
            }
            _ => {}
        }
        if inferred.is_none() {
            if let Some(fd) = f.sfi_function_data.and_then(|o| self.slot(sfi, o)) {
                if self.kind(fd) == Some(Kind::UncompiledData) {
                    inferred = self
                        .slot(fd, f.uncompiled_inferred_name)
                        .filter(|&n| self.is_string(n));
                }
            }
        }
        let inferred = inferred
            .and_then(|i| self.string_text(i))
            .unwrap_or_default();
        (name, inferred)
    }

    /// A JSFunction's debug name.
    pub fn function_name(&self, func: u64) -> String {
        self.function_shared(func)
            .map(|s| self.sfi_debug_name(s))
            .unwrap_or_default()
    }

    // ------------------------------------------------------------------ maps and properties

    /// A JSArray's `length` (a Smi, or a HeapNumber for lengths past the Smi range).
    pub fn js_array_length(&self, arr: u64) -> Option<u64> {
        let l = self.slot(arr, self.p.layout.js_array_length as u64)?;
        match self.smi(l) {
            Some(v) if v >= 0 => Some(v as u64),
            _ => self
                .f64_at(l, self.p.fields.heap_number_value)
                .filter(|v| *v >= 0.0)
                .map(|v| v as u64),
        }
    }

    /// What a context slot holds, looking through V8 14's `ContextCell` (a slot of a script or
    /// small function context may hold a cell instead of the variable's value).
    pub fn context_slot(&self, ctx: u64, slot: u64) -> Option<SlotValue> {
        let v = self.array_get(ctx, slot)?;
        if self.kind(v) != Some(Kind::ContextCell) {
            return Some(SlotValue::Tagged(v));
        }
        // contexts.tq ContextCell { tagged_value, dependent_code, state: int32, then the raw
        // int32 / float64 value at +32 }; state 0 kConst, 1 kSmi, 2 kInt32, 3 kFloat64,
        // 4 kDetached.
        Some(match self.u32_at(v, 24)? {
            0 | 1 => SlotValue::Tagged(self.slot(v, 8)?),
            2 => SlotValue::Number(self.u32_at(v, 32)? as i32 as f64),
            3 => SlotValue::Number(self.f64_at(v, 32)?),
            _ => SlotValue::Detached,
        })
    }

    /// A typed array's length in elements: its length field, or (V8 14, which has none)
    /// its byte length divided by the element size of its elements kind.
    pub fn typed_array_length(&self, ta: u64) -> Option<u64> {
        let f = &self.p.fields;
        if let Some(off) = f.typed_array_length {
            return self.slot(ta, off);
        }
        let kind = self.elements_kind(self.map(ta)?)?;
        let &(_, size) = self
            .p
            .table
            .typed_array_element_sizes
            .iter()
            .find(|(k, _)| *k == kind)?;
        Some(self.slot(ta, f.view_byte_length)? / size)
    }

    /// `len` raw bytes of object `obj` from byte offset `off`.
    pub fn bytes_at(&self, obj: u64, off: u64, len: usize) -> Option<Vec<u8>> {
        self.mem().read_vec(Tagged(obj).field(off), len).ok()
    }

    /// Map bit_field2.
    pub fn bit_field2(&self, map: u64) -> Option<u8> {
        self.u8_at(map, self.p.fields.map_bit_field2)
    }
    /// Map bit_field3.
    pub fn bit_field3(&self, map: u64) -> Option<u32> {
        self.u32_at(map, self.p.layout.map_bit_field3 as u64)
    }
    /// Whether a map is a dictionary map.
    pub fn is_dictionary_map(&self, map: u64) -> bool {
        self.bit_field3(map)
            .is_some_and(|b| b >> self.p.fields.bf3_dictionary_shift & 1 != 0)
    }
    /// A map's prototype.
    pub fn map_prototype(&self, map: u64) -> Option<u64> {
        self.slot(map, self.p.layout.map_prototype as u64)
    }
    /// The map's elements kind.
    pub fn elements_kind(&self, map: u64) -> Option<u64> {
        let f = &self.p.fields;
        self.bit_field2(map)
            .map(|b| (b as u64 & f.bf2_elements_kind_mask) >> f.bf2_elements_kind_shift)
    }

    /// `Map::GetConstructor`: follow back pointers to the root map's constructor slot; unwrap a
    /// Tuple2 (constructor, non-instance prototype).
    pub fn map_constructor(&self, map: u64) -> Option<u64> {
        let off = self.p.layout.map_constructor_or_back_pointer as u64;
        let mut c = self.slot(map, off)?;
        for _ in 0..MAX_STEPS {
            match self.kind(c) {
                Some(Kind::Map) => c = self.slot(c, off)?,
                Some(Kind::Tuple2) => return self.slot(c, self.p.fields.tuple2_value1),
                _ => return Some(c),
            }
        }
        None
    }

    /// Names of the context-allocated locals of a ScopeInfo, in slot order (empty when they
    /// live in a hash table: 75 or more).
    pub fn scope_local_names(&self, si: u64) -> Vec<String> {
        let r = self;
        let l = &r.p.fields.scope_info;
        if r.kind(si) != Some(Kind::ScopeInfo) {
            return Vec::new();
        }
        let flags = if l.flags_is_smi {
            r.smi_at(si, l.flags).map(|v| v as u32)
        } else {
            r.u32_at(si, l.flags)
        };
        let (Some(flags), Some(n)) = (flags, r.smi_at(si, l.context_local_count)) else {
            return Vec::new();
        };
        let n = n.max(0) as u64;
        let mut off = l.variable_start;
        if let Some((ty, extra)) = l.extra_slot_for_scope_type {
            if flags & l.scope_type_mask == ty {
                off += extra;
            }
        }
        if n >= l.max_inlined_locals {
            // A NameToIndexHashTable: number of elements, deleted, capacity, then (name, local
            // index) pairs.
            let mut names: Vec<String> = (0..n.min(1 << 16))
                .map(|i| format!("<local {i}>"))
                .collect();
            let Some(table) = r.slot(si, off) else {
                return names;
            };
            let capacity = r
                .array_get(table, 2)
                .and_then(|c| r.smi(c))
                .unwrap_or(0)
                .max(0) as u64;
            for e in 0..capacity.min(1 << 17) {
                let (Some(k), Some(v)) =
                    (r.array_get(table, 3 + 2 * e), r.array_get(table, 4 + 2 * e))
                else {
                    break;
                };
                if let (Some(i), Some(name)) = (r.smi(v), r.string_text(k)) {
                    if let Some(slot) = names.get_mut(i.max(0) as usize) {
                        *slot = name;
                    }
                }
            }
            return names;
        }
        (0..n)
            .map(|i| {
                r.slot(si, off + 8 * i)
                    .and_then(|s| r.string_text(s))
                    .unwrap_or_else(|| format!("<local {i}>"))
            })
            .collect()
    }

    /// Which store holds `obj`'s named properties.
    pub fn property_store(&self, obj: u64) -> Option<PropertyStore> {
        let map = self.map(obj)?;
        if !self.is_dictionary_map(map) {
            return Some(PropertyStore::Fast);
        }
        let store = self.slot(obj, self.p.fields.receiver_properties)?;
        match self.kind(store)? {
            Kind::GlobalDictionary => Some(PropertyStore::Global),
            _ => Some(PropertyStore::Dictionary),
        }
    }

    /// Own named properties of a JS object, in descriptor / dictionary order, at most `limit`.
    /// `None` when the object's property store cannot be read.
    pub fn own_properties(&self, obj: u64, limit: usize) -> Option<Vec<Property>> {
        let mut out = Vec::new();
        self.for_each_own_property(obj, |p| {
            out.push(p);
            out.len() < limit
        })?;
        Some(out)
    }

    /// Call `f` for each own named property; stop when it returns false.
    pub fn for_each_own_property(
        &self,
        obj: u64,
        mut f: impl FnMut(Property) -> bool,
    ) -> Option<()> {
        self.for_each_own_property_raw(obj, |p| {
            f(Property {
                key_word: p.key_word,
                key: self.key(p.key_word),
                value: p.value,
                accessor: p.accessor,
                hidden: p.hidden,
                order: p.order,
            })
        })
    }

    /// [`Reader::for_each_own_property`] without the keys' text.
    pub fn for_each_own_property_raw(
        &self,
        obj: u64,
        mut f: impl FnMut(RawProperty) -> bool,
    ) -> Option<()> {
        let fl = &self.p.fields;
        let d = &fl.details;
        let map = self.map(obj)?;
        // One property from a key, a value and the raw PropertyDetails Smi; dictionary
        // details also carry the enumeration index (insertion order).
        let prop = |k: u64, value: u64, raw: u64, dictionary: bool| RawProperty {
            key_word: k,
            value,
            accessor: raw & d.kind_mask != 0,
            hidden: ((raw & d.attributes_mask) >> d.attributes_shift) & d.dont_enum != 0,
            order: if dictionary {
                raw >> self.p.table.map_bits.dictionary_storage_shift
            } else {
                0
            },
        };
        let raw_details = |w: u64| self.smi(w).map(|v| v as u64);
        match self.property_store(obj)? {
            PropertyStore::Fast => {
                let bf3 = self.bit_field3(map)? as u64;
                let n = (bf3 & fl.bf3_own_descriptors_mask) >> fl.bf3_own_descriptors_shift;
                let da = self.slot(map, self.p.layout.map_instance_descriptors as u64)?;
                let words =
                    self.u8_at(map, self.p.layout.map_instance_size_in_words as u64)? as u64;
                let start = self.u8_at(map, fl.map_inobject_start)? as u64;
                let inobject = words.saturating_sub(start);
                for i in 0..n {
                    let base = fl.descriptors_header + 24 * i;
                    let (Some(k), Some(dw)) = (self.slot(da, base), self.slot(da, base + 8)) else {
                        return None;
                    };
                    let v = raw_details(dw)?;
                    let value = if v & d.location_mask != 0 {
                        self.slot(da, base + 16)?
                    } else {
                        let idx = (v & d.index_mask) >> d.index_shift;
                        if idx < inobject {
                            self.slot(obj, (start + idx) * 8)?
                        } else {
                            let pa = self.slot(obj, fl.receiver_properties)?;
                            if self.kind(pa) != Some(Kind::PropertyArray) {
                                return None;
                            }
                            self.slot(pa, 16 + 8 * (idx - inobject))?
                        }
                    };
                    if !f(prop(k, value, v, false)) {
                        return Some(());
                    }
                }
            }
            PropertyStore::Dictionary => {
                let dict = self.slot(obj, fl.receiver_properties)?;
                if self.kind(dict) != Some(Kind::NameDictionary) {
                    return None;
                }
                let len = self.array_length(dict)?;
                let es = fl.name_dictionary_entry;
                let mut i = fl.name_dictionary_first;
                while i + es <= len {
                    let k = self.array_get(dict, i)?;
                    if self
                        .kind(k)
                        .is_some_and(|k| matches!(k, Kind::String | Kind::Symbol))
                    {
                        let value = self.array_get(dict, i + 1)?;
                        let raw = raw_details(self.array_get(dict, i + 2)?)?;
                        if !f(prop(k, value, raw, true)) {
                            return Some(());
                        }
                    }
                    i += es;
                }
            }
            PropertyStore::Global => {
                let dict = self.slot(obj, fl.receiver_properties)?;
                let len = self.array_length(dict)?;
                for i in 0..len {
                    let cell = self.array_get(dict, i)?;
                    if self.kind(cell) != Some(Kind::PropertyCell) {
                        continue;
                    }
                    let k = self.slot(cell, fl.property_cell_name)?;
                    let value = self.slot(cell, fl.property_cell_value)?;
                    if Some(value) == self.the_hole() {
                        continue; // deleted
                    }
                    let raw = raw_details(self.slot(cell, fl.property_cell_details)?)?;
                    if !f(prop(k, value, raw, true)) {
                        return Some(());
                    }
                }
            }
        }
        Some(())
    }

    /// An own data property whose key satisfies `want` (accessors give `None`, as in V8's
    /// `GetDataProperty` without side effects).
    pub fn own_data_property(&self, obj: u64, want: impl Fn(u64) -> bool) -> Option<u64> {
        let mut found = None;
        self.for_each_own_property_raw(obj, |p| {
            if want(p.key_word) {
                if !p.accessor {
                    found = Some(p.value);
                }
                return false;
            }
            true
        });
        found
    }

    /// Elements of a JS object (at most `limit` values).
    pub fn elements(&self, obj: u64, limit: usize) -> Option<Elements> {
        let fl = &self.p.fields;
        let map = self.map(obj)?;
        let kind = self.elements_kind(map)?;
        let store = self.slot(obj, fl.object_elements)?;
        if kind == fl.dictionary_elements_kind {
            if self.kind(store) != Some(Kind::NumberDictionary) {
                return None;
            }
            let len = self.array_length(store)?;
            let es = fl.number_dictionary_entry;
            let mut i = fl.number_dictionary_first;
            let mut entries = Vec::new();
            while i + es <= len && entries.len() < limit {
                let k = self.array_get(store, i)?;
                let idx = match self.smi(k) {
                    Some(v) if v >= 0 => Some(v as u64),
                    _ if self.kind(k) == Some(Kind::HeapNumber) => self
                        .f64_at(k, fl.heap_number_value)
                        .filter(|v| *v >= 0.0 && v.fract() == 0.0)
                        .map(|v| v as u64),
                    _ => None,
                };
                if let Some(idx) = idx {
                    entries.push((idx, self.array_get(store, i + 1)?));
                }
                i += es;
            }
            entries.sort();
            return Some(Elements::Dictionary { entries });
        }
        if kind >= fl.dictionary_elements_kind {
            return Some(Elements::Other { kind });
        }
        let capacity = self.array_length(store)?;
        let n = (capacity as usize).min(limit);
        // The capacity is read from the heap: memory is reserved as the reads succeed, not
        // for what a damaged length claims.
        let reserve = n.min(1 << 12);
        if kind == 4 || kind == 5 {
            let mut values = Vec::with_capacity(reserve);
            for i in 0..n as u64 {
                let w = self.slot(store, 16 + 8 * i)?;
                values.push((w != DOUBLE_HOLE).then(|| f64::from_bits(w)));
            }
            return Some(Elements::Double {
                kind,
                values,
                capacity,
            });
        }
        let mut values = Vec::with_capacity(reserve);
        for i in 0..n as u64 {
            values.push(self.array_get(store, i)?);
        }
        Some(Elements::Tagged {
            kind,
            values,
            capacity,
        })
    }
}

/// `v8::String::kMaxLength` on 64-bit builds ((1 << 29) - 24), the same in every supported V8.
const MAX_STRING_LENGTH: u64 = (1 << 29) - 24;

fn repr_of(t: u16) -> StringRepr {
    match t & 7 {
        0 => StringRepr::Sequential,
        1 => StringRepr::Cons,
        2 => StringRepr::External,
        3 => StringRepr::Sliced,
        _ => StringRepr::Thin,
    }
}
