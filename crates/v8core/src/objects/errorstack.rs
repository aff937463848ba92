//! An error's captured stack, decoded: the frames V8 recorded when the error was made
//! (`Error.captureStackTrace` / the Error constructor), before anything formatted them. Node
//! formats them only when `err.stack` is read; a core often holds errors nobody read.
//!
//! V8 keeps them under the private `error_stack_symbol`: a FixedArray of CallSiteInfo structs,
//! or (13.6, 14.6) one FixedArray with a row of slots per frame; `VersionTable::error_stack`
//! says which, with the offsets. Each frame has the receiver, the function, the code it ran
//! (a BytecodeArray, reached through a BytecodeWrapper on 13.6+, or JIT code) and the offset in
//! that code. Interpreted frames give their exact line; JIT frames their function's start.

use crate::meta::kinds::Kind;
use crate::meta::tables::ErrorStackLayout;
use crate::objects::callsite::{self, Call};
use crate::objects::naming::Namer;
use crate::objects::position;
use crate::objects::reader::Reader;
use serde::Serialize;

/// At most this many frames are decoded (V8's default limit is 10; Node's users raise it).
const MAX_FRAMES: u64 = 1000;

/// One frame of a captured stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CallSiteFrame {
    /// The name V8 prints for the frame (`Module._compile`), `None` where it prints only the
    /// location.
    pub name: Option<String>,
    /// The function (tagged).
    pub function: String,
    /// Its script's name.
    pub script: Option<String>,
    /// 1-based line (of the call when `exact`, else of the function's start).
    pub line: Option<u64>,
    /// 1-based column.
    pub column: Option<u64>,
    /// Whether line and column are the position of the call.
    pub exact: bool,
}

impl CallSiteFrame {
    /// The frame as a line of `err.stack`, without the leading `    at `.
    pub fn text(&self) -> String {
        let script = self.script.as_deref().unwrap_or("<anonymous>");
        let loc = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{script}:{l}:{c}"),
            (Some(l), None) => format!("{script}:{l}"),
            _ => script.to_string(),
        };
        match &self.name {
            Some(n) => format!("{n} ({loc})"),
            None => loc,
        }
    }
}

/// The frames of the captured stack `stack` (the value under `error_stack_symbol`), or `None`
/// when it is not an unformatted stack (a string: `err.stack` was read and formatted).
pub fn frames(r: &Reader, stack: u64) -> Option<Vec<CallSiteFrame>> {
    if !is_fixed_array(r, stack) {
        return None;
    }
    let n = r.array_length(stack)?;
    // Each frame's [code, receiver, function, offset, flags] words.
    let rows: Vec<[Option<u64>; 5]> = match r.p.table.error_stack {
        ErrorStackLayout::Objects {
            code,
            receiver,
            function,
            offset,
            flags,
        } => (0..n.min(MAX_FRAMES))
            .map_while(|i| r.array_get(stack, i))
            .filter(|&info| r.is_heap(info))
            .map(|info| [code, receiver, function, offset, flags].map(|off| r.slot(info, off)))
            .collect(),
        ErrorStackLayout::Flat {
            stride,
            code,
            receiver,
            function,
            offset,
            flags,
        } => (0..(n / stride).min(MAX_FRAMES))
            .map(|row| {
                [code, receiver, function, offset, flags]
                    .map(|k| r.array_get(stack, row * stride + k))
            })
            .collect(),
    };
    let mut namer = Namer::new(*r);
    let out = rows
        .into_iter()
        .filter_map(|f| frame(r, &mut namer, f))
        .collect();
    Some(out)
}

fn is_fixed_array(r: &Reader, w: u64) -> bool {
    r.itype(w)
        .and_then(|t| r.p.types.name(t))
        .is_some_and(|n| n == "FIXED_ARRAY_TYPE")
}

/// `[code, receiver, function, offset, flags]` of one frame.
fn frame(r: &Reader, namer: &mut Namer, f: [Option<u64>; 5]) -> Option<CallSiteFrame> {
    let [code, receiver, function, offset, flags] = f;
    let function = function.filter(|&w| r.kind(w) == Some(Kind::JSFunction))?;
    // CallSiteInfoFlags bit 3: is_constructor.
    let constructor = flags
        .and_then(|w| r.smi(w))
        .is_some_and(|v| v >> 3 & 1 == 1);
    let name = callsite::frame_name(
        r,
        namer,
        Call {
            function,
            receiver,
            constructor,
        },
    );
    let loc = position::function_location(r, function);
    let mut out = CallSiteFrame {
        name,
        function: format!("{function:#x}"),
        script: loc.script,
        line: loc.line,
        column: loc.column,
        exact: false,
    };
    let bytecode = code.and_then(|c| bytecode_array(r, c));
    if let (Some(ba), Some(off)) = (bytecode, offset.and_then(|o| r.smi(o))) {
        let pos = position::bytecode_offset_position(r, ba, off);
        let at = pos.and_then(|p| position::sfi_line_col(r, r.function_shared(function)?, p));
        if let Some((line, column)) = at {
            out.line = Some(line);
            out.column = Some(column);
            out.exact = true;
        }
    }
    Some(out)
}

/// The BytecodeArray a frame's code slot leads to: itself, or through a BytecodeWrapper.
fn bytecode_array(r: &Reader, code: u64) -> Option<u64> {
    let name = |w: u64| r.itype(w).and_then(|t| r.p.types.name(t));
    match name(code)? {
        "BYTECODE_ARRAY_TYPE" => Some(code),
        "BYTECODE_WRAPPER_TYPE" => {
            let ba = r.slot(code, 8)?;
            (name(ba)? == "BYTECODE_ARRAY_TYPE").then_some(ba)
        }
        _ => None,
    }
}
