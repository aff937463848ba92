//! `leaks` on a heap snapshot: the accumulation points of [`crate::leaks`] (the same tree walk,
//! over DevTools' dominator tree of the snapshot), each described from the snapshot's edges:
//! the JavaScript object that owns the store, how the program reaches it (the retainer path
//! read back to the nearest variable or global), its children, the functions among them with
//! their `file:line:column`, what it retains.

use super::graph::{E_CONTEXT, E_ELEMENT, E_INTERNAL, E_PROPERTY};
use super::session::SnapshotSession;
use crate::answer::Answer;
use crate::graph::snapshot as ex;
use crate::leaks::{
    accumulation_points, holder_rows, largest_child, property_text, retain_words, top_name_counts,
    Chain, CodeRef, Holders, LeakOptions, Leaks, NameCount, Suspect, SuspectKind, Tree, TreeNames,
};
use crate::objects::position::FunctionLocation;
use crate::render::bytes;
use crate::session::DiffSide;
use rustc_hash::FxHashMap;

struct SnapNames<'a>(&'a SnapshotSession);

impl TreeNames for SnapNames<'_> {
    fn name(&self, v: usize) -> String {
        self.0.display_name(v)
    }
    fn edge_between(&self, holder: usize, target: usize) -> String {
        let g = self.0.graph();
        g.edges(holder)
            .find(|&e| g.to(e) == target)
            .map_or_else(|| "...".into(), |e| g.edge_label(e))
    }
}

/// How the program names an object: an expression from its nearest variable or global.
struct ProgramName {
    expr: String,
    /// The closure variable's context, when the expression starts at one.
    scope: Option<usize>,
    global: bool,
}

impl SnapshotSession {
    /// `leaks`: the leak suspects of the snapshot.
    pub fn leaks(&self, opts: &LeakOptions) -> Answer<Leaks> {
        let g = self.graph();
        let d = self.dominators();
        let n = g.len();
        let t = Tree::build(n, d, &[]);
        let heap_bytes = d.retained(0);
        let total = heap_bytes.max(1);
        let limit = (((total as f64) * opts.threshold).ceil() as u64)
            .max(opts.min_bytes)
            .max(1);
        let globals = self.globals();
        let mut suspects: Vec<Suspect> = accumulation_points(&t, &SnapNames(self), n, limit)
            .into_iter()
            // The root, V8's root groups and the global objects are where the program starts,
            // not what it accumulated: what they hold is looked at below them.
            .filter(|(x, _)| {
                *x != 0
                    && g.ty[*x] != ex::T_SYNTHETIC
                    && !globals.contains(x)
                    && t.size(*x) >= limit
            })
            .map(|(x, chain)| self.describe(&t, x, chain, total))
            .filter(|s| !node_state(s))
            .collect();
        suspects.sort_by_key(|s| std::cmp::Reverse(s.retained));
        suspects.truncate(opts.top);
        let pct = (opts.threshold * 100.0).round();
        let floor = if opts.min_bytes > 0 {
            format!(", at least {}", bytes(opts.min_bytes))
        } else {
            String::new()
        };
        let memory = format!("{} in the snapshot", bytes(heap_bytes));
        let verdict = if suspects.is_empty() {
            format!("no suspect: nothing retains {pct}% of the memory{floor} ({memory})")
        } else {
            format!(
                "{} suspect{} retaining at least {pct}% of the memory{floor} ({memory})",
                suspects.len(),
                if suspects.len() == 1 { "" } else { "s" },
            )
        };
        self.answer(
            "leaks",
            Leaks {
                heap_bytes,
                external_bytes: 0,
                threshold: opts.threshold,
                min_bytes: opts.min_bytes,
                suspects,
                verdict,
                duplicate_string_bytes: 0,
                duplicate_strings: Vec::new(),
            },
        )
    }

