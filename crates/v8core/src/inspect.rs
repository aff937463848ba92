//! Rendering any value of the heap as a tree a JS developer reads: objects with their
//! properties and elements, arrays, strings, numbers, BigInt, Map/Set entries, functions with
//! their closure variables, typed arrays, promises, dates, regexps, errors, symbols, contexts.
//! Depth- and size-limited; cycles and unreadable pointers are marked, never followed forever.

use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::reader::{Elements, Reader, SlotValue};
use serde::Serialize;
use std::collections::HashSet;

/// Limits for rendering.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Levels of nested objects expanded.
    pub depth: usize,
    /// Properties / elements / entries shown per object.
    pub entries: usize,
    /// Characters shown per string.
    pub string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: 1,
            entries: 100,
            string: 1000,
        }
    }
}

/// What a rendered value is (its JSON spelling is the snake_case name).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Object,
    Array,
    String,
    Number,
    Bigint,
    Boolean,
    Undefined,
    Null,
    Hole,
    Symbol,
    Function,
    Map,
    Set,
    Promise,
    Date,
    Regexp,
    Error,
    TypedArray,
    ArrayBuffer,
    Context,
    Internal,
    Unreadable,
}

impl ValueKind {
    /// The JSON spelling (`typed_array`).
    pub fn as_str(self) -> &'static str {
        use ValueKind::*;
        match self {
            Object => "object",
            Array => "array",
            String => "string",
            Number => "number",
            Bigint => "bigint",
            Boolean => "boolean",
            Undefined => "undefined",
            Null => "null",
            Hole => "hole",
            Symbol => "symbol",
            Function => "function",
            Map => "map",
            Set => "set",
            Promise => "promise",
            Date => "date",
            Regexp => "regexp",
            Error => "error",
            TypedArray => "typed_array",
            ArrayBuffer => "array_buffer",
            Context => "context",
            Internal => "internal",
            Unreadable => "unreadable",
        }
    }

    /// Whether values of this kind are primitives shown by their text alone.
    pub fn is_primitive(self) -> bool {
        matches!(
            self,
            ValueKind::Number
                | ValueKind::Bigint
                | ValueKind::Boolean
                | ValueKind::Undefined
                | ValueKind::Null
                | ValueKind::Hole
                | ValueKind::Symbol
        )
    }
}

/// Which part of an object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// An own property.
    Property,
    /// An element.
    Element,
    /// A Map or Set entry.
    Entry,
    /// A closure (context) variable.
    Context,
    /// A field of the engine's own (`[[PromiseResult]]`, `[[Prototype]]`...).
    Internal,
}

impl Section {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Property => "property",
            Section::Element => "element",
            Section::Entry => "entry",
            Section::Context => "context",
            Section::Internal => "internal",
        }
    }
}

/// A rendered value.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Value {
    /// Tagged address, for heap objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What it is.
    pub kind: ValueKind,
    /// Constructor name (snapshot naming) or V8 type name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constructor: Option<String>,
    /// The primitive value as text (number, string contents, date, regexp, symbol...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Length (strings, arrays, collections, typed arrays, buffers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Other facts as (name, value): string representation, elements kind, promise state,
    /// function location...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<(String, String)>,
    /// Properties, elements, entries, closure variables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
    /// Whether entries were cut by a limit or not expanded (depth).
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Problems met while decoding (unreadable stores, cycles...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// An error's captured stack, decoded (innermost first), when nothing formatted it yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<crate::objects::errorstack::CallSiteFrame>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One entry of an object.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Entry {
    /// Which part of the object.
    pub section: Section,
    /// Key as text (`name`, `[3]`, `[Symbol(x)]`).
    pub key: String,
    /// For Map entries: the key value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_value: Option<Box<Value>>,
    /// The value.
    pub value: Value,
    /// Accessor property (value is the getter/setter pair).
    #[serde(skip_serializing_if = "is_false")]
    pub accessor: bool,
    /// The value is what V8's native getter of this accessor property (`length` of an array
    /// or function, `name`, `prototype`, an error's `stack`) returns, computed from the object.
    #[serde(skip_serializing_if = "is_false")]
    pub native_getter: bool,
}

impl Value {
    pub(crate) fn new(kind: ValueKind) -> Value {
        Value {
            address: None,
            kind,
            constructor: None,
            text: None,
            length: None,
            details: Vec::new(),
            entries: Vec::new(),
            truncated: false,
            notes: Vec::new(),
            frames: Vec::new(),
        }
    }
    fn detail(&mut self, k: &str, v: impl ToString) {
        self.details.push((k.to_string(), v.to_string()));
    }
}

/// Format a double as JS prints it (close enough: integers without ".0").
pub fn js_number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if v == v.trunc() && v.abs() < 1e21 {
        if v == 0.0 && v.is_sign_negative() {
            "-0".into()
        } else {
            format!("{}", v as i64)
        }
    } else {
        format!("{v}")
    }
}

/// Renders values of a loaded heap.
pub struct Inspector<'h> {
    heap: &'h Heap,
    r: Reader<'h>,
    limits: Limits,
    path: HashSet<u64>,
}

