//! `handles`: what the process was waiting on, as aligned tables.

use super::{clean, Render};
use crate::crash::handles::{HandleRow, Handles, RequestRow, TimerRow};

/// `listening active ref` and the like.
fn state(h: &HandleRow) -> String {
    let mut s = Vec::new();
    if h.listening {
        s.push("listening");
    }
    if h.closing {
        s.push("closing");
    }
    if h.active {
        s.push("active");
    }
    s.push(if h.referenced { "ref" } else { "unref" });
    s.join(" ")
}

/// `Server 0x... (TCP 0x...)`: the JavaScript owner, then the wrap's own object.
fn who(h: &HandleRow) -> String {
    let obj = match (&h.object_name, &h.object) {
        (Some(n), Some(a)) => format!("{n} {a}"),
        _ => format!(
            "{} {} (no JS object)",
            h.class.as_deref().unwrap_or("?"),
            h.wrap
        ),
    };
    match (&h.owner_name, &h.owner) {
        (Some(n), Some(a)) => format!("{n} {a} ({obj})"),
        _ => obj,
    }
}

/// One line per handle (used by `report` too).
pub fn handle_line(h: &HandleRow) -> String {
    let fd = h.fd.map(|f| format!("fd {f}")).unwrap_or_default();
    clean(&format!(
        "{:<9} {:<24} {:<6} {}{}",
        h.uv_type,
        state(h),
        fd,
        who(h),
        h.detail
            .as_deref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default()
    ))
}

/// One line per request.
pub fn request_line(q: &RequestRow) -> String {
    let what = match &q.operation {
        Some(op) => format!("{} {op}", q.uv_type),
        None => q.uv_type.clone(),
    };
    let obj = match (&q.object_name, &q.object) {
        (Some(n), Some(a)) => format!("{n} {a}"),
        _ => format!("{} {}", q.class.as_deref().unwrap_or("?"), q.wrap),
    };
    clean(&format!(
        "{:<16} {}{}{}{}",
        what,
        obj,
        q.target
            .as_deref()
            .map(|t| format!("  {t}"))
            .unwrap_or_default(),
        q.callback
            .as_deref()
            .map(|c| format!("  -> {c}"))
            .unwrap_or_default(),
        if q.dispatched {
            ""
        } else {
            "  (not dispatched)"
        }
    ))
}

/// One line per timer.
pub fn timer_line(t: &TimerRow) -> String {
    let ms = |v: Option<f64>| {
        v.map(|v| format!("{v} ms"))
            .unwrap_or_else(|| "? ms".into())
    };
    let kind = match t.repeat_ms {
        Some(r) => format!("interval {}", ms(Some(r))),
        None => format!("timeout {}", ms(t.delay_ms)),
    };
    clean(&format!(
        "{:<18} {:<5} {}{}  {}",
        kind,
        if t.referenced { "ref" } else { "unref" },
        t.callback.as_deref().unwrap_or("(no callback)"),
        if t.running {
            "  (running when the process died)"
        } else {
            ""
        },
        t.object
    ))
}

impl Render for Handles {
    fn render(&self, out: &mut String) {
        for e in &self.environments {
            out.push_str(&format!(
                "Environment {}: {} handle{}, {} request{}\n",
                e.environment,
                e.handles.len(),
                if e.handles.len() == 1 { "" } else { "s" },
                e.requests.len(),
                if e.requests.len() == 1 { "" } else { "s" }
            ));
            if !e.handles.is_empty() {
                out.push_str("HANDLES\n");
                for h in &e.handles {
                    out.push_str(&format!("  {}\n", handle_line(h)));
                }
            }
            if !e.requests.is_empty() {
                out.push_str("REQUESTS\n");
                for q in &e.requests {
                    out.push_str(&format!("  {}\n", request_line(q)));
                }
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "TIMERS ({}{})\n",
            self.timers.len(),
            match self.timers.iter().filter(|t| t.referenced).count() {
                n if n == self.timers.len() => String::new(),
                n => format!(", {n} keep the loop alive"),
            }
        ));
        for t in &self.timers {
            out.push_str(&format!("  {}\n", timer_line(t)));
        }
        for n in &self.notes {
            out.push_str(&format!("note: {}\n", clean(n)));
        }
    }
}
