//! `v8dump`: the command-line front end, as a library so that the binary (`src/main.rs`) and the
//! Python package's `v8dump` command run the same code. [`run_from`] parses a command line and
//! runs it; [`command`] is its clap definition (completions, manual pages).

mod app;
mod batch;
mod mcp;
mod progress;
mod setup;

pub use app::{command, run_from};