    /// One side of `diff`; with the holders of memory when `holders` (`diff --by holder`,
    /// growth limits).
    pub fn diff_side_with(&self, holders: bool) -> DiffSide {
        let mut side = self.diff_side();
        side.holders = holders.then(|| self.holders(crate::session::HOLDER_MIN_BYTES, 200));
        side
    }

    /// The holders of memory: every accumulation point retaining at least `min_bytes`, the
    /// largest `max`, named as `leaks` names them (see [`crate::leaks::holders`]).
    pub fn holders(&self, min_bytes: u64, max: usize) -> Holders {
        let g = self.graph();
        let d = self.dominators();
        let n = g.len();
        let t = Tree::build(n, d, &[]);
        let heap_bytes = d.retained(0);
        let globals = self.globals();
        let points: Vec<(usize, Option<Chain>)> =
            accumulation_points(&t, &SnapNames(self), n, min_bytes.max(1))
                .into_iter()
                .filter(|(x, _)| {
                    *x != 0
                        && g.ty[*x] != ex::T_SYNTHETIC
                        && !globals.contains(x)
                        && t.size(*x) >= min_bytes
                })
                .collect();
        let total = heap_bytes.max(1);
        let rows = holder_rows(&t, d, points, max, &|x, chain| {
            self.describe(&t, x, chain, total)
        });
        Holders {
            heap_bytes,
            external_bytes: 0,
            rows,
        }
    }

    /// The JavaScript object owning an engine store (an Array's elements, a Map's table, an
    /// object's property dictionary), or the node itself.
    fn owner(&self, x: usize) -> usize {
        let g = self.graph();
        if !matches!(g.ty[x], ex::T_ARRAY | ex::T_HIDDEN) {
            return x;
        }
        g.retaining_edges(x)
            .find(|&e| {
                g.ety[e] == E_INTERNAL
                    && matches!(&*g.edge_name(e), "elements" | "table" | "properties")
                    && g.ty[g.source(e)] == ex::T_OBJECT
            })
            .map_or(x, |e| g.source(e))
    }

    /// The name of `x` read from its retainer path (`steps`: edges from `x` outwards).
    fn program_name(&self, steps: &[usize]) -> ProgramName {
        let g = self.graph();
        let mut parts: Vec<String> = Vec::new();
        for &e in steps {
            match g.ety[e] {
                E_PROPERTY => parts.push(property_text(&g.edge_name(e))),
                E_ELEMENT => parts.push(format!("[{}]", g.edge_name(e))),
                E_CONTEXT => {
                    parts.push(g.edge_name(e).into_owned());
                    parts.reverse();
                    return ProgramName {
                        expr: join(parts),
                        scope: Some(g.source(e)),
                        global: false,
                    };
                }
                _ => {}
            }
        }
        parts.reverse();
        ProgramName {
            expr: join(parts),
            scope: None,
            global: true,
        }
    }

    /// The functions whose context is `ctx` (the code that can touch its variables).
    fn closures_over(&self, ctx: usize, max: usize) -> Vec<usize> {
        let g = self.graph();
        g.retaining_edges(ctx)
            .filter(|&e| g.ety[e] == E_INTERNAL && g.edge_name(e) == "context")
            .map(|e| g.source(e))
            .filter(|&f| g.ty[f] == ex::T_CLOSURE)
            .take(max)
            .collect()
    }

    fn location(&self, f: usize) -> FunctionLocation {
        let g = self.graph();
        let name = g.name(f);
        let name = if name.is_empty() {
            "(anonymous)".into()
        } else {
            name.into_owned()
        };
        let (script, line, column) = match self.place_parts(f) {
            Some((s, l, c)) => (s, Some(l), Some(c)),
            None => (None, None, None),
        };
        FunctionLocation {
            name,
            script,
            line,
            column,
        }
    }

