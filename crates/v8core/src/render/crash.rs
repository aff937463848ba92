//! `bt`, `nodeinfo`, `report`: the crash context.

use super::{bytes, clean, Render, Table};
use crate::answer::Backtraces;
use crate::crash::nodeinfo::NodeInfo;
use crate::crash::report::{CauseKind, Report, TopName};
use crate::crash::stack::{Backtrace, Frame, FrameKind};

/// One frame as a line: what runs at the frame and where.
pub fn describe_frame(f: &Frame) -> (String, String) {
    let kind = match f.kind {
        FrameKind::Native => "native".to_string(),
        FrameKind::Interpreted => "interpreted".into(),
        FrameKind::Baseline => "baseline".into(),
        FrameKind::Maglev => "maglev".into(),
        FrameKind::Turbofan => "turbofan".into(),
        FrameKind::Optimized => "optimized".into(),
        FrameKind::Builtin => "builtin".into(),
        FrameKind::V8 => f.frame_type.clone().unwrap_or_else(|| "v8".into()),
    };
    let kind = if f.scanned {
        format!("{kind} (scanned)")
    } else {
        kind
    };
    let what = if let Some(js) = &f.js {
        let at = match (&js.script, js.line, js.column) {
            (Some(s), Some(l), Some(c)) => format!("{s}:{l}:{c}"),
            (Some(s), _, _) => s.clone(),
            (None, Some(l), Some(c)) => format!("<no script>:{l}:{c}"),
            _ => "<no script>".into(),
        };
        let start = if js.line.is_some() && !js.exact {
            " (function start)"
        } else {
            ""
        };
        format!("{} {at}{start}", js.name)
    } else if let Some(n) = &f.native {
        let mut s = match &n.symbol {
            Some(sym) => format!("{}`{}+{:#x}", n.module, short(sym), n.offset),
            None => format!("{}+{:#x}", n.module, n.offset),
        };
        if let Some((file, line)) = &n.source {
            s.push_str(&format!(" at {file}:{line}"));
        }
        s
    } else {
        "(code outside every mapped file: JIT)".into()
    };
    (kind, what)
}

/// A demangled C++ name without its argument list (long templates make lines unreadable).
fn short(sym: &str) -> String {
    if sym.len() <= 100 {
        return sym.to_string();
    }
    match sym.find('(') {
        Some(i) if i > 0 => format!("{}(...)", &sym[..i]),
        _ => sym[..100].to_string() + "...",
    }
}

pub(crate) fn backtrace_text(bt: &Backtrace, title: &str, out: &mut String) {
    out.push_str(title);
    out.push('\n');
    let mut t = Table::new(&["#", "PC", "Kind", "Frame"], &[0]);
    for (k, f) in bt.frames.iter().enumerate() {
        let (kind, what) = describe_frame(f);
        t.row(vec![k.to_string(), format!("{:#x}", f.pc), kind, what]);
        if let Some(d) = &f.damage {
            t.row(vec![
                String::new(),
                String::new(),
                String::new(),
                format!("  damaged: {}", clean(d)),
            ]);
        }
        if let Some(js) = &f.js {
            let blank = || vec![String::new(), String::new(), String::new()];
            // Objects with their address, to follow with `inspect` (llnode's `this=0x...`).
            let show = |a: &crate::crash::stack::Arg| match &a.summary {
                Some(s) if s.starts_with('<') => format!("{} {s}", a.value),
                Some(s) => s.clone(),
                None => a.value.to_string(),
            };
            if js.this.is_some() || js.args.is_some() {
                let mut row = blank();
                row.push(format!("  fn = {:#x}", js.function));
                t.row(row);
            }
            if let Some(this) = &js.this {
                let mut row = blank();
                row.push(format!("  this = {}", show(this)));
                t.row(row);
            }
            for (i, a) in js.args.iter().flatten().enumerate() {
                let mut row = blank();
                row.push(format!("  arg{i} = {}", show(a)));
                t.row(row);
            }
        }
    }
    out.push_str(&t.render());
    for n in &bt.notes {
        out.push_str(&format!("note: {}\n", clean(n)));
    }
}

impl Render for Backtraces {
    fn render(&self, out: &mut String) {
        for bt in &self.threads {
            let title = if bt.thread == 0 {
                match (self.signal, &self.signal_name) {
                    (Some(s), Some(name)) => {
                        format!("Thread 1 (tid {}), received {name} ({s}):", bt.tid)
                    }
                    _ => format!("Thread 1 (tid {}):", bt.tid),
                }
            } else {
                format!("\nThread {} (tid {}):", bt.thread + 1, bt.tid)
            };
            backtrace_text(bt, &title, out);
        }
    }
}

