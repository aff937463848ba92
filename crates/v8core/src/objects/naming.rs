//! Constructor names, the way V8's heap snapshot gives them (`JSReceiver::GetConstructorName`
//! in `src/objects/js-objects.cc`, used by `V8HeapExplorer::AddEntry`):
//!
//! 1. When the map says the object was made with `new.target == base` and it is not a
//!    prototype map, the map's constructor names it (its debug name, unless empty or "Object").
//! 2. Else walk the prototype chain from the object itself: an own data property
//!    `Symbol.toStringTag` holding a string names it; from the first prototype on, an own data
//!    property `constructor` holding a function with a usable name names it.
//! 3. Else the class name by instance type (`JSReceiver::class_name`).
//!
//! Results depend only on the map for objects with fast properties and no own
//! `Symbol.toStringTag`, so they are cached per map.

use crate::meta::kinds::Kind;
use crate::objects::reader::{Reader, MAX_STEPS};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// Names objects; keeps caches, so use one per thread.
pub struct Namer<'p> {
    r: Reader<'p>,
    by_map: HashMap<u64, Option<Arc<str>>>,
    key_kind: HashMap<u64, KeyKind>,
    function_names: HashMap<u64, Arc<str>>,
    context: Arc<str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Constructor,
    ToStringTag,
    Other,
}