impl<'h> Inspector<'h> {
    /// An inspector with `limits`.
    pub fn new(heap: &'h Heap, limits: Limits) -> Inspector<'h> {
        Inspector {
            heap,
            r: heap.reader(),
            limits,
            path: HashSet::new(),
        }
    }

    fn name_of(&self, obj: u64) -> Option<String> {
        let i = self.heap.index.find(obj & !3)?;
        self.heap.names.get(i).map(|n| n.to_string())
    }

    /// How DevTools calls an engine object: `system / ClassName`.
    fn type_name(&self, obj: u64) -> String {
        // A store of a JS object is named for its role, as V8's heap snapshot names it.
        if let Some(i) = self.heap.index.target(obj) {
            match self.heap.store_role(i) {
                Some(crate::heap::loaded::StoreRole::Elements) => {
                    return "(object elements)".into()
                }
                Some(crate::heap::loaded::StoreRole::Properties) => {
                    return "(object properties)".into()
                }
                None => {}
            }
        }
        crate::graph::describe::system_name(
            self.r
                .itype(obj)
                .and_then(|t| self.heap.p.types.name(t))
                .unwrap_or("?"),
        )
    }

    /// Render the tagged word `w`.
    pub fn value(&mut self, w: u64) -> Value {
        self.render(w, 0)
    }

    fn render(&mut self, w: u64, depth: usize) -> Value {
        let r = self.r;
        if let Some(v) = r.smi(w) {
            let mut x = Value::new(ValueKind::Number);
            x.text = Some(v.to_string());
            return x;
        }
        let Some(kind) = r.kind(w) else {
            let mut x = Value::new(ValueKind::Unreadable);
            x.address = Some(format!("{w:#x}"));
            x.notes.push(r.why_not_an_object(w));
            return x;
        };
        let w = if w & 3 == 3 { w - 2 } else { w };
        let mut x = match kind {
            Kind::String => self.string(w),
            Kind::HeapNumber => {
                let mut x = Value::new(ValueKind::Number);
                x.text = r.f64_at(w, r.p.fields.heap_number_value).map(js_number);
                x
            }
            Kind::Oddball => self.oddball(w),
            Kind::Hole => Value::new(ValueKind::Hole),
            Kind::BigInt => self.bigint(w),
            Kind::Symbol => {
                let mut x = Value::new(ValueKind::Symbol);
                x.text = Some(format!(
                    "Symbol({})",
                    r.symbol_description(w).unwrap_or_default()
                ));
                x
            }
            k if k.is_receiver() => {
                if self.path.contains(&w) {
                    let mut x = Value::new(ValueKind::Object);
                    x.constructor = self.name_of(w);
                    if k == Kind::JSFunction {
                        x.kind = ValueKind::Function;
                        let name = r.function_name(w);
                        x.text = Some(if name.is_empty() {
                            "(anonymous)".into()
                        } else {
                            name
                        });
                    }
                    x.notes.push("[Circular]".into());
                    x.address = Some(format!("{w:#x}"));
                    return x;
                }
                self.path.insert(w);
                let x = self.receiver(w, k, depth);
                self.path.remove(&w);
                x
            }
            Kind::Context | Kind::NativeContext => {
                let mut x = Value::new(ValueKind::Context);
                x.constructor = Some(self.type_name(w));
                if depth <= self.limits.depth {
                    self.context_vars(w, depth, &mut x);
                } else {
                    x.truncated = true;
                }
                x
            }
            _ => {
                let mut x = Value::new(ValueKind::Internal);
                x.constructor = Some(self.type_name(w));
                if let Some(n) = r.array_length(w).filter(|_| {
                    matches!(
                        kind,
                        Kind::FixedArray | Kind::FixedDoubleArray | Kind::ByteArray
                    )
                }) {
                    x.length = Some(n);
                }
                x
            }
        };
        x.address = Some(format!("{w:#x}"));
        x
    }

    fn string(&mut self, w: u64) -> Value {
        let mut x = Value::new(ValueKind::String);
        match self.r.string(w, self.limits.string) {
            Some(s) => {
                x.text = Some(s.text);
                x.length = Some(s.length);
                x.truncated = s.truncated;
                x.detail("representation", format!("{:?}", s.repr).to_lowercase());
                x.detail("encoding", if s.one_byte { "one-byte" } else { "two-byte" });
                if s.incomplete {
                    x.notes
                        .push("part of the characters are not in the dump".into());
                }
                if let Some(d) = s.damage {
                    x.notes.push(format!("damaged: {d}"));
                }
            }
            None => x.notes.push("unreadable string".into()),
        }
        x
    }

    fn oddball(&mut self, w: u64) -> Value {
        let r = self.r;
        let roots = &r.p.table.roots;
        let is = |i: u64| r.root(i) == Some(w);
        if is(roots.undefined) {
            return Value::new(ValueKind::Undefined);
        }
        if is(roots.null) {
            return Value::new(ValueKind::Null);
        }
        if is(roots.the_hole) {
            return Value::new(ValueKind::Hole);
        }
        if is(roots.true_value) || is(roots.false_value) {
            let mut x = Value::new(ValueKind::Boolean);
            x.text = Some(is(roots.true_value).to_string());
            return x;
        }
        let mut x = Value::new(ValueKind::Internal);
        x.constructor = Some("Oddball".into());
        x.text = r
            .slot(w, r.p.fields.oddball_to_string)
            .and_then(|s| r.string_text(s));
        x
    }

    fn bigint(&mut self, w: u64) -> Value {
        let r = self.r;
        let f = &r.p.fields;
        let mut x = Value::new(ValueKind::Bigint);
        let Some(bits) = r.u32_at(w, f.bigint_bitfield) else {
            x.notes.push("unreadable".into());
            return x;
        };
        let neg = bits & 1 != 0;
        let len = ((bits >> 1) & 0x3fff_ffff) as u64;
        let digits: Vec<u64> = (0..len.min(1024))
            .filter_map(|i| r.slot(w, f.bigint_digits + 8 * i))
            .collect();
        let mut s = bigint_decimal(&digits);
        if neg && s != "0" {
            s.insert(0, '-');
        }
        s.push('n');
        x.text = Some(s);
        x.detail("digits", len);
        x
    }

    fn receiver(&mut self, w: u64, kind: Kind, depth: usize) -> Value {
        let r = self.r;
        let f = &r.p.fields;
        let jskind = match kind {
            Kind::JSArray => ValueKind::Array,
            Kind::JSFunction | Kind::JSBoundFunction => ValueKind::Function,
            Kind::JSMap | Kind::JSWeakMap => ValueKind::Map,
            Kind::JSSet | Kind::JSWeakSet => ValueKind::Set,
            Kind::JSPromise => ValueKind::Promise,
            Kind::JSDate => ValueKind::Date,
            Kind::JSRegExp => ValueKind::Regexp,
            Kind::JSError => ValueKind::Error,
            Kind::JSTypedArray | Kind::JSDataView => ValueKind::TypedArray,
            Kind::JSArrayBuffer => ValueKind::ArrayBuffer,
            _ => ValueKind::Object,
        };
        let mut x = Value::new(jskind);
        x.constructor = self.name_of(w).or_else(|| {
            r.map(w).map(|m| {
                crate::objects::naming::Namer::new(r)
                    .constructor_name(w, kind, m)
                    .to_string()
            })
        });
        let expand = depth < self.limits.depth;
        match kind {
            Kind::JSFunction => {
                let name = r.function_name(w);
                x.text = Some(if name.is_empty() {
                    "(anonymous)".into()
                } else {
                    name
                });
                if let Some(sfi) = r.function_shared(w) {
                    if let Some(s) = self.script_name(sfi) {
                        x.detail("script", s);
                    }
                    let loc = crate::objects::position::function_location(&r, w);
                    if let (Some(l), Some(c)) = (loc.line, loc.column) {
                        x.detail("line", l);
                        x.detail("column", c);
                    }
                }
                if expand {
                    if let Some(ctx) = r.slot(w, f.function_context) {
                        let mut c = Value::new(ValueKind::Context);
                        self.context_vars(ctx, depth, &mut c);
                        for e in c.entries {
                            x.entries.push(e);
                        }
                    }
                }
            }
            Kind::JSBoundFunction => {
                if let Some(t) = r.slot(w, f.bound_target) {
                    let v = self.render(t, self.limits.depth);
                    x.text = Some(format!("bound {}", v.text.clone().unwrap_or_default()));
                    x.entries.push(entry(Section::Internal, "target", v));
                }
            }
            Kind::JSArray => {
                if let Some(n) = r.slot(w, r.p.layout.js_array_length as u64).and_then(|l| {
                    r.smi(l)
                        .map(|v| v as f64)
                        .or_else(|| r.f64_at(l, f.heap_number_value))
                }) {
                    x.length = Some(n as u64);
                }
            }
            Kind::JSPrimitiveWrapper => {
                if let Some(v) = r.slot(w, f.primitive_wrapper_value) {
                    let v = self.render(v, depth + 1);
                    x.text = v.text.clone();
                    x.entries
                        .push(entry(Section::Internal, "[[PrimitiveValue]]", v));
                }
            }
            Kind::JSDate => {
                if let Some(v) = r.slot(w, f.date_value) {
                    let ms = if r.p.table.date_value_is_raw_double {
                        Some(f64::from_bits(v))
                    } else {
                        r.smi(v)
                            .map(|s| s as f64)
                            .or_else(|| r.f64_at(v, f.heap_number_value))
                    };
                    x.text = ms.map(date_iso);
                }
            }
            Kind::JSRegExp => {
                let src = r.slot(w, f.regexp_source).and_then(|s| r.string_text(s));
                let flags = r.smi_at(w, f.regexp_flags).unwrap_or(0);
                x.text = Some(format!(
                    "/{}/{}",
                    src.unwrap_or_default(),
                    regexp_flags(flags)
                ));
            }
            Kind::JSPromise => {
                let flags = r.smi_at(w, f.promise_flags).unwrap_or(0);
                let state = match flags & 3 {
                    0 => "pending",
                    1 => "fulfilled",
                    _ => "rejected",
                };
                x.detail("state", state);
                x.text = Some(format!("<{state}>"));
                if state != "pending" {
                    if let Some(v) = r.slot(w, f.promise_result) {
                        let v = self.render(v, depth + 1);
                        x.entries
                            .push(entry(Section::Internal, "[[PromiseResult]]", v));
                    }
                }
            }
            Kind::JSMap | Kind::JSSet | Kind::JSWeakMap | Kind::JSWeakSet => {
                self.collection(w, kind, depth, &mut x);
            }
            Kind::JSArrayBuffer => {
                if let Some(n) = r.slot(w, f.array_buffer_byte_length) {
                    x.length = Some(n);
                }
                if let Some(b) = r.slot(w, f.array_buffer_backing_store) {
                    x.detail("backing_store", format!("{b:#x}"));
                    if expand {
                        self.buffer_bytes(b, &mut x);
                    }
                }
            }
            Kind::JSTypedArray | Kind::JSDataView => {
                if kind == Kind::JSTypedArray {
                    x.length = r.typed_array_length(w);
                }
                if let Some(n) = r.slot(w, f.view_byte_length) {
                    x.detail("byte_length", n);
                }
                if let Some(n) = r.slot(w, f.view_byte_offset) {
                    x.detail("byte_offset", n);
                }
                if let Some(b) = r.slot(w, f.view_buffer) {
                    x.detail("buffer", format!("{b:#x}"));
                }
                if kind == Kind::JSTypedArray {
                    self.typed_elements(w, &mut x);
                }
            }
            Kind::JSError => {
                // The message is an own data property (the stack lives under a private symbol).
                x.text = r
                    .own_data_property(w, |k| r.string_eq(k, "message"))
                    .and_then(|m| r.string(m, self.limits.string))
                    .map(|s| s.text);
            }
            _ => {}
        }
        if !expand {
            x.truncated = true;
            return x;
        }
        // Own properties; dictionary ones in insertion order, as JS enumerates them (so all
        // are read before the limit applies; a dictionary's size bounds that).
        let mut props = Vec::new();
        let ok = r
            .for_each_own_property(w, |p| {
                props.push(p);
                props.len() < 1 << 20
            })
            .is_some();
        if !ok {
            x.notes.push("the property store could not be read".into());
        }
        props.sort_by_key(|p| p.order);
        if props.len() > self.limits.entries {
            props.truncate(self.limits.entries);
            x.truncated = true;
        }
        if let Some(store) = r.property_store(w) {
            if store != crate::objects::reader::PropertyStore::Fast {
                x.detail("properties", format!("{store:?}").to_lowercase());
            }
        }
        for p in props {
            let native = if p.accessor {
                self.native_accessor(w, kind, p.value, depth)
            } else {
                None
            };
            let native_getter = native.is_some();
            let v = match native {
                Some(v) => v,
                None => self.render(p.value, depth + 1),
            };
            if kind == Kind::JSError {
                if let crate::objects::reader::Key::Private(d) = &p.key {
                    if d.contains("stack") && v.kind == ValueKind::String {
                        x.detail("stack", v.text.clone().unwrap_or_default());
                    }
                    if d == "error_stack_symbol" {
                        self.captured_stack(w, p.value, &mut x);
                    }
                }
                if p.key == crate::objects::reader::Key::Name("message".into()) {
                    x.text = v.text.clone();
                }
            }
            x.entries.push(Entry {
                section: Section::Property,
                key: p.key.to_string(),
                key_value: None,
                value: v,
                accessor: p.accessor && !native_getter,
                native_getter,
            });
        }
        if kind == Kind::JSApiObject {
            self.embedder_fields(w, &mut x);
        }
        // Elements.
        if kind.is_receiver() && !matches!(kind, Kind::JSTypedArray | Kind::JSFunction) {
            self.elements(w, depth, &mut x);
        }
        x
    }

    fn elements(&mut self, w: u64, depth: usize, x: &mut Value) {
        let r = self.r;
        let limit = self.limits.entries;
        let hole = r.the_hole();
        match r.elements(w, limit) {
            Some(Elements::Tagged {
                kind,
                values,
                capacity,
            }) => {
                if x.kind == ValueKind::Array || capacity > 0 {
                    x.detail("elements_kind", elements_kind_name(kind, &r));
                }
                let mut shown = 0;
                for (i, v) in values.into_iter().enumerate() {
                    if Some(v) == hole || r.kind(v) == Some(Kind::Hole) {
                        continue;
                    }
                    if x.length.is_some_and(|n| i as u64 >= n) {
                        break;
                    }
                    let v = self.render(v, depth + 1);
                    x.entries
                        .push(entry(Section::Element, &format!("[{i}]"), v));
                    shown += 1;
                }
                if capacity as usize > limit && shown > 0 {
                    x.truncated = true;
                }
            }
            Some(Elements::Double {
                kind,
                values,
                capacity,
            }) => {
                if x.kind == ValueKind::Array || capacity > 0 {
                    x.detail("elements_kind", elements_kind_name(kind, &r));
                }
                for (i, v) in values.into_iter().enumerate() {
                    if x.length.is_some_and(|n| i as u64 >= n) {
                        break;
                    }
                    if let Some(v) = v {
                        let mut n = Value::new(ValueKind::Number);
                        n.text = Some(js_number(v));
                        x.entries
                            .push(entry(Section::Element, &format!("[{i}]"), n));
                    }
                }
                if capacity as usize > limit {
                    x.truncated = true;
                }
            }
            Some(Elements::Dictionary { entries }) => {
                x.detail("elements_kind", "DICTIONARY_ELEMENTS");
                for (i, v) in entries {
                    let v = self.render(v, depth + 1);
                    x.entries
                        .push(entry(Section::Element, &format!("[{i}]"), v));
                }
            }
            Some(Elements::Other { .. }) => {}
            None => x.notes.push("the elements store could not be read".into()),
        }
    }

    /// The value V8's native getter returns for an accessor property whose AccessorInfo is
    /// one V8 defines (src/builtins/accessors.h), computed from the holder; `None` for other
    /// accessors (JavaScript getters, embedder accessors).
    fn native_accessor(&mut self, w: u64, kind: Kind, info: u64, depth: usize) -> Option<Value> {
        let r = self.r;
        let f = &r.p.fields;
        let is_info = r
            .itype(info)
            .and_then(|t| r.p.types.name(t))
            .is_some_and(|n| n == "ACCESSOR_INFO_TYPE");
        if !is_info {
            return None;
        }
        let name = r
            .slot(info, f.accessor_info_name)
            .and_then(|n| r.string_text(n))?;
        let number = |n: u64| {
            let mut v = Value::new(ValueKind::Number);
            v.text = Some(n.to_string());
            v
        };
        match (name.as_str(), kind) {
            ("length", Kind::JSArray) => r.js_array_length(w).map(number),
            ("length", Kind::JSFunction) => {
                let sfi = r.function_shared(w)?;
                r.u16_at(sfi, f.sfi_length?).map(|n| number(n as u64))
            }
            ("name", Kind::JSFunction) => {
                let (own, _) = r.sfi_names(r.function_shared(w)?);
                let mut v = Value::new(ValueKind::String);
                v.length = Some(own.encode_utf16().count() as u64);
                v.text = Some(own);
                Some(v)
            }
            ("prototype", Kind::JSFunction) => {
                let p = r.slot(w, f.function_prototype_or_initial_map?)?;
                let p = if r.kind(p) == Some(Kind::Map) {
                    r.map_prototype(p)?
                } else {
                    p
                };
                if r.kind(p) == Some(Kind::Hole) || Some(p) == r.the_hole() {
                    return None;
                }
                Some(self.render(p, depth + 1))
            }
            ("arguments" | "caller", Kind::JSFunction) => Some(Value::new(ValueKind::Null)),
            ("length", Kind::JSPrimitiveWrapper) => {
                let s = r.slot(w, f.primitive_wrapper_value)?;
                r.string(s, 0).map(|s| number(s.length))
            }
            ("stack", Kind::JSError) => {
                let sym = r.private_symbol("error_stack_symbol")?;
                let v = r.own_data_property(w, |k| k == sym)?;
                r.is_string(v).then(|| self.render(v, depth + 1))
            }
            _ => None,
        }
    }

    /// An error's captured stack (the value under `error_stack_symbol`), when not formatted
    /// yet: its frames, and the text `err.stack` would give.
    fn captured_stack(&mut self, err: u64, stack: u64, x: &mut Value) {
        let r = self.r;
        let stack = match r.itype(stack).and_then(|t| r.p.types.name(t)) {
            // ErrorStackData { call_site_infos_or_formatted_stack, limit_or_stack_frame_infos }.
            Some("ERROR_STACK_DATA_TYPE") => match r.slot(stack, 8) {
                Some(s) => s,
                None => return,
            },
            _ => stack,
        };
        let Some(frames) = crate::objects::errorstack::frames(&r, stack) else {
            return;
        };
        let name = r
            .own_data_property(err, |k| r.string_eq(k, "name"))
            .or_else(|| {
                let proto = r.map(err).and_then(|m| r.map_prototype(m))?;
                r.own_data_property(proto, |k| r.string_eq(k, "name"))
            })
            .and_then(|n| r.string_text(n))
            .or_else(|| x.constructor.clone())
            .unwrap_or_else(|| "Error".into());
        let message = r
            .own_data_property(err, |k| r.string_eq(k, "message"))
            .and_then(|m| r.string_text(m))
            .unwrap_or_default();
        let mut text = if message.is_empty() {
            name
        } else {
            format!("{name}: {message}")
        };
        for fr in &frames {
            text.push_str("\n    at ");
            text.push_str(&fr.text());
        }
        x.detail("stack", text);
        x.frames = frames;
    }

    /// An API object's embedder (internal) fields: raw words between the object header and its
    /// in-object properties. A field pointing at a C++ object is named by that object's
    /// vtable (node's wraps: `node::TCPWrap`, `node::(anonymous namespace)::ZlibStream`).
    fn embedder_fields(&mut self, w: u64, x: &mut Value) {
        let r = self.r;
        let Some(map) = r.map(w) else { return };
        let Some(start) = r.u8_at(map, r.p.fields.map_inobject_start) else {
            return;
        };
        let header = r.p.table.api_object_header;
        let end = (start as u64 * 8).min(header + 8 * 64);
        let mut k = 0;
        let mut off = header;
        while off < end {
            let Some(v) = r.slot(w, off) else { break };
            let e = if v & 1 == 1 && r.kind(v).is_some() {
                self.render(v, self.limits.depth)
            } else {
                let mut e = Value::new(ValueKind::Internal);
                e.text = Some(format!("{v:#x}"));
                e.constructor = Some(
                    crate::crash::handles::class_of(r.p, v).unwrap_or_else(|| "pointer".into()),
                );
                e
            };
            x.entries.push(entry(
                Section::Internal,
                &format!("[[embedder field {k}]]"),
                e,
            ));
            k += 1;
            off += 8;
        }
    }

    /// The first bytes of an ArrayBuffer's backing store, as elements.
    fn buffer_bytes(&mut self, store: u64, x: &mut Value) {
        let Some(len) = x.length else { return };
        if store == 0 || len == 0 {
            return;
        }
        let n = len.min(self.limits.entries as u64);
        let r = self.r;
        match elfcore::Memory::read_vec(r.p.memory(), elfcore::Address(store), n as usize) {
            Ok(bytes) => {
                for (i, b) in bytes.iter().enumerate() {
                    let mut v = Value::new(ValueKind::Number);
                    v.text = Some(b.to_string());
                    x.entries
                        .push(entry(Section::Element, &format!("[{i}]"), v));
                }
                if len > n {
                    x.truncated = true;
                }
            }
            Err(e) => x.notes.push(format!(
                "the backing store at {store:#x} is not readable: {e}"
            )),
        }
    }

    fn typed_elements(&mut self, w: u64, x: &mut Value) {
        let r = self.r;
        let f = &r.p.fields;
        let (Some(len), Some(ext)) = (x.length, r.slot(w, f.typed_array_external)) else {
            return;
        };
        let base = r.slot(w, f.typed_array_base).unwrap_or(0);
        // JSTypedArray::DataPtr = base_pointer + external_pointer: base is Smi 0 for off-heap
        // data; on-heap, external_pointer already compensates the tag of base_pointer.
        let data = if r.smi(base) == Some(0) {
            ext
        } else {
            base.wrapping_add(ext)
        };
        let name = x.constructor.clone().unwrap_or_default();
        let (size, fmt): (u64, fn(&[u8]) -> String) = match name.as_str() {
            "Int8Array" => (1, |b| (b[0] as i8).to_string()),
            "Uint8Array" | "Uint8ClampedArray" | "Buffer" | "FastBuffer" => {
                (1, |b| b[0].to_string())
            }
            "Int16Array" => (2, |b| i16::from_le_bytes([b[0], b[1]]).to_string()),
            "Uint16Array" => (2, |b| u16::from_le_bytes([b[0], b[1]]).to_string()),
            "Int32Array" => (4, |b| {
                i32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string()
            }),
            "Uint32Array" => (4, |b| {
                u32::from_le_bytes([b[0], b[1], b[2], b[3]]).to_string()
            }),
            "Float32Array" => (4, |b| {
                js_number(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            }),
            "Float64Array" => (8, |b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[..8]);
                js_number(f64::from_le_bytes(a))
            }),
            "BigInt64Array" | "BigUint64Array" => (8, |b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[..8]);
                format!("{}n", u64::from_le_bytes(a))
            }),
            _ => return,
        };
        let n = len.min(self.limits.entries as u64);
        let Ok(bytes) =
            elfcore::Memory::read_vec(r.p.memory(), elfcore::Address(data), (n * size) as usize)
        else {
            x.notes
                .push(format!("typed array data at {data:#x} is not in the dump"));
            return;
        };
        for (i, c) in bytes.chunks_exact(size as usize).enumerate() {
            let mut v = Value::new(ValueKind::Number);
            v.text = Some(fmt(c));
            x.entries
                .push(entry(Section::Element, &format!("[{i}]"), v));
        }
        if len > n {
            x.truncated = true;
        }
    }

    fn collection(&mut self, w: u64, kind: Kind, depth: usize, x: &mut Value) {
        let r = self.r;
        let f = &r.p.fields;
        let Some(table) = r.slot(w, f.collection_table) else {
            return;
        };
        let tk = r.kind(table);
        let hole = r.the_hole();
        if matches!(kind, Kind::JSWeakMap | Kind::JSWeakSet) {
            // EphemeronHashTable: [nof, deleted, capacity, entries (key, value)...].
            let Some(len) = r.array_length(table) else {
                return;
            };
            let claimed = r
                .smi_at(table, r.p.layout.fixed_array_length as u64)
                .unwrap_or(0);
            if claimed > len as i64 {
                x.notes.push(format!(
                    "damaged: its table claims {claimed} slots, more than fit in its page \
                     ({len}); only those are read"
                ));
            }
            let per = if kind == Kind::JSWeakMap { 2 } else { 1 };
            let mut i = 3;
            let mut n = 0;
            while i + per <= len {
                let k = r.array_get(table, i).unwrap_or(0);
                if r.kind(k)
                    .is_some_and(|k| k.is_receiver() || k == Kind::Symbol)
                {
                    n += 1;
                    if x.entries.len() < self.limits.entries {
                        let kv = self.render(k, depth + 1);
                        let v = if per == 2 {
                            self.render(r.array_get(table, i + 1).unwrap_or(0), depth + 1)
                        } else {
                            kv.clone()
                        };
                        x.entries.push(Entry {
                            section: Section::Entry,
                            key: format!("{{{}}}", x.entries.len()),
                            key_value: (per == 2).then(|| Box::new(kv)),
                            value: v,
                            accessor: false,
                            native_getter: false,
                        });
                    }
                }
                i += per;
            }
            x.length = Some(n);
            return;
        }
        if !matches!(tk, Some(Kind::OrderedHashMap) | Some(Kind::OrderedHashSet)) {
            x.notes
                .push("the collection's table is not an OrderedHashTable".into());
            return;
        }
        // OrderedHashTable: [elements, deleted, buckets, bucket heads..., entries...].
        let (Some(elements), Some(deleted), Some(buckets)) = (
            r.array_get(table, 0).and_then(|v| r.smi(v)),
            r.array_get(table, 1).and_then(|v| r.smi(v)),
            r.array_get(table, 2).and_then(|v| r.smi(v)),
        ) else {
            x.notes.push("unreadable collection table".into());
            return;
        };
        let per = if kind == Kind::JSMap { 3 } else { 2 };
        let first = 3 + buckets.max(0) as u64;
        let mut used = (elements + deleted).max(0) as u64;
        // V8 sizes the table for two entries per bucket; what it claims must fit in it.
        let capacity = 2 * buckets.max(0) as u64;
        let room = r
            .array_length(table)
            .map_or(0, |n| n.saturating_sub(first) / per);
        if elements < 0 || deleted < 0 || used > capacity || used > room {
            x.notes.push(format!(
                "damaged: its table claims {elements} entries and {deleted} deleted ones, \
                 but has room for {}",
                capacity.min(room)
            ));
            used = used.min(capacity).min(room);
        }
        x.length = Some((elements.max(0) as u64).min(used));
        for e in 0..used {
            if x.entries.len() >= self.limits.entries || depth >= self.limits.depth {
                x.truncated = true;
                break;
            }
            let base = first + e * per;
            let Some(k) = r.array_get(table, base) else {
                break;
            };
            if Some(k) == hole || r.kind(k) == Some(Kind::Hole) {
                continue;
            }
            let kv = self.render(k, depth + 1);
            if kind == Kind::JSMap {
                let v = r.array_get(table, base + 1).unwrap_or(0);
                let v = self.render(v, depth + 1);
                x.entries.push(Entry {
                    section: Section::Entry,
                    key: format!("{{{}}}", x.entries.len()),
                    key_value: Some(Box::new(kv)),
                    value: v,
                    accessor: false,
                    native_getter: false,
                });
            } else {
                x.entries.push(entry(
                    Section::Entry,
                    &format!("{{{}}}", x.entries.len()),
                    kv,
                ));
            }
        }
    }

    fn script_name(&self, sfi: u64) -> Option<String> {
        let r = self.r;
        let s = r.slot(sfi, r.p.fields.sfi_script)?;
        if r.kind(s) != Some(Kind::Script) {
            return None;
        }
        let n = r.slot(s, r.p.fields.script_name)?;
        r.string_text(n)
    }

    /// Closure variables: the context's locals named by its ScopeInfo, then outer contexts
    /// (up to the native context).
    fn context_vars(&mut self, ctx: u64, depth: usize, x: &mut Value) {
        let r = self.r;
        let f = &r.p.fields;
        let mut cur = ctx;
        for level in 0..32 {
            match r.kind(cur) {
                Some(Kind::Context) => {}
                _ => break,
            }
            let Some(si) = r.array_get(cur, f.context_scope_info) else {
                break;
            };
            let names = r.scope_local_names(si);
            let len = r.array_length(cur).unwrap_or(0);
            for (i, name) in names.into_iter().enumerate() {
                let slot = f.context_min_slots + i as u64;
                if slot >= len {
                    break;
                }
                if x.entries.len() >= self.limits.entries {
                    x.truncated = true;
                    return;
                }
                let v = match r.context_slot(cur, slot) {
                    Some(SlotValue::Tagged(w)) => self.render(w, depth + 1),
                    Some(SlotValue::Number(n)) => {
                        let mut x = Value::new(ValueKind::Number);
                        x.text = Some(js_number(n));
                        x
                    }
                    Some(SlotValue::Detached) => {
                        let mut x = Value::new(ValueKind::Unreadable);
                        x.notes.push("the context cell is detached".into());
                        x
                    }
                    None => self.render(0, depth + 1),
                };
                let key = if level == 0 {
                    name
                } else {
                    format!("{name} (outer {level})")
                };
                x.entries.push(entry(Section::Context, &key, v));
            }
            match r.array_get(cur, f.context_previous) {
                Some(p) => cur = p,
                None => break,
            }
        }
    }
}