    fn describe(&self, t: &Tree, x: usize, chain: Option<Chain>, total: u64) -> Suspect {
        let g = self.graph();
        let holder = if chain.is_some() { x } else { self.owner(x) };
        let holder_name = self.display_name(holder);
        let path = self.retainer_paths(holder, 1, 64).into_iter().next();
        let steps: Vec<usize> = path.as_ref().map(|p| p.0.clone()).unwrap_or_default();
        let name = self.program_name(&steps);
        let kids: Vec<usize> = t.children(x).iter().map(|&c| c as usize).collect();
        let retained = t.size(x);
        let share = retained as f64 / total as f64;
        let size_words = format!("{}, {:.0}% of the memory", bytes(retained), share * 100.0);
        let retains = self.retained_names(t, x, 6);
        let retain_words = retain_words(&retains);
        let child_names = match &chain {
            Some(c) => vec![NameCount {
                name: self.display_name(x),
                count: c.links,
                bytes: t.size(x),
            }],
            None => group(self, kids.iter().map(|&c| (c, t.size(c))), 5),
        };
        let mut code: Vec<CodeRef> = Vec::new();
        let add_code = |code: &mut Vec<CodeRef>, role: &str, f: usize| {
            let loc = self.location(f);
            if let Some(c) = code
                .iter_mut()
                .find(|c| c.role == role && c.function == loc)
            {
                c.count += 1;
            } else if code.len() < 8 {
                code.push(CodeRef {
                    role: role.into(),
                    function: loc,
                    count: 1,
                });
            }
        };
        let elements: Vec<usize> = g
            .edges(holder)
            .filter(|&e| g.ety[e] == E_ELEMENT)
            .map(|e| g.to(e))
            .collect();
        let is_events = &*holder_name == "Array"
            && steps
                .get(1)
                .is_some_and(|&e| g.ety[e] == E_PROPERTY && g.edge_name(e) == "_events");
        let scope_funcs = |n: &ProgramName| {
            n.scope
                .map(|c| self.closures_over(c, 6))
                .unwrap_or_default()
        };
        let (kind, sentence, children, scope_closures) = if let Some(chain) = &chain {
            let mut link = String::new();
            for (k, e) in chain.link_edges.iter().enumerate() {
                if k > 0 {
                    link.push_str(&format!(" {}", chain.pattern[k]));
                }
                link.push_str(&format!(" -{e}->"));
            }
            let mut v = x;
            for _ in 0..chain.pattern.len() {
                if g.ty[v] == ex::T_CLOSURE {
                    add_code(&mut code, "chain link", v);
                }
                v = largest_child(t, v).unwrap_or(v);
            }
            (
                SuspectKind::Chain,
                format!(
                    "`{}` starts a chain of {} {holder_name}, each holding the next ({holder_name}{link} {holder_name}){retain_words}: {size_words}",
                    name.expr, chain.links
                ),
                chain.links,
                scope_funcs(&name),
            )
        } else if is_events {
            let event = g.edge_name(steps[0]).into_owned();
            let emitter = self.display_name(g.source(steps[1]));
            let em = self.program_name(&steps[2..]);
            for &f in elements.iter().filter(|&&f| g.ty[f] == ex::T_CLOSURE) {
                add_code(&mut code, "listener", f);
            }
            let at = code
                .first()
                .map(|c| format!(" ({} × {})", c.count, c.function.at_text()))
                .unwrap_or_default();
            let count = elements.len() as u64;
            (
                SuspectKind::EventListeners,
                format!(
                    "EventEmitter `{}` ({emitter}) holds {count} '{event}' listeners{at}{retain_words}: {size_words}",
                    em.expr
                ),
                count,
                scope_funcs(&em),
            )
        } else if let Some(timers) = self.timers(&kids, x, &holder_name) {
            let (count, intervals, callbacks) = timers;
            for f in callbacks {
                add_code(&mut code, "timer callback", f);
            }
            let what = if intervals * 2 >= count {
                "intervals"
            } else {
                "timers"
            };
            // A TimersList is keyed by its period in `timerListMap`.
            let every = (holder_name == "TimersList")
                .then(|| {
                    name.expr
                        .rsplit_once('[')
                        .and_then(|(_, k)| k.strip_suffix(']'))
                })
                .flatten()
                .filter(|k| k.chars().all(|c| c.is_ascii_digit()))
                .map(|k| format!(" of {k} ms"))
                .unwrap_or_default();
            let cb = code
                .iter()
                .find(|c| c.role == "timer callback")
                .map(|c| format!(", callback {}", c.function.at_text()))
                .unwrap_or_default();
            (
                SuspectKind::Timers,
                format!(
                    "{count} active {what}{every} (never cleared{cb}) in {holder_name} `{}`{retain_words}: {size_words}",
                    name.expr
                ),
                count,
                scope_funcs(&name),
            )
        } else if kids.is_empty() {
            (
                SuspectKind::LargeObject,
                format!("one {holder_name} `{}`: {size_words}", name.expr),
                0,
                scope_funcs(&name),
            )
        } else {
            for &c in &kids {
                if g.ty[c] == ex::T_CLOSURE {
                    add_code(&mut code, "closure", c);
                }
            }
            // Children that are values, not keys: strings and numbers left out unless that is
            // all there is.
            let values = kids
                .iter()
                .filter(|&&c| !g.is_string(c) && g.ty[c] != ex::T_NUMBER)
                .count() as u64;
            let count = match &*holder_name {
                "Array" => elements.len() as u64,
                "Map" | "Set" => self.collection_size(holder).unwrap_or(values),
                _ if values > 0 => values,
                _ => kids.len() as u64,
            };
            let (kind, what) = match &*holder_name {
                "Array" => (SuspectKind::ArrayElements, "elements"),
                "Map" => (SuspectKind::MapEntries, "entries"),
                "Set" => (SuspectKind::SetEntries, "entries"),
                _ => (SuspectKind::Object, "children"),
            };
            let of = child_names
                .first()
                .filter(|c| c.name != holder_name)
                .map(|c| format!(" (mostly {})", c.name))
                .unwrap_or_default();
            (
                kind,
                format!(
                    "{holder_name} `{}` holds {count} {what}{of}{retain_words}: {size_words}",
                    name.expr
                ),
                count,
                scope_funcs(&name),
            )
        };
        let _ = name.global;
        Suspect {
            kind,
            sentence,
            holder: self.at(holder),
            holder_name,
            reached_as: name.expr,
            scope_closures: scope_closures.iter().map(|&f| self.location(f)).collect(),
            path: path.map(|(edges, end)| {
                let mut s = self.display_name(holder);
                for &e in &edges {
                    s.push_str(&format!(
                        " <- {} {}",
                        g.edge_label(e),
                        self.display_name(g.source(e))
                    ));
                }
                if g.ty[end] == ex::T_SYNTHETIC {
                    s.push_str(&format!(" (root: {})", g.name(end)));
                }
                s
            }),
            retained,
            retained_external: 0,
            share,
            children,
            child_names,
            retains,
            code,
            duplicate: None,
        }
    }

