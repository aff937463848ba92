//! `findrefs` (address, `-n`, `-s`) and `retainers`.

use super::{clean, plural, Render, Table};
use crate::answer::{PropertyHolders, Ref, Refs, Retainers, StringRefs};
use crate::graph::edges::EdgeKind;

/// How an edge kind reads in a table.
pub fn kind_word(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Property => "property",
        EdgeKind::Element => "element",
        EdgeKind::Context => "context",
        EdgeKind::Internal => "internal",
        EdgeKind::Weak => "weak",
    }
}

fn more(out: &mut String, total: usize, shown: usize) {
    if shown < total {
        out.push_str(&format!("\n{shown} of {total} shown; more with --limit\n"));
    }
}

fn ref_cells(r: &Ref) -> Vec<String> {
    vec![
        r.holder.clone(),
        r.holder_name.clone(),
        r.edge.clone(),
        kind_word(r.kind).to_string(),
    ]
}

impl Render for Refs {
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{} {} is referenced {}:\n",
            clean(&self.target_name),
            self.target,
            if self.total == 1 {
                "once".to_string()
            } else {
                format!("{} times", self.total)
            }
        ));
        let mut t = Table::new(&["Holder", "Name", "Edge", "Kind"], &[]);
        for r in &self.refs {
            t.row(ref_cells(r));
        }
        out.push_str(&t.render());
        more(out, self.total, self.refs.len());
    }
}

impl Render for PropertyHolders {
    fn render(&self, out: &mut String) {
        let name = clean(&self.property);
        out.push_str(&format!(
            "{} {} a property .{name}:\n",
            plural(self.total, "object"),
            if self.total == 1 { "has" } else { "have" }
        ));
        let col = format!(".{name}");
        let mut t = Table::new(&["Object", "Name", &col], &[]);
        for h in &self.objects {
            t.row(vec![
                h.holder.clone(),
                h.holder_name.clone(),
                h.value.clone(),
            ]);
        }
        out.push_str(&t.render());
        more(out, self.total, self.objects.len());
    }
}

impl Render for StringRefs {
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{} equal to {:?}, referenced {}:\n",
            plural(self.strings.len(), "string"),
            self.text,
            if self.total == 1 {
                "once".to_string()
            } else {
                format!("{} times", self.total)
            }
        ));
        let mut t = Table::new(&["String", "Holder", "Name", "Edge", "Kind"], &[]);
        for s in &self.refs {
            let mut cells = vec![s.string.clone()];
            cells.extend(ref_cells(&s.r));
            t.row(cells);
        }
        out.push_str(&t.render());
        more(out, self.total, self.refs.len());
    }
}

impl Render for Retainers {
    fn render(&self, out: &mut String) {
        if self.paths.is_empty() {
            out.push_str(&format!(
                "No retainer path within {} steps (try --depth); direct holders: `v8dump findrefs`.\n",
                self.depth
            ));
            return;
        }
        for (k, p) in self.paths.iter().enumerate() {
            out.push_str(&format!(
                "Path {} of {} ({}, ends at {}):\n",
                k + 1,
                self.paths.len(),
                plural(p.steps.len(), "step"),
                p.root_words
            ));
            let mut t = Table::new(&["", "Edge", "Kind", "Holder", "Address"], &[]);
            t.row(vec![
                String::new(),
                String::new(),
                String::new(),
                self.target_name.clone(),
                self.target.clone(),
            ]);
            for s in &p.steps {
                t.row(vec![
                    "<-".into(),
                    s.edge.clone(),
                    kind_word(s.kind).into(),
                    s.holder_name.clone(),
                    s.holder.clone(),
                ]);
            }
            out.push_str(&t.render());
            out.push_str(&format!("  {} ({})\n\n", clean(&p.chain), p.root_words));
        }
    }
}
