//! The JSON Schema of every `--json` answer (and of `batch`'s lines), generated from the answer
//! types themselves (schemars), so the schema cannot drift from what is printed. Each answer's
//! envelope carries `schema_version` ([`crate::answer::SCHEMA_VERSION`]), bumped when a field is
//! removed or changes meaning; fields may be added without a bump.
//!
//! `v8dump debug json-schemas DIR` writes them (`docs/schema/<command>.json` in the checkout);
//! a test checks the committed files equal these, and another validates every command's real
//! output on fixture cores against them.

use crate::answer::*;
use crate::crash::batch::CoreRecord;
use crate::crash::handles::Handles;
use crate::crash::nodeinfo::NodeInfo;
use crate::crash::report::Report;
use crate::flame::{FlameWritten, RetainedTree};
use crate::heapsnap::{SnapshotReport, SnapshotSummary};
use crate::info::Summary;
use crate::leaks::Leaks;
use crate::memory::MemoryReport;
use crate::page::PageWritten;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};

/// One of two answers, by what the input was (a core or a heap snapshot) or what was asked.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOf<A, B> {
    A(A),
    B(B),
}

/// One of three answers (`findrefs`: by address, by property name, by string).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOf3<A, B, C> {
    A(A),
    B(B),
    C(C),
}

/// The schema of what `T` serializes to (fields skipped when empty are not required).
fn of<T: JsonSchema>() -> Schema {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
}

/// (file name without `.json`, what prints it, its schema), one per `--json` shape.
pub fn schemas() -> Vec<(&'static str, &'static str, Schema)> {
    vec![
        (
            "info",
            "v8dump info --json",
            of::<OneOf<Answer<Summary>, Answer<SnapshotSummary>>>(),
        ),
        (
            "findjsobjects",
            "v8dump findjsobjects --json",
            of::<Answer<Objects>>(),
        ),
        (
            "findjsinstances",
            "v8dump findjsinstances --json",
            of::<Answer<Instances>>(),
        ),
        (
            "inspect",
            "v8dump inspect --json",
            of::<Answer<Inspection>>(),
        ),
        (
            "memory",
            "v8dump memory --json",
            of::<Answer<MemoryReport>>(),
        ),
        ("handles", "v8dump handles --json", of::<Answer<Handles>>()),
        (
            "source",
            "v8dump source --json",
            of::<Answer<FunctionSource>>(),
        ),
        (
            "findrefs",
            "v8dump findrefs --json (by address, -n, -s)",
            of::<OneOf3<Answer<Refs>, Answer<PropertyHolders>, Answer<StringRefs>>>(),
        ),
        (
            "retainers",
            "v8dump retainers --json",
            of::<Answer<Retainers>>(),
        ),
        ("diff", "v8dump diff --json", of::<Answer<Diff>>()),
        ("top", "v8dump top --json", of::<Answer<Top>>()),
        (
            "flamegraph",
            "v8dump flamegraph --json (the tree; with -o, the file written)",
            of::<OneOf<Answer<RetainedTree>, Answer<FlameWritten>>>(),
        ),
        ("leaks", "v8dump leaks --json", of::<Answer<Leaks>>()),
        (
            "heapsnapshot",
            "v8dump heapsnapshot --json",
            of::<Answer<SnapshotWritten>>(),
        ),
        ("bt", "v8dump bt --json", of::<Answer<Backtraces>>()),
        (
            "nodeinfo",
            "v8dump nodeinfo --json",
            of::<Answer<NodeInfo>>(),
        ),
        (
            "report",
            "v8dump report --json (a core's, a snapshot's; with --html, the page written)",
            of::<OneOf3<Answer<Report>, Answer<SnapshotReport>, Answer<PageWritten>>>(),
        ),
        (
            "batch-record",
            "each line of v8dump batch",
            of::<CoreRecord>(),
        ),
    ]
}

/// Each schema as the pretty JSON file it is written to, with its title and what prints it.
pub fn schema_files() -> Vec<(String, String)> {
    schemas()
        .into_iter()
        .map(|(name, what, mut s)| {
            s.insert("title".into(), format!("v8dump {name}").into());
            s.insert(
                "description".into(),
                format!("{what} (schema_version {SCHEMA_VERSION})").into(),
            );
            let text = serde_json::to_string_pretty(&s).expect("a schema serializes") + "\n";
            (format!("{name}.json"), text)
        })
        .collect()
}
