//! Redaction: answers that can leave the company where the heap may not. The text of the
//! program's strings is replaced by its length and a hash of its first 1024 characters (so
//! copies of one string stay visibly the same), and the environment and the command line's
//! arguments are masked. Names of the program's code (constructors, functions, properties,
//! scripts) are kept: they are what the answer is about.

use crate::crash::handles::Handles;
use crate::crash::nodeinfo::NodeInfo;
use crate::crash::report::Report;
use crate::crash::stack::Backtrace;
use crate::heapsnap::SnapshotReport;
use crate::leaks::Leaks;

/// What a string of `length` characters whose text is `text` is shown as once redacted:
/// `<redacted: 12 characters, #1f2e3d4c>`.
pub fn string(text: &str, length: u64) -> String {
    let head: String = text.chars().take(1024).collect();
    let mut h = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(&head, &mut h);
    std::hash::Hash::hash(&length, &mut h);
    format!(
        "<redacted: {length} characters, #{:08x}>",
        std::hash::Hasher::finish(&h) as u32
    )
}

/// A whole value redacted (an environment value, an argument, a peer address).
pub fn whole(text: &str) -> String {
    string(text, text.encode_utf16().count() as u64)
}

/// `text` with every double-quoted or single-quoted part (a string value or key as answers
/// quote them) redacted, the quotes kept.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let Some(open) = rest.find(['"', '\'']) else {
            out.push_str(rest);
            return out;
        };
        let q = rest[open..].chars().next().unwrap_or('"');
        let body = &rest[open + 1..];
        // The closing quote, skipping escaped ones.
        let mut close = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                c if c == q && !escaped => {
                    close = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(close) = close else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..=open]);
        out.push_str(&whole(&body[..close]));
        out.push(q);
        rest = &body[close + 1..];
    }
}

/// Answers that can be redacted.
pub trait Redact {
    /// Replace what the program's data is by lengths and hashes, in place.
    fn redact(&mut self);
}

impl Redact for NodeInfo {
    fn redact(&mut self) {
        for (name, value) in &mut self.env {
            *value = whole(value);
            if !self.masked.contains(name) {
                self.masked.push(name.clone());
            }
        }
        // argv[0] and argv[1] are node and the script; what follows is the program's input.
        for a in self.argv.iter_mut().skip(2) {
            *a = whole(a);
        }
        for a in self.command_line.iter_mut().skip(2) {
            *a = whole(a);
        }
    }
}

impl Redact for Leaks {
    fn redact(&mut self) {
        // (The hash covers the 80 characters an answer keeps of a duplicate.)
        for d in &mut self.duplicate_strings {
            d.text = string(&d.text, d.length);
        }
        for s in &mut self.suspects {
            if let Some(d) = &mut s.duplicate {
                d.text = string(&d.text, d.length);
            }
            s.sentence = quoted(&s.sentence);
            s.reached_as = quoted(&s.reached_as);
            s.path = s.path.as_deref().map(quoted);
        }
    }
}

impl Redact for Backtrace {
    fn redact(&mut self) {
        for f in &mut self.frames {
            let Some(js) = f.js.as_mut() else { continue };
            for a in js.args.iter_mut().flatten() {
                a.summary = a.summary.as_deref().map(quoted);
            }
        }
    }
}

impl Redact for Handles {
    fn redact(&mut self) {
        for e in &mut self.environments {
            for h in &mut e.handles {
                h.detail = h.detail.as_deref().map(whole);
            }
            for r in &mut e.requests {
                r.target = r.target.as_deref().map(whole);
            }
        }
    }
}

impl Redact for Report {
    fn redact(&mut self) {
        self.redacted = true;
        self.node.redact();
        for h in &mut self.holders {
            h.chain = h.chain.as_deref().map(quoted);
        }
        if let Some(s) = &mut self.stack {
            s.redact();
        }
        if let Some(l) = &mut self.leaks {
            l.redact();
        }
        if let Some(p) = &mut self.pending {
            p.redact();
        }
    }
}

impl Redact for SnapshotReport {
    fn redact(&mut self) {
        self.redacted = true;
        self.leaks.redact();
        for r in &mut self.top_retainers {
            r.summary = quoted(&r.summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_parts_are_redacted_and_the_rest_kept() {
        let r = quoted(r#"realtimeService._events['data-update'] holds "a \"b\"" and more"#);
        assert!(
            r.starts_with("realtimeService._events['<redacted: 11 characters, #"),
            "{r}"
        );
        assert!(r.contains("\"<redacted: 7 characters, #"), "{r}");
        assert!(r.ends_with("\" and more"), "{r}");
        assert!(!r.contains("data-update"), "{r}");
        assert_eq!(quoted("no quotes"), "no quotes");
        assert_eq!(quoted("an 'open quote"), "an 'open quote");
        assert_eq!(whole("abc"), string("abc", 3));
        assert_ne!(whole("abc"), whole("abd"));
    }
}