impl Render for NodeInfo {
    fn render(&self, out: &mut String) {
        let info = self;
        let list = |v: &[String]| -> String { serde_json::to_string(v).unwrap_or_default() };
        let mut t = Table::new(&["", ""], &[]);
        let mut row = |k: &str, v: String| t.row(vec![k.to_string(), v]);
        row("pid", info.pid.map(|p| p.to_string()).unwrap_or_default());
        row(
            "platform",
            format!(
                "{} {}",
                info.platform.as_deref().unwrap_or("?"),
                info.arch.as_deref().unwrap_or("?")
            ),
        );
        row("node", info.version.clone().unwrap_or_default());
        row("execPath", info.exec_path.clone().unwrap_or_default());
        row("argv", list(&info.argv));
        row("execArgv", list(&info.exec_argv));
        row("command line", list(&info.command_line));
        row(
            "cwd",
            info.cwd
                .as_ref()
                .map(|c| format!("{} ({})", c.value, c.source))
                .unwrap_or_else(|| "unknown".into()),
        );
        out.push_str(&t.body());
        out.push_str("\nprocess.versions:\n");
        let mut v = Table::new(&["", ""], &[]);
        for (k, val) in &info.versions {
            v.row(vec![format!("  {k}"), val.clone()]);
        }
        out.push_str(&v.body());
        if !info.release.is_empty() {
            out.push_str("\nprocess.release:\n");
            let mut t = Table::new(&["", ""], &[]);
            for (k, val) in &info.release {
                t.row(vec![format!("  {k}"), val.clone()]);
            }
            out.push_str(&t.body());
        }
        let n = info.masked.len();
        out.push_str(&format!(
            "\nenvironment at start ({} variables{}):\n",
            info.env.len(),
            if n == 0 {
                String::new()
            } else {
                format!(
                    "; {n} secret-looking value{} masked, --show-secrets to see {}",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" }
                )
            }
        ));
        let mut e = Table::new(&["", ""], &[]);
        let mut env = info.env.clone();
        env.sort();
        for (k, val) in &env {
            e.row(vec![format!("  {k}"), val.clone()]);
        }
        out.push_str(&e.body());
        for n in &info.notes {
            out.push_str(&format!("note: {}\n", clean(n)));
        }
    }
}

fn ranked(rows: &[TopName]) -> String {
    let mut t = Table::new(&["", "Instances", "Total Size", "Name"], &[1, 2]);
    for (k, x) in rows.iter().enumerate() {
        t.row(vec![
            format!("{:>3}.", k + 1),
            x.count.to_string(),
            bytes(x.size),
            x.name.clone(),
        ]);
    }
    t.render()
}

/// The first line of a redacted report.
pub(crate) const REDACTED_LINE: &str =
    "REDACTED  the program's strings are shown as their lengths and hashes; the environment \
     and the arguments are masked\n\n";

