//! V8's postmortem metadata: the `v8dbg_*` constants compiled into every node binary.
//!
//! Each is a 4-byte `int` in `.data` (non-zero) or `.bss` (zero); the values in the file equal
//! those in a running process (measured on Node 18-24), so they are read from the executable.
//!
//! Names come in families (see `tools/gen-postmortem-metadata.py` in V8):
//! `class_<Class>__<field>__<Type>` (field offsets), `type_<Class>__<INSTANCE_TYPE>` (instance
//! types), `frametype_<Name>`, `off_fp_<slot>`, and plain constants (`HeapObjectTag`, ...).
//! Node 22 renamed the type suffixes (`__Object` became `__Tagged_Object_`), so class fields are
//! keyed on (class, field) and the suffix is kept only for display.

use elfcore::ElfImage;
use std::collections::{BTreeMap, HashMap};

/// A class field offset from the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConstant {
    /// The byte offset from the untagged object start.
    pub value: i64,
    /// The full symbol name it came from.
    pub symbol: String,
}

/// All `v8dbg_*` constants of one executable.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Every constant by its name without the `v8dbg_` prefix.
    pub raw: BTreeMap<String, i64>,
    /// `class_` constants keyed by (class, field).
    classes: HashMap<(String, String), FieldConstant>,
    /// `type_` constants: instance type name -> value (first seen wins; aliases exist).
    types: HashMap<String, i64>,
}

impl Metadata {
    /// Read every `v8dbg_*` symbol's 4-byte value from the executable file.
    pub fn load(exe: &ElfImage) -> Metadata {
        let mut pairs = Vec::new();
        for sym in exe.symbols_with_prefix("v8dbg_") {
            let mut b = [0u8; 4];
            if exe.read_static(sym.addr, &mut b).is_ok() {
                pairs.push((
                    sym.name["v8dbg_".len()..].to_string(),
                    i32::from_le_bytes(b) as i64,
                ));
            }
        }
        Metadata::from_pairs(pairs)
    }

    /// Build from (name without prefix, value) pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, i64)>) -> Metadata {
        let mut m = Metadata::default();
        for (name, value) in pairs {
            if let Some(rest) = name.strip_prefix("class_") {
                let mut parts = rest.splitn(3, "__");
                if let (Some(class), Some(field)) = (parts.next(), parts.next()) {
                    m.classes
                        .entry((class.to_string(), field.to_string()))
                        .or_insert(FieldConstant {
                            value,
                            symbol: format!("v8dbg_{name}"),
                        });
                }
            } else if let Some(rest) = name.strip_prefix("type_") {
                if let Some((_, ty)) = rest.split_once("__") {
                    m.types.entry(ty.to_string()).or_insert(value);
                }
            }
            m.raw.insert(name, value);
        }
        m
    }

    /// Number of constants.
    pub fn len(&self) -> usize {
        self.raw.len()
    }
    /// Whether there are none (not a node binary, or one built without postmortem support).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// A plain constant by name (without `v8dbg_`).
    pub fn get(&self, name: &str) -> Option<i64> {
        self.raw.get(name).copied()
    }
    /// A class field offset by (class, field), whatever the type suffix.
    pub fn field(&self, class: &str, field: &str) -> Option<&FieldConstant> {
        self.classes.get(&(class.to_string(), field.to_string()))
    }
    /// An instance type value by its V8 name (e.g. `MAP_TYPE`).
    pub fn instance_type(&self, name: &str) -> Option<i64> {
        self.types.get(name).copied()
    }
    /// All instance types the metadata names.
    pub fn instance_types(&self) -> impl Iterator<Item = (&str, i64)> {
        self.types.iter().map(|(k, v)| (k.as_str(), *v))
    }
    /// Number of `class_` field constants.
    pub fn field_count(&self) -> usize {
        self.classes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_fields_match_across_the_node22_suffix_rename() {
        let m = Metadata::from_pairs([
            (
                "class_Map__constructor_or_back_pointer__Tagged_Object_".to_string(),
                32,
            ),
            ("class_FixedArrayBase__length__SMI".to_string(), 8),
            ("class_DescriptorArray__header_size".to_string(), 24),
            ("type_Map__MAP_TYPE".to_string(), 264),
            ("HeapObjectTag".to_string(), 1),
        ]);
        assert_eq!(
            m.field("Map", "constructor_or_back_pointer").unwrap().value,
            32
        );
        assert_eq!(m.field("FixedArrayBase", "length").unwrap().value, 8);
        assert_eq!(m.field("DescriptorArray", "header_size").unwrap().value, 24);
        assert_eq!(m.instance_type("MAP_TYPE"), Some(264));
        assert_eq!(m.get("HeapObjectTag"), Some(1));
        assert_eq!(m.len(), 5);
        assert_eq!(m.field_count(), 3);
    }
}
