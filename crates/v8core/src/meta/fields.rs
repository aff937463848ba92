//! Object field offsets and encodings beyond the minimal [`Layout`](crate::meta::layout::Layout):
//! what decoding JS values needs (functions, strings, properties, dictionaries, collections).
//!
//! Every value comes from the `v8dbg_*` metadata when the binary has it, else from the version
//! table's `field_fallbacks` (see `tables.rs`); the resolution of each is kept in `resolved` so
//! that `info` can show which values were fallbacks.

use crate::error::{Error, Result};
use crate::meta::layout::{Resolved, Resolver};
use crate::meta::metadata::Metadata;
use crate::meta::tables::{ScopeInfoLayout, V8Version, VersionTable};
use serde::Serialize;
use std::path::Path;

/// How a PropertyDetails word (a Smi) is laid out (`prop_*` metadata).
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct DetailsLayout {
    /// Kind bit mask (data 0 / accessor 1).
    pub kind_mask: u64,
    /// Location mask (field 0 / descriptor 1).
    pub location_mask: u64,
    /// Field index shift.
    pub index_shift: u32,
    /// Field index mask (already shifted).
    pub index_mask: u64,
    /// Representation shift.
    pub representation_shift: u32,
    /// Representation mask (shifted).
    pub representation_mask: u64,
    /// Representation value of doubles.
    pub representation_double: u64,
    /// Attributes shift.
    pub attributes_shift: u32,
    /// Attributes mask (shifted).
    pub attributes_mask: u64,
    /// DONT_ENUM attribute bit.
    pub dont_enum: u64,
}

/// Frame slot offsets from the frame pointer (`off_fp_*` metadata, else the version table).
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct FrameOffsets {
    /// The context of a JavaScript frame, or the type marker of a typed frame.
    pub context_or_frame_type: i64,
    /// The JSFunction.
    pub function: i64,
    /// The argument count (raw, receiver included).
    pub argc: i64,
    /// The BytecodeArray of interpreted and baseline frames.
    pub bytecode_array: i64,
    /// The bytecode offset (a Smi) of interpreted and baseline frames.
    pub bytecode_offset: i64,
    /// The receiver; arguments follow it.
    pub args: i64,
}

