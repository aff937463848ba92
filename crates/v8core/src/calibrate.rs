//! A V8 version without a verified table: which table to start from, what to measure in the
//! core instead of trusting it, and the checks that decide whether the answer can be given.
//!
//! Every Node.js major ships one V8 minor for its whole life, and each minor moves a few
//! offsets (the page list link, the Isolate's fields, the roots table) and renumbers the
//! instance types. A core of a V8 minor v8dump has no table for is read with the nearest older
//! table (or the one `--layout` names), after these are taken from the binary and the core
//! rather than from that table:
//!
//! * the instance-type enum, decoded from the binary's own printing function
//!   ([`crate::meta::enum_decode`]);
//! * the Isolate, from the thread-local `g_current_isolate_` of the main thread (V8 11+), which
//!   gives `offsetof(Isolate, heap_)` as `heap - isolate`;
//! * the roots table, as the offset in the Isolate where the table's root indices find a meta
//!   map that is its own map;
//! * the page list link, as the offset in the page metadata that chains exactly the pages found
//!   from each space's list head;
//! * the code kinds, from the metadata's `CodeKindBaseline` (Maglev and Turbofan follow it);
//! * the size of a hole whose map gives none (V8 14.6: a header and a payload that is never
//!   mapped), as the distance from a hole root to the first byte after it the core holds.
//!
//! Then the sanity checks of [`crate::process`] run; if one fails the core is refused with the
//! check's name, and if all pass every answer carries an "unverified table" mark.

use crate::error::{Error, Result};
use crate::heap::pages::PageScan;
use crate::meta::layout::{Layout, Resolved, Source, Tagged};
use crate::meta::metadata::Metadata;
use crate::meta::tables::{RootIndices, V8Version, VersionTable, TABLES};
use crate::meta::types::InstanceTypes;
use elfcore::{Address, Dump, ElfImage, Memory};
use serde::Serialize;

/// How the version table was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TableChoice {
    /// The table of this very V8 minor version, verified on real cores.
    Verified,
    /// No table for this version: the nearest one, calibrated on the core.
    Nearest {
        /// The table used (`14.6`).
        table: String,
    },
    /// The table `--layout` named, calibrated on the core.
    Forced {
        /// The table used.
        table: String,
    },
}

impl TableChoice {
    /// Whether the table is this version's own.
    pub fn verified(&self) -> bool {
        *self == TableChoice::Verified
    }
}

