//! What each instance type is, for decoding: a [`Kind`] per instance type, computed once per
//! process from the version's instance-type names (the numbers move between versions, the
//! names do not).

use crate::meta::tables::CodeSize;
use crate::meta::types::{InstanceTypes, SizeRule};
use serde::Serialize;

/// The decoder's view of an instance type.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum Kind {
    String,
    Symbol,
    HeapNumber,
    BigInt,
    Oddball,
    Hole,
    Map,
    FixedArray,
    FixedDoubleArray,
    ByteArray,
    PropertyArray,
    DescriptorArray,
    NameDictionary,
    GlobalDictionary,
    NumberDictionary,
    OrderedHashMap,
    OrderedHashSet,
    Context,
    NativeContext,
    ScopeInfo,
    SharedFunctionInfo,
    UncompiledData,
    Script,
    PropertyCell,
    AccessorPair,
    Tuple2,
    FunctionTemplateInfo,
    /// A context slot's cell (V8 14: `ContextCell`, holding the variable's value).
    ContextCell,
    FreeSpace,
    Filler,
    // JS receivers (instance type >= JS_PROXY_TYPE).
    JSFunction,
    JSBoundFunction,
    JSProxy,
    JSArray,
    JSObject,
    JSApiObject,
    JSGlobalObject,
    JSGlobalProxy,
    JSPrimitiveWrapper,
    JSDate,
    JSRegExp,
    JSError,
    JSMap,
    JSSet,
    JSWeakMap,
    JSWeakSet,
    JSWeakRef,
    JSPromise,
    JSArrayBuffer,
    JSTypedArray,
    JSDataView,
    JSGenerator,
    JSArguments,
    JSMapIterator,
    JSSetIterator,
    JSArrayIterator,
    JSOtherReceiver,
    /// Everything else (code, feedback, internal structs...).
    Other,
}

impl Kind {
    /// Whether this is a JS receiver (object, function, proxy...).
    pub fn is_receiver(self) -> bool {
        (self as u8) >= (Kind::JSFunction as u8) && self != Kind::Other
    }
    /// Whether the snapshot lists objects of this kind as type "object" with a constructor name
    /// (`V8HeapExplorer::AddEntry`: every JSObject except functions and regexps).
    pub fn is_snapshot_object(self) -> bool {
        self.is_receiver()
            && !matches!(
                self,
                Kind::JSFunction | Kind::JSBoundFunction | Kind::JSRegExp | Kind::JSProxy
            )
    }
}

/// How much of an object's body may hold tagged pointers (for reachability).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Every word after the map may be a pointer.
    Tagged,
    /// Only the first `n` bytes (header) may hold pointers; the rest is raw data.
    Header(u64),
}

/// Kind and body rule per instance type.
#[derive(Debug, Clone)]
pub struct KindTable {
    kinds: Vec<Kind>,
    bodies: Vec<Body>,
}