fn entry(section: Section, key: &str, value: Value) -> Entry {
    Entry {
        section,
        key: key.to_string(),
        key_value: None,
        value,
        accessor: false,
        native_getter: false,
    }
}

fn elements_kind_name(k: u64, r: &Reader) -> String {
    const FAST: [&str; 12] = [
        "PACKED_SMI_ELEMENTS",
        "HOLEY_SMI_ELEMENTS",
        "PACKED_ELEMENTS",
        "HOLEY_ELEMENTS",
        "PACKED_DOUBLE_ELEMENTS",
        "HOLEY_DOUBLE_ELEMENTS",
        "PACKED_NONEXTENSIBLE_ELEMENTS",
        "HOLEY_NONEXTENSIBLE_ELEMENTS",
        "PACKED_SEALED_ELEMENTS",
        "HOLEY_SEALED_ELEMENTS",
        "PACKED_FROZEN_ELEMENTS",
        "HOLEY_FROZEN_ELEMENTS",
    ];
    if k == r.p.fields.dictionary_elements_kind {
        return "DICTIONARY_ELEMENTS".into();
    }
    FAST.get(k as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("elements kind {k}"))
}

fn regexp_flags(f: i64) -> String {
    // JSRegExp::Flag bits: g i m y u s d v (V8 10-13: global 0, ignore_case 1, multiline 2,
    // sticky 3, unicode 4, dot_all 5, linear 6, has_indices 7, unicode_sets 8).
    let mut s = String::new();
    for (bit, c) in [
        (7, 'd'),
        (0, 'g'),
        (1, 'i'),
        (2, 'm'),
        (5, 's'),
        (4, 'u'),
        (8, 'v'),
        (3, 'y'),
    ] {
        if f >> bit & 1 != 0 {
            s.push(c);
        }
    }
    s
}

