//! `findjsobjects` and `findjsinstances`.

use crate::fmt::{bytes, Table};
use crate::{load, CoreArgs};
use serde::Serialize;
use v8core::objects::census::Scope;

type Res = Result<(), Box<dyn std::error::Error>>;

fn scope(all: bool) -> Scope {
    if all {
        Scope::All
    } else {
        Scope::Reachable
    }
}

/// `findjsobjects`: instances and self size per constructor.
pub fn objects(
    args: &CoreArgs,
    json: bool,
    all: bool,
    detailed: bool,
    retained: bool,
    top: Option<usize>,
) -> Res {
    let heap = load::heap(args)?;
    let mut rows = heap.census(scope(all), detailed);
    if retained {
        let g = load::graph(&heap);
        let d = load::dominators(&heap, &g);
        let by_name = d.retained_by_name(&heap);
        for r in rows.iter_mut() {
            r.retained = heap
                .names
                .lookup(&r.name)
                .and_then(|id| by_name.get(id as usize).copied());
        }
        // Largest retained size first.
        rows.sort_by(|a, b| b.retained.cmp(&a.retained).then(b.size.cmp(&a.size)));
    }
    let names = rows.len();
    let count: u64 = rows.iter().map(|r| r.count).sum();
    let size: u64 = rows.iter().map(|r| r.size).sum();
    if let Some(n) = top {
        rows.truncate(n);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut header = vec!["Instances", "Total Size"];
    if retained {
        header.push("Retained Size");
    }
    if all {
        header.push("Unreachable");
    }
    let right: Vec<usize> = (0..header.len()).collect();
    header.push("Name");
    let mut t = Table::new(&header, &right);
    for r in &rows {
        let mut name = r.name.clone();
        if let Some(props) = &r.properties {
            name = format!("{name}: {}", props.join(", "));
        }
        let mut cells = vec![r.count.to_string(), bytes(r.size)];
        if retained {
            cells.push(r.retained.map(bytes).unwrap_or_else(|| "-".into()));
        }
        if let Some(u) = r.unreachable {
            cells.push(u.to_string());
        }
        cells.push(name);
        t.row(cells);
    }
    print!("{}", t.render());
    let m = &heap.marking;
    println!(
        "\n{count} objects, {} in {names} names ({}; {} of {} heap objects reachable from {} roots)",
        bytes(size),
        if all {
            "dead objects included"
        } else {
            "reachable only"
        },
        m.reachable,
        heap.index.len(),
        m.roots
    );
    Ok(())
}

#[derive(Serialize)]
struct Instance {
    address: String,
    size: u32,
    reachable: bool,
    summary: String,
}

/// `findjsinstances NAME`.
pub fn instances(
    args: &CoreArgs,
    name: &str,
    json: bool,
    all: bool,
    limit: usize,
    skip: usize,
) -> Res {
    let heap = load::heap(args)?;
    let found = heap.instances(name, scope(all));
    if found.is_empty() {
        let near: Vec<String> = heap
            .census(Scope::All, false)
            .into_iter()
            .filter(|r| r.name.to_lowercase().contains(&name.to_lowercase()))
            .take(5)
            .map(|r| r.name)
            .collect();
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (similar names: {})", near.join(", "))
        };
        return Err(format!("no objects named {name:?}{hint}").into());
    }
    let items: Vec<Instance> = found
        .iter()
        .skip(skip)
        .take(limit)
        .map(|&i| Instance {
            address: format!("{:#x}", heap.index.tagged(i)),
            size: heap.index.sizes[i],
            reachable: heap.marking.is_marked(i),
            summary: v8core::inspect::summary(&heap, heap.index.tagged(i)),
        })
        .collect();
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            name: &'a str,
            total: usize,
            skip: usize,
            instances: Vec<Instance>,
        }
        let out = Out {
            name,
            total: found.len(),
            skip,
            instances: items,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mut t = Table::new(&["Address", "Size", "Object"], &[1]);
    for it in &items {
        t.row(vec![
            it.address.clone(),
            it.size.to_string(),
            it.summary.clone(),
        ]);
    }
    print!("{}", t.render());
    let shown = items.len();
    if skip + shown < found.len() {
        println!(
            "\n{shown} of {} shown (from {skip}); more with --skip {}",
            found.len(),
            skip + shown
        );
    } else {
        println!("\n{} instances", found.len());
    }
    Ok(())
}

#[derive(Serialize)]
struct TopRow {
    address: String,
    name: String,
    self_size: u32,
    retained: u64,
    summary: String,
}

/// `top`: the objects with the largest retained sizes.
pub fn top(args: &CoreArgs, json: bool, limit: usize) -> Res {
    let heap = load::heap(args)?;
    let g = load::graph(&heap);
    let d = load::dominators(&heap, &g);
    let rows: Vec<TopRow> = d
        .top(limit)
        .into_iter()
        .map(|i| TopRow {
            address: format!("{:#x}", heap.index.tagged(i)),
            name: v8core::graph::reverse::display_name(&heap, i),
            self_size: heap.index.sizes[i],
            retained: d.retained(i),
            summary: v8core::inspect::summary(&heap, heap.index.tagged(i)),
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut t = Table::new(&["Retained", "Self", "Address", "Object"], &[0, 1]);
    for r in &rows {
        t.row(vec![
            bytes(r.retained),
            bytes(r.self_size as u64),
            r.address.clone(),
            r.summary.clone(),
        ]);
    }
    print!("{}", t.render());
    println!(
        "\n{} of {} reachable objects are reached from the roots through strong references",
        d.reached, heap.marking.reachable
    );
    Ok(())
}

/// `heapsnapshot -o FILE`.
pub fn heapsnapshot(args: &CoreArgs, output: &std::path::Path) -> Res {
    let heap = load::heap(args)?;
    let file = std::fs::File::create(output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let stats = load::with_progress("snapshot written", |progress| {
        v8core::graph::snapshot::write_heapsnapshot(&heap, file, progress)
    })
    .map_err(|e| format!("writing {}: {e}", output.display()))?;
    println!(
        "{}: {} nodes, {} edges, {} strings",
        output.display(),
        stats.nodes,
        stats.edges,
        stats.strings
    );
    Ok(())
}
