//! How objects and memory are called in answers: an object by its constructor name or kind,
//! a root's memory by what it is (a thread's stack, a file's data, the C++ heap).

use crate::heap::loaded::{Heap, StoreRole};
use crate::meta::kinds::Kind;
use crate::objects::position::function_location;
use crate::process::Process;

/// What the memory at `a` is: a thread's stack, a mapped file, or anonymous memory.
pub fn describe_region(p: &Process, a: u64) -> String {
    let core = p.dump();
    let seg = core
        .segments()
        .iter()
        .find(|s| s.vaddr.0 <= a && a < s.end().0);
    let Some(seg) = seg else {
        return "unknown memory".into();
    };
    for (k, t) in core.threads().iter().enumerate() {
        let sp = t.regs.sp();
        if seg.vaddr.0 <= sp && sp < seg.end().0 {
            return if k == 0 {
                "stack of the crashing thread".into()
            } else {
                format!("stack of thread {}", k + 1)
            };
        }
    }
    if let Some(f) = core.mapped_file_at(elfcore::Address(a)) {
        let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
        return format!("{name} data");
    }
    "anonymous memory (C++ heap, handles)".into()
}

/// How an object is called in a path or a list of references, in DevTools' vocabulary: its
/// snapshot name for JS objects and contexts (`UserSession`, `system / Context`), functions as
/// `name @ file:line`, strings as `(string)`, the engine's objects as `system / ClassName`.
pub fn display_name(h: &Heap, i: usize) -> String {
    let kind = h.index.kind(&h.p, i);
    if kind == Kind::JSGlobalObject {
        return "global".into();
    }
    if let Some(n) = h.names.get(i) {
        return n.to_string();
    }
    let r = h.reader();
    match kind {
        Kind::JSFunction | Kind::JSBoundFunction => {
            function_location(&r, h.index.tagged(i)).at_text()
        }
        Kind::String => "(string)".into(),
        Kind::JSRegExp => "RegExp".into(),
        k if is_store_kind(k) => match h.store_role(i) {
            Some(StoreRole::Elements) => "(object elements)".into(),
            Some(StoreRole::Properties) => "(object properties)".into(),
            None => system_name(h.p.types.name(h.index.types[i]).unwrap_or("?")),
        },
        _ => system_name(h.p.types.name(h.index.types[i]).unwrap_or("?")),
    }
}

/// Kinds that serve as a JS object's elements or properties store.
pub(crate) fn is_store_kind(k: Kind) -> bool {
    matches!(
        k,
        Kind::FixedArray
            | Kind::FixedDoubleArray
            | Kind::NumberDictionary
            | Kind::PropertyArray
            | Kind::NameDictionary
    )
}

/// `system / ClassName` for an instance type (`SHARED_FUNCTION_INFO_TYPE` ->
/// `system / SharedFunctionInfo`), as V8's heap snapshot names the engine's objects.
pub fn system_name(type_name: &str) -> String {
    let class: String = type_name
        .trim_end_matches("_TYPE")
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect();
    format!("system / {class}")
}
