//! How objects and memory are called in answers: an object by its constructor name or kind,
//! a root's memory by what it is (a thread's stack, a file's data, the C++ heap).

use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
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
        let sp = t.regs.rsp();
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

/// How an object is called in a path or a list of references: its snapshot name for JS
/// objects and contexts, `Function name` for functions, otherwise its kind (`FixedArray`,
/// `PropertyCell`) or instance type.
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
        Kind::JSFunction => {
            let n = r.function_name(h.index.tagged(i));
            if n.is_empty() {
                "Function (anonymous)".into()
            } else {
                format!("Function {n}")
            }
        }
        Kind::String => "string".into(),
        Kind::Other => {
            h.p.types
                .name(h.index.types[i])
                .map(|t| t.trim_end_matches("_TYPE").to_string())
                .unwrap_or_else(|| "object".into())
        }
        k => format!("{k:?}"),
    }
}
