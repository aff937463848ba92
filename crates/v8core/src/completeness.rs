//! How complete the heap an answer rests on is: pages a space's list names that the core does
//! not hold, stretches of walked pages that could not be read or parsed, and a heap in which
//! no object could be parsed at all. [`Session::partial`](crate::session::Session::partial)
//! turns these into the [`Caveat`]s every answer carries.

use crate::answer::{Caveat, CaveatKind};
use crate::heap::loaded::Heap;
use crate::heap::walk::GapKind;
use crate::process::Process;
use crate::render::bytes;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// What is missing or unparsed in one space.
#[derive(Debug, Default, Clone)]
struct SpaceLoss {
    /// Pages its list names that the core does not hold.
    missing_pages: u64,
    /// More pages may be missing (the list runs into missing memory).
    at_least: bool,
    /// Bytes of found pages that are not in the core.
    unreadable: u64,
    /// Bytes of found pages that are not objects (damage, or a layout that does not fit).
    unparsed: u64,
    /// Object area of the found pages.
    area: u64,
}

fn is_large(space: &str) -> bool {
    space.contains("large_object") || space.contains("lo_space")
}

/// The caveats of the heap: most serious first.
pub fn heap_caveats(p: &Process, heap: Option<&Heap>) -> Vec<Caveat> {
    let mut out = Vec::new();
    let page_bytes = 1u64 << p.table.page.page_size_log2;
    let mut loss: BTreeMap<String, SpaceLoss> = BTreeMap::new();
    for m in &p.pages.missing {
        let l = loss.entry(m.space.clone()).or_default();
        l.missing_pages += m.pages;
        l.at_least |= m.at_least;
    }
    for (space, t) in p.pages.per_space() {
        loss.entry(space).or_default().area += t.area;
    }
    let mut strays = (0u64, 0u64, None);
    let mut cut_objects = None;
    if let Some(h) = heap {
        let s = &h.marking.strays;
        let n = s.unread_objects.load(Ordering::Relaxed);
        if n > 0 {
            let first = s.unread_example.lock().ok().and_then(|e| *e);
            cut_objects = Some((n, s.unread_words.load(Ordering::Relaxed) * 8, first));
        }
        let ix = &h.index;
        let hit = h
            .marking
            .strays
            .gaps
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default();
        strays = (
            h.marking.strays.into_unparsed.load(Ordering::Relaxed),
            h.marking.strays.elsewhere.load(Ordering::Relaxed),
            h.marking.strays.example.lock().ok().and_then(|e| *e),
        );
        for (gi, g) in ix.gaps.iter().enumerate() {
            let Some(page) = p.pages.page_of(g.start) else {
                continue;
            };
            let l = loss.entry(page.space.clone()).or_default();
            match g.why {
                GapKind::Zero => {}
                GapKind::Unreadable { .. } => l.unreadable += g.len,
                // Stale bytes nothing live points into are unused memory (a consistent heap
                // has such stretches); one a live object points into held an object.
                GapKind::NotAnObject { .. } if hit.contains(&gi) => l.unparsed += g.len,
                GapKind::NotAnObject { .. } => {}
            }
        }
        let pages = p.pages.pages.len();
        if ix.is_empty() && pages > 0 {
            out.push(Caveat {
                kind: CaveatKind::NoObjects,
                message: format!(
                    "no object could be parsed in the heap's {pages} pages: every count and \
                     list is empty because the heap could not be read, not because it is empty"
                ),
            });
        }
    }
    let mut missing: Vec<String> = loss
        .iter()
        .filter(|(_, l)| l.missing_pages > 0 || l.unreadable > 0)
        .map(|(space, l)| {
            let pages = format!(
                "{}{} page{}",
                if l.at_least { "at least " } else { "" },
                l.missing_pages,
                if l.missing_pages == 1 { "" } else { "s" }
            );
            if l.area == 0 {
                return format!("{space}: all of it ({pages})");
            }
            if is_large(space) && l.unreadable == 0 {
                return format!("{space}: {pages}");
            }
            let gone = l.missing_pages * page_bytes + l.unreadable;
            let share = 100.0 * gone as f64 / (l.area + l.missing_pages * page_bytes) as f64;
            let mut s = format!(
                "{space}: {}{share:.0}%",
                if l.at_least { "at least " } else { "" }
            );
            if l.missing_pages > 0 {
                s.push_str(&format!(" ({pages}"));
                if l.unreadable > 0 {
                    s.push_str(&format!(", and {} of the pages found", bytes(l.unreadable)));
                }
                s.push(')');
            } else {
                s.push_str(&format!(" ({} of {})", bytes(l.unreadable), bytes(l.area)));
            }
            s
        })
        .collect();
    if let Some((n, gone, first)) = cut_objects {
        let at = first.map(|a| format!(" at 0x{a:x}")).unwrap_or_default();
        missing.push(if n == 1 {
            format!(
                "1 live object is cut short: {} of the object{at} is missing",
                bytes(gone)
            )
        } else {
            format!(
                "{n} live objects are cut short: {} of their bodies are missing, the first{at}",
                bytes(gone)
            )
        });
    }
    if !missing.is_empty() {
        out.push(Caveat {
            kind: CaveatKind::MissingHeap,
            message: format!(
                "counts may be low: heap memory is missing from the core ({}); objects there \
                 are not seen, nor what they keep alive",
                missing.join("; ")
            ),
        });
    }
    let (into_unparsed, elsewhere, example) = strays;
    if into_unparsed + elsewhere > 0 {
        let why = if !p.table_choice.verified() {
            "the table of another V8 version (see above) does not lay out every object as this \
             V8 does, or the heap is damaged"
        } else if p.dump().truncation().is_some() {
            "the heap is damaged, or what its objects need (their maps) is in the part of the \
             core that is missing"
        } else {
            "the heap is damaged or not laid out as this V8 lays it out"
        };
        let mut what = Vec::new();
        if into_unparsed > 0 {
            let unparsed: Vec<String> = loss
                .iter()
                .filter(|(_, l)| l.unparsed > 0)
                .map(|(space, l)| format!("{} of {space}", bytes(l.unparsed)))
                .collect();
            what.push(format!(
                "{into_unparsed} point into memory that could not be parsed as objects ({}), \
                 so the objects there are not counted",
                unparsed.join(", ")
            ));
        }
        if elsewhere > 0 {
            what.push(format!(
                "{elsewhere} point inside objects or into free memory"
            ));
        }
        let ex = example
            .map(|(holder, w)| {
                format!(
                    " (the first: 0x{w:x}, held by the object at 0x{:x})",
                    holder + 1
                )
            })
            .unwrap_or_default();
        out.push(Caveat {
            kind: CaveatKind::DamagedHeap,
            message: format!(
                "counts may be low: {why}: of the references live objects hold, {}{ex}",
                what.join(", and ")
            ),
        });
    }
    out
}
