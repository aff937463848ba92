//! What the Node.js process was: `process.versions`, `argv`, `execArgv`, `execPath`, pid,
//! platform and arch from the `process` object in the heap; the command line and environment
//! from the initial stack (what the kernel put there at exec); cwd when node cached it.

use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::census::Scope;
use crate::objects::reader::{Elements, Key, SlotValue};
use elfcore::Address;
use serde::Serialize;

/// Where a value came from, when it is not the obvious place.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Sourced {
    /// The value.
    pub value: String,
    /// Where it was read.
    pub source: String,
}

/// Facts about the Node.js process.
#[derive(Debug, Clone, Serialize, Default, schemars::JsonSchema)]
pub struct NodeInfo {
    /// Process id.
    pub pid: Option<u64>,
    /// `process.platform`.
    pub platform: Option<String>,
    /// `process.arch`.
    pub arch: Option<String>,
    /// `process.version`.
    pub version: Option<String>,
    /// `process.versions`, in the object's order.
    pub versions: Vec<(String, String)>,
    /// `process.release` (name, lts, sourceUrl, headersUrl), in the object's order.
    pub release: Vec<(String, String)>,
    /// `process.argv`.
    pub argv: Vec<String>,
    /// `process.execArgv`.
    pub exec_argv: Vec<String>,
    /// `process.execPath`.
    pub exec_path: Option<String>,
    /// The working directory, when known.
    pub cwd: Option<Sourced>,
    /// The command line as exec'd (from the initial stack).
    pub command_line: Vec<String>,
    /// The environment as exec'd (from the initial stack): (name, value), values of secret-
    /// looking names masked unless asked otherwise. Later `process.env` changes are not here.
    pub env: Vec<(String, String)>,
    /// Names whose values were masked.
    pub masked: Vec<String>,
    /// Address of the `process` object, if found.
    pub process_object: Option<u64>,
    /// What could not be read.
    pub notes: Vec<String>,
}

/// Substrings of environment variable names whose values are masked.
pub const SECRET_MARKERS: [&str; 9] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
    "COOKIE",
];

/// Whether an environment variable name looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| up.contains(m))
}

/// Read what is known about the Node.js process of `h`; secret-looking environment values
/// are replaced by `********` unless `show_secrets`.
pub fn node_info(h: &Heap, show_secrets: bool) -> NodeInfo {
    let mut info = NodeInfo::default();
    let r = h.reader();
    // The process object: named "process" by its FunctionTemplate, with an own `argv` array.
    let process = h
        .instances("process", Scope::Reachable)
        .into_iter()
        .map(|i| h.index.tagged(i))
        .find(|&o| prop(h, o, "argv").is_some_and(|a| r.kind(a) == Some(Kind::JSArray)));
    match process {
        Some(o) => {
            info.process_object = Some(o);
            let text = |name: &str| prop(h, o, name).and_then(|v| r.string_text(v));
            info.platform = text("platform");
            info.arch = text("arch");
            info.version = text("version");
            info.exec_path = text("execPath");
            info.pid = prop(h, o, "pid").and_then(|v| r.smi(v)).map(|v| v as u64);
            info.argv = prop(h, o, "argv")
                .map(|a| string_array(h, a))
                .unwrap_or_default();
            info.exec_argv = prop(h, o, "execArgv")
                .map(|a| string_array(h, a))
                .unwrap_or_default();
            let strings = |name: &str| {
                let mut out = Vec::new();
                if let Some(v) = prop(h, o, name) {
                    r.for_each_own_property(v, |p| {
                        if let (Key::Name(k), Some(s)) = (&p.key, r.string_text(p.value)) {
                            out.push((k.clone(), s));
                        }
                        true
                    });
                }
                out
            };
            info.versions = strings("versions");
            info.release = strings("release");
        }
        None => info
            .notes
            .push("no `process` object with an `argv` array in the heap".into()),
    }
    if info.pid.is_none() {
        info.pid = h.p.dump().process().map(|p| p.pid as u64);
    }
    // The initial stack: argc, argv[], NULL, envp[], NULL, auxv.
    match initial_stack(h) {
        Some((args, env)) => {
            info.command_line = args;
            for e in env {
                let (k, v) = e.split_once('=').unwrap_or((e.as_str(), ""));
                if !show_secrets && is_secret_name(k) && !v.is_empty() {
                    info.masked.push(k.to_string());
                    info.env.push((k.to_string(), "********".into()));
                } else {
                    info.env.push((k.to_string(), v.to_string()));
                }
            }
        }
        None => info
            .notes
            .push("the initial stack (command line, environment) is not in the core".into()),
    }
    // cwd: node caches process.cwd() in a closure variable once it has been called.
    info.cwd = cached_cwd(h)
        .map(|value| Sourced {
            value,
            source: "process.cwd() cache".into(),
        })
        .or_else(|| {
            info.env
                .iter()
                .find(|(k, _)| k == "PWD")
                .map(|(_, v)| Sourced {
                    value: v.clone(),
                    source: "$PWD at start".into(),
                })
        });
    info
}

