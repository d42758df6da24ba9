//! Source excerpts for manifest syntax errors, with every line that may hold a credential
//! redacted: the lines of a Secret's `data` / `stringData` block, and any line naming an
//! `auth`, `password`, `identitytoken`, `registrytoken` or docker config key. Line and column
//! are kept, so the excerpt still points at the error.

/// Keys whose values are credentials (compared case-insensitively, anywhere on a line: YAML
/// keys, and JSON keys inside a one-line `.dockerconfigjson` value).
const SENSITIVE_WORDS: [&str; 7] = [
    "auth",
    "password",
    "identitytoken",
    "registrytoken",
    ".dockerconfigjson",
    ".dockercfg",
    "token",
];

/// What replaces a redacted value.
pub const REDACTED: &str = "<redacted>";

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// `data:` or `stringData:` opening a block (nothing but a comment after the colon).
fn opens_secret_block(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t', '-']).trim_start();
    for key in ["data", "stringData", "\"data\"", "\"stringData\""] {
        if let Some(rest) = t.strip_prefix(key)
            && let Some(after) = rest.trim_start().strip_prefix(':')
        {
            let after = after.trim();
            return after.is_empty()
                || after.starts_with('#')
                || after.starts_with('|')
                || after.starts_with('>');
        }
    }
    false
}

/// `data: {…}` / `stringData: {…}` with the values on the same line.
fn inline_secret_values(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t', '-']).trim_start();
    ["data", "stringData", "\"data\"", "\"stringData\""]
        .iter()
        .any(|k| {
            t.strip_prefix(k)
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
}

fn names_sensitive_key(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
}

/// The line with everything after its first `:` (or the whole content, when it has none)
/// replaced by [`REDACTED`], indentation kept.
fn redact_value(line: &str) -> String {
    match line.find(':') {
        Some(i) => format!("{}: {REDACTED}", &line[..i]),
        None => format!("{}{REDACTED}", &line[..indent_of(line)]),
    }
}

/// Every line of `text` as it may be shown, in order.
pub fn redacted_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Indentation of the `data:` / `stringData:` key whose block we are in.
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
        if let Some(ind) = block {
            if blank || indent_of(line) > ind {
                out.push(if blank {
                    line.to_string()
                } else {
                    redact_value(line)
                });
                continue;
            }
            block = None;
        }
        if line.trim() == "---" {
            out.push(line.to_string());
            continue;
        }
        if opens_secret_block(line) {
            block = Some(indent_of(line));
            out.push(if names_sensitive_key(line) {
                redact_value(line)
            } else {
                line.to_string()
            });
            continue;
        }
        if inline_secret_values(line) || names_sensitive_key(line) {
            out.push(redact_value(line));
        } else {
            out.push(line.to_string());
        }
    }
    out
}

/// A rustc-style excerpt of `text` around `line` / `column` (1-based): two lines of context
/// before and after, a caret under the column, `message` beside it.
pub fn excerpt(text: &str, origin: &str, line: usize, column: usize, message: &str) -> String {
    let lines = redacted_lines(text);
    let line = line.max(1);
    let first = line.saturating_sub(2).max(1);
    let last = (line + 2).min(lines.len().max(line));
    let width = last.to_string().len();
    let pad = " ".repeat(width);
    let mut s = format!("{pad}--> {origin}:{line}:{column}\n{pad} |\n");
    for n in first..=last {
        let shown = lines.get(n - 1).map(String::as_str).unwrap_or("");
        let shown: String = shown.chars().take(120).collect();
        s.push_str(&format!("{n:>width$} | {shown}\n"));
        if n == line {
            s.push_str(&format!(
                "{pad} | {}^ {message}\n",
                " ".repeat(column.saturating_sub(1))
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"r\":{\"password\":\"MARKER\"}}}'\n  other: [unclosed\n---\nkind: Pod\n";

    #[test]
    fn secret_blocks_and_keys_are_redacted() {
        let lines = redacted_lines(SECRET);
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines[6], "  .dockerconfigjson: <redacted>");
        assert_eq!(lines[7], "  other: <redacted>");
        // Outside the block, lines are shown as written.
        assert_eq!(lines[4], "type: kubernetes.io/dockerconfigjson");
        assert_eq!(lines[9], "kind: Pod");
    }

    #[test]
    fn excerpt_keeps_line_and_column() {
        let e = excerpt(SECRET, "pod.yaml", 8, 10, "unclosed bracket '['");
        assert!(!e.contains("MARKER"), "{e}");
        assert!(e.contains("--> pod.yaml:8:10"), "{e}");
        assert!(e.contains(" 8 |   other: <redacted>"), "{e}");
        assert!(e.contains("|          ^ unclosed bracket '['"), "{e}");
    }

    #[test]
    fn data_block_with_base64_and_inline_maps() {
        let text = "kind: Secret\ndata:\n  .dockerconfigjson: eyJNQVJLRVIi\n  x: |\n    MARKER\nmetadata: {name: a}\n---\nstringData: {password: MARKER}\n  - auth: MARKER\nusername: bob\npassword: MARKER\n";
        let lines = redacted_lines(text);
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines[5], "metadata: {name: a}");
        assert_eq!(lines[9], "username: bob");
    }
}
