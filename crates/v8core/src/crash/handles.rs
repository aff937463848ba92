//! What the process was waiting on when it died: node's libuv handles (servers, sockets,
//! watchers, child processes...) and requests (fs, dns, writes), and the JavaScript timers.
//! llnode's `getactivehandles` / `getactiverequests`, which stopped working with Node 16.
//!
//! How (every step measured on the official 18-26 binaries' cores):
//! 1. Node's own postmortem constants, the `nodedbg_*` globals, are read from the core's memory
//!    (18-24 fill them at startup, so the executable's copy holds zeros).
//! 2. Each Environment is found through V8's contexts: a NativeContext's embedder data slot
//!    `kEnvironment` (a nodedbg constant) holds the `Environment*` when the context carries
//!    node's tag (`&node::ContextEmbedderTag::kNodeContextTag`) in a later slot.
//! 3. The Environment's `handle_wrap_queue_` and `req_wrap_queue_` are circular intrusive lists
//!    (`prev` at 0, `next` at 8); each node, less the nodedbg queue offset, is a `HandleWrap` or
//!    `ReqWrap`, the same lists `process._getActiveHandles()` / `_getActiveRequests()` walk.
//! 4. Each wrap gives its C++ class (its vtable's symbol), its JavaScript object (through
//!    `BaseObject::persistent_handle_`), and the libuv struct beside the queue node: a handle's
//!    type, flags and fd, a request's type, fs operation and path, or host name.
//! 5. Timers are not handles (one uv timer drives them all): they are the heap's `Timeout`
//!    objects not yet destroyed, with their callback (`_onTimeout`) and interval.
//!
//! libuv's struct offsets are the x86-64 Linux ones, identical in libuv 1.44 to 1.52 (the
//! versions node 18-26 bundle). Every list step is checked (`next.prev == node`, the uv
//! struct's `data` pointing back at the wrap) and bounded, so garbage ends the walk with a note.

use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::position;
use crate::objects::reader::{Key, Reader};
use elfcore::{Address, Memory};
use serde::Serialize;

/// At most this many wraps are read per list.
const MAX_WRAPS: usize = 100_000;

/// libuv (x86-64 Linux, 1.44-1.52): `uv_handle_t` and `uv_req_t` fields used here.
mod uv {
    pub const HANDLE_DATA: u64 = 0;
    pub const HANDLE_TYPE: u64 = 16;
    pub const HANDLE_FLAGS: u64 = 88;
    /// `uv_stream_t.io_watcher.fd` (TCP, pipes, TTYs).
    pub const STREAM_FD: u64 = 184;
    /// `uv_stream_t.connection_cb`: set by `uv_listen`.
    pub const STREAM_CONNECTION_CB: u64 = 224;
    pub const UDP_FD: u64 = 176;
    pub const PROCESS_PID: u64 = 104;
    pub const SIGNAL_SIGNUM: u64 = 104;
    pub const FS_EVENT_PATH: u64 = 96;
    pub const REQ_DATA: u64 = 0;
    pub const REQ_TYPE: u64 = 8;
    pub const FS_TYPE: u64 = 64;
    pub const FS_PATH: u64 = 104;
    pub const GETADDRINFO_HOSTNAME: u64 = 128;

    pub const CLOSING: u32 = 0x1;
    pub const ACTIVE: u32 = 0x4;
    pub const REF: u32 = 0x8;

