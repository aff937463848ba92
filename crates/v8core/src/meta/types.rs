//! Instance types: the full `InstanceType` enum of each V8 version, and how big an object of
//! each variable-size type is.
//!
//! The metadata names only 178-232 of the 261-318 instance types (it lacks `FILLER_TYPE`,
//! most hash tables, contexts, BigInt, ...). The complete enums are decoded from the official
//! binaries by `v8dump debug instance-types` ([`crate::meta::enum_decode`]: the switch of
//! `operator<<(std::ostream&, InstanceType)`, or of `ToString` in V8 13+) and ship as data, one
//! file per V8 minor version, referenced by the version table; every type the metadata does
//! name is checked against them when a core is opened. A version without a table gets its enum
//! decoded from its own binary. The size rules' per-version parameters are the table's.

use crate::meta::metadata::Metadata;
use crate::meta::tables::{CodeSize, SizeParams, VersionTable};
use std::collections::HashMap;

/// How to compute the size of an object whose map says "variable size"
/// (`instance_size_in_words == 0`). Field offsets are from the untagged object start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeRule {
    /// `header + 8 * Smi@8` (FixedArray and everything built on it, contexts, capacity-based
    /// arrays whose header grew in V8 12).
    SmiLength {
        /// Bytes before the elements.
        header: u64,
    },
    /// NativeContext: `16 + 8 * Smi@8 + 8` (a raw microtask-queue pointer follows the slots).
    NativeContext,
    /// PropertyArray: `16 + 8 * (Smi@8 & 0x3ff)` (the length shares the word with a hash).
    PropertyArray,
    /// ByteArray: `align8(16 + Smi@8)`.
    ByteArray,
    /// BytecodeArray: `align8(header + Smi@8)`.
    BytecodeArray {
        /// `class_BytecodeArray__data`.
        header: u64,
    },
    /// FreeSpace: `Smi@8 * unit` (bytes before V8 13, tagged words in 13).
    FreeSpace {
        /// 1 or 8.
        unit: u64,
    },
    /// Sequential strings: `align8(16 + len * (1 or 2))`, `len` = u32@12.
    SeqString,
    /// BigInt: `16 + 8 * ((u32@8 >> 1) & 0x3fffffff)`.
    BigInt,
    /// DescriptorArray: `header + 24 * u16@8` (number of all descriptors; the header is
    /// `class_DescriptorArray__header_size`: 24 until V8 13, 32 in 14).
    Descriptors {
        /// Header bytes.
        header: u64,
    },
    /// PreparseData: `align8(16 + u32@8) + 8 * u32@12`.
    PreparseData,
    /// CoverageInfo: `16 + 16 * u32@8`.
    CoverageInfo,
    /// FeedbackMetadata: `align8(16 + 4 * ceil(u32@8 / 6) + closure_bytes * u32@12)`.
    FeedbackMetadata {
        /// Bytes per create-closure slot (2 in V8 13, else 0).
        closure_bytes: u64,
    },
    /// FeedbackVector: `header + 8 * u32@8`.
    FeedbackVector {
        /// Fixed header bytes.
        header: u64,
    },
    /// A code object (Code in V8 10, InstructionStream from 11), as the version table says.
    Code(CodeSize),
    /// A fixed size the map does not give (V8 14.6's holes).
    Fixed {
        /// Bytes.
        size: u64,
    },
    /// `header + per * u32@8`: a raw count after the map (V8 14's DoubleStringCache).
    Counted {
        /// Bytes before the entries.
        header: u64,
        /// Bytes per entry.
        per: u64,
    },
    /// No closed formula known: the object ends where the next map word is (safe only where the
    /// body never holds map pointers: ScopeInfo, SwissNameDictionary, WasmNull).
    Probe,
}

/// The instance types of one V8 version.
#[derive(Debug, Clone)]
pub struct InstanceTypes {
    names: HashMap<u16, String>,
    by_name: HashMap<String, u16>,
    rules: HashMap<u16, SizeRule>,
    /// Types the metadata names with a value that differs from the table (should be empty).
    pub conflicts: Vec<(String, i64, Option<u16>)>,
}

/// The `value<TAB>NAME` lines of an instance-type data file.
pub fn parse_data_file(text: &str) -> HashMap<u16, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((v, n)) = line.split_once('\t') {
            if let Ok(v) = v.trim().parse::<u16>() {
                names.insert(v, n.trim().to_string());
            }
        }
    }
    names
}

impl InstanceTypes {
    /// The types of the table's V8 version, merged with the metadata's `type_` constants.
    pub fn load(table: &VersionTable, meta: &Metadata) -> InstanceTypes {
        InstanceTypes::from_names(parse_data_file(table.instance_types), table, meta)
    }

