//! A frame's name as V8 writes it in a stack trace (what Node prints in `err.stack`).
//!
//! The rules are V8's `CallSiteInfo` serialization (src/objects/call-site-info.cc):
//! - a call with a receiver that is not the global proxy, `undefined` or `null` is a method
//!   call, named `Type.function [as method]`: `Type` is the receiver's constructor name (for a
//!   class constructor, its own name; from V8 13.6 on, for any function), `function` the
//!   function's debug name (its name, else its inferred name), and `method` the key under which
//!   the receiver or its prototype chain holds the function, when that is not already the end
//!   of the name. The type is left out when the function name is not an identifier
//!   (`table.entries.go`) or equals it. Without a function name: `Type.method`, or
//!   `Type.<anonymous>`;
//! - a construct call is `new function`;
//! - anything else is the function's debug name; without one V8 prints only the location
//!   (`None` here).
//!
//! Node 22+ relies on this: the CommonJS loader's functions come from the startup snapshot
//! without names, and `Module._compile` is made of the receiver's type and the method key.

use crate::meta::kinds::Kind;
use crate::meta::tables::FunctionReceiverType;
use crate::objects::naming::Namer;
use crate::objects::reader::{Key, Reader};

/// Prototype chains followed at most this far (real ones are a few links; a damaged heap may
/// hold a cycle).
const MAX_CHAIN: usize = 256;

/// How a function was called in a frame.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The JSFunction.
    pub function: u64,
    /// The receiver word (`this`), when it could be read.
    pub receiver: Option<u64>,
    /// Called with `new`.
    pub constructor: bool,
}

/// The frame's name as V8 prints it in a stack trace, or `None` where V8 prints only the
/// location (a plain call of a function without any name).
pub fn frame_name(r: &Reader, namer: &mut Namer, call: Call) -> Option<String> {
    let function = call.function;
    let debug = r.function_name(function);
    if call.constructor {
        return Some(format!(
            "new {}",
            if debug.is_empty() {
                "<anonymous>"
            } else {
                &debug
            }
        ));
    }
    let receiver = match call.receiver {
        Some(w) if !is_toplevel(r, w) => w,
        _ => return (!debug.is_empty()).then_some(debug),
    };
    let type_name = type_name(r, namer, receiver);
    let method = method_name(r, receiver, function);
    let mut out = String::new();
    if !debug.is_empty() {
        if let Some(t) = type_name.as_deref().filter(|t| !t.is_empty()) {
            if is_identifier(&debug) && debug != t {
                out.push_str(t);
                out.push('.');
            }
        }
        out.push_str(&debug);
        if let Some(m) = method.filter(|m| !m.is_empty()) {
            if !ends_with_method_name(&debug, &m) {
                out.push_str(" [as ");
                out.push_str(&m);
                out.push(']');
            }
        }
    } else {
        if let Some(t) = type_name.filter(|t| !t.is_empty()) {
            out.push_str(&t);
            out.push('.');
        }
        match method.filter(|m| !m.is_empty()) {
            Some(m) => out.push_str(&m),
            None => out.push_str("<anonymous>"),
        }
    }
    Some(out)
}

/// `CallSiteInfo::IsToplevel`: the receiver is the global proxy, `undefined` or `null`.
fn is_toplevel(r: &Reader, w: u64) -> bool {
    let roots = &r.p.table.roots;
    if r.root(roots.undefined) == Some(w) || r.root(roots.null) == Some(w) {
        return true;
    }
    r.kind(w) == Some(Kind::JSGlobalProxy)
}

/// `CallSiteInfo::GetTypeName` of a method call's receiver.
fn type_name(r: &Reader, namer: &mut Namer, receiver: u64) -> Option<String> {
    if r.smi(receiver).is_some() {
        return Some("Number".into());
    }
    let kind = r.kind(receiver)?;
    match kind {
        Kind::JSProxy => return Some("Proxy".into()),
        Kind::String => return Some("String".into()),
        Kind::Symbol => return Some("Symbol".into()),
        Kind::HeapNumber => return Some("Number".into()),
        Kind::Oddball => return Some("Boolean".into()),
        _ => {}
    }
    if !kind.is_receiver() {
        return None;
    }
    let own_name = match r.p.table.function_receiver_type {
        FunctionReceiverType::DebugName => kind == Kind::JSFunction,
        FunctionReceiverType::ClassName => is_class_constructor(r, receiver),
    };
    if own_name {
        let own = r.function_name(receiver);
        if !own.is_empty() {
            return Some(own);
        }
    }
    let map = r.map(receiver)?;
    Some(namer.constructor_name(receiver, kind, map).to_string())
}

