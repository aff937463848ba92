//! Text of the answers only a heap snapshot gives (`info`, `report`); the others share the
//! renderers of a core's answers.

use super::{bytes, clean, Render, Table};
use crate::heapsnap::{SnapshotReport, SnapshotSummary};

impl Render for SnapshotSummary {
    fn render(&self, out: &mut String) {
        out.push_str(&format!("Heap snapshot {}\n", clean(&self.path)));
        out.push_str(&format!(
            "  {} nodes, {} edges, {} strings; {} in objects; file {}\n\n",
            self.nodes,
            self.edges,
            self.strings,
            bytes(self.self_bytes),
            bytes(self.file_bytes)
        ));
        let mut t = Table::new(&["Nodes", "Self Size", "Node Type"], &[0, 1]);
        for r in &self.types {
            t.row(vec![r.count.to_string(), bytes(r.size), r.name.clone()]);
        }
        out.push_str(&t.render());
    }
}

impl Render for SnapshotReport {
    fn render(&self, out: &mut String) {
        if self.redacted {
            out.push_str(super::crash::REDACTED_LINE);
        }
        out.push_str(&format!(
            "HEAP SNAPSHOT REPORT: {}\n  {} nodes, {} in objects\n  No crash section: {}.\n\n",
            clean(&self.summary.path),
            self.summary.nodes,
            bytes(self.summary.self_bytes),
            self.no_crash
        ));
        self.leaks.render(out);
        for (title, rows) in [
            ("LARGEST CONSTRUCTORS (self size)", &self.top_by_size),
            ("MOST NUMEROUS CONSTRUCTORS", &self.top_by_count),
        ] {
            out.push_str(&format!("\n{title}\n"));
            let mut t = Table::new(&["Instances", "Total Size", "Name"], &[0, 1]);
            for r in rows.iter() {
                t.row(vec![r.count.to_string(), bytes(r.size), r.name.clone()]);
            }
            out.push_str(&t.render());
        }
        out.push_str("\nLARGEST RETAINERS\n");
        let mut t = Table::new(&["Retained", "Self", "Node", "Name"], &[0, 1]);
        for r in &self.top_retainers {
            t.row(vec![
                bytes(r.retained),
                bytes(r.self_size as u64),
                r.address.clone(),
                r.name.clone(),
            ]);
        }
        out.push_str(&t.render());
    }
}