    /// Entries of a Map or Set from its table's edges (the snapshot has no Smis, so the
    /// element count itself is not there): a Map's entries hold a key and a value, a Set's
    /// a key; strings and other objects are counted apart, and a collection's entries are
    /// the larger group (keys of one kind, values of another), or half of a Map's edges when
    /// keys and values are all strings or all objects.
    fn collection_size(&self, holder: usize) -> Option<u64> {
        let g = self.graph();
        let table = self.child_internal(holder, "table")?;
        let (mut strings, mut others) = (0u64, 0u64);
        for e in g.edges(table) {
            let t = g.to(e);
            if g.ety[e] != E_INTERNAL || g.ty[t] == ex::T_HIDDEN {
                continue;
            }
            if g.is_string(t) {
                strings += 1;
            } else {
                others += 1;
            }
        }
        let map = g.name(holder) == "Map";
        Some(match (strings, others) {
            (0, n) | (n, 0) if map => n / 2,
            (0, n) | (n, 0) => n,
            (a, b) => a.max(b),
        })
    }

    fn child_internal(&self, v: usize, name: &str) -> Option<usize> {
        let g = self.graph();
        g.edges(v)
            .find(|&e| g.ety[e] == E_INTERNAL && g.edge_name(e) == name)
            .map(|e| g.to(e))
    }