/// The resolved offsets and encodings. Offsets are bytes from the untagged object start and
/// are named `class_field` after the V8 class and field they locate.
#[allow(missing_docs)]
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Fields {
    pub map_bit_field2: u64,
    pub map_inobject_start: u64,
    pub bf2_elements_kind_shift: u32,
    pub bf2_elements_kind_mask: u64,
    pub bf3_dictionary_shift: u32,
    pub bf3_own_descriptors_shift: u32,
    pub bf3_own_descriptors_mask: u64,
    pub receiver_properties: u64,
    pub object_elements: u64,
    pub function_shared: u64,
    pub function_context: u64,
    pub sfi_name_or_scope_info: u64,
    pub sfi_function_data: Option<u64>,
    /// Where a BytecodeArray's bytecodes start (its header size).
    pub bytecode_header: Option<u64>,
    /// BytecodeArray.source_position_table.
    pub bytecode_source_positions: Option<u64>,
    pub sfi_script: u64,
    /// SharedFunctionInfo.flags (FunctionKind in the low bits).
    pub sfi_flags: Option<u64>,
    pub uncompiled_inferred_name: u64,
    pub uncompiled_start_position: u64,
    pub uncompiled_end_position: u64,
    /// SharedFunctionInfo.raw_function_token_offset (uint16).
    pub sfi_function_token_offset: Option<u64>,
    /// SharedFunctionInfo.length (uint16): the function's `length`.
    pub sfi_length: Option<u64>,
    pub script_source: u64,
    pub script_name: u64,
    pub symbol_description: u64,
    pub cons_first: u64,
    pub cons_second: u64,
    pub sliced_parent: u64,
    pub sliced_offset: u64,
    pub thin_actual: u64,
    pub external_resource: u64,
    pub heap_number_value: u64,
    pub oddball_to_string: u64,
    pub accessor_getter: u64,
    pub accessor_info_name: u64,
    /// JSFunction.prototype_or_initial_map.
    pub function_prototype_or_initial_map: Option<u64>,
    pub accessor_setter: u64,
    pub date_value: u64,
    pub regexp_source: u64,
    pub regexp_flags: u64,
    pub array_buffer_byte_length: u64,
    pub array_buffer_backing_store: u64,
    pub view_buffer: u64,
    pub view_byte_offset: u64,
    pub view_byte_length: u64,
    /// `JSTypedArray::length`, absent in V8 14 (the length is `byte_length / element size`).
    pub typed_array_length: Option<u64>,
    pub typed_array_external: u64,
    pub typed_array_base: u64,
    pub primitive_wrapper_value: u64,
    pub collection_table: u64,
    pub promise_result: u64,
    pub promise_flags: u64,
    pub bound_target: u64,
    pub bound_this: u64,
    pub bound_arguments: u64,
    pub weak_ref_target: u64,
    pub property_cell_name: u64,
    pub property_cell_details: u64,
    pub property_cell_value: u64,
    pub tuple2_value1: u64,
    pub bigint_bitfield: u64,
    pub bigint_digits: u64,
    pub descriptors_header: u64,
    pub fixed_array_data: u64,
    /// Slot index (within the FixedArray data) of the first NameDictionary entry.
    pub name_dictionary_first: u64,
    /// Words per NameDictionary entry (key, value, details).
    pub name_dictionary_entry: u64,
    /// Slot index of the first NumberDictionary entry.
    pub number_dictionary_first: u64,
    /// Words per NumberDictionary entry.
    pub number_dictionary_entry: u64,
    /// Slot of the scope info in a context.
    pub context_scope_info: u64,
    /// Slot of the previous context.
    pub context_previous: u64,
    /// Slots before a context's variables.
    pub context_min_slots: u64,
    /// ElementsKind of dictionary elements.
    pub dictionary_elements_kind: u64,
    /// PropertyDetails encoding.
    pub details: DetailsLayout,
    /// ScopeInfo layout (from the version table).
    pub scope_info: ScopeInfoLayout,
    /// Frame slot offsets.
    pub frame: FrameOffsets,
    /// How each value was found.
    #[serde(skip)]
    pub resolved: Vec<Resolved>,
}

fn shift_of(mask: u64) -> u32 {
    mask.trailing_zeros()
}

