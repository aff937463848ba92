//! Thread stacks, native and JavaScript frames interleaved.
//!
//! A thread's registers (NT_PRSTATUS) give the first frame. The C library code that raised the
//! signal does not keep `rbp` as a frame pointer, so the frame-pointer chain is found again by
//! scanning up from `rsp` for a slot that starts a consistent chain (a saved `rbp` above it
//! whose neighbour is a return address into code, confirmed by further links); node's C++ and
//! all of V8's code keep frame pointers, so the chain then runs to `main`. Return addresses
//! between `rsp` and that slot (the C library's own frames) are recovered by a scan that only
//! accepts words preceded by a call instruction; they are marked as scanned.
//!
//! Each frame of the chain is classified with V8's frame layout (the `off_fp_*` and
//! `frametype_*` constants of the postmortem metadata): typed frames carry a marker (`type <<
//! 1`) where JavaScript frames keep their context; JavaScript frames hold their function,
//! and interpreted and baseline ones their BytecodeArray and bytecode offset.

use crate::meta::kinds::Kind;
use crate::objects::naming::Namer;
use crate::objects::reader::Reader;
use crate::objects::{callsite, position};
use crate::process::Process;
use elfcore::{Memory, NativeSymbol};
use serde::Serialize;

/// How a frame runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FrameKind {
    /// C/C++ code of node or a library.
    Native,
    /// Bytecode run by the interpreter (Ignition).
    Interpreted,
    /// Baseline (Sparkplug) code.
    Baseline,
    /// Optimized by Maglev.
    Maglev,
    /// Optimized by Turbofan.
    Turbofan,
    /// Optimized code whose tier could not be read.
    Optimized,
    /// A JavaScript function implemented as a builtin (e.g. `Array.prototype.push`).
    Builtin,
    /// A typed V8 frame (entry, exit, stub, internal, construct...): see `frame_type`.
    V8,
}

/// A JavaScript function's frame details.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JsFrame {
    /// The function (tagged).
    pub function: u64,
    /// The frame's name as V8 writes it in a stack trace (`Module._compile`,
    /// `Object.namedTarget [as runAs]`, `new Session`); `(anonymous)` where V8 writes only the
    /// location.
    pub name: String,
    /// The function's own debug name (its name, else its inferred name; "" if none).
    pub debug_name: String,
    /// The script's name (file or URL), if any.
    pub script: Option<String>,
    /// 1-based line and column of the current position, when known (interpreted frames), else
    /// of the function's start.
    pub line: Option<u64>,
    /// 1-based column.
    pub column: Option<u64>,
    /// Whether `line` is the position being executed (true) or the function's start (false).
    pub exact: bool,
    /// The receiver (`this`), when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub this: Option<Arg>,
    /// The arguments, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Arg>>,
}

/// A value on a JavaScript frame (the receiver or an argument).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Arg {
    /// The tagged word in the frame slot.
    pub value: elfcore::Address,
    /// The value on one line, when the heap was loaded to describe it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// One frame.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Frame {
    /// Program counter (the return address for every frame but the first).
    pub pc: u64,
    /// Frame pointer of this frame, when on the chain.
    pub fp: Option<u64>,
    /// What runs there.
    pub kind: FrameKind,
    /// V8's frame type name for typed frames (`EntryFrame`, `ExitFrame`, `StubFrame`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_type: Option<String>,
    /// The native symbol at `pc`, when the code is in a mapped file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeSymbol>,
    /// JavaScript details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js: Option<JsFrame>,
    /// Found by scanning the stack for return addresses rather than by the frame chain.
    pub scanned: bool,
    /// What could not be read in a frame V8's code must have laid out (an interpreter frame
    /// whose function slot holds no function, a function without its shared info): the stack
    /// or the heap is damaged there. Absent on a readable frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
}

/// A thread's stack.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Backtrace {
    /// Index in the core's thread list (0: the thread that received the signal).
    pub thread: usize,
    /// Its thread id.
    pub tid: u32,
    /// Frames, innermost first.
    pub frames: Vec<Frame>,
    /// Why the walk ended where it did, or what it could not do.
    pub notes: Vec<String>,
}

/// Frame-layout constants of this V8 version: slot offsets (resolved with the fields) and
/// the frame type names of the metadata.
struct FrameLayout {
    context: i64,
    function: i64,
    bytecode_array: i64,
    bytecode_offset: i64,
    args: i64,
    argc: i64,
    types: Vec<(i64, String)>,
}

