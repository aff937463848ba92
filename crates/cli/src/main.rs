//! The `v8dump` binary: the command line of `v8dump_cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Output piped into `head` and closed early: end quietly, as other command-line tools do,
    // rather than fail on the broken pipe.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    ExitCode::from(v8dump_cli::run_from(std::env::args_os()))
}
