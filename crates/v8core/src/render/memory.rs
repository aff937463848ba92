//! `memory` as text.

use super::{bytes, clean, plural, Render, Table};
use crate::memory::MemoryReport;

/// Each line two spaces in, as the sections' rows are.
fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

impl Render for MemoryReport {
    fn render(&self, out: &mut String) {
        let u = &self.usage;
        if let Some(d) = &self.dominant {
            out.push_str(&format!("{}\n\n", clean(d)));
        }
        out.push_str(&format!(
            "MEMORY    rss {} ({} of it estimated: clean pages of mapped files are not in a core)\n",
            bytes(u.rss),
            bytes(u.rss_estimated)
        ));
        out.push_str(&format!(
            "          heap_total {}  heap_used {}  external {} ({})  array_buffers {} ({})\n\n",
            bytes(u.heap_total),
            bytes(u.heap_used),
            bytes(u.external),
            u.external_source,
            bytes(u.array_buffers),
            u.array_buffers_source
        ));

        out.push_str("ADDRESS SPACE\n");
        let mut t = Table::new(
            &["region", "mappings", "mapped", "resident", "rss", ""],
            &[1, 2, 3, 4],
        );
        for r in &self.regions {
            t.row(vec![
                r.region.to_string(),
                r.mappings.to_string(),
                bytes(r.mapped),
                bytes(r.resident),
                pct(r.resident, u.rss),
                if r.estimated > 0 {
                    "(estimated)".into()
                } else {
                    String::new()
                },
            ]);
        }
        out.push_str(&indent(&t.render()));
        out.push('\n');

        out.push_str("V8 HEAP\n");
        let mut t = Table::new(
            &["space", "pages", "committed", "used", "free"],
            &[1, 2, 3, 4],
        );
        for s in &self.spaces {
            t.row(vec![
                s.space.clone(),
                s.pages.to_string(),
                bytes(s.committed),
                bytes(s.used),
                bytes(s.free),
            ]);
        }
        out.push_str(&indent(&t.render()));
        let l = &self.limits;
        match l.max_old_generation {
            Some(max) => out.push_str(&format!(
                "  old generation: {} in objects, {} committed, of a {} limit ({} used; --max-old-space-size={})\n\n",
                bytes(l.old_generation_used),
                bytes(l.old_generation_committed),
                bytes(max),
                pct(l.old_generation_committed, max),
                max >> 20
            )),
            None => out.push_str(&format!(
                "  old generation: {} in objects, {} committed (its limit could not be read)\n\n",
                bytes(l.old_generation_used),
                bytes(l.old_generation_committed)
            )),
        }

        let e = &self.external;
        out.push_str(&format!(
            "EXTERNAL  {}: {} ({} of it unreachable, not yet collected); {}: {}{}\n",
            plural(e.array_buffers as usize, "ArrayBuffer backing store"),
            bytes(e.array_buffer_bytes),
            bytes(e.unreachable_array_buffer_bytes),
            plural(e.external_strings as usize, "external string"),
            bytes(e.external_string_bytes),
            e.v8_counter
                .map(|c| format!("; V8's counter {}", bytes(c)))
                .unwrap_or_default()
        ));
        if e.unowned_array_buffer_bytes > 0 {
            out.push_str(&format!(
                "  node's allocator counts {} more: stores of dead ArrayBuffers a scavenge left behind, not yet freed by V8\n",
                bytes(e.unowned_array_buffer_bytes)
            ));
        }
        if !e.holders.is_empty() {
            out.push_str(&format!(
                "  {:>11} {:>7}  {:<20} {}\n",
                "bytes", "count", "owner", "held as"
            ));
            for g in &e.holders {
                out.push_str(&format!(
                    "  {:>11} {:>7}  {:<20} {}\n",
                    bytes(g.bytes),
                    g.count,
                    clean(&g.owner),
                    clean(&g.holder)
                ));
                if let Some(p) = &g.path {
                    out.push_str(&format!("  {:>11} {:>7}  path {}\n", "", "", clean(p)));
                }
            }
        }
        out.push('\n');

        let n = &self.native;
        out.push_str(&format!(
            "NATIVE    malloc: {} with {} in use and {} free; {} of {}\n",
            plural(n.heaps as usize, "heap"),
            bytes(n.heap_in_use),
            bytes(n.heap_free),
            plural(n.mmapped_chunks as usize, "mmapped chunk"),
            bytes(n.mmapped_bytes)
        ));
        out.push_str(&format!(
            "          {} of it ArrayBuffer stores and external strings; {} other native allocations ({} of them resident)\n",
            bytes(n.external_in_malloc),
            bytes(n.other_in_use),
            bytes(n.other_resident)
        ));
        if !self.gcs.is_empty() {
            out.push_str("\nLAST GCS (V8's trace, oldest first)\n");
            for g in &self.gcs {
                out.push_str(&format!("  {}\n", clean(g)));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("note: {}\n", clean(n)));
        }
    }
}
