//! `v8dump`: the command-line front end. It parses arguments, calls the library and formats
//! the answer: aligned text for people, stable JSON (`--json`) for machines. No analysis here.

mod fmt;
mod info;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// The core dump.
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
}

impl CoreArgs {
    fn open(&self) -> Result<v8core::Process, v8core::Error> {
        v8core::Process::open(
            &self.core,
            &v8core::OpenOptions {
                executable: self.executable.clone(),
                force: self.force,
                allow_truncated: self.allow_truncated,
            },
        )
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info { core, json, pages } => info::run(core, *json, *pages),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("v8dump: error: {e}");
            ExitCode::FAILURE
        }
    }
}