fn kind_of_name(n: &str) -> Kind {
    use Kind::*;
    match n {
        "SYMBOL_TYPE" => Symbol,
        "HEAP_NUMBER_TYPE" => HeapNumber,
        "BIGINT_TYPE" | "BIG_INT_BASE_TYPE" => BigInt,
        "ODDBALL_TYPE" => Oddball,
        "HOLE_TYPE" => Hole,
        "MAP_TYPE" => Map,
        "FIXED_ARRAY_TYPE" => FixedArray,
        "FIXED_DOUBLE_ARRAY_TYPE" => FixedDoubleArray,
        "BYTE_ARRAY_TYPE" => ByteArray,
        "PROPERTY_ARRAY_TYPE" => PropertyArray,
        "DESCRIPTOR_ARRAY_TYPE" | "STRONG_DESCRIPTOR_ARRAY_TYPE" => DescriptorArray,
        "NAME_DICTIONARY_TYPE" => NameDictionary,
        "GLOBAL_DICTIONARY_TYPE" => GlobalDictionary,
        "NUMBER_DICTIONARY_TYPE" => NumberDictionary,
        "ORDERED_HASH_MAP_TYPE" => OrderedHashMap,
        "ORDERED_HASH_SET_TYPE" => OrderedHashSet,
        "NATIVE_CONTEXT_TYPE" => NativeContext,
        "SCOPE_INFO_TYPE" => ScopeInfo,
        "SHARED_FUNCTION_INFO_TYPE" => SharedFunctionInfo,
        "SCRIPT_TYPE" => Script,
        "PROPERTY_CELL_TYPE" => PropertyCell,
        "ACCESSOR_PAIR_TYPE" => AccessorPair,
        "TUPLE2_TYPE" => Tuple2,
        "CONTEXT_CELL_TYPE" => ContextCell,
        "FUNCTION_TEMPLATE_INFO_TYPE" => FunctionTemplateInfo,
        "FREE_SPACE_TYPE" => FreeSpace,
        "FILLER_TYPE" => Filler,
        "JS_FUNCTION_TYPE" => JSFunction,
        "JS_BOUND_FUNCTION_TYPE" | "JS_WRAPPED_FUNCTION_TYPE" => JSBoundFunction,
        "JS_PROXY_TYPE" => JSProxy,
        "JS_ARRAY_TYPE" => JSArray,
        "JS_OBJECT_TYPE" => JSObject,
        "JS_API_OBJECT_TYPE" | "JS_SPECIAL_API_OBJECT_TYPE" => JSApiObject,
        "JS_GLOBAL_OBJECT_TYPE" => JSGlobalObject,
        "JS_GLOBAL_PROXY_TYPE" => JSGlobalProxy,
        "JS_PRIMITIVE_WRAPPER_TYPE" => JSPrimitiveWrapper,
        "JS_DATE_TYPE" => JSDate,
        "JS_REG_EXP_TYPE" => JSRegExp,
        "JS_ERROR_TYPE" => JSError,
        "JS_MAP_TYPE" => JSMap,
        "JS_SET_TYPE" => JSSet,
        "JS_WEAK_MAP_TYPE" => JSWeakMap,
        "JS_WEAK_SET_TYPE" => JSWeakSet,
        "JS_WEAK_REF_TYPE" => JSWeakRef,
        "JS_PROMISE_TYPE" => JSPromise,
        "JS_ARRAY_BUFFER_TYPE" => JSArrayBuffer,
        "JS_TYPED_ARRAY_TYPE" | "JS_DETACHED_TYPED_ARRAY_TYPE" => JSTypedArray,
        "JS_DATA_VIEW_TYPE" | "JS_RAB_GSAB_DATA_VIEW_TYPE" => JSDataView,
        "JS_GENERATOR_OBJECT_TYPE"
        | "JS_ASYNC_FUNCTION_OBJECT_TYPE"
        | "JS_ASYNC_GENERATOR_OBJECT_TYPE" => JSGenerator,
        "JS_ARGUMENTS_OBJECT_TYPE" => JSArguments,
        "JS_ARRAY_ITERATOR_TYPE" => JSArrayIterator,
        _ if n.starts_with("UNCOMPILED_DATA_") => UncompiledData,
        _ if n.starts_with("JS_MAP_") && n.ends_with("_ITERATOR_TYPE") => JSMapIterator,
        _ if n.starts_with("JS_SET_") && n.ends_with("_ITERATOR_TYPE") => JSSetIterator,
        // JS_CLASS_CONSTRUCTOR_TYPE, INT8_TYPED_ARRAY_CONSTRUCTOR_TYPE, ...: functions too.
        _ if n.ends_with("_CONSTRUCTOR_TYPE") => JSFunction,
        _ if n.ends_with("_CONTEXT_TYPE") => Context,
        _ => Other,
    }
}

impl KindTable {
    /// Build from the version's instance types.
    pub fn new(types: &InstanceTypes) -> KindTable {
        let proxy = types.value("JS_PROXY_TYPE").unwrap_or(u16::MAX);
        let mut kinds = vec![Kind::Other; 1 << 16];
        let mut bodies = vec![Body::Tagged; 1 << 16];
        for t in 0..=u16::MAX {
            let name = types.name(t);
            let mut k = if t < 128 {
                Kind::String
            } else {
                name.map(kind_of_name).unwrap_or(Kind::Other)
            };
            if t >= proxy && k == Kind::Other && name.is_some() {
                k = Kind::JSOtherReceiver;
            }
            kinds[t as usize] = k;
            let raw = |n: &str| {
                matches!(
                    n,
                    "BYTE_ARRAY_TYPE"
                        | "FIXED_DOUBLE_ARRAY_TYPE"
                        | "HEAP_NUMBER_TYPE"
                        | "BIGINT_TYPE"
                        | "BIG_INT_BASE_TYPE"
                        | "FEEDBACK_METADATA_TYPE"
                        | "FREE_SPACE_TYPE"
                        | "FILLER_TYPE"
                        | "INSTRUCTION_STREAM_TYPE"
                        | "PREPARSE_DATA_TYPE"
                        | "EXTERNAL_POINTER_ARRAY_TYPE"
                        | "CPP_HEAP_EXTERNAL_OBJECT_TYPE"
                        // A hole's map is all there is; in V8 14.6 an unmapped payload follows.
                        | "HOLE_TYPE"
                )
            };
            bodies[t as usize] = if t < 128 {
                // Sequential and external strings hold characters or raw pointers; cons,
                // sliced and thin strings hold pointers.
                if matches!(t & 7, 0 | 2) {
                    Body::Header(8)
                } else {
                    Body::Tagged
                }
            } else if name.is_some_and(raw) {
                Body::Header(8)
            } else {
                match types.rule(t) {
                    // ContextCell: the value (tagged) at +8 and its dependent code at +16; a raw
                    // state and a raw int32 or double after.
                    _ if name == Some("CONTEXT_CELL_TYPE") => Body::Header(24),
                    Some(SizeRule::BytecodeArray { header }) => Body::Header(header & !7),
                    Some(SizeRule::Code(CodeSize::InCode { header, .. })) => Body::Header(header),
                    _ => Body::Tagged,
                }
            };
        }
        KindTable { kinds, bodies }
    }

    /// The kind of an instance type.
    pub fn kind(&self, t: u16) -> Kind {
        self.kinds[t as usize]
    }

    /// The body rule of an instance type.
    pub fn body(&self, t: u16) -> Body {
        self.bodies[t as usize]
    }
}