/// Whether a function is a class constructor: its SharedFunctionInfo's `FunctionKind` (the low
/// five bits of its flags) is one of kBaseConstructor, kDefaultBaseConstructor,
/// kDefaultDerivedConstructor, kDerivedConstructor (3..=6 in V8 10.2 to 12.4, the versions that
/// ask).
fn is_class_constructor(r: &Reader, f: u64) -> bool {
    if r.kind(f) != Some(Kind::JSFunction) {
        return false;
    }
    let (Some(sfi), Some(off)) = (r.function_shared(f), r.p.fields.sfi_flags) else {
        return false;
    };
    r.u32_at(sfi, off)
        .is_some_and(|flags| (3..=6).contains(&(flags & 0x1f)))
}

/// `CallSiteInfo::GetMethodName`: the key under which the receiver (or its prototype chain)
/// holds the function.
fn method_name(r: &Reader, receiver: u64, function: u64) -> Option<String> {
    let kind = r.kind(receiver)?;
    if !kind.is_receiver() || kind == Kind::JSProxy {
        return None;
    }
    let (own, inferred) = r
        .function_shared(function)
        .map(|s| r.sfi_names(s))
        .unwrap_or_default();
    let guess = if let Some(rest) = own
        .strip_prefix("get ")
        .or_else(|| own.strip_prefix("set "))
    {
        rest.to_string()
    } else if own.is_empty() {
        match inferred.rfind('.') {
            Some(i) => inferred[i + 1..].to_string(),
            None => inferred,
        }
    } else {
        own
    };
    if !guess.is_empty() {
        // The first object on the chain that has the key decides.
        for obj in chain(r, receiver) {
            let Some(props) = r.own_properties(obj, 4096) else {
                break;
            };
            if let Some(p) = props.iter().find(|p| p.key == Key::Name(guess.clone())) {
                if holds(r, p.value, p.accessor, function) {
                    return Some(guess);
                }
                break;
            }
        }
    }
    // `InferMethodName`: the one enumerable string key holding the function.
    let mut found: Option<String> = None;
    for obj in chain(r, receiver) {
        let Some(props) = r.own_properties(obj, 4096) else {
            break;
        };
        for p in props {
            let Key::Name(k) = &p.key else { continue };
            if p.hidden || !holds(r, p.value, p.accessor, function) {
                continue;
            }
            match &found {
                None => found = Some(k.clone()),
                Some(f) if f == k => {}
                Some(_) => return None,
            }
        }
    }
    found
}

/// Whether a property value (or its accessor pair) is `function`.
fn holds(r: &Reader, value: u64, accessor: bool, function: u64) -> bool {
    if value == function {
        return true;
    }
    if !accessor {
        return false;
    }
    let f = &r.p.fields;
    r.slot(value, f.accessor_getter) == Some(function)
        || r.slot(value, f.accessor_setter) == Some(function)
}

/// The receiver and its prototypes (JS objects only, as V8's `PrototypeIterator` stops).
fn chain<'a>(r: &'a Reader, start: u64) -> impl Iterator<Item = u64> + 'a {
    let mut cur = Some(start);
    let mut steps = 0;
    std::iter::from_fn(move || {
        let obj = cur?;
        steps += 1;
        let k = r.kind(obj);
        if steps > MAX_CHAIN || !k.is_some_and(|k| k.is_receiver()) || k == Some(Kind::JSProxy) {
            cur = None;
            return None;
        }
        cur = r.map(obj).and_then(|m| r.map_prototype(m));
        Some(obj)
    })
}

/// `String::IsIdentifier`: an identifier start followed by identifier parts.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c == '$' || c == '_' || c.is_alphabetic();
    start(first)
        && chars.all(|c| start(c) || c.is_alphanumeric() || c == '\u{200c}' || c == '\u{200d}')
}

/// V8's `StringEndsWithMethodName`: equal, or ending in `.method` or ` method`.
fn ends_with_method_name(name: &str, method: &str) -> bool {
    name == method
        || name
            .strip_suffix(method)
            .is_some_and(|head| head.ends_with('.') || head.ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_method_suffixes_follow_v8() {
        assert!(is_identifier("hop"));
        assert!(is_identifier("$x_1"));
        assert!(!is_identifier("table.entries.go"));
        assert!(!is_identifier("1a"));
        assert!(!is_identifier(""));
        assert!(ends_with_method_name("Module._load", "_load"));
        assert!(ends_with_method_name("go", "go"));
        assert!(ends_with_method_name("get size", "size"));
        assert!(!ends_with_method_name("namedTarget", "runAs"));
        assert!(!ends_with_method_name("x_load", "_load"));
    }
}
