//! `findjsobjects`, `findjsinstances`, `top`, `diff`, `heapsnapshot`.

use super::{bytes, clean, plural, signed, signed_bytes, Render, Table};
use crate::answer::{CountScope, Diff, Instances, Objects, SnapshotWritten, Top};

impl Render for Objects {
    fn render(&self, out: &mut String) {
        let all = self.scope == CountScope::All;
        let mut header = vec!["Instances", "Total Size"];
        if self.retained {
            header.push("Retained Size");
        }
        if all {
            header.push("Unreachable");
        }
        let right: Vec<usize> = (0..header.len()).collect();
        header.push("Name");
        let mut t = Table::new(&header, &right);
        for r in &self.rows {
            let mut name = r.name.clone();
            if let Some(props) = &r.properties {
                name = format!("{name}: {}", props.join(", "));
            }
            let mut cells = vec![r.count.to_string(), bytes(r.size)];
            if self.retained {
                cells.push(r.retained.map(bytes).unwrap_or_else(|| "-".into()));
            }
            if let Some(u) = r.unreachable {
                cells.push(u.to_string());
            }
            cells.push(name);
            t.row(cells);
        }
        out.push_str(&t.render());
        let h = &self.heap;
        out.push_str(&format!(
            "\n{} objects, {} in {} names ({}; {} of {} heap objects reachable from {} roots)\n",
            self.total.objects,
            bytes(self.total.bytes),
            self.total.names,
            if all {
                "dead objects included"
            } else {
                "reachable only"
            },
            h.reachable,
            h.objects,
            h.roots
        ));
    }
}

impl Render for Instances {
    fn render(&self, out: &mut String) {
        let mut t = Table::new(&["Address", "Size", "Object"], &[1]);
        for it in &self.instances {
            t.row(vec![
                it.address.clone(),
                it.size.to_string(),
                it.summary.clone(),
            ]);
        }
        out.push_str(&t.render());
        let shown = self.instances.len();
        let (first, last) = (self.skip + 1, self.skip + shown);
        if shown == 0 {
            out.push_str(&format!(
                "\nnone shown: {} has {} (--skip {} is past the end)\n",
                self.name,
                plural(self.total, "instance"),
                self.skip
            ));
        } else if self.skip > 0 || last < self.total {
            let more = if last < self.total {
                format!("; more with --skip {last}")
            } else {
                String::new()
            };
            out.push_str(&format!(
                "\n{first}-{last} of {} {} instances{more}\n",
                self.total, self.name
            ));
        } else {
            out.push_str(&format!("\n{}\n", plural(self.total, "instance")));
        }
    }
}

impl Render for Top {
    fn render(&self, out: &mut String) {
        let mut t = Table::new(&["Retained", "Self", "Address", "Object"], &[0, 1]);
        for r in &self.rows {
            // DevTools' name, then what the one-line summary adds to it (`length=2000`, a
            // string's text).
            let detail = match r.summary.strip_prefix('<') {
                Some(rest) => rest.split_once('>').map_or("", |x| x.1).trim().to_string(),
                None => r.summary.clone(),
            };
            let object = if detail.is_empty() {
                r.name.clone()
            } else {
                format!("{} {detail}", r.name)
            };
            t.row(vec![
                bytes(r.retained),
                bytes(r.self_size as u64),
                r.address.clone(),
                clean(&object),
            ]);
        }
        out.push_str(&t.render());
        out.push_str(&format!(
            "\n{} of {} reachable objects are reached from the roots through strong references\n",
            self.reached, self.reachable
        ));
    }
}

impl Render for Diff {
    fn render(&self, out: &mut String) {
        if self.different_executables {
            out.push_str(
                "warning: the two cores come from different executables; constructor names \
                 may not correspond\n\n",
            );
        }
        let mut t = Table::new(
            &[
                "Size Δ", "Count Δ", "Count A", "Count B", "Size A", "Size B", "Name",
            ],
            &[0, 1, 2, 3, 4, 5],
        );
        for r in &self.rows {
            t.row(vec![
                signed_bytes(r.size_delta),
                signed(r.count_delta),
                r.count_a.to_string(),
                r.count_b.to_string(),
                bytes(r.size_a),
                bytes(r.size_b),
                r.name.clone(),
            ]);
        }
        out.push_str(&t.render());
        out.push_str(&format!(
            "\n{} changed: {} objects, {} (A: {}, B: {}; reachable objects)\n",
            plural(self.changed, "constructor"),
            signed(self.count_delta),
            signed_bytes(self.size_delta),
            self.a,
            self.b
        ));
        if let Some(m) = &self.memory {
            out.push_str(&format!(
                "memory (reachable heap and external): A {}, B {}, {}\n",
                bytes(m.heap_a + m.external_a),
                bytes(m.heap_b + m.external_b),
                signed_bytes(m.total_delta)
            ));
        }
        if let Some(hs) = &self.holders {
            out.push_str("\nBY HOLDER (matched by how the program names them)\n");
            let mut t = Table::new(
                &[
                    "Retained Δ",
                    "Children Δ",
                    "Retained A",
                    "Retained B",
                    "Holder",
                ],
                &[0, 1, 2, 3],
            );
            for h in hs {
                t.row(vec![
                    signed_bytes(h.retained_delta),
                    format!("{} {}", signed(h.children_delta), h.kind.children_word()),
                    bytes(h.retained_a),
                    bytes(h.retained_b),
                    clean(&format!("{} `{}`", h.holder_name, h.holder)),
                ]);
            }
            out.push_str(&t.render());
        }
        if let Some(g) = &self.gate {
            out.push_str(&format!(
                "\nLIMITS    {}\n",
                if g.exceeded { "EXCEEDED" } else { "ok" }
            ));
            for c in &g.checks {
                out.push_str(&format!(
                    "          {} {}: grew {}, limit {}\n",
                    if c.exceeded { "FAIL" } else { "ok  " },
                    clean(&c.what),
                    signed_bytes(c.growth),
                    bytes(c.max)
                ));
            }
            if let Some(c) = &g.culprit {
                out.push_str(&format!("          grew most: {}\n", clean(c)));
            }
        }
    }
}

impl Render for SnapshotWritten {
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{}: {} nodes, {} edges, {} strings{}\n",
            self.path,
            self.nodes,
            self.edges,
            self.strings,
            if self.redacted {
                " (string contents redacted: lengths and hashes kept)"
            } else {
                ""
            }
        ));
    }
}
