//! Text of the flame-graph answers.

use super::{bytes, Render};
use crate::flame::{FlameWritten, Frame, RetainedTree};

impl Render for FlameWritten {
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{}: {} of {} frames ({:?}, {}), {} retained\n",
            self.path,
            self.frames_shown,
            self.frames,
            self.format,
            bytes(self.file_bytes),
            bytes(self.total_bytes)
        ));
        out.push_str("widest tower:\n");
        for (i, (name, b)) in self.widest.iter().enumerate() {
            out.push_str(&format!(
                "{:>10}  {}{}\n",
                bytes(*b),
                "  ".repeat(i.min(40)),
                name
            ));
        }
    }
}

impl Render for RetainedTree {
    /// The frames down to 3% of the total, indented.
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{} retained in {} objects ({} outside the heap); {} frames, {} shown\n",
            bytes(self.total_bytes),
            self.objects,
            bytes(self.external_bytes),
            self.frames,
            self.frames_shown
        ));
        let min = self.total_bytes / 33;
        fn walk(f: &Frame, depth: usize, min: u64, out: &mut String) {
            out.push_str(&format!(
                "{:>10}  {:>9}  {}{}\n",
                bytes(f.bytes),
                f.objects,
                "  ".repeat(depth.min(40)),
                f.name
            ));
            for c in f.children.iter().filter(|c| c.bytes >= min.max(1)) {
                walk(c, depth + 1, min, out);
            }
        }
        walk(&self.root, 0, min, out);
    }
}