impl<'p> Namer<'p> {
    /// A namer for the process `r` reads.
    pub fn new(r: Reader<'p>) -> Namer<'p> {
        Namer {
            r,
            by_map: HashMap::default(),
            key_kind: HashMap::default(),
            function_names: HashMap::default(),
            context: Arc::from("system / Context"),
        }
    }

    fn key_kind(&mut self, k: u64) -> KeyKind {
        if let Some(&v) = self.key_kind.get(&k) {
            return v;
        }
        let r = self.r;
        let v = match r.kind(k) {
            Some(Kind::String) if r.string_eq(k, "constructor") => KeyKind::Constructor,
            Some(Kind::Symbol)
                if r.symbol_description(k).as_deref() == Some("Symbol.toStringTag") =>
            {
                KeyKind::ToStringTag
            }
            _ => KeyKind::Other,
        };
        self.key_kind.insert(k, v);
        v
    }

    /// The debug name of a JSFunction (cached).
    pub fn function_name(&mut self, f: u64) -> Arc<str> {
        if let Some(n) = self.function_names.get(&f) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(self.r.function_name(f));
        self.function_names.insert(f, n.clone());
        n
    }

    fn usable(n: &str) -> bool {
        !n.is_empty() && n != "Object"
    }

    /// The snapshot name of a JS object or context (`None` for kinds the snapshot does not
    /// list as type "object").
    pub fn snapshot_name(&mut self, obj: u64, kind: Kind, map: u64) -> Option<Arc<str>> {
        if kind == Kind::Context {
            return Some(self.context.clone());
        }
        if !kind.is_snapshot_object() {
            return None;
        }
        Some(self.constructor_name(obj, kind, map))
    }

    /// Whether every object of `map` has the name the namer gave the last one it named with
    /// that map (the name depends on the map alone).
    pub fn named_by_map(&self, map: u64) -> bool {
        matches!(self.by_map.get(&map), Some(Some(_)))
    }

    /// `GetConstructorName` for the receiver `obj` of `kind` with map `map`.
    pub fn constructor_name(&mut self, obj: u64, kind: Kind, map: u64) -> Arc<str> {
        if let Some(Some(n)) = self.by_map.get(&map) {
            return n.clone();
        }
        let cacheable = !self.by_map.contains_key(&map);
        let (name, depends_on_object) = self.compute(obj, kind, map);
        if cacheable {
            self.by_map
                .insert(map, (!depends_on_object).then(|| name.clone()));
        }
        name
    }

    fn compute(&mut self, obj: u64, kind: Kind, map: u64) -> (Arc<str>, bool) {
        let r = self.r;
        // Rule 1: the map's constructor.
        let bf2 = r.bit_field2(map).unwrap_or(0);
        let bf3 = r.bit_field3(map).unwrap_or(0);
        let bits = r.p.table.map_bits;
        if kind != Kind::JSProxy
            && (bf2 as u32) >> bits.new_target_is_base_bit & 1 != 0
            && bf3 >> bits.is_prototype_map_bit & 1 == 0
        {
            if let Some(c) = r.map_constructor(map) {
                if r.kind(c) == Some(Kind::JSFunction) {
                    let n = self.function_name(c);
                    if Self::usable(&n) {
                        return (n, false);
                    }
                }
            }
        }
        // Rule 2: the prototype chain. The receiver's own toStringTag depends on the object
        // itself when it has dictionary properties or a toStringTag descriptor.
        let mut depends = r.is_dictionary_map(map);
        let mut cur = obj;
        for step in 0..MAX_STEPS {
            let Some(ck) = r.kind(cur) else { break };
            if !ck.is_receiver() {
                break;
            }
            if ck != Kind::JSProxy {
                let mut tag = None;
                let mut ctor = None;
                let mut keys = Vec::new();
                r.for_each_own_property_raw(cur, |p| {
                    keys.push((p.key_word, p.value, p.accessor));
                    true
                });
                for (k, v, accessor) in keys {
                    match self.key_kind(k) {
                        KeyKind::ToStringTag => {
                            if step == 0 {
                                depends = true;
                            }
                            if !accessor {
                                tag = Some(v);
                            }
                        }
                        KeyKind::Constructor if !accessor => ctor = Some(v),
                        _ => {}
                    }
                }
                if let Some(t) = tag.filter(|&t| r.is_string(t)) {
                    if let Some(s) = r.string_text(t) {
                        return (Arc::from(s), depends);
                    }
                }
                if step > 0 {
                    if let Some(c) = ctor.filter(|&c| r.kind(c) == Some(Kind::JSFunction)) {
                        let n = self.function_name(c);
                        if Self::usable(&n) {
                            return (n, depends);
                        }
                    }
                }
            }
            let Some(m) = r.map(cur) else { break };
            match r.map_prototype(m) {
                Some(p) => cur = p,
                None => break,
            }
        }
        // Rule 3: the class name.
        (Arc::from(self.class_name(obj, kind, map)), depends)
    }

    /// `JSReceiver::class_name`.
    fn class_name(&mut self, obj: u64, kind: Kind, map: u64) -> String {
        let r = self.r;
        let s = match kind {
            Kind::JSFunction | Kind::JSBoundFunction => "Function",
            Kind::JSArguments => "Arguments",
            Kind::JSArray => "Array",
            Kind::JSArrayBuffer => "ArrayBuffer",
            Kind::JSArrayIterator => "Array Iterator",
            Kind::JSDate => "Date",
            Kind::JSError => "Error",
            Kind::JSGenerator => "Generator",
            Kind::JSMap => "Map",
            Kind::JSMapIterator => "Map Iterator",
            Kind::JSRegExp => "RegExp",
            Kind::JSSet => "Set",
            Kind::JSSetIterator => "Set Iterator",
            Kind::JSWeakMap => "WeakMap",
            Kind::JSWeakSet => "WeakSet",
            Kind::JSGlobalProxy => "global",
            Kind::JSTypedArray => {
                // The root map's constructor is the typed-array function itself.
                return r
                    .map_constructor(map)
                    .filter(|&c| r.kind(c) == Some(Kind::JSFunction))
                    .map(|c| self.function_name(c).to_string())
                    .filter(|n| n.ends_with("Array"))
                    .unwrap_or_else(|| "TypedArray".into());
            }
            Kind::JSPrimitiveWrapper => {
                let v = r.slot(obj, r.p.fields.primitive_wrapper_value).unwrap_or(0);
                if r.smi(v).is_some() {
                    "Number"
                } else {
                    match r.kind(v) {
                        Some(Kind::String) => "String",
                        Some(Kind::HeapNumber) => "Number",
                        Some(Kind::Oddball) => "Boolean",
                        Some(Kind::BigInt) => "BigInt",
                        Some(Kind::Symbol) => "Symbol",
                        Some(Kind::Script) => "Script",
                        _ => "Object",
                    }
                }
            }
            _ => "Object",
        };
        s.into()
    }
}
