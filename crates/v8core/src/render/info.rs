//! `info`: what the core is.

use super::{bytes, Render, Table};
use crate::heap::walk::WalkTotals;
use crate::info::Summary;
use crate::process::ExeMatch;

impl Render for Summary {
    fn render(&self, out: &mut String) {
        out.push_str(&summary_text(self));
        if let Some(pages) = &self.pages {
            out.push('\n');
            let mut t = Table::new(
                &[
                    "page",
                    "space",
                    "size",
                    "flags",
                    "area start",
                    "area end",
                    "allocated",
                ],
                &[2, 3, 6],
            );
            for pg in pages {
                t.row(vec![
                    pg.base.to_string(),
                    pg.space.clone(),
                    format!("{:#x}", pg.size),
                    format!("{:#x}", pg.flags),
                    pg.area_start.to_string(),
                    pg.area_end.to_string(),
                    pg.allocated_bytes.to_string(),
                ]);
            }
            out.push_str(&t.render());
        }
    }
}

fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let mut kv = Table::new(&["", ""], &[]);
    let c = &s.core;
    kv.row(vec![
        "core".into(),
        format!(
            "{} ({}, {} threads, {} segments)",
            c.path,
            bytes(c.size),
            c.threads.len(),
            c.segments
        ),
    ]);
    if let Some(t) = &c.truncated {
        kv.row(vec![
            "TRUNCATED".into(),
            format!("{t}: answers may be partial"),
        ]);
    }
    if let Some(pid) = c.pid {
        kv.row(vec![
            "process".into(),
            format!("pid {pid}: {}", c.command.as_deref().unwrap_or("?")),
        ]);
    }
    let crash = &s.crash;
    let signal = match (crash.signal, &crash.signal_name) {
        (Some(n), Some(name)) => {
            let mut t = format!("{name} ({n}) in thread {}", crash.thread.unwrap_or(0));
            if let Some(sender) = crash.sender_pid {
                if Some(sender) == c.pid {
                    t.push_str(", raised by the process itself (abort)");
                } else {
                    t.push_str(&format!(", sent by pid {sender}"));
                }
            }
            if let Some(a) = crash.fault_addr {
                t.push_str(&format!(", fault address {a}"));
            }
            t
        }
        _ => "none recorded (the core was not written by a fatal signal; made with gcore?)".into(),
    };
    kv.row(vec!["signal".into(), signal]);
    let e = &s.executable;
    let check = match e.status {
        ExeMatch::Verified => format!(
            "build ID {} matches the core",
            e.exe_build_id.as_deref().unwrap_or("")
        ),
        ExeMatch::MismatchForced => format!(
            "BUILD ID MISMATCH, forced: {}",
            e.note.as_deref().unwrap_or("")
        ),
        ExeMatch::Unverified => {
            format!("not verified: {}", e.note.as_deref().unwrap_or(""))
        }
    };
    kv.row(vec![
        "executable".into(),
        format!("{} ({check})", e.path.display()),
    ]);
    kv.row(vec![
        "node".into(),
        s.node_version
            .as_deref()
            .map(|v| format!("v{v}"))
            .unwrap_or_else(|| "unknown".into()),
    ]);
    kv.row(vec![
        "v8".into(),
        format!("{} (layout table {})", s.v8_version, s.layout_table),
    ]);
    let m = &s.metadata;
    kv.row(vec![
        "metadata".into(),
        format!(
            "{} v8dbg constants ({} class fields, {} instance types)",
            m.constants, m.class_fields, m.instance_types
        ),
    ]);
    // Values from the version table, one line per group (the part of `what` before the
    // first dot): field and frame fallbacks first, as they stand in for missing metadata.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut measured = 0;
    for r in &m.table_values {
        let mark = if matches!(r.source, crate::meta::layout::Source::Core) {
            measured += 1;
            "*"
        } else {
            ""
        };
        let (group, item) = match r.what.split_once('.') {
            Some((g, rest)) if !r.what.starts_with(char::is_uppercase) || g.len() < 3 => {
                (g.to_string(), format!("{rest}={}{mark}", r.value))
            }
            _ => (
                "fields".to_string(),
                format!("{}={}{mark}", r.what, r.value),
            ),
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, items)) => items.push(item),
            None => groups.push((group, vec![item])),
        }
    }
    kv.row(vec![
        "table".into(),
        if measured > 0 {
            format!(
                "{} values not from the binary's metadata; * {measured} measured in the core (this V8 has no verified table):",
                m.table_values.len()
            )
        } else {
            format!(
                "{} values from the version table, not from the binary's metadata:",
                m.table_values.len()
            )
        },
    ]);
    for (g, items) in &groups {
        let mut line = format!("{g:<9}");
        for it in items {
            if line.len() + it.len() + 1 > 100 {
                kv.row(vec![String::new(), line.clone()]);
                line = " ".repeat(9);
            }
            line.push(' ');
            line.push_str(it);
        }
        kv.row(vec![String::new(), line]);
    }
    for ck in &s.checks {
        kv.row(vec![
            "check".into(),
            format!(
                "{} {}: {}",
                if ck.ok { "ok  " } else { "FAIL" },
                ck.name,
                ck.detail
            ),
        ]);
    }
    let h = &s.heap;
    kv.row(vec![
        "heap".into(),
        format!(
            "{} pages, {} committed (Heap {})",
            h.pages,
            bytes(h.committed),
            h.heap
        ),
    ]);
    if h.other_heap_pages > 0 {
        kv.row(vec![
            "".into(),
            format!(
                "{} more pages belong to other isolates (workers)",
                h.other_heap_pages
            ),
        ]);
    }
    out.push_str(
        kv.render()
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .as_str(),
    );
    out.push('\n');
    let mut t = Table::new(
        &[
            "space",
            "pages",
            "committed",
            "objects",
            "object bytes",
            "free",
            "unparsed",
        ],
        &[1, 2, 3, 4, 5, 6],
    );
    let row = |label: &str, pages: u64, committed: u64, w: &WalkTotals| {
        vec![
            label.to_string(),
            pages.to_string(),
            bytes(committed),
            w.objects.to_string(),
            bytes(w.object_bytes),
            bytes(w.free_bytes),
            bytes(w.gap_bytes),
        ]
    };
    let mut total = WalkTotals::default();
    for (name, st) in &h.spaces {
        let w = h.walk.get(name).cloned().unwrap_or_default();
        t.row(row(name, st.pages, st.committed, &w));
        total.add(&w);
    }
    t.row(row("total", h.pages, h.committed, &total));
    let mut notes = String::new();
    if h.unlisted_pages > 0 {
        notes.push_str(&format!(
            "({} pooled pages with stale headers were left out)\n",
            h.unlisted_pages
        ));
    }
    if total.from_space_bytes > 0 {
        notes.push_str(&format!(
            "{} of new-space pages in the idle semispace (stale copies) were not walked\n",
            bytes(total.from_space_bytes)
        ));
    }
    let parsed = if total.area_bytes == 0 {
        100.0
    } else {
        100.0 * (total.area_bytes - total.gap_bytes) as f64 / total.area_bytes as f64
    };
    notes.push_str(&format!(
        "walked {parsed:.2}% of the object area; {} stretches ({}) could not be parsed as objects (unused allocation buffers in a live heap, or damage)\n",
        total.gaps,
        bytes(total.gap_bytes)
    ));
    out.push_str(&t.render());
    out.push('\n');
    out.push_str(&notes);
    out
}
