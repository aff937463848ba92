//! `report --html`: the report as one self-contained page (styles, script and data inline,
//! nothing fetched), for cores and heap snapshots.
//!
//! The page is made here, from the same answers the other commands give: [`PageData`] is the
//! report's answer, its leak suspects as readable steps, the retained-memory tree of
//! [`crate::flame`] cut to the top frames for the treemap, the constructor table with retained
//! sizes, and the texts of the memory and stack sections as `render/` writes them. The script in
//! `assets/report.html` only lays these out (treemap, sortable table); it computes nothing.

use crate::answer::{Answer, Partial};
use crate::flame::{RetainedTree, TreeOptions};
use crate::input::Input;
use crate::objects::census::CensusRow;
use crate::render::{bytes, clean, Render};
use serde::Serialize;
use std::path::Path;

const TEMPLATE: &str = include_str!("../assets/report.html");
/// Where the template takes the data.
const DATA_MARK: &str = "/*V8DUMP_DATA*/";

/// Frames the treemap is given at most.
const PAGE_FRAMES: usize = 4000;
/// Constructors in the page's table at most.
const PAGE_CONSTRUCTORS: usize = 2000;

/// A leak suspect as the page shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SuspectView {
    /// `#1 EventEmitter listeners: 1.5 MiB (21%)`.
    pub title: String,
    /// The suspect's sentence.
    pub sentence: String,
    /// How the program names it.
    pub reached_as: String,
    /// The retainer chain, from the suspect out to its root, one step per line.
    pub steps: Vec<String>,
    /// The code behind it: `listener: (anonymous) (listener_leak.js:50:21) × 2000`.
    pub code: Vec<String>,
    /// What it retains: `2000 UserSession (140.6 KiB)`.
    pub retains: Vec<String>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PageData {
    /// The page's title.
    pub title: String,
    /// The input file.
    pub source: String,
    /// `core` or `snapshot`.
    pub kind: &'static str,
    /// `v8dump 0.1.0`.
    pub generator: String,
    /// What may be incomplete.
    pub partial: Option<Partial>,
    /// One line: why the process died (a core), or that a snapshot has no crash.
    pub headline: String,
    /// The leak verdict when there is no suspect.
    pub verdict: String,
    /// The suspects.
    pub suspects: Vec<SuspectView>,
    /// Retained memory, cut to the top frames.
    pub tree: RetainedTree,
    /// The widest tower's frames, from the roots.
    pub widest: Vec<(String, u64)>,
    /// Constructors with count, self and retained size.
    pub constructors: Vec<CensusRow>,
    /// Constructors in all (the table may show fewer).
    pub constructors_total: u64,
    /// Facts of the process or the snapshot, as label and value.
    pub facts: Vec<(String, String)>,
    /// The memory section's text (cores).
    pub memory_text: Option<String>,
    /// The address space by kind: name, resident bytes (cores).
    pub regions: Vec<(String, u64)>,
    /// The crashing thread's stack as text (cores).
    pub stack_text: Option<String>,
    /// The whole text report.
    pub report_text: String,
    /// The report's answer as JSON.
    pub report: serde_json::Value,
}

/// `report --html FILE`: what was written.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PageWritten {
    /// The file.
    pub path: String,
    /// Its size.
    pub file_bytes: u64,
    /// Leak suspects on the page.
    pub suspects: usize,
    /// The first suspect's sentence, or the verdict.
    pub headline: String,
    /// Frames in the treemap.
    pub frames: u64,
}

impl Render for PageWritten {
    fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "{}: {} ({} suspect{}, {} frames)\n{}\n",
            self.path,
            bytes(self.file_bytes),
            self.suspects,
            if self.suspects == 1 { "" } else { "s" },
            self.frames,
            clean(&self.headline)
        ));
    }
}

fn suspect_views(l: &crate::leaks::Leaks) -> Vec<SuspectView> {
    l.suspects
        .iter()
        .enumerate()
        .map(|(i, s)| SuspectView {
            title: format!(
                "#{} {}: {} {} of {}, {} ({:.0}% of the memory)",
                i + 1,
                if s.reached_as.is_empty() {
                    &s.holder_name
                } else {
                    &s.reached_as
                },
                s.children,
                s.kind.children_word(),
                s.holder_name,
                bytes(s.retained + s.retained_external),
                s.share * 100.0
            ),
            sentence: s.sentence.clone(),
            reached_as: s.reached_as.clone(),
            steps: s
                .path
                .as_deref()
                .map(|p| p.split(" <- ").map(str::to_string).collect())
                .unwrap_or_default(),
            code: s
                .code
                .iter()
                .map(|c| format!("{}: {} \u{d7} {}", c.role, c.function.text(), c.count))
                .chain(
                    s.scope_closures
                        .iter()
                        .map(|f| format!("closes over it: {}", f.text())),
                )
                .collect(),
            retains: s
                .retains
                .iter()
                .map(|n| format!("{} {} ({})", n.count, n.name, bytes(n.bytes)))
                .collect(),
        })
        .collect()
}

/// Escape JSON for a `<script type="application/json">` element: no `</script>` or `<!--`
/// can appear in it.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// Fill the template with `data`.
pub fn html(data: &PageData) -> String {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    TEMPLATE.replacen(DATA_MARK, &script_safe(&json), 1)
}

/// The treemap's tree and the constructor table: what cores and snapshots share.
fn page_base(
    source: &Path,
    kind: &'static str,
    tree: Answer<RetainedTree>,
    ctors: Answer<crate::answer::Objects>,
) -> PageData {
    let widest = crate::flame::widest(&tree.body);
    PageData {
        title: format!("v8dump report: {}", source.display()),
        source: source.display().to_string(),
        kind,
        generator: format!("v8dump {}", env!("CARGO_PKG_VERSION")),
        partial: None,
        headline: String::new(),
        verdict: String::new(),
        suspects: Vec::new(),
        tree: tree.body,
        widest,
        constructors: ctors.body.rows,
        constructors_total: ctors.body.total.names,
        facts: Vec::new(),
        memory_text: None,
        regions: Vec::new(),
        stack_text: None,
        report_text: String::new(),
        report: serde_json::Value::Null,
    }
}

