//! The commands: each parses its arguments, asks the library's `Session` one question, and
//! prints the answer: its text (`v8core::render`) for people, its JSON (`--json`) for
//! machines. No analysis and no formatting of values here.

use crate::{batch, mcp, progress, setup};
use clap::{Args, CommandFactory, Parser, Subcommand};
use serde::Serialize;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use v8core::answer::Answer;
use v8core::input::Input;
use v8core::inspect::Limits;
use v8core::session::{parse_address, ObjectsQuery};

/// Post-mortem analyzer for Node.js core dumps: what filled the heap and what kept it alive.
#[derive(Parser, Debug)]
#[command(name = "v8dump", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options every command that opens a core takes.
#[derive(Args, Debug, Clone)]
pub struct CoreArgs {
    /// The core dump, or a V8 heap snapshot (.heapsnapshot; also gzip, zstd or lz4 compressed).
    pub core: PathBuf,
    /// The node executable that produced the core (default: the path recorded in the core).
    #[arg(short = 'e', long, value_name = "NODE")]
    pub executable: Option<PathBuf>,
    /// Use the executable even if its build ID does not match the core's.
    #[arg(long)]
    pub force: bool,
    /// Open a truncated core and answer what its remaining bytes allow.
    #[arg(long)]
    pub allow_truncated: bool,
    /// Where to look for the node executable (by build ID) when the path the core recorded is
    /// missing or holds another build; may be given several times.
    #[arg(long = "exe-dir", value_name = "DIR")]
    pub exe_dirs: Vec<PathBuf>,
    /// Read the heap with V8 X.Y's layout table (calibrated on the core) instead of the
    /// binary's own: for a V8 version v8dump has no table for, when the nearest one fails.
    #[arg(long, value_name = "X.Y", value_parser = minor_version)]
    pub layout: Option<(u32, u32)>,
    /// Act as if V8 X.Y had no table (to see what the next release would get); repeatable.
    #[arg(long = "hide-table", value_name = "X.Y", value_parser = minor_version, hide = true)]
    pub hide_tables: Vec<(u32, u32)>,
    /// Draw no progress bar on the terminal (for scripts; nothing is drawn when stderr is not
    /// a terminal anyway). Errors and caveats are still printed.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

fn minor_version(s: &str) -> Result<(u32, u32), String> {
    v8core::calibrate::parse_minor(s).ok_or_else(|| format!("{s:?} is not a V8 version like 14.6"))
}

impl CoreArgs {
    pub(crate) fn options(&self) -> v8core::OpenOptions {
        v8core::OpenOptions {
            executable: self.executable.clone(),
            force: self.force,
            allow_truncated: self.allow_truncated,
            exe_dirs: self.exe_dirs.clone(),
            layout: self.layout,
            hide_tables: self.hide_tables.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// What is in the core: crash signal and thread, Node and V8 versions, executable check,
    /// metadata summary, heap pages and bytes per space.
    Info {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also list every heap page.
        #[arg(long)]
        pages: bool,
    },
    /// Objects per constructor: instances and total self size, largest first, named as V8's
    /// heap snapshot names them. Counts what is reachable unless --all.
    Findjsobjects {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON: an array of {name, count, size}.
        #[arg(long)]
        json: bool,
        /// Count unreachable (dead, not yet swept) objects too.
        #[arg(long)]
        all: bool,
        /// Group by constructor and own property names (llnode's -d).
        #[arg(short = 'd', long)]
        detailed: bool,
        /// Add the retained size per constructor (what its objects keep alive; builds the
        /// dominator tree) and sort by it.
        #[arg(long, conflicts_with = "all")]
        retained: bool,
        /// Only the first N rows.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Also count what is not a JS object, in DevTools' groups: (string), (concatenated
        /// string), (sliced string), (array), (compiled code), (closure), (system)...; the rows
        /// then add up to the whole heap.
        #[arg(long)]
        all_types: bool,
    },
    /// Objects of one constructor: address, size and a one-line summary each.
    Findjsinstances {
        #[command(flatten)]
        core: CoreArgs,
        /// Constructor name as findjsobjects prints it.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Include unreachable objects.
        #[arg(long)]
        all: bool,
        /// Show at most N instances.
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
        /// Skip the first N instances (paging).
        #[arg(long, default_value_t = 0, value_name = "N")]
        skip: usize,
    },
    /// Render any value: objects, arrays, strings, numbers, functions and their closures,
    /// Map/Set, promises, typed arrays...
    Inspect {
        #[command(flatten)]
        core: CoreArgs,
        /// Address (0x..., tagged or untagged), or @ID for a heap snapshot's node.
        address: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Levels of nested objects to expand.
        #[arg(long, default_value_t = 1)]
        depth: usize,
        /// Entries shown per object.
        #[arg(long, default_value_t = 100)]
        entries: usize,
        /// Characters shown per string.
        #[arg(long, default_value_t = 1000)]
        string_length: usize,
    },
    /// Where all the memory went: the V8 heap per space, external memory (ArrayBuffer backing
    /// stores, external strings) by what holds it, malloc's heaps and large chunks, stacks, the
    /// executable and libraries; totals as process.memoryUsage() names them (rss, heap_total,
    /// heap_used, external, array_buffers); the heap's limit and its last GCs.
    Memory {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What the process was waiting on: node's libuv handles (servers, sockets, watchers,
    /// child processes) and requests (fs, dns, writes) with their JavaScript objects and
    /// callbacks, and the pending timers (llnode's getactivehandles / getactiverequests).
    Handles {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A function's source text, from its script in the core, with line numbers (llnode's
    /// `v8 inspect -s` and `v8 source list`).
    Source {
        #[command(flatten)]
        core: CoreArgs,
        /// Address of a function (as bt --json, findjsinstances or inspect print it).
        address: String,
        /// Lines of context shown before and after the function.
        #[arg(long, short = 'C', default_value_t = 0)]
        context: u64,
        /// ADDRESS is a frame pointer (`fp` in bt --json): show the function running in that
        /// frame, its current line marked with `>`.
        #[arg(long)]
        frame: bool,
        /// With --frame: the thread id (default: the crashing thread).
        #[arg(long, requires = "frame")]
        thread: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Who references an object, under which name (`.session`, `[17]`, closure variable
    /// `socket`); or, with -n, objects with a property of that name; with -s, who references
    /// a string equal to the text.
    Findrefs {
        #[command(flatten)]
        core: CoreArgs,
        /// Address of the object (0x...), or the property name with -n, or the text with -s.
        what: String,
        /// WHAT is a property name: list objects that have an own property of that name.
        #[arg(short = 'n', long = "name", conflicts_with = "string")]
        name: bool,
        /// WHAT is a string: list who references strings equal to it.
        #[arg(short = 's', long = "string")]
        string: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show at most N references.
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: usize,
    },
    /// What keeps an object alive: the shortest chain(s) of references from a root (a global
    /// object, or a pointer from outside the heap: stack, handles, C++ heap) to it. Weak
    /// references do not retain.
    Retainers {
        #[command(flatten)]
        core: CoreArgs,
        /// Address of the object (0x...).
        address: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many paths to show (each ends at a different root object).
        #[arg(long, default_value_t = 1, value_name = "N")]
        paths: usize,
        /// Give up on paths longer than N steps.
        #[arg(long, default_value_t = 64, value_name = "N")]
        depth: usize,
    },
    /// Per-constructor change between two cores of the same program: count and size deltas,
    /// largest growth first (reachable objects).
    Diff {
        /// The earlier core.
        core_a: PathBuf,
        /// The later core.
        core_b: PathBuf,
        /// The node executable of both (default: the path recorded in each core).
        #[arg(short = 'e', long, value_name = "NODE")]
        executable: Option<PathBuf>,
        /// Use the executable even if its build ID does not match a core's.
        #[arg(long)]
        force: bool,
        /// Draw no progress bar on the terminal.
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Print JSON: an array of {name, count_a, count_b, count_delta, size_a, size_b,
        /// size_delta}.
        #[arg(long)]
        json: bool,
        /// Only the first N rows.
        #[arg(long, value_name = "N")]
        top: Option<usize>,
        /// Include constructors that did not change.
        #[arg(long)]
        all: bool,
        /// Also compare who holds the memory: holders matched across the cores by how the
        /// program names them (`realtimeService._events['data-update']`), largest growth first.
        #[arg(long, value_enum, value_name = "WHAT")]
        by: Option<DiffBy>,
        /// Fail (exit status 3) when reachable memory (heap and external) grew by more than
        /// SIZE (e.g. 50MiB); prints the holder that grew most.
        #[arg(long, value_name = "SIZE", value_parser = v8core::render::parse_bytes)]
        max_growth: Option<u64>,
        /// Fail (exit status 3) when any one holder grew by more than SIZE.
        #[arg(long, value_name = "SIZE", value_parser = v8core::render::parse_bytes)]
        max_holder_growth: Option<u64>,
        /// Fail (exit status 3) when constructor NAME's total self size grew by more than
        /// SIZE; may be given several times.
        #[arg(long, value_name = "NAME=SIZE", value_parser = parse_name_size)]
        max_growth_of: Vec<(String, u64)>,
    },
    /// The objects that keep the most memory alive (largest retained sizes), with what they
    /// are.
    Top {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// How many objects.
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: usize,
    },
    /// Retained memory as a flame graph: each object's stack is its chain of dominators from
    /// the roots, frames named as DevTools names objects (functions as `name (script:line)`),
    /// siblings of one name merged, so what holds the memory is the widest tower. Formats:
    /// `svg` (a flame graph to open in a browser), `folded` (flamegraph.pl, inferno,
    /// speedscope), `pprof` (gzipped profile.proto, bytes as the value: `go tool pprof`,
    /// Pyroscope, speedscope), `json` (the tree).
    Flamegraph {
        #[command(flatten)]
        core: CoreArgs,
        /// Write to FILE (`-`: standard output); without it, print the frames down to 3% of
        /// the memory (with --json, the whole tree, nested).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The format; by default from the file's name (`.svg`, `.pb.gz`, `.json`, else
        /// folded).
        #[arg(long, value_enum)]
        format: Option<FlameFormatArg>,
        /// Fold frames retaining less than this share of the memory, in percent.
        #[arg(long, default_value_t = 0.001, value_name = "PERCENT")]
        min_share: f64,
        /// Fold frames deeper than N into one.
        #[arg(long, default_value_t = 64, value_name = "N")]
        max_depth: usize,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leak suspects: what retains the most memory (heap and the external memory its objects
    /// keep), followed down to where it fans out, described by what holds it, its children,
    /// what they retain and the code behind it; then duplicate strings.
    Leaks {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Report at most N suspects.
        #[arg(long, default_value_t = 5, value_name = "N")]
        top: usize,
        /// Share of the memory a suspect retains at least, in percent.
        #[arg(long, default_value_t = 10.0, value_name = "PERCENT")]
        threshold: f64,
        /// Bytes a suspect retains at least, whatever its share (e.g. 1MiB, 0 for none).
        #[arg(long, default_value = "1MiB", value_name = "SIZE", value_parser = v8core::render::parse_bytes)]
        min_size: u64,
    },
    /// Write the reachable heap as a Chrome DevTools .heapsnapshot (open it in DevTools'
    /// Memory tab, or in memlab).
    Heapsnapshot {
        #[command(flatten)]
        core: CoreArgs,
        /// Output file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// Replace every string's and regular expression's text by its length and a hash (so
        /// copies stay visible): a snapshot to share where the heap's data may not go.
        #[arg(long)]
        redact: bool,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The stack of the crashing thread (or of every thread): native frames symbolized, JS
    /// frames with function, script and line, V8's frame types.
    Bt {
        #[command(flatten)]
        core: CoreArgs,
        /// Every thread, not just the one that received the signal.
        #[arg(long)]
        all_threads: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show `this` and the arguments of JS frames (loads the heap to summarize them).
        #[arg(long)]
        args: bool,
        /// At most N frames per thread.
        #[arg(long, value_name = "N")]
        frames: Option<usize>,
    },
    /// The Node.js process: pid, platform, process.versions, argv, execArgv, execPath, cwd,
    /// and the environment it started with (secret-looking values masked).
    Nodeinfo {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Do not mask values of variables whose names look secret (TOKEN, KEY, PASSWORD...).
        #[arg(long)]
        show_secrets: bool,
    },
    /// One screen for an SRE: why it died (out of memory, abort, signal), heap use, the largest
    /// constructors and what holds them, the JS stack.
    Report {
        #[command(flatten)]
        core: CoreArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Write the report as one self-contained HTML page to FILE (opens from disk, loads
        /// nothing): the leak suspects, a treemap of retained memory, the constructors, the
        /// memory and the stack.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Replace the program's strings by their lengths and hashes (copies stay alike), and
        /// mask the environment and the command line's arguments: a report to share.
        #[arg(long, conflicts_with = "html")]
        redact: bool,
    },
    /// Tools for maintainers (`debug instance-types NODE`: the enum a new V8 version's table
    /// embeds).
    #[command(subcommand)]
    Debug(Debug),
    /// Many cores (files, or directories searched for cores; zstd, gzip and lz4 ones too):
    /// one JSON line each (versions, crash cause, heap use, largest constructors, a retainer
    /// path, JS stack, signature), in parallel within a memory budget, then a table and the
    /// crashes grouped by signature. A broken core is a failed line.
    Batch {
        /// Core files and directories.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Cores analyzed at once.
        #[arg(short = 'j', long, default_value_t = 1, value_name = "N")]
        jobs: usize,
        /// Append the JSON lines to FILE (and skip cores already in it); default: stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Analyze cores already in the output again.
        #[arg(long)]
        force: bool,
        /// Where to look for node executables by build ID; may be given several times.
        #[arg(long = "exe-dir", value_name = "DIR")]
        exe_dirs: Vec<PathBuf>,
        /// Memory budget for cores in flight, in MiB (default: 60% of available memory).
        #[arg(long, value_name = "MIB")]
        memory_budget: Option<u64>,
        /// Draw no progress bar on the terminal.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Print a shell completion script: `source <(v8dump completions bash)`, or write it where
    /// the shell loads completions from (bash-completion's
    /// ~/.local/share/bash-completion/completions/v8dump, zsh's $fpath/_v8dump, fish's
    /// ~/.config/fish/completions/v8dump.fish).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `v8dump man | man -l -`), or with --out-dir write one page
    /// per command there (v8dump.1, v8dump-info.1, ...) for a man1 directory.
    Man {
        /// Write v8dump.1 and a page per command into DIR.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
    /// Serve the analysis to an agent over the Model Context Protocol on stdin and stdout:
    /// findjsobjects, findjsinstances, inspect, retainers, top, leaks, memory, report and bt as
    /// tools that take a core path and return the command's JSON (compact, long lists cut to
    /// the cap). The four most recently used sessions stay open between calls. For an MCP
    /// client's config:
    /// {"command": "v8dump", "args": ["mcp"]}.
    Mcp {
        /// The most bytes of JSON one answer may have.
        #[arg(long, default_value_t = mcp::DEFAULT_MAX_BYTES, value_name = "BYTES")]
        max_bytes: usize,
    },
    /// Make lldb load v8dump's `v8` commands at start: add `command script import v8dump.lldb`
    /// to ~/.lldbinit (once), and, when the Python lldb embeds cannot import the v8dump package
    /// (a venv, a --user install for another Python), the package's directory to lldb's
    /// sys.path. Run it as the `v8dump` the Python package installed, which knows where it is.
    LldbInit {
        /// The lldb to set up (default: lldb-19, else lldb, on PATH).
        #[arg(long, value_name = "LLDB")]
        lldb: Option<PathBuf>,
        /// The init file to write (default: ~/.lldbinit).
        #[arg(long, value_name = "FILE")]
        lldbinit: Option<PathBuf>,
        /// The directory that holds the v8dump package (default: where the Python package that
        /// runs this command is, from V8DUMP_PYTHON_PATH).
        #[arg(long, value_name = "DIR")]
        python_path: Option<PathBuf>,
    },
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// Print an answer: JSON, or its text.
fn emit<T: Serialize + v8core::render::Render>(a: &Answer<T>, json: bool) -> Res {
    let out = if json {
        serde_json::to_string_pretty(a)? + "\n"
    } else {
        a.text()
    };
    std::io::stdout().write_all(out.as_bytes())?;
    if a.partial.as_ref().is_some_and(|p| p.unusable()) {
        return Err(Box::new(Failure::Unusable));
    }
    Ok(())
}

fn run(cli: &Cli) -> Res {
    match &cli.command {
        Command::Info { core, json, pages } => match progress::input(core)? {
            Input::Core(s) => emit(&s.info(*pages), *json),
            Input::Snapshot(s) => emit(&s.info(), *json),
        },
        Command::Findjsobjects {
            core,
            json,
            all,
            detailed,
            retained,
            top,
            all_types,
        } => {
            let q = ObjectsQuery {
                all: *all,
                by_properties: *detailed,
                retained: *retained,
                top: *top,
                all_types: *all_types,
            };
            emit(&progress::input(core)?.objects(&q), *json)
        }
        Command::Findjsinstances {
            core,
            name,
            json,
            all,
            limit,
            skip,
        } => emit(
            &progress::input(core)?.instances(name, *all, *limit, *skip)?,
            *json,
        ),
        Command::Inspect {
            core,
            address,
            json,
            depth,
            entries,
            string_length,
        } => {
            let limits = Limits {
                depth: *depth,
                entries: *entries,
                string: *string_length,
            };
            emit(&progress::input(core)?.inspect(address, limits)?, *json)
        }
        Command::Memory { core, json } => {
            emit(&progress::input(core)?.core("memory")?.memory(), *json)
        }
        Command::Handles { core, json } => {
            emit(&progress::input(core)?.core("handles")?.handles(), *json)
        }
        Command::Source {
            core,
            address,
            context,
            frame,
            thread,
            json,
        } => {
            let input = progress::input(core)?;
            let s = input.core("source")?;
            let a = parse_address(address)?;
            let answer = if *frame {
                s.frame_source(*thread, a, *context, 0)?
            } else {
                s.source(a, *context, 0)?
            };
            emit(&answer, *json)
        }
        Command::Findrefs {
            core,
            what,
            name,
            string,
            json,
            limit,
        } => {
            let s = progress::input(core)?;
            if *name {
                emit(&s.property_holders(what, *limit), *json)
            } else if *string {
                emit(&s.string_refs(what, *limit), *json)
            } else {
                emit(&s.refs(what, *limit)?, *json)
            }
        }
        Command::Retainers {
            core,
            address,
            json,
            paths,
            depth,
        } => emit(
            &progress::input(core)?.retainers(address, *paths, *depth)?,
            *json,
        ),
        Command::Diff {
            core_a,
            core_b,
            executable,
            force,
            quiet,
            json,
            top,
            all,
            by,
            max_growth,
            max_holder_growth,
            max_growth_of,
        } => {
            let opts = v8core::session::DiffOptions {
                all: *all,
                top: *top,
                by_holder: *by == Some(DiffBy::Holder),
                limits: v8core::session::GrowthLimits {
                    total: *max_growth,
                    holder: *max_holder_growth,
                    constructors: max_growth_of.clone(),
                },
            };
            let holders = opts.by_holder || opts.limits.any();
            let side = |core: &PathBuf| -> Result<_, v8core::Error> {
                let args = CoreArgs {
                    core: core.clone(),
                    executable: executable.clone(),
                    force: *force,
                    allow_truncated: false,
                    exe_dirs: Vec::new(),
                    layout: None,
                    hide_tables: Vec::new(),
                    quiet: *quiet,
                };
                // One core at a time: two large heaps are never held at once.
                Ok(progress::input(&args)?.diff_side_with(holders))
            };
            let (a, b) = (side(core_a)?, side(core_b)?);
            let d = v8core::session::diff(&a, &b, &opts);
            emit(&d, *json)?;
            if d.body.gate.as_ref().is_some_and(|g| g.exceeded) {
                return Err(Box::new(Failure::LimitExceeded));
            }
            Ok(())
        }
        Command::Top { core, json, limit } => emit(&progress::input(core)?.top(*limit), *json),
        Command::Flamegraph {
            core,
            output,
            format,
            min_share,
            max_depth,
            json,
        } => {
            use v8core::flame::{FlameFormat, TreeOptions};
            let format = format.map(|f| match f {
                FlameFormatArg::Svg => FlameFormat::Svg,
                FlameFormatArg::Folded => FlameFormat::Folded,
                FlameFormatArg::Pprof => FlameFormat::Pprof,
                FlameFormatArg::Json => FlameFormat::Json,
            });
            let opts = TreeOptions {
                max_depth: *max_depth,
                min_share: min_share / 100.0,
                ..TreeOptions::default()
            };
            let input = progress::input(core)?;
            let Some(output) = output else {
                return emit(&input.retained_tree(&opts), *json);
            };
            let written = input.flamegraph(output, format, &opts)?;
            if output.as_os_str() == "-" {
                return Ok(());
            }
            emit(&written, *json)
        }
        Command::Leaks {
            core,
            json,
            top,
            threshold,
            min_size,
        } => {
            let opts = v8core::leaks::LeakOptions {
                threshold: threshold / 100.0,
                min_bytes: *min_size,
                top: *top,
            };
            emit(&progress::input(core)?.leaks(&opts), *json)
        }
        Command::Heapsnapshot {
            core,
            output,
            redact,
            json,
        } => emit(
            &progress::input(core)?.core("heapsnapshot")?.heapsnapshot(
                output,
                v8core::graph::snapshot::ExportOptions {
                    redact: *redact,
                    ..Default::default()
                },
            )?,
            *json,
        ),
        Command::Bt {
            core,
            all_threads,
            json,
            args,
            frames,
        } => emit(
            &progress::input(core)?
                .core("bt")?
                .backtraces(*all_threads, *args, *frames),
            *json,
        ),
        Command::Nodeinfo {
            core,
            json,
            show_secrets,
        } => emit(
            &progress::input(core)?
                .core("nodeinfo")?
                .node_info(*show_secrets),
            *json,
        ),
        Command::Report {
            core,
            json,
            html,
            redact,
        } => match (progress::input(core)?, html) {
            (input, Some(page)) => emit(&input.report_html(&core.core, page)?, *json),
            (Input::Core(s), None) => emit(&s.report_with(*redact), *json),
            (Input::Snapshot(s), None) => emit(&s.report_with(*redact), *json),
        },
        Command::Debug(d) => debug(d),
        Command::Batch {
            inputs,
            jobs,
            out,
            force,
            exe_dirs,
            memory_budget,
            quiet,
        } => batch::run(&batch::BatchArgs {
            inputs: inputs.clone(),
            jobs: *jobs,
            out: out.clone(),
            force: *force,
            exe_dirs: exe_dirs.clone(),
            budget: memory_budget.map(|m| m << 20),
            quiet: *quiet,
        }),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "v8dump",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man { out_dir } => {
            // `help` is clap's own command, not a page (`--help` is on every page).
            let cmd = Cli::command().disable_help_subcommand(true);
            match out_dir {
                None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
                Some(dir) => {
                    std::fs::create_dir_all(dir)?;
                    clap_mangen::generate_to(cmd, dir)?;
                }
            }
            Ok(())
        }
        Command::Mcp { max_bytes } => mcp::serve(*max_bytes),
        Command::LldbInit {
            lldb,
            lldbinit,
            python_path,
        } => setup::lldb_init(lldb.as_deref(), lldbinit.as_deref(), python_path.as_deref()),
    }
}

/// `flamegraph --format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FlameFormatArg {
    Svg,
    Folded,
    Pprof,
    Json,
}

/// Tools for maintainers of v8dump.
#[derive(Subcommand, Debug)]
enum Debug {
    /// Print a node binary's complete InstanceType enum, decoded from its code, in the format
    /// of crates/v8core/data/instance-types-v8-X.Y.txt (the version tables embed these).
    InstanceTypes {
        /// The node executable.
        node: PathBuf,
    },
    /// Write the JSON Schema of every --json answer (and of batch's lines) into DIR as
    /// <command>.json: the files docs/schema/ holds.
    JsonSchemas {
        /// The directory to write (created if missing).
        dir: PathBuf,
    },
}

fn debug(d: &Debug) -> Res {
    match d {
        Debug::InstanceTypes { node } => {
            let exe = elfcore::ElfImage::open(node)?;
            let text = v8core::meta::enum_decode::describe(&exe)?;
            std::io::stdout().write_all(text.as_bytes())?;
            Ok(())
        }
        Debug::JsonSchemas { dir } => {
            std::fs::create_dir_all(dir)?;
            for (name, text) in v8core::schema::schema_files() {
                std::fs::write(dir.join(name), text)?;
            }
            Ok(())
        }
    }
}

/// Exit status of `diff` when a growth limit was exceeded (1 is an error, 2 bad usage).
const EXIT_LIMIT_EXCEEDED: u8 = 3;
/// Exit status when an answer was printed but no object could be read from the heap.
const EXIT_UNUSABLE: u8 = 4;

/// An outcome that is not an error but must change the exit status.
#[derive(Debug)]
enum Failure {
    /// `diff --max-growth...`: the later core grew past a limit (already printed).
    LimitExceeded,
    /// The answer was printed, but it rests on a heap in which nothing could be read.
    Unusable,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::LimitExceeded => write!(f, "a growth limit was exceeded"),
            Failure::Unusable => write!(
                f,
                "the answer above is empty because no object could be read from the heap \
                 (see its first warning)"
            ),
        }
    }
}

impl std::error::Error for Failure {}

/// `NAME=SIZE` of `--max-growth-of`.
fn parse_name_size(s: &str) -> Result<(String, u64), String> {
    let (name, size) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("{s:?}: want NAME=SIZE, e.g. UserSession=10MiB"))?;
    if name.is_empty() {
        return Err(format!("{s:?}: the constructor name is empty"));
    }
    Ok((name.to_string(), v8core::render::parse_bytes(size)?))
}

/// What `diff --by` compares besides constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DiffBy {
    /// Holders of memory, matched by how the program names them.
    Holder,
}

/// The command line's definition (for completions and manual pages).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Run the command line `args` (the program name first) as the `v8dump` binary does: print the
/// answer, or the error on stderr, and return the exit status (0; 1 an error; 2 bad usage; 3 a
/// growth limit exceeded; 4 an answer with no objects). The Python package's `v8dump` command
/// calls this.
pub fn run_from<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" with status 0, printed on stdout.
            let _ = e.print();
            return e.exit_code().clamp(0, 255) as u8;
        }
    };
    match run(&cli) {
        Ok(()) => 0,
        Err(e) if matches!(e.downcast_ref::<Failure>(), Some(Failure::LimitExceeded)) => {
            eprintln!("v8dump: {e}");
            EXIT_LIMIT_EXCEEDED
        }
        Err(e) if matches!(e.downcast_ref::<Failure>(), Some(Failure::Unusable)) => {
            eprintln!("v8dump: {e}");
            EXIT_UNUSABLE
        }
        Err(e) => {
            eprintln!("v8dump: error: {}", v8core::render::clean(&e.to_string()));
            1
        }
    }
}