    pub const HANDLE_TYPES: &[&str] = &[
        "unknown", "async", "check", "fs_event", "fs_poll", "handle", "idle", "pipe", "poll",
        "prepare", "process", "stream", "tcp", "timer", "tty", "udp", "signal", "file",
    ];
    pub const REQ_TYPES: &[&str] = &[
        "unknown",
        "req",
        "connect",
        "write",
        "shutdown",
        "udp_send",
        "fs",
        "work",
        "getaddrinfo",
        "getnameinfo",
        "random",
    ];
    pub const FS_TYPES: &[&str] = &[
        "custom",
        "open",
        "close",
        "read",
        "write",
        "sendfile",
        "stat",
        "lstat",
        "fstat",
        "ftruncate",
        "utime",
        "futime",
        "access",
        "chmod",
        "fchmod",
        "fsync",
        "fdatasync",
        "unlink",
        "rmdir",
        "mkdir",
        "mkdtemp",
        "rename",
        "scandir",
        "link",
        "symlink",
        "readlink",
        "chown",
        "fchown",
        "realpath",
        "copyfile",
        "lchown",
        "opendir",
        "readdir",
        "closedir",
        "statfs",
        "mkstemp",
        "lutime",
    ];
}

/// `handles`: what the process was waiting on.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Handles {
    /// Each node Environment (the main thread's, workers', shared by `vm` contexts).
    pub environments: Vec<EnvironmentHandles>,
    /// JavaScript timers (`setTimeout`, `setInterval`) not yet fired or cleared.
    pub timers: Vec<TimerRow>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// The handles and requests of one Environment.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EnvironmentHandles {
    /// The `node::Environment*`.
    pub environment: String,
    /// Handles, in the order node keeps them (oldest first).
    pub handles: Vec<HandleRow>,
    /// Requests, in the order node keeps them.
    pub requests: Vec<RequestRow>,
}

/// One libuv handle node wraps.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HandleRow {
    /// libuv's type (`tcp`, `pipe`, `tty`, `udp`, `process`, `signal`, `fs_event`...).
    pub uv_type: String,
    /// The C++ wrap's class (`node::TCPWrap`), from its vtable.
    pub class: Option<String>,
    /// The `HandleWrap*`.
    pub wrap: String,
    /// The JavaScript object of the wrap (`TCP`, `Pipe`...).
    pub object: Option<String>,
    /// Its constructor name.
    pub object_name: Option<String>,
    /// The object that owns it in JavaScript (its `[Symbol(owner_symbol)]`: a `Server`,
    /// `Socket`, `FSWatcher`, `ChildProcess`...), as `process._getActiveHandles()` lists it.
    pub owner: Option<String>,
    /// The owner's constructor name.
    pub owner_name: Option<String>,
    /// `uv_is_active`.
    pub active: bool,
    /// Keeps the event loop alive (`uv_has_ref` and not closed), as node counts it.
    pub referenced: bool,
    /// Being closed.
    pub closing: bool,
    /// A listening server (`uv_listen` was called).
    pub listening: bool,
    /// The file descriptor (streams, UDP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    /// A child's pid, a signal number, a watched path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One pending libuv request node wraps.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RequestRow {
    /// libuv's type (`fs`, `getaddrinfo`, `write`, `connect`...).
    pub uv_type: String,
    /// For fs requests: the operation (`open`, `stat`, `read`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The path (fs) or host name (getaddrinfo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The C++ wrap's class.
    pub class: Option<String>,
    /// The `ReqWrap*`.
    pub wrap: String,
    /// The JavaScript object (`FSReqCallback`, `GetAddrInfoReqWrap`, `WriteWrap`...).
    pub object: Option<String>,
    /// Its constructor name.
    pub object_name: Option<String>,
    /// The JavaScript function called on completion (`oncomplete`, `callback`, or
    /// `context.callback`), as `name (script:line:column)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Handed to libuv (not only created).
    pub dispatched: bool,
}

/// One JavaScript timer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimerRow {
    /// The `Timeout` object.
    pub object: String,
    /// Its delay in milliseconds.
    pub delay_ms: Option<f64>,
    /// Set for `setInterval`: the interval in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_ms: Option<f64>,
    /// Keeps the event loop alive (not `unref()`ed).
    pub referenced: bool,
    /// Its callback was running when the process died (unlinked but not destroyed).
    pub running: bool,
    /// The callback, as `name (script:line:column)`.
    pub callback: Option<String>,
}