    /// The types named `names` (decoded from the binary, for a version without a table),
    /// with the size rules of `table`, merged with the metadata's `type_` constants.
    pub fn from_names(
        mut names: HashMap<u16, String>,
        table: &VersionTable,
        meta: &Metadata,
    ) -> InstanceTypes {
        // JS_API_OBJECT_TYPE and JS_SPECIAL_API_OBJECT_TYPE are aliases the decoder cannot see.
        for (k, n) in [
            ("APIObjectType", "JS_API_OBJECT_TYPE"),
            ("SpecialAPIObjectType", "JS_SPECIAL_API_OBJECT_TYPE"),
        ] {
            if let Some(v) = meta.get(k) {
                names.entry(v as u16).or_insert_with(|| n.to_string());
            }
        }
        let mut by_name: HashMap<String, u16> =
            names.iter().map(|(v, n)| (n.clone(), *v)).collect();
        let mut conflicts = Vec::new();
        for (n, v) in meta.instance_types() {
            match by_name.get(n) {
                Some(&t) if t as i64 == v => {}
                Some(&t) => conflicts.push((n.to_string(), v, Some(t))),
                None => {
                    // An alias (e.g. DEPENDENT_CODE_TYPE = WEAK_ARRAY_LIST_TYPE in V8 13).
                    if !names.contains_key(&(v as u16)) {
                        conflicts.push((n.to_string(), v, None));
                    }
                    by_name.insert(n.to_string(), v as u16);
                }
            }
        }
        let bytecode_header = meta
            .field("BytecodeArray", "data")
            .map(|c| c.value as u64)
            .unwrap_or(table.sizes.bytecode_header);
        let descriptors_header = meta
            .field("DescriptorArray", "header_size")
            .map(|c| c.value as u64)
            .unwrap_or(table.sizes.descriptors_header);
        let rules = names
            .iter()
            .filter_map(|(v, n)| {
                rule_for(n, *v, &table.sizes, bytecode_header, descriptors_header).map(|r| (*v, r))
            })
            .collect();
        InstanceTypes {
            names,
            by_name,
            rules,
            conflicts,
        }
    }