impl Fields {
    /// Resolve from the metadata and the table.
    pub fn resolve(
        meta: &Metadata,
        table: &VersionTable,
        version: V8Version,
        exe: &Path,
    ) -> Result<Fields> {
        let mut r = Resolver {
            meta,
            table,
            exe,
            version,
            resolved: Vec::new(),
        };
        let mut f = |c: &str, n: &[&str]| r.field(c, n).map(|v| v as u64);
        let fields = Fields {
            map_bit_field2: f("Map", &["bit_field2"])?,
            map_inobject_start: f(
                "Map",
                &["inobject_properties_start_or_constructor_function_index"],
            )?,
            receiver_properties: f(
                "JSReceiver",
                &["raw_properties_or_hash", "properties_or_hash"],
            )?,
            object_elements: f("JSObject", &["elements"])?,
            function_shared: f("JSFunction", &["shared"])?,
            function_context: f("JSFunction", &["context"])?,
            sfi_name_or_scope_info: f("SharedFunctionInfo", &["name_or_scope_info"])?,
            sfi_function_data: f(
                "SharedFunctionInfo",
                &["function_data", "trusted_function_data"],
            )
            .ok(),
            bytecode_header: f("BytecodeArray", &["data"]).ok(),
            bytecode_source_positions: f("BytecodeArray", &["source_position_table"])
                .ok()
                .or(Some(table.bytecode_source_positions)),
            sfi_script: f(
                "SharedFunctionInfo",
                &["script", "script_or_debug_info", "raw_script"],
            )?,
            sfi_flags: f("SharedFunctionInfo", &["flags"]).ok(),
            uncompiled_inferred_name: f("UncompiledData", &["inferred_name"])?,
            uncompiled_start_position: f("UncompiledData", &["start_position"])?,
            uncompiled_end_position: f("UncompiledData", &["end_position"])?,
            sfi_function_token_offset: f("SharedFunctionInfo", &["raw_function_token_offset"]).ok(),
            sfi_length: f("SharedFunctionInfo", &["length"]).ok(),
            script_source: f("Script", &["source"])?,
            script_name: f("Script", &["name"])?,
            symbol_description: f("Symbol", &["name", "description"])?,
            cons_first: f("ConsString", &["first"])?,
            cons_second: f("ConsString", &["second"])?,
            sliced_parent: f("SlicedString", &["parent"])?,
            sliced_offset: f("SlicedString", &["offset"])?,
            thin_actual: f("ThinString", &["actual"])?,
            external_resource: f("ExternalString", &["resource"])?,
            heap_number_value: f("HeapNumber", &["value"])?,
            oddball_to_string: f("Oddball", &["to_string"])?,
            accessor_getter: f("AccessorPair", &["getter"])?,
            accessor_info_name: f("AccessorInfo", &["name"])?,
            function_prototype_or_initial_map: f("JSFunction", &["prototype_or_initial_map"]).ok(),
            accessor_setter: f("AccessorPair", &["setter"])?,
            date_value: f("JSDate", &["value"])?,
            regexp_source: f("JSRegExp", &["source"])?,
            regexp_flags: f("JSRegExp", &["flags"])?,
            array_buffer_byte_length: f("JSArrayBuffer", &["byte_length"])?,
            array_buffer_backing_store: f("JSArrayBuffer", &["backing_store"])?,
            view_buffer: f("JSArrayBufferView", &["buffer"])?,
            view_byte_offset: f("JSArrayBufferView", &["byte_offset"])?,
            view_byte_length: f("JSArrayBufferView", &["byte_length"])?,
            typed_array_length: f("JSTypedArray", &["length"]).ok(),
            typed_array_external: f("JSTypedArray", &["external_pointer"])?,
            typed_array_base: f("JSTypedArray", &["base_pointer"])?,
            primitive_wrapper_value: f("JSPrimitiveWrapper", &["value"])?,
            collection_table: f("JSCollection", &["table"])?,
            promise_result: f("JSPromise", &["reactions_or_result"])?,
            promise_flags: f("JSPromise", &["flags"])?,
            bound_target: f("JSBoundFunction", &["bound_target_function"])?,
            bound_this: f("JSBoundFunction", &["bound_this"])?,
            bound_arguments: f("JSBoundFunction", &["bound_arguments"])?,
            weak_ref_target: f("JSWeakRef", &["target"])?,
            property_cell_name: f("PropertyCell", &["name"])?,
            property_cell_details: f("PropertyCell", &["property_details_raw"])?,
            property_cell_value: f("PropertyCell", &["value"])?,
            tuple2_value1: f("Tuple2", &["value1"])?,
            bigint_bitfield: f("BigIntBase", &["bitfield"])?,
            bigint_digits: f("BigInt", &["digits"])?,
            descriptors_header: f("DescriptorArray", &["header_size"])?,
            fixed_array_data: f("FixedArray", &["data"])?,
            // Filled from constants below.
            bf2_elements_kind_shift: 0,
            bf2_elements_kind_mask: 0,
            bf3_dictionary_shift: 0,
            bf3_own_descriptors_shift: 0,
            bf3_own_descriptors_mask: 0,
            name_dictionary_first: 0,
            name_dictionary_entry: 0,
            number_dictionary_first: 0,
            number_dictionary_entry: 0,
            context_scope_info: 0,
            context_previous: 0,
            context_min_slots: 0,
            dictionary_elements_kind: 0,
            details: DetailsLayout {
                kind_mask: 0,
                location_mask: 0,
                index_shift: 0,
                index_mask: 0,
                representation_shift: 0,
                representation_mask: 0,
                representation_double: 0,
                attributes_shift: 0,
                attributes_mask: 0,
                dont_enum: 0,
            },
            scope_info: table.scope_info,
            frame: FrameOffsets {
                context_or_frame_type: 0,
                function: 0,
                argc: 0,
                bytecode_array: 0,
                bytecode_offset: 0,
                args: 0,
            },
            resolved: Vec::new(),
        };
        let mut c = |n: &str| r.constant(&[n]).map(|v| v as u64);
        let ek_mask = c("bit_field2_elements_kind_mask")?;
        let desc_mask = c("bit_field3_number_of_own_descriptors_mask")?;
        let prefix_start = c("namedictionary_prefix_start_index")?;
        let index_mask = c("prop_index_mask")?;
        let repr_mask = c("prop_representation_mask")?;
        let attr_mask = c("prop_attributes_mask")?;
        let attr_shift = c("prop_attributes_shift")?;
        let location_mask = c("prop_location_mask")?;
        let table_frame = |n: &str| {
            table
                .frame_fallbacks
                .iter()
                .find(|(k, _)| *k == n)
                .map(|&(_, v)| v)
        };
        let mut slot = |names: &[&str]| -> Result<i64> {
            for n in names {
                if let Some(v) = r.constant_or_table(&format!("off_fp_{n}"), table_frame(n)) {
                    return Ok(v);
                }
            }
            Err(Error::MissingConstant {
                exe: exe.into(),
                what: format!("frame slot {}", names[0]),
                tried: names
                    .iter()
                    .map(|n| format!("v8dbg_off_fp_{n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                version: version.to_string(),
            })
        };
        let frame = FrameOffsets {
            context_or_frame_type: slot(&["context_or_frame_type", "context"])?,
            function: slot(&["function"])?,
            argc: slot(&["argc"])?,
            bytecode_array: slot(&["bytecode_array"])?,
            bytecode_offset: slot(&["bytecode_offset"])?,
            args: slot(&["args"])?,
        };
        let mut c = |n: &str| r.constant(&[n]).map(|v| v as u64);
        let fields = Fields {
            frame,
            bf2_elements_kind_shift: shift_of(ek_mask),
            bf2_elements_kind_mask: ek_mask,
            bf3_dictionary_shift: c("bit_field3_is_dictionary_map_shift")? as u32,
            bf3_own_descriptors_shift: shift_of(desc_mask),
            bf3_own_descriptors_mask: desc_mask,
            name_dictionary_first: prefix_start + c("namedictionaryshape_prefix_size")?,
            name_dictionary_entry: c("namedictionaryshape_entry_size")?,
            number_dictionary_first: prefix_start + c("numberdictionaryshape_prefix_size")?,
            number_dictionary_entry: c("numberdictionaryshape_entry_size")?,
            context_scope_info: c("context_idx_scope_info")?,
            context_previous: c("context_idx_prev")?,
            context_min_slots: c("context_min_slots")?,
            dictionary_elements_kind: c("elements_dictionary_elements")?,
            details: DetailsLayout {
                kind_mask: c("prop_kind_mask")?,
                location_mask,
                index_shift: shift_of(index_mask),
                index_mask,
                representation_shift: shift_of(repr_mask),
                representation_mask: repr_mask,
                representation_double: c("prop_representation_double")?,
                attributes_shift: attr_shift as u32,
                attributes_mask: attr_mask,
                dont_enum: c("prop_attributes_DONT_ENUM")?,
            },
            ..fields
        };
        Ok(Fields {
            resolved: r.resolved,
            ..fields
        })
    }
}
