//! Shell completions and manual pages, generated from the clap definitions, used as a shell and
//! `man` use them: bash completes a prefix to the commands that start with it, and `man`
//! renders a page for every command `--help` lists.

mod common;

use common::{text, v8dump};
use std::process::Command;
use v8dump_testkit::TempDir;

/// The commands `v8dump --help` lists (the oracle is clap's own help text).
fn commands() -> Vec<String> {
    let help = text(&v8dump(&["--help"]));
    help.split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_commands_and_options() {
    let script = text(&v8dump(&["completions", "bash"]));
    let dir = TempDir::new("v8dump-completions");
    let path = dir.join("v8dump.bash");
    std::fs::write(&path, script).unwrap();
    let complete = |words: &[&str]| -> Vec<String> {
        let words_arr = words.join(" ");
        let cword = words.len() - 1;
        let cur = words[cword];
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words_arr}); COMP_CWORD={cword}; \
                 _v8dump v8dump '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display()
            ))
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    let all = commands();
    assert!(all.len() >= 20, "{all:?}");
    let mut want: Vec<String> = all
        .iter()
        .filter(|c| c.starts_with("fin"))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(
        want,
        ["findjsinstances", "findjsobjects", "findrefs"],
        "the commands --help lists"
    );
    assert_eq!(complete(&["v8dump", "fin"]), want);
    // Options of one command.
    let opts = complete(&["v8dump", "leaks", "--thr"]);
    assert_eq!(opts, ["--threshold"]);
    // A shell name for completions itself.
    assert_eq!(complete(&["v8dump", "completions", "fi"]), ["fish"]);
}

#[test]
fn every_shell_gets_a_script_naming_every_command() {
    let all = commands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = v8dump(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out);
        for c in &all {
            assert!(script.contains(c.as_str()), "{shell}: {c} missing");
        }
    }
    let bad = v8dump(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_renders_a_page_for_every_command() {
    let dir = TempDir::new("v8dump-man");
    let out = v8dump(&["man", "--out-dir", dir.join("").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let render = |page: &std::path::Path| -> String {
        let out = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man runs (Debian's man-db)");
        assert!(out.status.success(), "{}", page.display());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = render(&dir.join("v8dump.1"));
    assert!(top.contains("NAME") && top.contains("SUBCOMMANDS"), "{top}");
    for c in commands() {
        let page = dir.join(&format!("v8dump-{c}.1"));
        assert!(page.is_file(), "no page for {c}");
        assert!(top.contains(&format!("v8dump-{c}(1)")), "{c} not listed");
        // The page's synopsis is the command's own (man justifies lines: spaces vary).
        let body = render(&page)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            body.contains(&format!("SYNOPSIS v8dump {c} ")),
            "{c}: {body}"
        );
    }
    // Printed to stdout, the top page is the same roff.
    let stdout = text(&v8dump(&["man"]));
    assert_eq!(
        stdout,
        std::fs::read_to_string(dir.join("v8dump.1")).unwrap()
    );
}