/// Milliseconds since the epoch as an ISO date (UTC).
pub fn date_iso(ms: f64) -> String {
    if !ms.is_finite() {
        return "Invalid Date".into();
    }
    let total = ms.floor() as i64;
    let (days, rem) = (total.div_euclid(86_400_000), total.rem_euclid(86_400_000));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Decimal digits of a little-endian base-2^64 magnitude.
pub fn bigint_decimal(digits: &[u64]) -> String {
    let mut mag: Vec<u64> = digits.to_vec();
    while mag.last() == Some(&0) {
        mag.pop();
    }
    if mag.is_empty() {
        return "0".into();
    }
    let mut out = Vec::new();
    while !mag.is_empty() {
        // Divide by 10^19.
        let mut rem: u128 = 0;
        for d in mag.iter_mut().rev() {
            let cur = (rem << 64) | *d as u128;
            *d = (cur / 10_000_000_000_000_000_000u128) as u64;
            rem = cur % 10_000_000_000_000_000_000u128;
        }
        while mag.last() == Some(&0) {
            mag.pop();
        }
        out.push(rem as u64);
    }
    let mut s = out.last().map(|v| v.to_string()).unwrap_or_default();
    for chunk in out.iter().rev().skip(1) {
        s.push_str(&format!("{chunk:019}"));
    }
    s
}

/// A one-line summary of the object at tagged `w` (for listings).
pub fn summary(heap: &Heap, w: u64) -> String {
    let mut ins = Inspector::new(
        heap,
        Limits {
            depth: 0,
            entries: 0,
            string: 60,
        },
    );
    let v = ins.value(w);
    one_line(&v)
}

/// One-line rendering of a value without its entries.
pub fn one_line(v: &Value) -> String {
    let c = v.constructor.as_deref().unwrap_or("");
    match v.kind {
        ValueKind::String => {
            let t = v.text.as_deref().unwrap_or("");
            let mut s = format!("{t:?}");
            if v.truncated {
                s.push_str(&format!("... ({} chars)", v.length.unwrap_or(0)));
            }
            s
        }
        ValueKind::Number | ValueKind::Bigint | ValueKind::Boolean | ValueKind::Symbol => {
            v.text.clone().unwrap_or_default()
        }
        ValueKind::Undefined => "undefined".into(),
        ValueKind::Null => "null".into(),
        ValueKind::Hole => "hole".into(),
        ValueKind::Function => format!("<function {}>", v.text.as_deref().unwrap_or("")),
        ValueKind::Unreadable => format!("<unreadable {}>", v.address.as_deref().unwrap_or("")),
        _ => {
            let mut s = format!("<{c}>");
            if let Some(t) = &v.text {
                s.push_str(&format!(" {t}"));
            }
            if let Some(n) = v.length {
                s.push_str(&format!(" length={n}"));
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigint_digits_print_in_decimal() {
        assert_eq!(bigint_decimal(&[]), "0");
        assert_eq!(bigint_decimal(&[12345]), "12345");
        // 2^64 = 18446744073709551616
        assert_eq!(bigint_decimal(&[0, 1]), "18446744073709551616");
        // 2^200 * 3 + 12345, computed independently (Python: 3 * 2**200 + 12345).
        let mut d = vec![0u64; 4];
        d[3] = 3 << 8;
        d[0] = 12345;
        assert_eq!(
            bigint_decimal(&d),
            "4820814132776970826625886277023487807566608981348378505916473"
        );
    }

    #[test]
    fn dates_print_as_iso() {
        assert_eq!(date_iso(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(date_iso(1704112200000.0), "2024-01-01T12:30:00.000Z");
        assert_eq!(date_iso(f64::NAN), "Invalid Date");
    }

    #[test]
    fn numbers_print_like_js() {
        assert_eq!(js_number(3.0), "3");
        assert_eq!(js_number(0.5), "0.5");
        assert_eq!(js_number(-0.0), "-0");
        assert_eq!(js_number(f64::INFINITY), "Infinity");
    }
}