impl Render for Report {
    fn render(&self, out: &mut String) {
        let r = self;
        let c = &r.cause;
        if r.redacted {
            out.push_str(REDACTED_LINE);
        }
        if let Some(d) = r.memory.as_ref().and_then(|m| m.dominant.as_ref()) {
            out.push_str(&format!("MEMORY    {}\n\n", clean(d)));
        }
        out.push_str(&format!("CRASH     {}\n", clean(&c.summary)));
        if let Some(s) = c.signal {
            out.push_str(&format!(
                "          signal {} ({s})\n",
                elfcore::core::signal_name(s)
            ));
        }
        let old = bytes(r.old_generation_objects);
        let limits = r.memory.as_ref().map(|m| &m.limits);
        if let Some((l, max)) = limits.and_then(|l| Some((l, l.max_old_generation?))) {
            let share = l.old_generation_committed as f64 * 100.0 / max as f64;
            out.push_str(&format!(
                "          old generation limit {} (read from the heap){}; old generation {} committed ({share:.0}% of it), {} in objects{}\n",
                bytes(max),
                c.heap_limit_mib
                    .map(|m| format!(", --max-old-space-size={m}"))
                    .unwrap_or_default(),
                bytes(l.old_generation_committed),
                bytes(l.old_generation_used),
                if c.kind == CauseKind::Oom && share >= 90.0 {
                    ": V8 hit the old generation limit"
                } else {
                    ""
                }
            ));
            if let Some(g) = r.memory.as_ref().and_then(|m| m.gcs.last()) {
                out.push_str(&format!("          last GC: {}\n", clean(g)));
            }
        } else {
            out.push_str(&match c.heap_limit_mib {
                Some(l) => format!(
                "          heap limit --max-old-space-size={l} MiB; old generation objects {old}\n"
            ),
                None => format!(
                    "          no --max-old-space-size given (V8's default limit); old generation \
                 objects {old}\n"
                ),
            });
        }
        if let Some(m) = &r.memory {
            let u = &m.usage;
            out.push_str(&format!(
                "          rss {} (heap_total {}, external {}, array_buffers {}; `v8dump memory CORE`)\n",
                bytes(u.rss),
                bytes(u.heap_total),
                bytes(u.external),
                bytes(u.array_buffers)
            ));
        }
        let n = &r.node;
        out.push_str(&clean(&format!(
            "PROCESS   node {} pid {} {}",
            n.version.as_deref().unwrap_or("?"),
            n.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
            serde_json::to_string(&n.command_line).unwrap_or_default()
        )));
        out.push('\n');
        if let Some(l) = &r.leaks {
            out.push_str(&format!("\nLEAKS     {}\n", clean(&l.verdict)));
            for (k, s) in l.suspects.iter().enumerate() {
                out.push_str(&format!("  {:>2}. {}\n", k + 1, clean(&s.sentence)));
            }
            if !l.suspects.is_empty() {
                out.push_str("          (`v8dump leaks CORE` for holders, paths and code)\n");
            }
        }
        if let Some(h) = &r.pending {
            let handles: Vec<_> = h.environments.iter().flat_map(|e| &e.handles).collect();
            let requests: Vec<_> = h.environments.iter().flat_map(|e| &e.requests).collect();
            out.push_str(&format!(
                "\nPENDING   {} handle{}, {} request{}, {} timer{}\n",
                handles.len(),
                if handles.len() == 1 { "" } else { "s" },
                requests.len(),
                if requests.len() == 1 { "" } else { "s" },
                h.timers.len(),
                if h.timers.len() == 1 { "" } else { "s" },
            ));
            const SHOWN: usize = 8;
            for l in handles
                .iter()
                .map(|x| super::handles::handle_line(x))
                .chain(requests.iter().map(|x| super::handles::request_line(x)))
                .chain(h.timers.iter().map(super::handles::timer_line))
                .take(SHOWN)
            {
                out.push_str(&format!("          {l}\n"));
            }
            if handles.len() + requests.len() + h.timers.len() > SHOWN {
                out.push_str("          (`v8dump handles CORE` for all)\n");
            }
        }
        out.push_str("\nHEAP      space                  area       objects\n");
        for s in &r.spaces {
            out.push_str(&format!(
                "          {:<20} {:>10} {:>12}\n",
                s.space,
                bytes(s.area),
                bytes(s.objects)
            ));
        }
        out.push_str("\nLARGEST CONSTRUCTORS (total self size)\n");
        out.push_str(&ranked(&r.top_by_size));
        out.push_str("\nMOST INSTANCES\n");
        out.push_str(&ranked(&r.top_by_count[..r.top_by_count.len().min(5)]));
        out.push_str(
            "\nWHAT HOLDS THEM (one instance each; `v8dump retainers CORE ADDR` for more)\n",
        );
        for h in &r.holders {
            out.push_str(&format!(
                "  {} {:#x}\n    {}\n",
                clean(&h.name),
                h.instance,
                clean(h.chain.as_deref().unwrap_or("(no retainer path found)"))
            ));
        }
        if let Some(bt) = &r.stack {
            out.push_str("\nJS STACK (crashing thread; `v8dump bt CORE` for every frame)\n");
            let mut t = Table::new(&["", "Kind", "Frame"], &[]);
            for f in bt.frames.iter().filter(|f| f.js.is_some()) {
                let (kind, what) = describe_frame(f);
                t.row(vec!["  ".into(), kind, what]);
            }
            out.push_str(&t.body());
        }
    }
}

impl Render for crate::crash::batch::BatchSummary {
    fn render(&self, out: &mut String) {
        let mut t = Table::new(&["Core", "Status", "Node", "Cause", "Largest", "Time"], &[]);
        for r in &self.records {
            let name = std::path::Path::new(&r.core)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| r.core.clone());
            let largest = r
                .top
                .first()
                .map(|x| format!("{} ({} objects, {})", x.name, x.count, bytes(x.size)))
                .unwrap_or_default();
            t.row(vec![
                name,
                match r.status {
                    crate::crash::batch::RecordStatus::Ok => "ok".to_string(),
                    crate::crash::batch::RecordStatus::Failed => "failed".to_string(),
                },
                r.node.clone().unwrap_or_default(),
                r.cause.map(|c| c.as_str().to_string()).unwrap_or_default(),
                largest,
                format!("{:.1} s", r.seconds),
            ]);
        }
        out.push_str(&t.render());
        for r in self.records.iter().filter(|r| r.error.is_some()) {
            out.push_str(&format!(
                "failed: {}: {}\n",
                clean(&r.core),
                clean(r.error.as_deref().unwrap_or_default())
            ));
        }
        out.push_str(&format!(
            "\n{} cores analyzed ({} failed){}\n",
            self.records.len(),
            self.failed,
            if self.skipped > 0 {
                format!(", {} already in the output (--force to redo)", self.skipped)
            } else {
                String::new()
            }
        ));
        out.push_str(&format!(
            "\n{} of crashes:\n",
            super::plural(self.groups.len(), "group")
        ));
        let mut g = Table::new(
            &[
                "Cores",
                "Signature (cause | largest | JS stack)",
                "Versions",
            ],
            &[0],
        );
        for grp in &self.groups {
            g.row(vec![
                grp.cores.len().to_string(),
                grp.signature.clone(),
                grp.versions.join(", "),
            ]);
        }
        out.push_str(&g.render());
    }
}