/// `"14.6"` as (14, 6).
pub fn parse_minor(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The table for V8 `v`: `force` when given; else this version's own, unless `hidden` (a
/// maintainer's way to see what the next release would get); else the newest table older than
/// `v` (V8 changes forward), or the oldest one for a version older than every table.
pub fn choose_table(
    v: V8Version,
    force: Option<(u32, u32)>,
    hidden: &[(u32, u32)],
    exe: &std::path::Path,
) -> Result<(VersionTable, TableChoice)> {
    let known = || {
        TABLES
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(f) = force {
        let t = TABLES
            .iter()
            .find(|t| t.v8 == f)
            .ok_or_else(|| Error::NoSuchTable {
                table: format!("{}.{}", f.0, f.1),
                known: known(),
            })?;
        let choice = if t.v8 == (v.major, v.minor) && !hidden.contains(&t.v8) {
            TableChoice::Verified
        } else {
            TableChoice::Forced { table: t.name() }
        };
        return Ok((*t, choice));
    }
    let candidates: Vec<&VersionTable> =
        TABLES.iter().filter(|t| !hidden.contains(&t.v8)).collect();
    if let Some(t) = candidates.iter().find(|t| t.v8 == (v.major, v.minor)) {
        return Ok((**t, TableChoice::Verified));
    }
    let nearest = candidates
        .iter()
        .filter(|t| t.v8 < (v.major, v.minor))
        .max_by_key(|t| t.v8)
        .or_else(|| candidates.iter().min_by_key(|t| t.v8))
        .ok_or_else(|| Error::UnsupportedVersion {
            exe: exe.into(),
            version: v.to_string(),
            known: known(),
        })?;
    Ok((
        **nearest,
        TableChoice::Nearest {
            table: nearest.name(),
        },
    ))
}

fn measured(what: &str, value: i64) -> Resolved {
    Resolved {
        what: what.into(),
        value,
        source: Source::Core,
    }
}

/// `thread_local Isolate* g_current_isolate_` of the main thread, in the executable's TLS
/// block, which the architecture's TLS variant places relative to the thread pointer: just
/// below it on x86-64 (`fs_base - roundup(memsz, align) + offset`), after the 16-byte thread
/// control block on arm64 (`tpidr_el0 + roundup(16, align) + offset`).
fn isolate_from_tls(core: &dyn Dump, exe: &ElfImage, mem: &dyn Memory) -> Option<u64> {
    let sym = exe
        .symbol("_ZN2v88internal18g_current_isolate_E")
        .filter(|s| s.tls)?;
    let (memsz, align) = exe.tls_segment()?;
    let align = align.max(1);
    let regs = core.threads().first()?.regs;
    let tp = regs.thread_pointer()?;
    let block = match regs.arch().regs().tls {
        elfcore::arch::TlsVariant::BelowPointer => tp.checked_sub(memsz.div_ceil(align) * align)?,
        elfcore::arch::TlsVariant::AfterTcb { tcb } => {
            tp.checked_add(tcb.div_ceil(align) * align)?
        }
    };
    let at = block.checked_add(sym.addr)?;
    mem.read_u64(Address(at)).ok().filter(|&a| a != 0)
}

/// Reads a candidate roots table and says whether each root is what its name says, by what the
/// object is (its instance type, an oddball's kind, a string's length), not by where it is.
pub struct RootsProbe<'a> {
    mem: &'a dyn Memory,
    layout: &'a Layout,
    odd: [Option<i64>; 5],
    types: [Option<u16>; 3],
}

impl<'a> RootsProbe<'a> {
    /// A probe for the binary's layout, metadata and instance types.
    pub fn new(
        mem: &'a dyn Memory,
        layout: &'a Layout,
        meta: &Metadata,
        types: &InstanceTypes,
    ) -> RootsProbe<'a> {
        RootsProbe {
            mem,
            layout,
            odd: [
                "OddballUndefined",
                "OddballNull",
                "OddballTrue",
                "OddballFalse",
                "OddballTheHole",
            ]
            .map(|k| meta.get(k)),
            types: ["ODDBALL_TYPE", "HOLE_TYPE", "FIXED_ARRAY_TYPE"].map(|n| types.value(n)),
        }
    }

    fn word(&self, a: u64) -> Option<u64> {
        self.mem.read_u64(Address(a)).ok()
    }

    fn map(&self, obj: u64) -> Option<u64> {
        (obj & 3 == 1).then_some(())?;
        self.word(Tagged(obj).field(self.layout.heap_object_map as u64).0)
    }

    fn map_type(&self, map: u64) -> Option<u16> {
        let a = Tagged(map).field(self.layout.map_instance_type as u64);
        self.mem.read_u16(a).ok()
    }

    fn is_meta_map(&self, m: u64) -> bool {
        self.map(m) == Some(m) && self.map_type(m) == Some(self.layout.map_type)
    }

    fn type_of(&self, obj: u64) -> Option<u16> {
        let m = self.map(obj)?;
        self.is_meta_map(self.map(m)?).then_some(())?;
        self.map_type(m)
    }

    fn oddball_kind(&self, obj: u64) -> Option<i64> {
        (self.type_of(obj)? == self.types[0]?).then_some(())?;
        let w = self.word(Tagged(obj).field(self.layout.oddball_kind as u64).0)?;
        Some(self.layout.smi_value(w))
    }

    /// What each root of `idx` must be, checked at table `base`: `Err` names the first that
    /// is not.
    pub fn fit(&self, base: u64, idx: &RootIndices) -> std::result::Result<(), String> {
        let root = |i: u64| self.word(base + 8 * i).unwrap_or(0);
        let meta = root(idx.meta_map);
        if !self.is_meta_map(meta) {
            return Err(format!(
                "root {} (meta_map) is not a map whose map is itself",
                idx.meta_map
            ));
        }
        let fixed = root(idx.fixed_array_map);
        if self.map(fixed) != Some(meta) || self.map_type(fixed) != self.types[2] {
            return Err(format!(
                "root {} (fixed_array_map) is not the map of FIXED_ARRAY_TYPE",
                idx.fixed_array_map
            ));
        }
        for (k, (i, name)) in [
            (idx.undefined, "undefined"),
            (idx.null, "null"),
            (idx.true_value, "true"),
            (idx.false_value, "false"),
        ]
        .into_iter()
        .enumerate()
        {
            if self.odd[k].is_some() && self.oddball_kind(root(i)) != self.odd[k] {
                return Err(format!("root {i} ({name}) is not the {name} oddball"));
            }
        }
        let hole = root(idx.the_hole);
        let is_hole = match self.types[1] {
            Some(h) => self.type_of(hole) == Some(h),
            None => self.odd[4].is_some() && self.oddball_kind(hole) == self.odd[4],
        };
        if !is_hole {
            return Err(format!("root {} (the_hole) is not the hole", idx.the_hole));
        }
        let empty = root(idx.empty_string);
        let len = self.word(Tagged(empty).field(self.layout.string_length as u64).0);
        if self.type_of(empty).is_none_or(|t| t >= 128) || len.map(|w| w as u32) != Some(0) {
            return Err(format!(
                "root {} (empty_string) is not the empty string",
                idx.empty_string
            ));
        }
        Ok(())
    }

    /// The size of a hole whose map gives no fixed size (V8 14.6: a header, then a payload
    /// V8 reserves but never maps, so the core has no bytes for it), measured on every hole
    /// root in the table at `base`: from the hole to the first byte after it that is in the
    /// dump, where an object with a map starts. `None` where the holes have a fixed size in
    /// their map, or where the holes measured disagree, or none can be measured.
    pub fn hole_size(&self, base: u64) -> Option<u64> {
        let hole_type = self.types[1]?;
        let holes: Vec<u64> = (0..ROOTS_PROBED)
            .map_while(|i| self.word(base + 8 * i))
            .filter(|&w| self.type_of(w) == Some(hole_type))
            .collect();
        let map = self.map(*holes.first()?)?;
        let words = self
            .mem
            .read_u8(Tagged(map).field(self.layout.map_instance_size_in_words as u64))
            .ok()?;
        if words != 0 {
            return None;
        }
        let measure = |hole: u64| -> Option<u64> {
            let start = hole - 1;
            let after = start + self.layout.tagged_size;
            if self.mem.read_u8(Address(after)).is_ok() {
                return None;
            }
            let next = (1..=MAX_HOLE / PROBE_STEP)
                .map(|k| (after & !(PROBE_STEP - 1)) + k * PROBE_STEP)
                .find(|&a| self.mem.read_u8(Address(a)).is_ok())?;
            (self.type_of(next + 1).is_some() && next.is_multiple_of(self.layout.tagged_size))
                .then_some(next - start)
        };
        // The holes the measure can tell must agree (some of the slots read past the roots
        // hold holes at the end of a mapping, which it cannot).
        let mut sizes = holes.iter().filter_map(|&h| measure(h));
        let first = sizes.next()?;
        sizes.all(|s| s == first).then_some(first)
    }

    /// Root indices found by what the first 128 roots at `base` are.
    fn infer(&self, base: u64) -> Option<RootIndices> {
        let root = |i: u64| self.word(base + 8 * i).unwrap_or(0);
        let find = |f: &dyn Fn(u64) -> bool| (0..128u64).find(|&i| f(root(i)));
        let kind = |k: usize| {
            let want = self.odd[k]?;
            find(&|w| self.oddball_kind(w) == Some(want))
        };
        let meta_map = find(&|w| self.is_meta_map(w))?;
        let meta = root(meta_map);
        let idx = RootIndices {
            undefined: kind(0)?,
            null: kind(1)?,
            true_value: kind(2)?,
            false_value: kind(3)?,
            the_hole: match self.types[1] {
                Some(h) => find(&|w| self.type_of(w) == Some(h))?,
                None => kind(4)?,
            },
            empty_string: find(&|w| {
                self.type_of(w).is_some_and(|t| t < 128)
                    && self
                        .word(Tagged(w).field(self.layout.string_length as u64).0)
                        .map(|x| x as u32)
                        == Some(0)
            })?,
            meta_map,
            fixed_array_map: find(&|w| {
                self.map(w) == Some(meta) && self.map_type(w) == self.types[2]
            })?,
        };
        self.fit(base, &idx).ok().map(|_| idx)
    }
}

