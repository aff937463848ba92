//! The typed object layout: what the rest of the crate needs from the metadata, resolved once.
//!
//! Every value records where it came from (a `v8dbg_` symbol, or the version table's fallback),
//! so `info` can say which constants were missing and what stood in for them. Mandatory values
//! that are neither in the metadata nor in the table fail loudly here, naming what was tried.

use crate::error::{Error, Result};
use crate::meta::metadata::Metadata;
use crate::meta::tables::{V8Version, VersionTable};
use elfcore::Address;
use serde::Serialize;
use std::path::Path;

/// A tagged word as V8 stores it: a Smi (low bit 0), a strong heap pointer (low bits 01: the
/// object's address plus one) or a weak one (low bits 11). The tag arithmetic of reading a
/// field lives here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tagged(pub u64);

impl Tagged {
    /// The address of the object a heap pointer (strong or weak) points at.
    pub fn untagged(self) -> Address {
        Address(self.0 & !3)
    }
    /// The address of the field at byte offset `off` of the object this pointer points at
    /// (wrapping: the word may be garbage from a damaged heap).
    pub fn field(self, off: u64) -> Address {
        Address((self.0 & !3).wrapping_add(off))
    }
}

/// Where a layout value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A `v8dbg_` symbol of the executable.
    Symbol {
        /// Its full name.
        name: String,
    },
    /// Measured in the core, because the version has no table of its own.
    Core,
    /// The version table (the metadata lacks it, or has no such constant at all).
    Table {
        /// The table's V8 version.
        table: String,
    },
}

/// One resolved value, for reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Resolved {
    /// What it is (`Map.instance_type`).
    pub what: String,
    /// Its value.
    pub value: i64,
    /// Where it came from.
    pub source: Source,
}

/// Object layout and tagging for one executable.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Layout {
    /// `kHeapObjectTag` (1).
    pub heap_object_tag: u64,
    /// `kHeapObjectTagMask` (3).
    pub heap_object_tag_mask: u64,
    /// `kSmiTagMask` (1).
    pub smi_tag_mask: u64,
    /// `kSmiShiftSize + kSmiTagSize`: a Smi's value is the word shifted right by this (32).
    pub smi_value_shift: u32,
    /// Size of a tagged slot (8 without pointer compression).
    pub tagged_size: u64,
    /// `HeapObject::map` offset.
    pub heap_object_map: i64,
    /// `Map::instance_type` (u16) offset.
    pub map_instance_type: i64,
    /// `Map::instance_size_in_words` (u8) offset.
    pub map_instance_size_in_words: i64,
    /// `Map::bit_field3` (u32) offset.
    pub map_bit_field3: i64,
    /// `Map::prototype` offset.
    pub map_prototype: i64,
    /// `Map::constructor_or_back_pointer` offset.
    pub map_constructor_or_back_pointer: i64,
    /// `Map::instance_descriptors` offset.
    pub map_instance_descriptors: i64,
    /// `FixedArrayBase::length` offset.
    pub fixed_array_length: i64,
    /// `String::length` (u32) offset.
    pub string_length: i64,
    /// `JSArray::length` offset (not in any metadata; table fallback).
    pub js_array_length: i64,
    /// `Oddball::kind` offset (`kind_offset` before V8 12).
    pub oddball_kind: i64,
    /// `MAP_TYPE`.
    pub map_type: u16,
    /// Every value above with its source.
    pub resolved: Vec<Resolved>,
}

pub(crate) struct Resolver<'a> {
    pub(crate) meta: &'a Metadata,
    pub(crate) table: &'a VersionTable,
    pub(crate) exe: &'a Path,
    pub(crate) version: V8Version,
    pub(crate) resolved: Vec<Resolved>,
}

