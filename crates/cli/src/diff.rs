//! `diff CORE_A CORE_B`: how the heap changed between two dumps of one program, per
//! constructor (the comparison view of the leak-hunting workflow).

use crate::fmt::{bytes, Table};
use crate::{load, CoreArgs};
use serde::Serialize;
use std::collections::BTreeMap;
use v8core::objects::census::Scope;

type Res = Result<(), Box<dyn std::error::Error>>;

/// One constructor's change from A to B.
#[derive(Debug, Serialize)]
pub struct DiffRow {
    name: String,
    count_a: u64,
    count_b: u64,
    count_delta: i64,
    size_a: u64,
    size_b: u64,
    size_delta: i64,
}

fn signed_bytes(d: i64) -> String {
    let s = bytes(d.unsigned_abs());
    match d.signum() {
        1 => format!("+{s}"),
        -1 => format!("-{s}"),
        _ => s,
    }
}

fn signed(d: i64) -> String {
    if d > 0 {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// The census of one core, with the executable's build ID, and the heap dropped again (two
/// large heaps are never held at once).
/// Per name: (count, total self size).
type Census = BTreeMap<String, (u64, u64)>;

fn census_of(args: &CoreArgs) -> Result<(Census, Option<String>), v8core::Error> {
    let heap = load::heap(args)?;
    let rows = heap
        .census(Scope::Reachable, false)
        .into_iter()
        .map(|r| (r.name, (r.count, r.size)))
        .collect();
    Ok((rows, heap.p.exe_check.exe_build_id.clone()))
}

/// `diff`.
pub fn run(a: &CoreArgs, b: &CoreArgs, json: bool, top: Option<usize>, all: bool) -> Res {
    let (ca, ida) = census_of(a)?;
    let (cb, idb) = census_of(b)?;
    if ida != idb {
        eprintln!(
            "v8dump: warning: the two cores come from different executables (build IDs {} and \
             {}); constructor names may not correspond",
            ida.as_deref().unwrap_or("unknown"),
            idb.as_deref().unwrap_or("unknown")
        );
    }
    let mut names: Vec<&String> = ca.keys().chain(cb.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows: Vec<DiffRow> = names
        .into_iter()
        .map(|n| {
            let (count_a, size_a) = ca.get(n).copied().unwrap_or((0, 0));
            let (count_b, size_b) = cb.get(n).copied().unwrap_or((0, 0));
            DiffRow {
                name: n.clone(),
                count_a,
                count_b,
                count_delta: count_b as i64 - count_a as i64,
                size_a,
                size_b,
                size_delta: size_b as i64 - size_a as i64,
            }
        })
        .filter(|r| all || r.count_delta != 0 || r.size_delta != 0)
        .collect();
    // Largest growth first; shrinkage last, largest shrinkage at the very end.
    rows.sort_by(|x, y| {
        y.size_delta
            .cmp(&x.size_delta)
            .then(y.count_delta.cmp(&x.count_delta))
            .then(x.name.cmp(&y.name))
    });
    let total_count: i64 = rows.iter().map(|r| r.count_delta).sum();
    let total_size: i64 = rows.iter().map(|r| r.size_delta).sum();
    let changed = rows.len();
    if let Some(n) = top {
        rows.truncate(n);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let mut t = Table::new(
        &[
            "Size Δ", "Count Δ", "Count A", "Count B", "Size A", "Size B", "Name",
        ],
        &[0, 1, 2, 3, 4, 5],
    );
    for r in &rows {
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
    print!("{}", t.render());
    println!(
        "\n{changed} constructor{} changed: {} objects, {} (A: {}, B: {}; reachable objects)",
        if changed == 1 { "" } else { "s" },
        signed(total_count),
        signed_bytes(total_size),
        a.core.display(),
        b.core.display()
    );
    Ok(())
}