impl FrameLayout {
    fn new(p: &Process) -> FrameLayout {
        let m = &p.metadata;
        let f = &p.fields.frame;
        let mut types: Vec<(i64, String)> = m
            .raw
            .iter()
            .filter_map(|(k, &v)| Some((v, k.strip_prefix("frametype_")?.to_string())))
            .collect();
        types.sort();
        FrameLayout {
            context: f.context_or_frame_type,
            function: f.function,
            bytecode_array: f.bytecode_array,
            bytecode_offset: f.bytecode_offset,
            args: f.args,
            argc: f.argc,
            types,
        }
    }

    fn type_name(&self, t: i64) -> Option<&str> {
        self.types
            .iter()
            .find(|(v, _)| *v == t)
            .map(|(_, n)| n.as_str())
    }
}

/// Walks thread stacks of one process.
pub struct StackWalker<'p> {
    p: &'p Process,
    r: Reader<'p>,
    layout: FrameLayout,
    /// Include `this` and arguments of JavaScript frames.
    pub with_args: bool,
    /// Most frames per thread.
    pub max_frames: usize,
}

impl<'p> StackWalker<'p> {
    /// A walker for `p`.
    pub fn new(p: &'p Process) -> StackWalker<'p> {
        StackWalker {
            p,
            r: Reader::new(p),
            layout: FrameLayout::new(p),
            with_args: false,
            max_frames: 256,
        }
    }

    fn word(&self, a: u64) -> Option<u64> {
        self.p.memory().read_u64(elfcore::Address(a)).ok()
    }

    /// Whether `a` lies in executable memory (a mapped file's code, or V8's code pages).
    fn is_code(&self, a: u64) -> bool {
        let core = self.p.dump();
        let segs = core.segments();
        let i = segs.partition_point(|s| s.vaddr.0 <= a);
        i > 0 && {
            let s = &segs[i - 1];
            a < s.end().0 && s.executable()
        }
    }

    /// Whether the bytes before return address `ra` end in a call instruction.
    fn after_call(&self, ra: u64) -> bool {
        let mut b = [0u8; 8];
        if self
            .p
            .memory()
            .read_at(elfcore::Address(ra.wrapping_sub(8)), &mut b)
            .is_err()
        {
            return false;
        }
        self.p.arch.ends_with_call(&b)
    }

    /// A return address read from the stack, without its pointer authentication code.
    fn ret_addr(&self, a: u64) -> Option<u64> {
        self.word(a).map(|w| self.code_address(w))
    }

    /// A code address without its pointer authentication code: the bits the core says hold
    /// it (NT_ARM_PAC_MASK), else those above the architecture's address bits.
    fn code_address(&self, a: u64) -> u64 {
        match self.p.dump().pointer_auth_mask() {
            Some(m) => a & !m,
            None => self.p.arch.code_address(a),
        }
    }

    /// The stack of thread `t` (index into the core's threads).
    pub fn backtrace(&self, t: usize) -> Option<Backtrace> {
        let mut bt = self.walk(t)?;
        self.name_calls(&mut bt.frames);
        Some(bt)
    }

    fn walk(&self, t: usize) -> Option<Backtrace> {
        let core = self.p.dump();
        let th = core.threads().get(t)?;
        let (rip, rsp, rbp) = (th.regs.pc(), th.regs.sp(), th.regs.fp());
        let mut bt = Backtrace {
            thread: t,
            tid: th.tid,
            frames: Vec::new(),
            notes: Vec::new(),
        };
        let Some(seg) = core
            .segments()
            .iter()
            .find(|s| s.vaddr.0 <= rsp && rsp < s.end().0)
        else {
            bt.notes.push(format!(
                "the stack pointer {rsp:#x} is not in dumped memory"
            ));
            bt.frames.push(self.frame(rip, None, false, true));
            return Some(bt);
        };
        let hi = seg.end().0;
        let ok_fp = |fp: u64| fp >= rsp && fp < hi && fp.is_multiple_of(8);
        bt.frames.push(self.frame(rip, None, false, true));
        // Native frames first by their call-frame information (.eh_frame), as long as there
        // is some: this gets through the C library's frameless code exactly.
        let mem: &dyn Memory = self.p.memory();
        let (mut pc, mut sp, mut bp) = (rip, rsp, rbp);
        let mut first = true;
        let mut cfi_frames = 0;
        while bt.frames.len() < self.max_frames {
            let look = if first { pc } else { pc.wrapping_sub(1) };
            let Some(row) = self.p.modules().unwind_row(look, mem) else {
                break;
            };
            let base = match row.cfa_register {
                elfcore::CfaBase::Sp => sp,
                elfcore::CfaBase::Fp => bp,
            };
            let cfa = base.wrapping_add(row.cfa_offset as u64);
            // The return address: saved in the frame, or (arm64, the innermost frame only)
            // still in the link register.
            let ra = match row.ra_offset {
                Some(o) => self.word(cfa.wrapping_add(o as u64)),
                None if first => th.regs.lr(),
                None => None,
            };
            let Some(ra) = ra.map(|a| self.code_address(a)) else {
                break;
            };
            let new_bp = match row.fp_offset {
                Some(o) => match self.word(cfa.wrapping_add(o as u64)) {
                    Some(v) => v,
                    None => break,
                },
                None => bp,
            };
            if ra == 0 || cfa <= sp || !ok_fp(cfa.saturating_sub(8).max(rsp)) {
                break;
            }
            // The caller's frame: its fp is the rbp it will have (for V8 classification).
            (pc, sp, bp) = (ra, cfa, new_bp);
            first = false;
            cfi_frames += 1;
            let fp = ok_fp(bp).then_some(bp);
            bt.frames.push(self.frame(pc, fp, false, false));
            // Once in code without CFI (V8's builtins and JIT code), frame pointers take over.
            if self
                .p
                .modules()
                .unwind_row(pc.wrapping_sub(1), mem)
                .is_none()
            {
                break;
            }
        }
        if cfi_frames > 0 {
            // Continue along the frame-pointer chain from the last frame's rbp.
            let mut fp = bp;
            while bt.frames.len() < self.max_frames && ok_fp(fp) {
                let (Some(caller), Some(ra)) = (self.word(fp), self.ret_addr(fp + 8)) else {
                    break;
                };
                if ra == 0 {
                    break;
                }
                if !ok_fp(caller) || caller <= fp {
                    bt.frames.push(self.frame(ra, None, false, false));
                    break;
                }
                bt.frames.push(self.frame(ra, Some(caller), false, false));
                fp = caller;
            }
            return Some(bt);
        }
        bt.notes.push(
            "no call-frame information for the first frame: the frame chain was found by \
             scanning the stack"
                .into(),
        );
        // Where the frame-pointer chain starts: rbp itself when it is a good link, else the
        // first slot above rsp that starts a chain of three good links.
        let link_ok = |fp: u64| -> bool {
            match (self.word(fp), self.ret_addr(fp + 8)) {
                (Some(next), Some(ra)) => {
                    (next > fp && ok_fp(next) || next == 0) && self.is_code(ra)
                }
                _ => false,
            }
        };
        let chain_ok = |mut fp: u64| -> bool {
            for _ in 0..3 {
                if !ok_fp(fp) || !link_ok(fp) {
                    return false;
                }
                match self.word(fp) {
                    Some(0) => return true,
                    Some(n) => fp = n,
                    None => return false,
                }
            }
            true
        };
        let start = if ok_fp(rbp) && chain_ok(rbp) && rbp - rsp < 0x400 {
            Some(rbp)
        } else {
            let mut s = rsp & !7;
            let mut found = None;
            while s + 16 <= hi && s < rsp + (1 << 16) {
                if chain_ok(s) {
                    found = Some(s);
                    break;
                }
                s += 8;
            }
            found
        };
        let Some(start) = start else {
            bt.notes
                .push("no frame-pointer chain found in the first 64 KiB of the stack".into());
            return Some(bt);
        };
        // Return addresses between rsp and the chain (frameless code), marked as scanned.
        let mut s = rsp & !7;
        while s < start {
            if let Some(w) = self.ret_addr(s) {
                if self.is_code(w) && self.after_call(w) && w != rip {
                    bt.frames.push(self.frame(w, None, true, false));
                }
            }
            s += 8;
        }
        // The chain.
        let mut fp = start;
        while bt.frames.len() < self.max_frames {
            let (Some(caller), Some(ra)) = (self.word(fp), self.ret_addr(fp + 8)) else {
                bt.notes.push(format!("frame at {fp:#x} is not readable"));
                break;
            };
            if ra == 0 {
                break;
            }
            if !ok_fp(caller) || caller <= fp {
                // The outermost frame: its caller's fp is 0 or outside the stack.
                bt.frames.push(self.frame(ra, None, false, false));
                break;
            }
            bt.frames.push(self.frame(ra, Some(caller), false, false));
            fp = caller;
        }
        if bt.frames.len() >= self.max_frames {
            bt.notes
                .push(format!("stopped after {} frames", self.max_frames));
        }
        Some(bt)
    }

    /// Describe the frame whose code is at `pc` and whose frame pointer is `fp`.
    fn frame(&self, pc: u64, fp: Option<u64>, scanned: bool, first: bool) -> Frame {
        let mem: &dyn Memory = self.p.memory();
        // A return address points after the call: name the call itself.
        let look = if first { pc } else { pc.wrapping_sub(1) };
        let mut native = self.p.modules().symbolize(look, mem);
        if !first {
            // Frames the deoptimizer builds return to the first instruction of the builtin that
            // resumes the interpreter: pc - 1 is in the builtin before it.
            if let Some(at) = self.p.modules().symbolize(pc, mem) {
                let resumes = at.symbol.as_deref().is_some_and(|s| {
                    s.starts_with("Builtins_InterpreterEnterAt")
                        || s.starts_with("Builtins_BaselineOrInterpreterEnterAt")
                });
                if at.offset == 0 && resumes {
                    native = Some(at);
                }
            }
        }
        let mut f = Frame {
            pc,
            fp,
            kind: FrameKind::Native,
            frame_type: None,
            native,
            js: None,
            scanned,
            damage: None,
        };
        // Code in a mapping the kernel did not dump is a file's (anonymous memory, where JIT
        // code lives, is always dumped), one the core does not name: a qemu-user core has no
        // NT_FILE, so its libraries are known only by where they were mapped.
        if f.native.is_none() {
            let undumped = self
                .p
                .dump()
                .segments()
                .iter()
                .find(|s| s.vaddr.0 <= pc && pc < s.end().0)
                .filter(|s| s.filesz == 0);
            if let Some(s) = undumped {
                f.native = Some(NativeSymbol {
                    module: format!(
                        "(a file mapped at {:#x} that the core does not name)",
                        s.vaddr.0
                    ),
                    symbol: None,
                    offset: pc - s.vaddr.0,
                    source: None,
                });
                return f;
            }
        }
        let Some(fp) = fp else {
            return f;
        };
        let sym = f
            .native
            .as_ref()
            .and_then(|n| n.symbol.clone())
            .unwrap_or_default();
        // V8 code: builtins embedded in node's text, or code outside every mapped file (JIT).
        let builtin = sym.starts_with("Builtins_");
        let jit = f.native.is_none();
        if !builtin && !jit {
            return f;
        }
        let at = |off: i64| self.word(fp.wrapping_add(off as u64));
        let l = &self.layout;
        let Some(marker) = at(l.context) else {
            return f;
        };
        if marker & 1 == 0 && marker < 1024 {
            f.kind = FrameKind::V8;
            f.frame_type = Some(
                l.type_name((marker >> 1) as i64)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("type {}", marker >> 1)),
            );
            return f;
        }
        let bytecode = at(l.bytecode_array)
            .filter(|&b| self.r.kind(b) == Some(Kind::Other) && self.is_bytecode_array(b));
        // A frame that runs bytecode (the interpreter's, or baseline code's), and one the walk
        // returns into the interpreter's own code with, is a JS function's: its function slot
        // holds the function. The innermost frame is left out (its code may not have built
        // the frame yet).
        let must_be_js = !first && (bytecode.is_some() || sym.starts_with("Builtins_Interpreter"));
        let Some(func) = at(l.function) else {
            if must_be_js {
                f.damage = Some(format!(
                    "the interpreter frame at {fp:#x} has no readable function slot"
                ));
            }
            return f;
        };
        if self.r.kind(func) != Some(Kind::JSFunction) {
            if must_be_js {
                f.damage = Some(format!(
                    "the function slot of the interpreter frame at {fp:#x} holds {func:#x}, \
                     which is not a function: the stack or the heap is damaged there"
                ));
            }
            return f;
        }
        if self.r.function_shared(func).is_none() {
            f.damage = Some(format!(
                "the function {func:#x} of the frame at {fp:#x} has no readable shared function \
                 info: the heap is damaged there"
            ));
        }
        f.kind = match (bytecode.is_some(), builtin) {
            (true, true) if sym.starts_with("Builtins_Interpreter") => FrameKind::Interpreted,
            (true, false) => FrameKind::Baseline,
            (false, true) => FrameKind::Builtin,
            (false, false) => self.jit_tier(pc).unwrap_or(FrameKind::Optimized),
            (true, true) => FrameKind::Interpreted,
        };
        let mut js = self.js_frame(func);
        // Only the interpreter keeps the frame's bytecode offset slot current: a baseline frame's
        // holds the offset it was entered at (an on-stack replacement's loop, seen on Node 25),
        // and its current position needs the code's pc-to-offset table, not read here.
        let interpreted = f.kind == FrameKind::Interpreted;
        if let (true, Some(ba), Some(off)) = (interpreted, bytecode, at(l.bytecode_offset)) {
            if let Some(pos) = position::bytecode_position(&self.r, ba, off) {
                if let Some((line, col)) = self.line_col(func, pos) {
                    js.line = Some(line);
                    js.column = Some(col);
                    js.exact = true;
                }
            }
        }
        if self.with_args {
            let arg = |w: u64| Arg {
                value: elfcore::Address(w),
                summary: None,
            };
            js.this = at(l.args)
                .filter(|&w| w & 1 == 1 || self.r.smi(w).is_some())
                .map(arg);
            // The argument count is a raw integer (not a Smi) and counts the receiver.
            let argc = at(l.argc).filter(|&n| n <= 1 << 16).unwrap_or(0).min(64);
            js.args = Some(
                (1..argc)
                    .filter_map(|k| at(l.args + 8 * k as i64))
                    .map(arg)
                    .collect(),
            );
        }
        f.js = Some(js);
        f
    }