    /// Timeout objects among the children (or `x` itself): how many, how many repeat (their
    /// `_repeat` is not `null`; a Smi period has no node), and their callbacks.
    fn timers(
        &self,
        kids: &[usize],
        x: usize,
        holder_name: &str,
    ) -> Option<(u64, u64, Vec<usize>)> {
        if matches!(holder_name, "Array" | "Map" | "Set") {
            return None;
        }
        let g = self.graph();
        let prop = |v: usize, name: &str| {
            g.edges(v)
                .find(|&e| g.ety[e] == E_PROPERTY && g.edge_name(e) == name)
                .map(|e| g.to(e))
        };
        let timeouts: Vec<usize> = kids
            .iter()
            .copied()
            .chain(std::iter::once(x))
            .filter(|&c| g.ty[c] == ex::T_OBJECT && g.name(c) == "Timeout")
            .collect();
        if timeouts.is_empty() {
            return None;
        }
        let mut intervals = 0;
        let mut callbacks = Vec::new();
        for &t in &timeouts {
            let null =
                prop(t, "_repeat").is_some_and(|r| self.oddball_text(r).as_deref() == Some("null"));
            if !null {
                intervals += 1;
            }
            if let Some(cb) = prop(t, "_onTimeout").filter(|&f| g.ty[f] == ex::T_CLOSURE) {
                callbacks.push(cb);
            }
        }
        let count = (timeouts.len() - usize::from(timeouts.contains(&x))).max(1) as u64;
        Some((count, intervals, callbacks))
    }

    /// What `x`'s dominator subtree holds: objects by name, largest first.
    fn retained_names(&self, t: &Tree, x: usize, top: usize) -> Vec<NameCount> {
        let g = self.graph();
        let mut by: FxHashMap<u32, (u64, u64)> = FxHashMap::default();
        let mut stack = vec![x as u32];
        let mut seen = 0u64;
        while let Some(v) = stack.pop() {
            let v = v as usize;
            seen += 1;
            if seen > 50_000_000 {
                break;
            }
            if v != x && g.ty[v] == ex::T_OBJECT {
                let e = by.entry(g.name_id(v)).or_default();
                e.0 += 1;
                e.1 += g.self_size(v);
            }
            stack.extend_from_slice(t.children(v));
        }
        let mut merged: FxHashMap<String, (u64, u64)> = FxHashMap::default();
        for (id, (c, b)) in by {
            let e = merged.entry(g.string(id).into_owned()).or_default();
            e.0 += c;
            e.1 += b;
        }
        top_name_counts(merged, top)
    }
}

fn group(
    s: &SnapshotSession,
    items: impl Iterator<Item = (usize, u64)>,
    top: usize,
) -> Vec<NameCount> {
    let mut by: FxHashMap<String, (u64, u64)> = FxHashMap::default();
    for (i, b) in items {
        let e = by.entry(s.display_name(i)).or_default();
        e.0 += 1;
        e.1 += b;
    }
    top_name_counts(by, top)
}

fn join(parts: Vec<String>) -> String {
    let mut expr = String::new();
    for p in parts {
        if expr.is_empty() {
            expr = p.trim_start_matches('.').to_string();
        } else {
            expr.push_str(&p);
        }
    }
    expr
}

/// Whether a suspect is Node's own state (its module registry, its caches): every function
/// in its story, the code that closes over it and the code among its children, is Node's
/// own (`node:` scripts). A snapshot has no Smis and no external memory, so such tables weigh
/// more in it than in a core of the same process.
fn node_state(s: &Suspect) -> bool {
    let mut fns = s
        .scope_closures
        .iter()
        .chain(s.code.iter().map(|c| &c.function))
        .peekable();
    fns.peek().is_some() && fns.all(|f| f.is_node_internal())
}
