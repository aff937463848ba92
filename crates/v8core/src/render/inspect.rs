//! `inspect`: a value as a tree, the way a JavaScript developer reads it.

use super::{clean, Render};
use crate::answer::{FunctionSource, Inspection};
use crate::inspect::{one_line, Entry, Section, Value, ValueKind};

impl Render for Inspection {
    fn render(&self, out: &mut String) {
        out.push_str(&value_text(&self.value));
        out.push('\n');
    }
}

impl Render for FunctionSource {
    fn render(&self, out: &mut String) {
        let script = self.script.as_deref().unwrap_or("(no script name)");
        out.push_str(&format!(
            "{} {} {}:{}:{}\n",
            self.function,
            clean(&self.name),
            clean(script),
            self.start.line,
            self.start.column
        ));
        let width = self.lines.last().map_or(1, |l| l.line.to_string().len());
        for l in &self.lines {
            let mark = if Some(l.line) == self.current_line {
                '>'
            } else {
                ' '
            };
            out.push_str(&format!(
                "{:>width$} {mark} {}\n",
                l.line,
                clean(&l.text.replace('\t', "    ")).trim_end()
            ));
        }
    }
}

/// A value as an indented tree (no trailing newline).
pub fn value_text(v: &Value) -> String {
    let mut out = String::new();
    render(v, 0, &mut out);
    out
}

fn head(v: &Value) -> String {
    let mut s = String::new();
    if let Some(a) = &v.address {
        if !matches!(
            v.kind,
            ValueKind::Number
                | ValueKind::Boolean
                | ValueKind::Undefined
                | ValueKind::Null
                | ValueKind::Hole
        ) {
            s.push_str(a);
            s.push(' ');
        }
    }
    s.push_str(&clean(&one_line(v)));
    for (k, d) in &v.details {
        if k == "stack" {
            continue;
        }
        if v.kind == ValueKind::String {
            continue;
        }
        s.push_str(&format!(" {k}={}", clean(d)));
    }
    for n in &v.notes {
        s.push_str(&format!(" [{}]", clean(n)));
    }
    s
}

fn render(v: &Value, indent: usize, out: &mut String) {
    out.push_str(&head(v));
    if v.entries.is_empty() {
        if v.truncated && v.kind != ValueKind::String {
            out.push_str(" {...}");
        }
        return;
    }
    out.push_str(" {\n");
    let pad = "  ".repeat(indent + 1);
    let mut last = None;
    for e in &v.entries {
        if Some(e.section) != last && matches!(e.section, Section::Context | Section::Internal) {
            out.push_str(&format!("{pad}// {}\n", section_title(e)));
        }
        last = Some(e.section);
        out.push_str(&pad);
        if let Some(k) = &e.key_value {
            let mut ks = String::new();
            render(k, indent + 1, &mut ks);
            out.push_str(&format!("{ks} => "));
        } else if e.section != Section::Entry {
            out.push_str(&format!("{}: ", clean(&e.key)));
        }
        if e.accessor {
            out.push_str("[accessor] ");
        }
        render(&e.value, indent + 1, out);
        out.push_str(",\n");
    }
    if v.truncated {
        out.push_str(&format!("{pad}...\n"));
    }
    if let Some((_, st)) = v.details.iter().find(|(k, _)| k == "stack") {
        for l in st.lines() {
            out.push_str(&format!("{pad}// {}\n", clean(l)));
        }
    }
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

fn section_title(e: &Entry) -> &'static str {
    match e.section {
        Section::Context => "closure variables",
        _ => "internal",
    }
}