    /// Name each JavaScript frame as V8 names it in stack traces: that needs the receiver and
    /// whether the caller is a construct frame.
    fn name_calls(&self, frames: &mut [Frame]) {
        let mut namer = Namer::new(self.r);
        for i in 0..frames.len() {
            let constructor = frames.get(i + 1).is_some_and(|c| {
                c.kind == FrameKind::V8
                    && c.frame_type
                        .as_deref()
                        .is_some_and(|t| t.contains("Construct"))
            });
            let (Some(fp), Some(js)) = (frames[i].fp, frames[i].js.as_mut()) else {
                continue;
            };
            let receiver = self.word(fp.wrapping_add(self.layout.args as u64));
            let call = callsite::Call {
                function: js.function,
                receiver,
                constructor,
            };
            if let Some(n) = callsite::frame_name(&self.r, &mut namer, call) {
                js.name = n;
            }
        }
    }

    /// The tier of the JIT code at `pc`: the code object containing it (found by walking its
    /// code page), then the kind in its `Code` object's flags.
    fn jit_tier(&self, pc: u64) -> Option<FrameKind> {
        let p = self.p;
        let page = p.pages.page_of(elfcore::Address(pc))?;
        let mut holder = None;
        crate::heap::walk::Walker::new(p).walk_page(page, |o| {
            if o.addr.0 <= pc && pc < o.addr.0 + o.size {
                holder = Some((o.tagged(), o.instance_type));
            }
        });
        let (obj, ty) = holder?;
        let k = &p.table.code_kinds;
        let name = p.types.name(ty)?;
        let code = match (name, k.stream_to_code) {
            ("INSTRUCTION_STREAM_TYPE", Some(off)) => self.r.slot(obj, off)?,
            ("CODE_TYPE", None) => obj,
            _ => return None,
        };
        let flags_off = p
            .metadata
            .field("Code", "flags")
            .map(|f| f.value as u64)
            .unwrap_or(k.flags);
        let shift = p.metadata.get("CodeKindFieldShift").unwrap_or(0) as u32;
        let mask = p.metadata.get("CodeKindFieldMask").unwrap_or(15) as u32;
        let kind = (self.r.u32_at(code, flags_off)? >> shift) & mask;
        match kind {
            x if x == k.maglev => Some(FrameKind::Maglev),
            x if x == k.turbofan => Some(FrameKind::Turbofan),
            x if x == k.baseline => Some(FrameKind::Baseline),
            _ => None,
        }
    }

    fn is_bytecode_array(&self, b: u64) -> bool {
        self.r
            .itype(b)
            .and_then(|t| self.p.types.name(t))
            .is_some_and(|n| n == "BYTECODE_ARRAY_TYPE")
    }

    /// Name, script and start position of a function.
    pub fn js_frame(&self, func: u64) -> JsFrame {
        let loc = position::function_location(&self.r, func);
        let debug_name = self.r.function_name(func);
        JsFrame {
            function: func,
            name: loc.name,
            debug_name,
            script: loc.script,
            line: loc.line,
            column: loc.column,
            exact: false,
            this: None,
            args: None,
        }
    }

    /// 1-based line and column of source position `pos` in the script of function `func`.
    fn line_col(&self, func: u64, pos: u64) -> Option<(u64, u64)> {
        position::sfi_line_col(&self.r, self.r.function_shared(func)?, pos)
    }
}
