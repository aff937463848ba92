//! `inspect`: render one value.

use crate::{load, CoreArgs};
use v8core::inspect::{one_line, Entry, Inspector, Limits, Value};

type Res = Result<(), Box<dyn std::error::Error>>;

/// Parse `0x...` (tagged or untagged) or decimal.
pub fn parse_addr(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        t.parse()
    };
    v.map_err(|_| format!("{s:?} is not an address (use 0x... as findjsinstances prints it)"))
}

/// `inspect ADDR`.
pub fn run(args: &CoreArgs, addr: &str, json: bool, limits: Limits) -> Res {
    let a = parse_addr(addr)?;
    let heap = load::heap(args)?;
    // Accept untagged addresses of object starts too.
    let w = heap.index.as_value(a);
    let v = Inspector::new(&heap, limits).value(w);
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        let mut out = String::new();
        render(&v, 0, &mut out);
        println!("{out}");
    }
    Ok(())
}

fn head(v: &Value) -> String {
    let mut s = String::new();
    if let Some(a) = &v.address {
        if !matches!(v.kind, "number" | "boolean" | "undefined" | "null" | "hole") {
            s.push_str(a);
            s.push(' ');
        }
    }
    s.push_str(&one_line(v));
    for (k, d) in &v.details {
        if k == "stack" {
            continue;
        }
        if matches!(v.kind, "string") {
            continue;
        }
        s.push_str(&format!(" {k}={d}"));
    }
    for n in &v.notes {
        s.push_str(&format!(" [{n}]"));
    }
    s
}

fn render(v: &Value, indent: usize, out: &mut String) {
    out.push_str(&head(v));
    if v.entries.is_empty() {
        if v.truncated && !matches!(v.kind, "string") {
            out.push_str(" {...}");
        }
        return;
    }
    out.push_str(" {\n");
    let pad = "  ".repeat(indent + 1);
    let mut last = "";
    for e in &v.entries {
        if e.section != last && matches!(e.section, "context" | "internal") {
            out.push_str(&format!("{pad}// {}\n", section_title(e)));
        }
        last = e.section;
        out.push_str(&pad);
        if let Some(k) = &e.key_value {
            let mut ks = String::new();
            render(k, indent + 1, &mut ks);
            out.push_str(&format!("{ks} => "));
        } else if e.section != "entry" {
            out.push_str(&format!("{}: ", e.key));
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
            out.push_str(&format!("{pad}// {l}\n"));
        }
    }
    out.push_str(&"  ".repeat(indent));
    out.push('}');
}

fn section_title(e: &Entry) -> &'static str {
    match e.section {
        "context" => "closure variables",
        _ => "internal",
    }
}
