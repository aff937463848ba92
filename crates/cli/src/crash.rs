//! `bt`, `nodeinfo`: the crash context.

use crate::fmt::{bytes, Table};
use crate::{load, CoreArgs};
use v8core::crash::stack::{Backtrace, Frame, FrameKind, StackWalker};

type Res = Result<(), Box<dyn std::error::Error>>;

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

fn print_bt(bt: &Backtrace, title: &str, summaries: Option<&v8core::Heap>) {
    println!("{title}");
    let mut t = Table::new(&["#", "PC", "Kind", "Frame"], &[0]);
    for (k, f) in bt.frames.iter().enumerate() {
        let (kind, what) = describe_frame(f);
        t.row(vec![k.to_string(), format!("{:#x}", f.pc), kind, what]);
        if let (Some(h), Some(js)) = (summaries, &f.js) {
            if let Some(this) = js.this {
                t.row(vec![
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("  this = {}", v8core::inspect::summary(h, this)),
                ]);
            }
            for (i, a) in js.args.iter().flatten().enumerate() {
                t.row(vec![
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("  arg{i} = {}", v8core::inspect::summary(h, *a)),
                ]);
            }
        }
    }
    print!("{}", t.render());
    for n in &bt.notes {
        println!("note: {n}");
    }
}

/// `bt`.
pub fn bt(args: &CoreArgs, all_threads: bool, json: bool, with_args: bool) -> Res {
    // Arguments are summarized through the heap; the stack itself needs only the process.
    let heap = if with_args {
        Some(load::heap(args)?)
    } else {
        None
    };
    let opened;
    let p = match &heap {
        Some(h) => &h.p,
        None => {
            opened = args.open()?;
            &opened
        }
    };
    let mut w = StackWalker::new(p);
    w.with_args = with_args;
    let threads = p.core().threads().len();
    let which: Vec<usize> = if all_threads {
        (0..threads).collect()
    } else {
        vec![0]
    };
    let bts: Vec<Backtrace> = which.iter().filter_map(|&t| w.backtrace(t)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&bts)?);
        return Ok(());
    }
    let signal = p.core().signal();
    for bt in &bts {
        let title = if bt.thread == 0 {
            match signal {
                Some(s) => format!(
                    "Thread 1 (tid {}), received {} ({s}):",
                    bt.tid,
                    elfcore::core::signal_name(s)
                ),
                None => format!("Thread 1 (tid {}):", bt.tid),
            }
        } else {
            format!("\nThread {} (tid {}):", bt.thread + 1, bt.tid)
        };
        print_bt(bt, &title, heap.as_ref());
    }
    Ok(())
}

/// A table rendered without its (empty) header line.
fn body(t: &Table) -> String {
    let r = t.render();
    r.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(r)
}

/// `nodeinfo`.
pub fn nodeinfo(args: &CoreArgs, json: bool, show_secrets: bool) -> Res {
    let heap = load::heap(args)?;
    let info = v8core::crash::nodeinfo::node_info(&heap, show_secrets);
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
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
    print!("{}", body(&t));
    println!("\nprocess.versions:");
    let mut v = Table::new(&["", ""], &[]);
    for (k, val) in &info.versions {
        v.row(vec![format!("  {k}"), val.clone()]);
    }
    print!("{}", body(&v));
    println!(
        "\nenvironment at start ({} variables{}):",
        info.env.len(),
        if info.masked.is_empty() || show_secrets {
            String::new()
        } else {
            format!(
                "; {} secret-looking value{} masked, --show-secrets to see {}",
                info.masked.len(),
                if info.masked.len() == 1 { "" } else { "s" },
                if info.masked.len() == 1 { "it" } else { "them" }
            )
        }
    );
    let mut e = Table::new(&["", ""], &[]);
    let mut env = info.env.clone();
    env.sort();
    for (k, val) in &env {
        e.row(vec![format!("  {k}"), val.clone()]);
    }
    print!("{}", body(&e));
    for n in &info.notes {
        println!("note: {n}");
    }
    Ok(())
}

/// `report`.
pub fn report(args: &CoreArgs, json: bool) -> Res {
    let heap = load::heap(args)?;
    let g = load::graph(&heap);
    let r = v8core::crash::report::report(&heap, &g, 10, 3);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    let c = &r.cause;
    println!("CRASH     {}", c.summary);
    if let Some(s) = c.signal {
        println!("          signal {} ({s})", elfcore::core::signal_name(s));
    }
    let old: u64 = r
        .spaces
        .iter()
        .filter(|s| s.space != "new_space" && s.space != "read_only_space")
        .map(|s| s.objects)
        .sum();
    match c.heap_limit_mib {
        Some(l) => println!(
            "          heap limit --max-old-space-size={l} MiB; old generation objects {}",
            bytes(old)
        ),
        None => println!(
            "          no --max-old-space-size given (V8's default limit); old generation \
             objects {}",
            bytes(old)
        ),
    }
    let n = &r.node;
    println!(
        "PROCESS   node {} pid {} {}",
        n.version.as_deref().unwrap_or("?"),
        n.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
        serde_json::to_string(&n.command_line).unwrap_or_default()
    );
    println!("\nHEAP      space                  area       objects");
    for s in &r.spaces {
        println!(
            "          {:<20} {:>10} {:>12}",
            s.space,
            bytes(s.area),
            bytes(s.objects)
        );
    }
    let ranked = |rows: &[v8core::crash::report::TopName]| {
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
    };
    println!("\nLARGEST CONSTRUCTORS (total self size)");
    print!("{}", ranked(&r.top_by_size));
    println!("\nMOST INSTANCES");
    print!("{}", ranked(&r.top_by_count[..r.top_by_count.len().min(5)]));
    println!("\nWHAT HOLDS THEM (one instance each; `v8dump retainers CORE ADDR` for more)");
    for h in &r.holders {
        println!(
            "  {} {:#x}\n    {}",
            h.name,
            h.instance,
            h.chain.as_deref().unwrap_or("(no retainer path found)")
        );
    }
    if let Some(bt) = &r.stack {
        println!("\nJS STACK (crashing thread; `v8dump bt CORE` for every frame)");
        let mut t = Table::new(&["", "Kind", "Frame"], &[]);
        for f in bt.frames.iter().filter(|f| f.js.is_some()) {
            let (kind, what) = describe_frame(f);
            t.row(vec!["  ".into(), kind, what]);
        }
        print!("{}", body(&t));
    }
    Ok(())
}