impl Resolver<'_> {
    fn missing(&self, what: &str, tried: String) -> Error {
        Error::MissingConstant {
            exe: self.exe.into(),
            what: what.into(),
            tried,
            version: self.version.to_string(),
        }
    }

    /// A class field by (class, any of `fields`), else the table's fallback.
    pub(crate) fn field(&mut self, class: &str, fields: &[&str]) -> Result<i64> {
        let what = format!("{class}.{}", fields[0]);
        for f in fields {
            if let Some(c) = self.meta.field(class, f) {
                self.resolved.push(Resolved {
                    what,
                    value: c.value,
                    source: Source::Symbol {
                        name: c.symbol.clone(),
                    },
                });
                return Ok(c.value);
            }
        }
        if let Some(&(_, _, v)) = self
            .table
            .field_fallbacks
            .iter()
            .find(|(c, f, _)| *c == class && fields.contains(f))
        {
            let table = format!("{}.{}", self.table.v8.0, self.table.v8.1);
            self.resolved.push(Resolved {
                what,
                value: v,
                source: Source::Table { table },
            });
            return Ok(v);
        }
        let tried = fields
            .iter()
            .map(|f| format!("v8dbg_class_{class}__{f}__*"))
            .collect::<Vec<_>>()
            .join(", ");
        Err(self.missing(&what, tried))
    }

    /// A plain constant, by any of its names.
    pub(crate) fn constant(&mut self, names: &[&str]) -> Result<i64> {
        for n in names {
            if let Some(v) = self.meta.get(n) {
                self.resolved.push(Resolved {
                    what: names[0].into(),
                    value: v,
                    source: Source::Symbol {
                        name: format!("v8dbg_{n}"),
                    },
                });
                return Ok(v);
            }
        }
        Err(self.missing(
            names[0],
            names
                .iter()
                .map(|n| format!("v8dbg_{n}"))
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }

    /// A plain constant, else the table's value for it (recorded as a table value).
    pub(crate) fn constant_or_table(
        &mut self,
        name: &str,
        table_value: Option<i64>,
    ) -> Option<i64> {
        if let Ok(v) = self.constant(&[name]) {
            return Some(v);
        }
        let v = table_value?;
        self.resolved.push(Resolved {
            what: name.into(),
            value: v,
            source: Source::Table {
                table: format!("{}.{}", self.table.v8.0, self.table.v8.1),
            },
        });
        Some(v)
    }

    fn instance_type(&mut self, name: &str) -> Result<i64> {
        match self.meta.instance_type(name) {
            Some(v) => {
                self.resolved.push(Resolved {
                    what: name.into(),
                    value: v,
                    source: Source::Symbol {
                        name: format!("v8dbg_type_*__{name}"),
                    },
                });
                Ok(v)
            }
            None => Err(self.missing(name, format!("v8dbg_type_*__{name}"))),
        }
    }
}

impl Layout {
    /// Resolve the layout from the metadata and the version table, checking the tagging scheme
    /// this crate supports (64-bit, no pointer compression: every official Node 18-24 build).
    pub fn resolve(
        meta: &Metadata,
        table: &VersionTable,
        version: V8Version,
        exe: &Path,
    ) -> Result<Layout> {
        let mut r = Resolver {
            meta,
            table,
            exe,
            version,
            resolved: Vec::new(),
        };
        let heap_object_tag = r.constant(&["HeapObjectTag"])? as u64;
        let heap_object_tag_mask = r.constant(&["HeapObjectTagMask"])? as u64;
        let smi_tag = r.constant(&["SmiTag"])?;
        let smi_tag_mask = r.constant(&["SmiTagMask"])? as u64;
        let smi_shift = r.constant(&["SmiShiftSize"])?;
        let smi_value_shift = r.constant(&["SmiValueShift"])?;
        let pointer_size = r
            .constant(&["SystemPointerSize"])
            .or_else(|_| r.constant(&["SystemPointerSizeLog2"]).map(|l| 1 << l))?;
        let tagged_size = r.constant(&["TaggedSize"]).unwrap_or(pointer_size);

        let insane = |check, detail: String| Error::Insane { check, detail };
        if heap_object_tag != 1 || heap_object_tag_mask != 3 || smi_tag != 0 || smi_tag_mask != 1 {
            return Err(insane("tagging", format!("HeapObjectTag={heap_object_tag} mask={heap_object_tag_mask} SmiTag={smi_tag} mask={smi_tag_mask}; expected 1/3/0/1")));
        }
        if pointer_size != 8 {
            return Err(insane(
                "pointer size",
                format!("SystemPointerSize={pointer_size}; only 64-bit processes are supported"),
            ));
        }
        if tagged_size != 8 || smi_shift != 31 {
            return Err(insane(
                "pointer compression",
                format!("TaggedSize={tagged_size} SmiShiftSize={smi_shift}: this node was built with pointer compression, which v8dump does not read yet (official builds do not use it)"),
            ));
        }

        let layout = Layout {
            heap_object_tag,
            heap_object_tag_mask,
            smi_tag_mask,
            smi_value_shift: (smi_shift + smi_value_shift) as u32,
            tagged_size: tagged_size as u64,
            heap_object_map: r.field("HeapObject", &["map"])?,
            map_instance_type: r.field("Map", &["instance_type"])?,
            map_instance_size_in_words: r.field("Map", &["instance_size_in_words"])?,
            map_bit_field3: r.field("Map", &["bit_field3"])?,
            map_prototype: r.field("Map", &["prototype"])?,
            map_constructor_or_back_pointer: r.field("Map", &["constructor_or_back_pointer"])?,
            map_instance_descriptors: r.field("Map", &["instance_descriptors"])?,
            fixed_array_length: r.field("FixedArrayBase", &["length"])?,
            string_length: r.field("String", &["length"])?,
            js_array_length: r.field("JSArray", &["length"])?,
            oddball_kind: r.field("Oddball", &["kind", "kind_offset"])?,
            map_type: r.instance_type("MAP_TYPE")? as u16,
            resolved: Vec::new(),
        };
        Ok(Layout {
            resolved: r.resolved,
            ..layout
        })
    }

    /// Number of values that came from the version table rather than the metadata.
    pub fn fallbacks_used(&self) -> impl Iterator<Item = &Resolved> {
        self.resolved
            .iter()
            .filter(|r| matches!(r.source, Source::Table { .. }))
    }

    /// Whether a word is a (strong) heap object pointer.
    pub fn is_heap_object(&self, word: u64) -> bool {
        word & self.heap_object_tag_mask == self.heap_object_tag
    }
    /// Whether a word is a Smi.
    pub fn is_smi(&self, word: u64) -> bool {
        word & self.smi_tag_mask == 0
    }
    /// Whether `word` is a Smi as V8 writes one: the tag clear and, below the value, every bit
    /// zero (on 64-bit builds without pointer compression the low 32 bits). What a person gives
    /// as a value is read with this rule: an even address with its low half set is no Smi.
    pub fn is_exact_smi(&self, word: u64) -> bool {
        let below = 1u64
            .checked_shl(self.smi_value_shift)
            .map_or(u64::MAX, |b| b - 1);
        self.is_smi(word) && word & below == 0
    }
    /// A Smi's value.
    pub fn smi_value(&self, word: u64) -> i64 {
        (word as i64) >> self.smi_value_shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::tables::TABLES;

    fn base_pairs() -> Vec<(String, i64)> {
        [
            ("HeapObjectTag", 1),
            ("HeapObjectTagMask", 3),
            ("SmiTag", 0),
            ("SmiTagMask", 1),
            ("SmiShiftSize", 31),
            ("SmiValueShift", 1),
            ("SystemPointerSize", 8),
            ("TaggedSize", 8),
            ("class_HeapObject__map__Map", 0),
            ("class_Map__instance_type__uint16_t", 12),
            ("class_Map__instance_size_in_words__char", 8),
            ("class_Map__bit_field3__int", 16),
            ("class_Map__prototype__Tagged_HeapObject_", 24),
            ("class_Map__constructor_or_back_pointer__Tagged_Object_", 32),
            ("class_Map__instance_descriptors__DescriptorArray", 40),
            ("class_FixedArrayBase__length__SMI", 8),
            ("class_String__length__int32_t", 12),
            ("class_Oddball__kind__int", 40),
            ("type_Map__MAP_TYPE", 264),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn resolves_with_sources_and_fallbacks() {
        let meta = Metadata::from_pairs(base_pairs());
        let v = V8Version {
            major: 12,
            minor: 4,
            build: 254,
            patch: 21,
        };
        let l = Layout::resolve(&meta, &TABLES[2], v, Path::new("node")).unwrap();
        assert_eq!(l.map_type, 264);
        assert_eq!(l.js_array_length, 24);
        assert_eq!(l.smi_value_shift, 32);
        assert_eq!(l.smi_value(0xffff_fffe_0000_0000), -2);
        assert!(l.is_heap_object(0x1001) && !l.is_heap_object(0x1003) && l.is_smi(0x2000));
        let fb: Vec<_> = l.fallbacks_used().map(|r| r.what.as_str()).collect();
        assert_eq!(fb, ["JSArray.length"]);
    }

    #[test]
    fn missing_mandatory_constant_names_what_was_tried() {
        let meta = Metadata::from_pairs(
            base_pairs()
                .into_iter()
                .filter(|(k, _)| !k.starts_with("class_Oddball")),
        );
        let v = V8Version {
            major: 11,
            minor: 3,
            build: 244,
            patch: 8,
        };
        let e = Layout::resolve(&meta, &TABLES[1], v, Path::new("/x/node"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Oddball.kind")
                && e.contains("v8dbg_class_Oddball__kind_offset__*")
                && e.contains("/x/node"),
            "{e}"
        );
    }

    #[test]
    fn pointer_compression_is_refused_clearly() {
        let mut p = base_pairs();
        p.retain(|(k, _)| k != "TaggedSize" && k != "SmiShiftSize");
        p.push(("TaggedSize".into(), 4));
        p.push(("SmiShiftSize".into(), 0));
        let meta = Metadata::from_pairs(p);
        let v = V8Version {
            major: 12,
            minor: 4,
            build: 0,
            patch: 0,
        };
        let e = Layout::resolve(&meta, &TABLES[2], v, Path::new("node"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("pointer compression"), "{e}");
    }
}