/// Node's postmortem constants this needs (`nodedbg_*`).
struct NodeDbg {
    env_index: u64,
    persistent_handle: u64,
    handle_queue: u64,
    req_queue: u64,
    handle_wrap_node: u64,
    req_wrap_node: u64,
    context_tag: u64,
}

impl NodeDbg {
    fn read(h: &Heap, notes: &mut Vec<String>) -> Option<NodeDbg> {
        let p = &h.p;
        let exe = p.exe();
        let mem: &dyn Memory = p.memory();
        let mut missing = Vec::new();
        let mut get = |name: &str| -> u64 {
            let full = format!("nodedbg_{name}");
            match exe
                .symbol(&full)
                .and_then(|s| mem.read_u32(Address(p.runtime_addr(s.addr))).ok())
            {
                Some(v) => v as u64,
                None => {
                    missing.push(full);
                    0
                }
            }
        };
        let d = NodeDbg {
            env_index: get("const_ContextEmbedderIndex__kEnvironment__int"),
            persistent_handle: get(
                "offset_BaseObject__persistent_handle___v8_Persistent_v8_Object",
            ),
            handle_queue: get(
                "offset_Environment__handle_wrap_queue___Environment_HandleWrapQueue",
            ) + get("offset_Environment_HandleWrapQueue__head___ListNode_HandleWrap"),
            req_queue: get("offset_Environment__req_wrap_queue___Environment_ReqWrapQueue")
                + get("offset_Environment_ReqWrapQueue__head___ListNode_ReqWrapQueue"),
            handle_wrap_node: get("offset_HandleWrap__handle_wrap_queue___ListNode_HandleWrap"),
            req_wrap_node: get("offset_ReqWrap__req_wrap_queue___ListNode_ReqWrapQueue"),
            context_tag: exe
                .symbol("_ZN4node18ContextEmbedderTag15kNodeContextTagE")
                .map(|s| p.runtime_addr(s.addr))
                .unwrap_or(0),
        };
        if !missing.is_empty() || d.context_tag == 0 || d.env_index == 0 {
            notes.push(format!(
                "node's postmortem constants are not readable ({}): handles and requests are \
                 not listed",
                if missing.is_empty() {
                    "no node::ContextEmbedderTag::kNodeContextTag".to_string()
                } else {
                    missing.join(", ")
                }
            ));
            return None;
        }
        Some(d)
    }
}

/// List the handles, requests and timers of the process `h` was loaded from.
pub fn handles(h: &Heap) -> Handles {
    let mut out = Handles::default();
    let r = h.reader();
    if let Some(d) = NodeDbg::read(h, &mut out.notes) {
        for env in environments(h, &r, &d) {
            let handles = walk(&r, env + d.handle_queue, d.handle_wrap_node, &mut out.notes)
                .into_iter()
                .filter_map(|w| handle_row(h, &r, &d, w))
                .collect();
            let requests = walk(&r, env + d.req_queue, d.req_wrap_node, &mut out.notes)
                .into_iter()
                .filter_map(|w| request_row(h, &r, &d, w))
                .collect();
            out.environments.push(EnvironmentHandles {
                environment: format!("{env:#x}"),
                handles,
                requests,
            });
        }
        if out.environments.is_empty() {
            out.notes
                .push("no node Environment found through the heap's native contexts".into());
        }
    }
    out.timers = timers(h, &r);
    out
}

/// The distinct Environments of the heap's node contexts.
fn environments(h: &Heap, r: &Reader, d: &NodeDbg) -> Vec<u64> {
    let p = &h.p;
    let Some(embedder_off) = p.metadata.get("native_context_embedder_data_offset") else {
        return Vec::new();
    };
    let mut envs = Vec::new();
    for i in 0..h.index.len() {
        if h.index.kind(p, i) != Kind::NativeContext {
            continue;
        }
        let ctx = h.index.tagged(i);
        let Some(data) = r.slot(ctx, embedder_off as u64) else {
            continue;
        };
        let Some(len) = r.smi_at(data, 8).filter(|&n| n > 0 && n < 4096) else {
            continue;
        };
        let slot = |k: u64| r.slot(data, 16 + 8 * k);
        let tagged = (d.env_index + 1..len as u64).any(|k| slot(k) == Some(d.context_tag));
        if !tagged {
            continue;
        }
        if let Some(env) = slot(d.env_index).filter(|&e| e != 0 && e.is_multiple_of(8)) {
            if !envs.contains(&env) {
                envs.push(env);
            }
        }
    }
    envs
}