    /// The name of a type (`JS_OBJECT_TYPE`).
    pub fn name(&self, t: u16) -> Option<&str> {
        self.names.get(&t).map(|s| s.as_str())
    }
    /// The value of a named type.
    pub fn value(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }
    /// The size rule for a variable-size type, if it has one.
    pub fn rule(&self, t: u16) -> Option<SizeRule> {
        self.rules.get(&t).copied()
    }
    /// Number of known types.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

fn rule_for(
    name: &str,
    value: u16,
    p: &SizeParams,
    bytecode_header: u64,
    descriptors_header: u64,
) -> Option<SizeRule> {
    use SizeRule::*;
    if value < 128 {
        // Strings: only sequential ones are variable-size (cons, sliced, thin and external
        // strings have a fixed instance size in their map).
        return Some(SeqString);
    }
    if let Some(&(_, header)) = p.capacity_headers.iter().find(|(n, _)| *n == name) {
        return Some(SmiLength { header });
    }
    if let Some(&(_, header, per)) = p.counted.iter().find(|(n, _, _)| *n == name) {
        return Some(Counted { header, per });
    }
    Some(match name {
        "NATIVE_CONTEXT_TYPE" => NativeContext,
        "HOLE_TYPE" => Fixed { size: p.hole? },
        // SloppyArgumentsElements: length, context, arguments, then `length` mapped entries.
        "SLOPPY_ARGUMENTS_ELEMENTS_TYPE" => SmiLength { header: 32 },
        "WEAK_ARRAY_LIST_TYPE" => SmiLength { header: 24 },
        "PROPERTY_ARRAY_TYPE" => PropertyArray,
        "BYTE_ARRAY_TYPE" | "TRUSTED_BYTE_ARRAY_TYPE" => ByteArray,
        "BYTECODE_ARRAY_TYPE" => BytecodeArray {
            header: bytecode_header,
        },
        "FREE_SPACE_TYPE" => FreeSpace {
            unit: p.free_space_unit,
        },
        "BIGINT_TYPE" | "BIG_INT_BASE_TYPE" => BigInt,
        "DESCRIPTOR_ARRAY_TYPE" | "STRONG_DESCRIPTOR_ARRAY_TYPE" => Descriptors {
            header: descriptors_header,
        },
        "PREPARSE_DATA_TYPE" => PreparseData,
        "COVERAGE_INFO_TYPE" => CoverageInfo,
        "FEEDBACK_METADATA_TYPE" => FeedbackMetadata {
            closure_bytes: p.feedback_metadata_closure_bytes,
        },
        "FEEDBACK_VECTOR_TYPE" => FeedbackVector {
            header: p.feedback_vector_header,
        },
        "CODE_TYPE" if matches!(p.code, CodeSize::InCode { .. }) => Code(p.code),
        "INSTRUCTION_STREAM_TYPE" if !matches!(p.code, CodeSize::InCode { .. }) => Code(p.code),
        "SCOPE_INFO_TYPE" | "SWISS_NAME_DICTIONARY_TYPE" | "WASM_NULL_TYPE" => Probe,
        "FIXED_ARRAY_TYPE"
        | "FIXED_DOUBLE_ARRAY_TYPE"
        | "HASH_TABLE_TYPE"
        | "EPHEMERON_HASH_TABLE_TYPE"
        | "GLOBAL_DICTIONARY_TYPE"
        | "NAME_DICTIONARY_TYPE"
        | "NUMBER_DICTIONARY_TYPE"
        | "SIMPLE_NUMBER_DICTIONARY_TYPE"
        | "SIMPLE_NAME_DICTIONARY_TYPE"
        | "ORDERED_HASH_MAP_TYPE"
        | "ORDERED_HASH_SET_TYPE"
        | "ORDERED_NAME_DICTIONARY_TYPE"
        | "NAME_TO_INDEX_HASH_TABLE_TYPE"
        | "REGISTERED_SYMBOL_TABLE_TYPE"
        | "OBJECT_BOILERPLATE_DESCRIPTION_TYPE"
        | "CLOSURE_FEEDBACK_CELL_ARRAY_TYPE"
        | "SCRIPT_CONTEXT_TABLE_TYPE"
        | "WEAK_FIXED_ARRAY_TYPE"
        | "TRANSITION_ARRAY_TYPE"
        | "EMBEDDER_DATA_ARRAY_TYPE"
        | "TRUSTED_FIXED_ARRAY_TYPE"
        | "PROTECTED_FIXED_ARRAY_TYPE"
        | "TRUSTED_WEAK_FIXED_ARRAY_TYPE"
        | "PROTECTED_WEAK_FIXED_ARRAY_TYPE"
        | "REG_EXP_MATCH_INFO_TYPE"
        | "ARRAY_LIST_TYPE"
        | "EXTERNAL_POINTER_ARRAY_TYPE" => SmiLength { header: 16 },
        n if n.ends_with("_CONTEXT_TYPE") => SmiLength { header: 16 },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::tables::{table_for_minor, TABLES};

    #[test]
    fn every_embedded_table_loads_with_the_types_the_walker_needs() {
        for table in TABLES {
            let v8 = table.v8;
            let t = InstanceTypes::load(table, &Metadata::default());
            assert!(t.len() > 250, "{v8:?}");
            for n in [
                "MAP_TYPE",
                "FIXED_ARRAY_TYPE",
                "FREE_SPACE_TYPE",
                "FILLER_TYPE",
                "JS_OBJECT_TYPE",
                "SCOPE_INFO_TYPE",
                "NATIVE_CONTEXT_TYPE",
            ] {
                assert!(t.value(n).is_some(), "{v8:?} lacks {n}");
            }
            assert_eq!(
                t.rule(t.value("FIXED_ARRAY_TYPE").unwrap()),
                Some(SizeRule::SmiLength { header: 16 })
            );
            assert_eq!(
                t.rule(t.value("SCOPE_INFO_TYPE").unwrap()),
                Some(SizeRule::Probe)
            );
        }
        // Values measured in FINDINGS 1.5.
        let t24 = InstanceTypes::load(table_for_minor(13, 6).unwrap(), &Metadata::default());
        assert_eq!(
            (
                t24.value("MAP_TYPE"),
                t24.value("FREE_SPACE_TYPE"),
                t24.value("FILLER_TYPE")
            ),
            (Some(272), Some(268), Some(267))
        );
        assert_eq!(t24.rule(268), Some(SizeRule::FreeSpace { unit: 8 }));
        let t18 = InstanceTypes::load(table_for_minor(10, 2).unwrap(), &Metadata::default());
        assert!(matches!(
            t18.rule(t18.value("CODE_TYPE").unwrap()),
            Some(SizeRule::Code(CodeSize::InCode { header: 128, .. }))
        ));
    }

    #[test]
    fn metadata_disagreement_is_recorded() {
        let meta = Metadata::from_pairs([("type_Map__MAP_TYPE".to_string(), 999)]);
        let t = InstanceTypes::load(table_for_minor(11, 3).unwrap(), &meta);
        assert_eq!(t.conflicts.len(), 1);
    }
}
