//! `findrefs` and `retainers`: who holds an object, and the chain that keeps it alive.

use crate::fmt::Table;
use crate::inspect::parse_addr;
use crate::{load, CoreArgs};
use serde::Serialize;
use v8core::graph::reverse::{self as graph, Edge, EdgeKind, Edges, RetainerPath, RootKind};
use v8core::Heap;

type Res = Result<(), Box<dyn std::error::Error>>;

/// The index of the object at `addr` (tagged or untagged start address, or any address inside
/// the object).
fn object_at(heap: &Heap, addr: &str) -> Result<usize, String> {
    let a = parse_addr(addr)?;
    heap.index
        .locate(a)
        .ok_or_else(|| format!("{addr}: no heap object starts at or contains this address"))
}

fn kind_word(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Property => "property",
        EdgeKind::Element => "element",
        EdgeKind::Context => "context",
        EdgeKind::Internal => "internal",
        EdgeKind::Weak => "weak",
    }
}

#[derive(Serialize)]
struct Ref {
    holder: String,
    holder_name: String,
    edge: String,
    kind: EdgeKind,
    reachable: bool,
    via: Vec<String>,
}

fn to_ref(heap: &Heap, e: &Edge) -> Ref {
    Ref {
        holder: format!("{:#x}", heap.index.tagged(e.holder)),
        holder_name: graph::display_name(heap, e.holder),
        edge: e.name.clone(),
        kind: e.kind,
        reachable: heap.marking.is_marked(e.holder),
        via: e
            .via
            .iter()
            .map(|&v| {
                format!(
                    "{} {:#x}",
                    graph::display_name(heap, v),
                    heap.index.tagged(v)
                )
            })
            .collect(),
    }
}

fn print_refs(refs: &[Ref]) {
    let mut t = Table::new(&["Holder", "Name", "Edge", "Kind"], &[]);
    for r in refs {
        t.row(vec![
            r.holder.clone(),
            r.holder_name.clone(),
            r.edge.clone(),
            kind_word(r.kind).to_string(),
        ]);
    }
    print!("{}", t.render());
}