/// The wraps of an intrusive list whose head is at `head`; `node_off` is the list node's
/// offset in each wrap.
fn walk(r: &Reader, head: u64, node_off: u64, notes: &mut Vec<String>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut prev = head;
    let Some(mut node) = r.word(head + 8) else {
        notes.push(format!("the list at {head:#x} is not in the dump"));
        return out;
    };
    while node != head {
        if out.len() >= MAX_WRAPS {
            notes.push(format!(
                "stopped after {MAX_WRAPS} entries of the list at {head:#x}"
            ));
            break;
        }
        if r.word(node) != Some(prev) {
            notes.push(format!(
                "the list at {head:#x} is broken at {node:#x} (its prev is not {prev:#x}): \
                 listed up to there"
            ));
            break;
        }
        out.push(node.wrapping_sub(node_off));
        prev = node;
        match r.word(node + 8) {
            Some(n) => node = n,
            None => {
                notes.push(format!(
                    "the list at {head:#x} leads out of the dump at {node:#x}"
                ));
                break;
            }
        }
    }
    out
}

/// The C++ class of an object with a vtable (`vtable for node::TCPWrap` + 16).
pub fn class_of(p: &crate::process::Process, obj: u64) -> Option<String> {
    if obj == 0 || !obj.is_multiple_of(8) {
        return None;
    }
    let vptr = p.memory().read_u64(Address(obj)).ok()?;
    // node's classes: the executable's own symbols (official builds are not PIE); else the
    // module the pointer is in.
    match p.exe().symbolize(vptr) {
        Some((s, _)) => elfcore::elfimage::vtable_class(&s.name),
        None => {
            let n = p.modules().symbolize(vptr, p.memory())?.symbol?;
            n.strip_prefix("{vtable(")
                .and_then(|x| x.strip_suffix(")}"))
                .map(str::to_string)
        }
    }
}

/// The JavaScript object of a BaseObject (its persistent handle's slot), and its name.
fn js_object(h: &Heap, r: &Reader, d: &NodeDbg, wrap: u64) -> (Option<u64>, Option<String>) {
    let obj = r
        .word(wrap + d.persistent_handle)
        .filter(|&s| s != 0)
        .and_then(|slot| r.word(slot))
        .filter(|&o| r.kind(o).is_some_and(|k| k.is_receiver()));
    (obj, obj.map(|o| name(h, r, o)))
}

