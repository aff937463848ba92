//! Running the `v8dump` binary from the CLI's integration tests.
#![allow(dead_code)] // each test file uses its own subset

use std::process::{Command, Output};

/// Run `v8dump` with `args`.
pub fn v8dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_v8dump"))
        .args(args)
        .output()
        .expect("run v8dump")
}

/// Its stdout as JSON, after checking it succeeded.
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Its stdout as text, after checking it succeeded.
pub fn text(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
