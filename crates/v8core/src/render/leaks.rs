//! `leaks`: the suspects, each in one sentence with what holds it, its children, what they
//! retain and the code behind it; then the duplicate strings.

use super::{bytes, clean, Render, Table};
use crate::leaks::Leaks;

impl Render for Leaks {
    fn render(&self, out: &mut String) {
        out.push_str(&format!("LEAK SUSPECTS: {}\n", self.verdict));
        for (k, s) in self.suspects.iter().enumerate() {
            out.push_str(&format!("\n{:>2}. {}\n", k + 1, clean(&s.sentence)));
            let mut t = Table::new(&["", "", ""], &[]);
            let mut row = |a: &str, b: String| t.row(vec!["   ".into(), a.into(), b]);
            if !s.holder.is_empty() {
                row("holder", format!("{} {}", s.holder_name, s.holder));
            }
            if !s.reached_as.is_empty() {
                row("reached as", s.reached_as.clone());
            }
            if let Some(p) = &s.path {
                row("path", p.clone());
            }
            let list = |v: &[crate::leaks::NameCount]| {
                v.iter()
                    .map(|n| format!("{} {} ({})", n.count, n.name, bytes(n.bytes)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !s.child_names.is_empty() {
                row(
                    "children",
                    format!("{}: {}", s.children, list(&s.child_names)),
                );
            }
            if !s.retains.is_empty() {
                row("retains", list(&s.retains));
            }
            if let Some(d) = &s.duplicate {
                row(
                    "duplicates",
                    format!(
                        "{} copies of {:?} ({} each, {} beyond the first)",
                        d.count,
                        d.text,
                        bytes(d.size),
                        bytes(d.wasted)
                    ),
                );
            }
            for c in &s.code {
                row(
                    "code",
                    format!(
                        "{} {}{}",
                        c.role,
                        c.function.text(),
                        if c.count > 1 {
                            format!(" x{}", c.count)
                        } else {
                            String::new()
                        }
                    ),
                );
            }
            out.push_str(&t.body());
        }
        if !self.duplicate_strings.is_empty() {
            out.push_str(&format!(
                "\nDUPLICATE STRINGS: {} in copies beyond the first\n",
                bytes(self.duplicate_string_bytes)
            ));
            let mut t = Table::new(&["Wasted", "Copies", "Size", "Text"], &[0, 1, 2]);
            for d in &self.duplicate_strings {
                t.row(vec![
                    bytes(d.wasted),
                    d.count.to_string(),
                    bytes(d.size),
                    format!("{:?}", d.text),
                ]);
            }
            out.push_str(&t.render());
        }
    }
}