/// What `findrefs` looks for.
pub enum RefQuery<'a> {
    /// Objects referencing this address.
    Address(&'a str),
    /// Objects with an own property of this name (`-n`).
    Property(&'a str),
    /// Objects referencing a string equal to this (`-s`).
    String(&'a str),
}

/// `findrefs`.
pub fn findrefs(args: &CoreArgs, q: RefQuery, json: bool, limit: usize) -> Res {
    let heap = load::heap(args)?;
    match q {
        RefQuery::Address(addr) => {
            let target = object_at(&heap, addr)?;
            let g = load::graph(&heap);
            let edges = Edges::new(&heap, &g).edges_to(target);
            let refs: Vec<Ref> = edges.iter().take(limit).map(|e| to_ref(&heap, e)).collect();
            if json {
                #[derive(Serialize)]
                struct Out {
                    target: String,
                    target_name: String,
                    total: usize,
                    refs: Vec<Ref>,
                }
                let out = Out {
                    target: format!("{:#x}", heap.index.tagged(target)),
                    target_name: graph::display_name(&heap, target),
                    total: edges.len(),
                    refs,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!(
                "{} {:#x} is referenced {} time{}:",
                graph::display_name(&heap, target),
                heap.index.tagged(target),
                edges.len(),
                if edges.len() == 1 { "" } else { "s" }
            );
            print_refs(&refs);
            more(edges.len(), refs.len());
        }
        RefQuery::Property(name) => {
            let found = graph::objects_with_property(&heap, name);
            #[derive(Serialize)]
            struct Hit {
                holder: String,
                holder_name: String,
                value: String,
            }
            let hits: Vec<Hit> = found
                .iter()
                .take(limit)
                .map(|&(i, v)| Hit {
                    holder: format!("{:#x}", heap.index.tagged(i)),
                    holder_name: graph::display_name(&heap, i),
                    value: v8core::inspect::summary(&heap, v),
                })
                .collect();
            if json {
                #[derive(Serialize)]
                struct Out<'a> {
                    property: &'a str,
                    total: usize,
                    objects: Vec<Hit>,
                }
                let out = Out {
                    property: name,
                    total: found.len(),
                    objects: hits,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!("{} objects have a property .{name}:", found.len());
            let mut t = Table::new(&["Object", "Name", &format!(".{name}")], &[]);
            for h in &hits {
                t.row(vec![
                    h.holder.clone(),
                    h.holder_name.clone(),
                    h.value.clone(),
                ]);
            }
            print!("{}", t.render());
            more(found.len(), hits.len());
        }
        RefQuery::String(text) => {
            let strings = graph::strings_equal(&heap, text);
            let g = load::graph(&heap);
            let edges = Edges::new(&heap, &g);
            let mut all: Vec<(usize, Edge)> = Vec::new();
            for &s in &strings {
                for e in edges.edges_to(s) {
                    all.push((s, e));
                }
            }
            let refs: Vec<(String, Ref)> = all
                .iter()
                .take(limit)
                .map(|(s, e)| (format!("{:#x}", heap.index.tagged(*s)), to_ref(&heap, e)))
                .collect();
            if json {
                #[derive(Serialize)]
                struct R {
                    string: String,
                    #[serde(flatten)]
                    r: Ref,
                }
                #[derive(Serialize)]
                struct Out<'a> {
                    string: &'a str,
                    strings: Vec<String>,
                    total: usize,
                    refs: Vec<R>,
                }
                let out = Out {
                    string: text,
                    strings: strings
                        .iter()
                        .map(|&s| format!("{:#x}", heap.index.tagged(s)))
                        .collect(),
                    total: all.len(),
                    refs: refs
                        .into_iter()
                        .map(|(string, r)| R { string, r })
                        .collect(),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            println!(
                "{} string{} equal to {text:?}, referenced {} time{}:",
                strings.len(),
                if strings.len() == 1 { "" } else { "s" },
                all.len(),
                if all.len() == 1 { "" } else { "s" }
            );
            let mut t = Table::new(&["String", "Holder", "Name", "Edge", "Kind"], &[]);
            for (s, r) in &refs {
                t.row(vec![
                    s.clone(),
                    r.holder.clone(),
                    r.holder_name.clone(),
                    r.edge.clone(),
                    kind_word(r.kind).to_string(),
                ]);
            }
            print!("{}", t.render());
            more(all.len(), refs.len());
        }
    }
    Ok(())
}

fn more(total: usize, shown: usize) {
    if shown < total {
        println!("\n{shown} of {total} shown; more with --limit");
    }
}

#[derive(Serialize)]
struct JsonStep {
    target: String,
    target_name: String,
    holder: String,
    holder_name: String,
    edge: String,
    kind: EdgeKind,
}

#[derive(Serialize)]
struct JsonPath {
    root: String,
    root_name: String,
    root_kind: RootKind,
    steps: Vec<JsonStep>,
    chain: String,
}

/// One line: `UserSession <- session Context <- context Function <- [3] Array ...` and why
/// its end is a root.
pub fn chain_line(heap: &Heap, target: usize, p: &RetainerPath) -> String {
    format!(
        "{} ({})",
        graph::chain_text(heap, target, p),
        graph::root_words(&p.root_kind)
    )
}

/// `retainers ADDR`.
pub fn retainers(args: &CoreArgs, addr: &str, json: bool, paths: usize, depth: usize) -> Res {
    let heap = load::heap(args)?;
    let target = object_at(&heap, addr)?;
    if !heap.marking.is_marked(target) {
        return Err(format!(
            "{} {:#x} is not reachable from any root: nothing retains it (it is garbage the GC \
             has not swept yet)",
            graph::display_name(&heap, target),
            heap.index.tagged(target)
        )
        .into());
    }
    let g = load::graph(&heap);
    let found = Edges::new(&heap, &g).retainer_paths(target, paths, depth);
    if json {
        let out: Vec<JsonPath> = found
            .iter()
            .map(|p| JsonPath {
                root: format!("{:#x}", heap.index.tagged(p.root)),
                root_name: graph::display_name(&heap, p.root),
                root_kind: p.root_kind.clone(),
                steps: p
                    .steps
                    .iter()
                    .map(|s| JsonStep {
                        target: format!("{:#x}", heap.index.tagged(s.target)),
                        target_name: graph::display_name(&heap, s.target),
                        holder: format!("{:#x}", heap.index.tagged(s.edge.holder)),
                        holder_name: graph::display_name(&heap, s.edge.holder),
                        edge: s.edge.name.clone(),
                        kind: s.edge.kind,
                    })
                    .collect(),
                chain: chain_line(&heap, target, p),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if found.is_empty() {
        println!(
            "No retainer path within {depth} steps (try --depth); direct holders: `v8dump findrefs`."
        );
        return Ok(());
    }
    for (k, p) in found.iter().enumerate() {
        println!(
            "Path {} of {} ({} step{}, ends at {}):",
            k + 1,
            found.len(),
            p.steps.len(),
            if p.steps.len() == 1 { "" } else { "s" },
            graph::root_words(&p.root_kind)
        );
        let mut t = Table::new(&["", "Edge", "Kind", "Holder", "Address"], &[]);
        t.row(vec![
            String::new(),
            String::new(),
            String::new(),
            graph::display_name(&heap, target),
            format!("{:#x}", heap.index.tagged(target)),
        ]);
        for s in &p.steps {
            t.row(vec![
                "<-".into(),
                s.edge.name.clone(),
                kind_word(s.edge.kind).into(),
                graph::display_name(&heap, s.edge.holder),
                format!("{:#x}", heap.index.tagged(s.edge.holder)),
            ]);
        }
        print!("{}", t.render());
        println!("  {}\n", chain_line(&heap, target, p));
    }
    Ok(())
}