/// How many root slots the hole measurement reads (V8 14.6 has about 900 roots; a read that
/// fails ends the scan first).
const ROOTS_PROBED: u64 = 1024;
/// The granule in which the dump is probed for the end of a hole's unmapped payload (the
/// smallest page size).
const PROBE_STEP: u64 = 4096;
/// The largest hole size believed (V8 14.6's is 64 KiB and a word).
const MAX_HOLE: u64 = 1 << 20;

/// Measure what a table of another version cannot be trusted with (see the module docs),
/// updating `table` and returning what was measured. `pages` is the scan with the starting
/// table (page headers found; the list filter may be wrong).
#[allow(clippy::too_many_arguments)]
pub fn calibrate(
    table: &mut VersionTable,
    core: &dyn Dump,
    exe: &ElfImage,
    meta: &Metadata,
    pages: &PageScan,
    layout: &Layout,
    types: &InstanceTypes,
) -> Vec<Resolved> {
    let mut out = Vec::new();
    let mem = core.memory();
    let heap = pages.heap.0;
    // The Isolate: by TLS when the binary has the variable, else where the table says.
    let isolate = match isolate_from_tls(core, exe, mem) {
        Some(iso) if heap > iso && heap - iso < 1 << 20 => {
            table.isolate_heap_offset = heap - iso;
            out.push(measured("isolate.heap_", (heap - iso) as i64));
            iso
        }
        _ => heap.wrapping_sub(table.isolate_heap_offset),
    };
    // The roots table: where the table's root indices fit; else where the roots can be told
    // by what they are (V8 14 reordered them).
    let probe = RootsProbe::new(mem, layout, meta, types);
    let base = isolate + table.isolate_roots_offset;
    if probe.fit(base, &table.roots).is_err() {
        let offsets = (0..0x200u64).map(|k| 8 * k);
        if let Some(off) = offsets
            .clone()
            .find(|&o| probe.fit(isolate + o, &table.roots).is_ok())
        {
            table.isolate_roots_offset = off;
            out.push(measured("isolate.roots", off as i64));
        } else if let Some((off, idx)) = offsets
            .clone()
            .rev()
            // The last offset that fits puts the first root the probe knows at index 0.
            .find_map(|o| Some((o, probe.infer(isolate + o)?)))
        {
            table.isolate_roots_offset = off;
            table.roots = idx;
            out.push(measured("isolate.roots", off as i64));
            for (k, v) in [
                ("undefined", idx.undefined),
                ("the_hole", idx.the_hole),
                ("null", idx.null),
                ("true", idx.true_value),
                ("false", idx.false_value),
                ("empty_string", idx.empty_string),
                ("meta_map", idx.meta_map),
                ("fixed_array_map", idx.fixed_array_map),
            ] {
                out.push(measured(&format!("roots.{k}"), v as i64));
            }
        }
    }
    // The page list link: the metadata offset whose lists, from every space's head, chain
    // the most of the pages found, each list ending in null (the `prev` link next to it
    // chains one page per list).
    let l = table.page;
    let all: Vec<&crate::heap::pages::Page> =
        pages.pages.iter().chain(&pages.unlisted_pages).collect();
    let owners: std::collections::BTreeSet<u64> = all
        .iter()
        .filter(|p| p.owner.0 != 0)
        .map(|p| p.owner.0)
        .collect();
    let found: std::collections::HashSet<u64> = all.iter().map(|p| p.metadata.0).collect();
    let covered = |next: u64| -> Option<usize> {
        let mut n = 0;
        for &o in &owners {
            let mut md = mem.read_u64(Address(o + l.space_list_front)).ok()?;
            let mut k = 0;
            while md != 0 {
                if !found.contains(&md) || k > found.len() {
                    return None;
                }
                k += 1;
                md = mem.read_u64(Address(md + next)).ok()?;
            }
            n += k;
        }
        Some(n)
    };
    let best = (0x40..0x200u64)
        .step_by(8)
        .filter_map(|o| Some((covered(o)?, o)))
        .max_by_key(|&(n, o)| (n, std::cmp::Reverse(o)));
    if let Some((n, next)) = best {
        if next != l.list_next && covered(l.list_next).is_none_or(|c| c < n) {
            table.page.list_next = next;
            out.push(measured("page.list_next", next as i64));
        }
    }
    // The hole's size: where the hole's map says "variable size" and the table gives none
    // (V8 14.6 made each hole a header and a large payload that is never mapped).
    if table.sizes.hole.is_none() {
        if let Some(size) = probe.hole_size(isolate + table.isolate_roots_offset) {
            table.sizes.hole = Some(size);
            out.push(measured("sizes.hole", size as i64));
        }
    }
    // Code kinds: the metadata names BASELINE; MAGLEV and TURBOFAN_JS follow it.
    if let Some(b) = meta.get("CodeKindBaseline") {
        let c = &mut table.code_kinds;
        if b as u32 != c.baseline {
            let (dm, dt) = (c.maglev - c.baseline, c.turbofan - c.baseline);
            c.baseline = b as u32;
            c.maglev = b as u32 + dm;
            c.turbofan = b as u32 + dt;
            out.push(measured("code.BASELINE", b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> V8Version {
        V8Version {
            major,
            minor,
            build: 0,
            patch: 0,
        }
    }

    #[test]
    fn the_nearest_older_table_stands_in() {
        let exe = std::path::Path::new("node");
        let pick = |x: V8Version, hidden: &[(u32, u32)]| {
            choose_table(x, None, hidden, exe).map(|(t, c)| (t.v8, c))
        };
        assert_eq!(
            pick(v(14, 6), &[]).unwrap(),
            ((14, 6), TableChoice::Verified)
        );
        assert_eq!(
            pick(v(14, 9), &[]).unwrap(),
            (
                (14, 6),
                TableChoice::Nearest {
                    table: "14.6".into()
                }
            )
        );
        assert_eq!(pick(v(14, 1), &[(14, 1)]).unwrap().0, (13, 6));
        assert_eq!(pick(v(9, 4), &[]).unwrap().0, (10, 2));
        let (t, c) = choose_table(v(14, 1), Some((14, 6)), &[], exe).unwrap();
        assert_eq!(
            (t.v8, c),
            (
                (14, 6),
                TableChoice::Forced {
                    table: "14.6".into()
                }
            )
        );
        let e = choose_table(v(14, 1), Some((7, 7)), &[], exe)
            .unwrap_err()
            .to_string();
        assert!(e.contains("7.7") && e.contains("14.6"), "{e}");
        assert_eq!(parse_minor("14.6"), Some((14, 6)));
        assert_eq!(parse_minor("14"), None);
    }
}