/// Own data property `name` of `obj`.
fn prop(h: &Heap, obj: u64, name: &str) -> Option<u64> {
    let r = h.reader();
    r.own_data_property(obj, |k| r.string_eq(k, name))
}

/// The strings of a JS array (non-strings skipped), at most 4096.
fn string_array(h: &Heap, arr: u64) -> Vec<String> {
    let r = h.reader();
    let len = r.js_array_length(arr).unwrap_or(0).min(4096) as usize;
    match r.elements(arr, len) {
        Some(Elements::Tagged { values, .. }) => values
            .into_iter()
            .take(len)
            .filter_map(|v| r.string_text(v))
            .collect(),
        _ => Vec::new(),
    }
}

/// A closure variable named `cachedCwd` holding a string (node's process.cwd() cache).
fn cached_cwd(h: &Heap) -> Option<String> {
    let r = h.reader();
    let f = &h.p.fields;
    (0..h.index.len())
        .filter(|&i| h.index.kind(&h.p, i) == Kind::Context && h.marking.is_marked(i))
        .find_map(|i| {
            let ctx = h.index.tagged(i);
            let si = r.array_get(ctx, f.context_scope_info)?;
            let names = r.scope_local_names(si);
            let k = names.iter().position(|n| n == "cachedCwd")?;
            let SlotValue::Tagged(v) = r.context_slot(ctx, f.context_min_slots + k as u64)? else {
                return None;
            };
            r.string_text(v).filter(|s| !s.is_empty())
        })
}

/// argv and envp strings from the main thread's initial stack, found by locating the auxiliary
/// vector (whose contents NT_AUXV gives) at the top of the stack.
fn initial_stack(h: &Heap) -> Option<(Vec<String>, Vec<String>)> {
    let core = h.p.dump();
    let mem = h.p.memory();
    let auxv = core.auxv();
    if auxv.len() < 2 {
        return None;
    }
    let mut pattern = Vec::with_capacity(32);
    for &(k, v) in auxv.iter().take(2) {
        pattern.extend_from_slice(&k.to_le_bytes());
        pattern.extend_from_slice(&v.to_le_bytes());
    }
    // AT_EXECFN points into the string area at the very top of the initial stack.
    let execfn = core.auxv_value(31)?;
    let seg = core
        .segments()
        .iter()
        .find(|s| s.vaddr.0 <= execfn && execfn < s.end().0)?;
    let lo = seg.vaddr.0.max(execfn.saturating_sub(1 << 20));
    let bytes = mem.read_vec(Address(lo), (execfn - lo) as usize).ok()?;
    let at = bytes
        .windows(pattern.len())
        .enumerate()
        .filter(|(k, w)| k % 8 == 0 && *w == pattern.as_slice())
        .map(|(k, _)| k)
        .next_back()?;
    let auxv_addr = lo + at as u64;
    // Walk down: envp's NULL just below the auxv, envp pointers, argv's NULL, argv, argc.
    let word = |a: u64| mem.read_u64(Address(a)).ok();
    let mut a = auxv_addr.checked_sub(8)?;
    if word(a)? != 0 {
        return None;
    }
    let mut env_ptrs = Vec::new();
    a -= 8;
    while let Some(w) = word(a) {
        if w == 0 {
            break;
        }
        env_ptrs.push(w);
        if env_ptrs.len() > 100_000 {
            return None;
        }
        a -= 8;
    }
    env_ptrs.reverse();
    let mut argv_ptrs = Vec::new();
    a -= 8;
    while let Some(w) = word(a) {
        // argc is the first word that is a small count equal to the pointers seen.
        if w == argv_ptrs.len() as u64 {
            break;
        }
        argv_ptrs.push(w);
        if argv_ptrs.len() > 100_000 {
            return None;
        }
        a -= 8;
    }
    argv_ptrs.reverse();
    let read = |p: &u64| mem.read_cstr(Address(*p), 1 << 16).ok();
    Some((
        argv_ptrs.iter().filter_map(read).collect(),
        env_ptrs.iter().filter_map(read).collect(),
    ))
}