/// The treemap's cut of the tree.
const PAGE_TREE: TreeOptions = TreeOptions {
    max_depth: 32,
    min_share: 0.0002,
    max_frames: PAGE_FRAMES,
};

/// The constructor table's question.
fn page_ctors() -> crate::session::ObjectsQuery {
    crate::session::ObjectsQuery {
        retained: true,
        top: Some(PAGE_CONSTRUCTORS),
        ..Default::default()
    }
}

/// Write `data` as the page at `path`.
fn write_page(data: PageData, path: &Path) -> crate::Result<Answer<PageWritten>> {
    let page = html(&data);
    std::fs::write(path, page.as_bytes()).map_err(|e| crate::Error::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let headline = data
        .suspects
        .first()
        .map(|s| s.sentence.clone())
        .unwrap_or_else(|| data.verdict.clone());
    Ok(Answer {
        schema_version: crate::answer::SCHEMA_VERSION,
        command: "report",
        partial: data.partial.clone(),
        body: PageWritten {
            path: path.display().to_string(),
            file_bytes: page.len() as u64,
            suspects: data.suspects.len(),
            headline,
            frames: data.tree.frames_shown,
        },
    })
}

impl crate::Session {
    /// Everything `report --html` shows of this core; `source` names it on the page.
    pub fn page_data(&self, source: &Path) -> PageData {
        let mut d = page_base(
            source,
            "core",
            self.retained_tree(&PAGE_TREE),
            self.objects(&page_ctors()),
        );
        let r = self.report();
        let b = &r.body;
        d.partial = r.partial.clone();
        d.headline = b.cause.summary.clone();
        d.report_text = r.text();
        d.report = serde_json::to_value(&r).unwrap_or_default();
        if let Some(l) = &b.leaks {
            d.suspects = suspect_views(l);
            d.verdict = l.verdict.clone();
        }
        let n = &b.node;
        d.facts = vec![
            (
                "node".into(),
                n.version.clone().unwrap_or_else(|| "?".into()),
            ),
            (
                "pid".into(),
                n.pid.map(|p| p.to_string()).unwrap_or_default(),
            ),
            ("command".into(), n.argv.join(" ")),
            ("cause".into(), b.cause.summary.clone()),
        ];
        if let Some(reason) = &b.cause.oom_reason {
            d.facts.push(("V8's reason".into(), reason.clone()));
        }
        if let Some(m) = &b.memory {
            d.facts.push(("rss".into(), bytes(m.usage.rss)));
            d.facts.push(("heap used".into(), bytes(m.usage.heap_used)));
            d.facts.push(("external".into(), bytes(m.usage.external)));
            d.memory_text = Some(r.with_body(m.clone()).text());
            d.regions = m
                .regions
                .iter()
                .map(|x| (x.region.to_string(), x.resident))
                .collect();
        }
        if let Some(st) = &b.stack {
            let mut t = String::new();
            crate::render::crash::backtrace_text(st, "The crashing thread:", &mut t);
            d.stack_text = Some(t);
        }
        d
    }

    /// `report --html FILE`: write the page of this core (named `source` on it) to `path`.
    pub fn report_html(&self, source: &Path, path: &Path) -> crate::Result<Answer<PageWritten>> {
        write_page(self.page_data(source), path)
    }
}

impl crate::SnapshotSession {
    /// Everything `report --html` shows of this snapshot.
    pub fn page_data(&self, source: &Path) -> PageData {
        let mut d = page_base(
            source,
            "snapshot",
            self.retained_tree(&PAGE_TREE),
            self.objects(&page_ctors()),
        );
        let r = self.report();
        let b = &r.body;
        d.partial = r.partial.clone();
        d.headline = b.no_crash.clone();
        d.report_text = r.text();
        d.report = serde_json::to_value(&r).unwrap_or_default();
        d.suspects = suspect_views(&b.leaks);
        d.verdict = b.leaks.verdict.clone();
        d.facts = vec![
            ("snapshot".into(), bytes(b.summary.file_bytes)),
            ("nodes".into(), b.summary.nodes.to_string()),
            ("edges".into(), b.summary.edges.to_string()),
            ("self size".into(), bytes(b.summary.self_bytes)),
        ];
        d
    }

    /// `report --html FILE`: write the page of this snapshot to `path`.
    pub fn report_html(&self, source: &Path, path: &Path) -> crate::Result<Answer<PageWritten>> {
        write_page(self.page_data(source), path)
    }
}

impl Input {
    /// `report --html FILE`: write the page to `path`; `source` names the input on it.
    pub fn report_html(&self, source: &Path, path: &Path) -> crate::Result<Answer<PageWritten>> {
        match self {
            Input::Core(s) => s.report_html(source, path),
            Input::Snapshot(s) => s.report_html(source, path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_the_script() {
        let s = script_safe(r#"{"a":"</script><script>alert(1)</script>"}"#);
        assert!(!s.contains("</"));
        assert!(!s.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["a"], "</script><script>alert(1)</script>");
    }

    #[test]
    fn template_has_one_data_mark() {
        assert_eq!(TEMPLATE.matches(DATA_MARK).count(), 1);
        // The SVG namespace is a name, not a request; nothing else may name a URL.
        let rest = TEMPLATE.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(!rest.contains("http://") && !rest.contains("https://") && !rest.contains("//cdn"));
    }
}