fn name(h: &Heap, r: &Reader, obj: u64) -> String {
    match h.index.locate(obj) {
        Some(i) => crate::graph::describe::display_name(h, i),
        None => r
            .map(obj)
            .zip(r.kind(obj))
            .map(|(m, k)| {
                crate::objects::naming::Namer::new(*r)
                    .constructor_name(obj, k, m)
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

fn c_string(r: &Reader, at: u64) -> Option<String> {
    let ptr = r.word(at).filter(|&p| p != 0)?;
    let bytes = r.p.memory().read_vec(Address(ptr), 4096).ok().or_else(|| {
        // Near the end of a mapping: read less.
        r.p.memory().read_vec(Address(ptr), 256).ok()
    })?;
    let end = bytes.iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

fn handle_row(h: &Heap, r: &Reader, d: &NodeDbg, wrap: u64) -> Option<HandleRow> {
    let q = d.handle_wrap_node;
    let uvh = r.word(wrap + q + 16)?;
    let mem = h.p.memory();
    if mem.read_u64(Address(uvh + uv::HANDLE_DATA)).ok()? != wrap {
        return None;
    }
    let ty = mem.read_u32(Address(uvh + uv::HANDLE_TYPE)).ok()?;
    let flags = mem.read_u32(Address(uvh + uv::HANDLE_FLAGS)).ok()?;
    // HandleWrap::state_ (kInitialized, kClosing, kClosed) sits right before the queue node.
    let state = mem.read_u32(Address(wrap + q - 8)).ok().unwrap_or(0);
    let uv_type = uv::HANDLE_TYPES
        .get(ty as usize)
        .copied()
        .unwrap_or("unknown")
        .to_string();
    let read_i32 = |off: u64| mem.read_u32(Address(uvh + off)).ok().map(|v| v as i32);
    let (mut fd, mut detail, mut listening) = (None, None, false);
    match uv_type.as_str() {
        "tcp" | "pipe" | "tty" => {
            fd = read_i32(uv::STREAM_FD).filter(|&f| f >= 0);
            listening = mem
                .read_u64(Address(uvh + uv::STREAM_CONNECTION_CB))
                .is_ok_and(|cb| cb != 0);
        }
        "udp" => fd = read_i32(uv::UDP_FD).filter(|&f| f >= 0),
        "process" => detail = read_i32(uv::PROCESS_PID).map(|p| format!("pid {p}")),
        "signal" => detail = read_i32(uv::SIGNAL_SIGNUM).map(|s| format!("signal {s}")),
        "fs_event" => detail = c_string(r, uvh + uv::FS_EVENT_PATH),
        _ => {}
    }
    let (object, object_name) = js_object(h, r, d, wrap);
    let owner = object
        .and_then(|o| {
            r.own_properties(o, 64)?
                .into_iter()
                .find(|p| matches!(&p.key, Key::Symbol(s) if s == "owner_symbol") && !p.accessor)
        })
        .map(|p| p.value)
        .filter(|&v| r.kind(v).is_some_and(|k| k.is_receiver()));
    Some(HandleRow {
        uv_type,
        class: class_of(&h.p, wrap),
        wrap: format!("{wrap:#x}"),
        object: object.map(|o| format!("{o:#x}")),
        object_name,
        owner: owner.map(|o| format!("{o:#x}")),
        owner_name: owner.map(|o| name(h, r, o)),
        active: flags & uv::ACTIVE != 0,
        referenced: flags & uv::REF != 0 && state != 2,
        closing: state == 1 || flags & uv::CLOSING != 0,
        listening,
        fd,
        detail,
    })
}

fn request_row(h: &Heap, r: &Reader, d: &NodeDbg, wrap: u64) -> Option<RequestRow> {
    let q = d.req_wrap_node;
    let req = wrap + q + 24;
    let mem = h.p.memory();
    let dispatched = mem.read_u64(Address(req + uv::REQ_DATA)).ok()? == wrap;
    let ty = mem.read_u32(Address(req + uv::REQ_TYPE)).ok().unwrap_or(0);
    let uv_type = uv::REQ_TYPES
        .get(ty as usize)
        .copied()
        .unwrap_or("unknown")
        .to_string();
    let (mut operation, mut target) = (None, None);
    if dispatched {
        match uv_type.as_str() {
            "fs" => {
                let op = mem
                    .read_u32(Address(req + uv::FS_TYPE))
                    .ok()
                    .map(|v| v as i32);
                operation = op
                    .and_then(|o| uv::FS_TYPES.get(usize::try_from(o).ok()?))
                    .map(|s| s.to_string());
                target = c_string(r, req + uv::FS_PATH);
            }
            "getaddrinfo" => target = c_string(r, req + uv::GETADDRINFO_HOSTNAME),
            _ => {}
        }
    }
    let (object, object_name) = js_object(h, r, d, wrap);
    let callback = object.and_then(|o| request_callback(r, o));
    Some(RequestRow {
        uv_type,
        operation,
        target,
        class: class_of(&h.p, wrap),
        wrap: format!("{wrap:#x}"),
        object: object.map(|o| format!("{o:#x}")),
        object_name,
        callback,
        dispatched,
    })
}

/// The function a request object calls back: `context.callback` (fs.readFile's user
/// callback), else `callback`, else `oncomplete`.
fn request_callback(r: &Reader, obj: u64) -> Option<String> {
    let prop = |o: u64, name: &str| r.own_data_property(o, |k| r.string_eq(k, name));
    let is_fn = |w: &u64| r.kind(*w) == Some(Kind::JSFunction);
    let f = prop(obj, "context")
        .filter(|&c| r.kind(c).is_some_and(|k| k.is_receiver()))
        .and_then(|c| prop(c, "callback"))
        .filter(is_fn)
        .or_else(|| prop(obj, "callback").filter(is_fn))
        .or_else(|| prop(obj, "oncomplete").filter(is_fn))?;
    let loc = position::function_location(r, f);
    if loc.is_node_internal() {
        // Node wraps the user's callback (fs.stat's makeStatsCallback): the first function of
        // the program among the wrapper's closure variables is the one that will run.
        if let Some(user) = closure_functions(r, f)
            .map(|g| position::function_location(r, g))
            .find(|l| l.script.is_some() && !l.is_node_internal())
        {
            return Some(user.text());
        }
    }
    Some(loc.text())
}

/// The functions among the closure variables of function `f` (its own context only).
fn closure_functions<'a>(r: &'a Reader, f: u64) -> impl Iterator<Item = u64> + 'a {
    let ctx = r
        .slot(f, r.p.fields.function_context)
        .filter(|&c| r.kind(c) == Some(Kind::Context));
    let len = ctx.and_then(|c| r.array_length(c)).unwrap_or(0).min(1024);
    (2..len).filter_map(move |i| match r.context_slot(ctx?, i)? {
        crate::objects::reader::SlotValue::Tagged(v) if r.kind(v) == Some(Kind::JSFunction) => {
            Some(v)
        }
        _ => None,
    })
}

/// The heap's live `Timeout` objects.
fn timers(h: &Heap, r: &Reader) -> Vec<TimerRow> {
    let mut out = Vec::new();
    let roots = &r.p.table.roots;
    for i in h.instances("Timeout", crate::objects::census::Scope::Reachable) {
        let o = h.index.tagged(i);
        let Some(props) = r.own_properties(o, 64) else {
            continue;
        };
        let get = |name: &str| {
            props
                .iter()
                .find(|p| matches!(&p.key, Key::Name(n) if n == name) && !p.accessor)
                .map(|p| p.value)
        };
        let number = |w: u64| {
            r.smi(w).map(|v| v as f64).or_else(|| {
                (r.kind(w) == Some(Kind::HeapNumber))
                    .then(|| r.f64_at(w, r.p.fields.heap_number_value))
                    .flatten()
            })
        };
        let (Some(destroyed), Some(idle)) = (get("_destroyed"), get("_idleTimeout")) else {
            continue;
        };
        let is_true = |w: u64| r.root(roots.true_value) == Some(w);
        let is_null = |w: u64| r.root(roots.null) == Some(w);
        let delay = number(idle);
        if is_true(destroyed) || delay == Some(-1.0) {
            continue;
        }
        let running = get("_idlePrev").is_none_or(is_null);
        let referenced = props
            .iter()
            .find(|p| matches!(&p.key, Key::Symbol(s) if s == "refed"))
            .is_some_and(|p| is_true(p.value));
        let callback = get("_onTimeout")
            .filter(|&f| r.kind(f) == Some(Kind::JSFunction))
            .map(|f| position::function_location(r, f).text());
        out.push(TimerRow {
            object: format!("{o:#x}"),
            delay_ms: delay,
            repeat_ms: get("_repeat").and_then(number),
            referenced,
            running,
            callback,
        });
    }
    out
}
