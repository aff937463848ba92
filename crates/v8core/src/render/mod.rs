//! Answers as text for people: the one place that turns an [`Answer`] into the aligned,
//! sorted tables and lines the CLI prints, the Python module returns with `text=True` and the
//! lldb plugin shows. No front end formats an answer on its own, so all three say the same.

use crate::answer::{Answer, Partial};

pub(crate) mod crash;
mod find;
mod flame;
mod handles;
mod info;
mod inspect;
mod leaks;
mod memory;
mod refs;
mod snapshot;

pub use inspect::value_text;

/// An answer body that can be shown as text.
pub trait Render {
    /// The body as text, lines ending in `\n`.
    fn render(&self, out: &mut String);
}

impl<T: Render> Answer<T> {
    /// The whole answer as text: the marks of a partial answer first, then the body.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.partial {
            out.push_str(&partial_banner(p));
        }
        self.body.render(&mut out);
        terminal_safe(out)
    }
}

/// The whole text checked once more before it leaves: every control character but the line
/// break escaped as [`clean`] escapes it. Renderers clean what they read from the dump; this
/// keeps one they missed from reaching a terminal.
fn terminal_safe(text: String) -> String {
    if !text.chars().any(|c| c != '\n' && is_control(c)) {
        return text;
    }
    text.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

/// The banner a partial answer starts with: one `warning:` line per reason, then a blank line.
pub fn partial_banner(p: &Partial) -> String {
    let mut out = String::new();
    for r in &p.reasons {
        out.push_str(&format!("warning: {}\n", clean(&r.message)));
    }
    out.push('\n');
    out
}

/// Text from the dump made safe for a terminal: control characters (ESC and the rest of C0,
/// DEL, C1) become `\u{..}` escapes, so no byte read from a core can drive the terminal.
pub fn clean(s: &str) -> String {
    if !s.chars().any(is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if is_control(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn is_control(c: char) -> bool {
    (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32))
}

/// Bytes in binary units with one decimal (`1.5 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parse a size as people write it: `1048576`, `512K`, `1.5MiB`, `10 MB`. K, M, G, T and
/// KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000; B or nothing is bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (want e.g. 50MiB, 512K, 1048576)"))?;
    let mul: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "k" | "KiB" | "Ki" => 1024.0,
        "M" | "m" | "MiB" | "Mi" => 1024.0 * 1024.0,
        "G" | "g" | "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        "T" | "t" | "TiB" | "Ti" => 1024f64.powi(4),
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        u => {
            return Err(format!(
                "{text:?}: unknown unit {u:?} (want B, K, M, G, KiB, MiB, GiB, kB, MB, GB)"
            ))
        }
    };
    let n = v * mul;
    if !n.is_finite() || n < 0.0 || n > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(n.round() as u64)
}

/// A signed byte count (`+1.5 MiB`, `-512 B`).
pub fn signed_bytes(d: i64) -> String {
    let s = bytes(d.unsigned_abs());
    match d.signum() {
        1 => format!("+{s}"),
        -1 => format!("-{s}"),
        _ => s,
    }
}

/// A signed count (`+3`, `-2`, `0`).
pub fn signed(d: i64) -> String {
    if d > 0 {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// A table whose columns are padded to their widest cell; columns listed in `right` are
/// right-aligned (numbers). Cells are [`clean`]ed.
pub struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
}

impl Table {
    /// A table with a header row.
    pub fn new(header: &[&str], right: &[usize]) -> Self {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
            right: right.to_vec(),
        }
    }
    /// Add a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| clean(&c)).collect());
    }
    /// Render with two spaces between columns and no trailing blanks.
    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(|r| r.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in &self.rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = widths[c] - cell.chars().count();
                if self.right.contains(&c) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
    /// Render without the header line (for key-value lists).
    pub fn body(&self) -> String {
        let r = self.render();
        r.split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_control_character_but_the_line_break_leaves_a_text() {
        assert_eq!(terminal_safe("a\nb\n".into()), "a\nb\n");
        assert_eq!(
            terminal_safe("x\x1b]0;t\x07\n\x1b[2Jy\r\n".into()),
            "x\\u{1b}]0;t\\u{7}\n\\u{1b}[2Jy\\u{d}\n"
        );
    }

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("512K"), Ok(512 << 10));
        assert_eq!(parse_bytes("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_bytes("10 MB"), Ok(10_000_000));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert!(parse_bytes("ten").is_err());
        assert!(parse_bytes("5 parsecs").is_err());
        assert!(parse_bytes("-1M").is_err());
    }

    #[test]
    fn bytes_and_tables_format() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(signed_bytes(-1536), "-1.5 KiB");
        assert_eq!(signed(0), "0");
        let mut t = Table::new(&["name", "n"], &[1]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["long".into(), "2".into()]);
        assert_eq!(t.render(), "name    n\na     100\nlong    2\n");
    }

    #[test]
    fn terminal_control_bytes_are_escaped() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(clean("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(clean("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        let mut t = Table::new(&["n"], &[]);
        t.row(vec!["\x1b]0;title\x07".into()]);
        assert!(!t.render().contains('\x1b'));
    }
}
