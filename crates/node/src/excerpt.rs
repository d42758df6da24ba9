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

/// The value after a `data:` / `stringData:` key (`-` list markers and quotes allowed), when
/// the line has one. Such a line opens a secret block whatever follows the colon: a block
/// (`|`, `>`, nothing), a flow collection that may go on over several lines (`{`, `[`), an
/// anchor or tag before the block (`&a`, `!!map`), or a plain scalar continued on more
/// indented lines.
fn secret_block_value(line: &str) -> Option<&str> {
    let t = line.trim_start_matches([' ', '\t', '-']).trim_start();
    ["data", "stringData", "\"data\"", "\"stringData\""]
        .iter()
        .find_map(|k| t.strip_prefix(k)?.trim_start().strip_prefix(':'))
}

/// Whether what follows a `data:` key shows nothing of the data: nothing, a comment, or a
/// block scalar header (`|`, `>-`, `|2+`), optionally followed by a comment.
fn shows_no_value(after: &str) -> bool {
    let a = after.trim();
    let a = a
        .strip_prefix(['|', '>'])
        .map(|h| h.trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-'))
        .unwrap_or(a);
    let a = a.trim_start();
    a.is_empty() || a.starts_with('#')
}

/// How many flow collections (`{`, `[`) `s` opens minus how many it closes, outside quoted
/// scalars and comments: a `data: {` opened on one line goes on until they are closed.
fn flow_delta(s: &str) -> i64 {
    let mut depth = 0i64;
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' if matches!(prev, ' ' | '\t' | '{' | '[' | ',' | ':') => quote = Some(c),
                '#' if matches!(prev, ' ' | '\t') => break,
                '{' | '[' => depth += 1,
                '}' | ']' => depth -= 1,
                _ => {}
            },
        }
        prev = c;
    }
    depth
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
        None => redact_all(line),
    }
}

/// The lines of `text` as YAML counts them (YAML 1.2 §5.4): a line break is `\n`, `\r\n` or
/// a lone `\r`, so that a file with old Mac line endings is not one long line shown whole.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            None => {
                out.push(rest);
                break;
            }
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
        }
    }
    out
}

/// A `data:` / `stringData:` block being read: the key's indentation, the indentation of its
/// first entry and the flow collections still open.
struct Block {
    indent: usize,
    entries: Option<usize>,
    depth: i64,
    /// The indentation of the `key: |` line whose block scalar is being read: every line more
    /// indented is its content and hidden whole, even at the entries' indentation (broken YAML
    /// can put a password where a key would be).
    scalar: Option<usize>,
}

/// `key: |`, `key: >-`: the lines after it are a block scalar's content.
fn opens_block_scalar(line: &str) -> bool {
    line.split_once(':')
        .is_some_and(|(_, v)| v.trim_start().starts_with(['|', '>']))
}

/// The whole content replaced by [`REDACTED`], indentation kept.
fn redact_all(line: &str) -> String {
    format!("{}{REDACTED}", &line[..indent_of(line)])
}

/// Every line of `text` as it may be shown, in order.
pub fn redacted_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<Block> = None;
    for line in yaml_lines(text) {
        let document_marker = line == "---" || line.starts_with("--- ") || line == "...";
        if let Some(b) = &mut block
            && !document_marker
        {
            if line.trim().is_empty() {
                out.push(line.to_string());
                continue;
            }
            // Inside the block: more indented lines, lines of a flow collection still open,
            // and comment lines (a `#` line may be content of a block scalar). An entry's key
            // is kept; anything more indented (a block scalar's content) is hidden whole.
            let indent = indent_of(line);
            if line.trim_start().starts_with('#') {
                out.push(redact_all(line));
                continue;
            }
            if indent > b.indent || b.depth > 0 {
                let entries = *b.entries.get_or_insert(indent);
                b.depth = (b.depth + flow_delta(line)).max(0);
                if b.scalar.is_some_and(|h| indent <= h) {
                    b.scalar = None;
                }
                let key_shown = b.scalar.is_none() && indent == entries;
                if b.scalar.is_none() && opens_block_scalar(line) {
                    b.scalar = Some(indent);
                }
                out.push(if key_shown {
                    redact_value(line)
                } else {
                    redact_all(line)
                });
                continue;
            }
        }
        // A secret block stays open to the end of its document: a stray, less indented key
        // inside it (broken YAML) must not let the data lines after it show.
        if document_marker {
            block = None;
        }
        if line.trim() == "---" {
            out.push(line.to_string());
            continue;
        }
        if let Some(after) = secret_block_value(line) {
            block = Some(Block {
                indent: indent_of(line),
                entries: None,
                depth: flow_delta(after).max(0),
                scalar: None,
            });
            out.push(if shows_no_value(after) && !names_sensitive_key(line) {
                line.to_string()
            } else {
                redact_value(line)
            });
            continue;
        }
        if names_sensitive_key(line) {
            out.push(redact_value(line));
        } else {
            out.push(line.to_string());
        }
    }
    out
}

/// The longest value a parser message quotes as it is (in characters).
const MAX_QUOTED_CHARS: usize = 64;
/// The longest parser message shown (in characters).
const MAX_MESSAGE_CHARS: usize = 1024;

/// The YAML parser's message made safe to show: the parser quotes the scalar it refuses
/// (``non-finite float `1e999` ``, ``duplicate mapping key `k` ``, `The string value [v] must be
/// quoted`), which on a redacted line (`line`, 1-based) is a credential, so those values are
/// redacted there, and elsewhere cut to [`MAX_QUOTED_CHARS`]; the whole message is cut to
/// [`MAX_MESSAGE_CHARS`] (a 1 MB scalar is not repeated in the error).
pub fn parser_message(text: &str, line: Option<usize>, message: &str) -> String {
    let hide = line.is_none_or(|n| {
        let shown = redacted_lines(text);
        let i = n.saturating_sub(1);
        shown.get(i).map(String::as_str) != yaml_lines(text).get(i).copied()
    });
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['`', '[']) {
        let close_char = if rest[open..].starts_with('`') {
            '`'
        } else {
            ']'
        };
        let Some(len) = rest[open + 1..].find(close_char) else {
            break;
        };
        out.push_str(&rest[..=open]);
        let quoted = &rest[open + 1..open + 1 + len];
        if hide {
            out.push_str(REDACTED);
        } else if quoted.chars().count() > MAX_QUOTED_CHARS {
            out.extend(quoted.chars().take(MAX_QUOTED_CHARS));
            out.push('…');
        } else {
            out.push_str(quoted);
        }
        out.push(close_char);
        rest = &rest[open + 2 + len..];
    }
    out.push_str(rest);
    if out.chars().count() > MAX_MESSAGE_CHARS {
        out = out.chars().take(MAX_MESSAGE_CHARS).chain(['…']).collect();
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

    // Found by tests/manifest_properties.rs (issue 11): lines of a Secret's data that the
    // excerpt showed.

    #[test]
    fn a_block_scalars_content_at_the_entries_indentation_is_hidden_whole() {
        // Found by the mutated-YAML property test: `other: |` less indented than the first
        // entry, its content (a password shaped like a key) at the entries' indentation.
        let text = "kind: Secret\nstringData:\n    filler: x\n  other: |\n    #MARKER\n    MARKER:x\n  last: y\n";
        let lines = redacted_lines(text);
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines[2], "    filler: <redacted>");
        assert_eq!(lines[5], "    <redacted>");
    }

    #[test]
    fn data_after_a_stray_less_indented_key_is_still_redacted() {
        // Broken YAML: a key at column 0 inside `stringData`, then more data lines.
        let text = "kind: Secret\nstringData:\n  a: MARKER1\nstray: x\n  c: MARKER2\n  b: MARKER3\n---\nkind: Pod\n  shown: yes\n";
        let lines = redacted_lines(text);
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines[3], "stray: x");
        assert_eq!(lines[4], "  c: <redacted>");
        // The next document is not a secret block.
        assert_eq!(lines[8], "  shown: yes");
    }

    #[test]
    fn multi_line_flow_mapping_under_string_data_is_redacted() {
        for text in [
            "kind: Secret\nstringData: {\n  mykey: MARKER,\n  other: [unclosed\n}\n",
            "---\n{\n  \"kind\": \"Secret\",\n  \"stringData\": {\n    \"k\": \"MARKER\"\n  },\n  x\n",
            "kind: Secret\ndata: [\n{k: MARKER},\n]\nx: ]\n",
        ] {
            let lines = redacted_lines(text);
            assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        }
        // The block ends where the flow collection closes.
        let lines = redacted_lines("stringData: {\n  k: MARKER,\n  j: x}\nkind: Secret\n");
        assert_eq!(lines[3], "kind: Secret");
    }

    #[test]
    fn anchor_or_tag_before_a_data_block_is_redacted() {
        for text in [
            "kind: Secret\nstringData: &creds\n  k: MARKER\n  bad: [\n",
            "kind: Secret\ndata: !!map\n  k: MARKER\n  bad: [\n",
            "kind: Secret\nstringData: MARKER\n  MARKER continued\n",
        ] {
            let lines = redacted_lines(text);
            assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        }
    }

    #[test]
    fn block_scalar_content_is_redacted_whole() {
        // A `#` line of a block scalar is content, and so is what precedes a colon in it.
        let text =
            "kind: Secret\nstringData:\n  key: |\n    #MARKER\n    MARKER:x\n  k2: v\nbad: [\n";
        let lines = redacted_lines(text);
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        assert_eq!(lines[4], "    <redacted>");
        // An entry keeps its key.
        assert_eq!(lines[5], "  k2: <redacted>");
        // A block scalar header shows nothing of the data; anything else after it does.
        assert_eq!(redacted_lines("data: |-\n")[0], "data: |-");
        assert_eq!(redacted_lines("data: |MARKER\n")[0], "data: <redacted>");
    }

    #[test]
    fn lone_carriage_returns_are_line_breaks() {
        // YAML 1.2 §5.4: `\r` alone breaks a line; the file is not one line shown whole.
        let text = "kind: Secret\rstringData:\r  k: MARKER\r  bad: [\r";
        let lines = redacted_lines(text);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("MARKER")), "{lines:?}");
        let e = excerpt(text, "m.yaml", 1, 1, "error");
        assert!(!e.contains("MARKER"), "{e}");
    }

    #[test]
    fn a_document_marker_ends_an_unclosed_block() {
        let lines = redacted_lines("stringData: {\n  k: MARKER\n---\nkind: Pod\n");
        assert_eq!(lines[2..], ["---", "kind: Pod"]);
    }

    #[test]
    fn parser_message_quotes_are_hidden_on_redacted_lines_and_cut_elsewhere() {
        let text = "kind: Secret\nstringData:\n  password: 1e999\nspec: 1e999\n";
        assert_eq!(
            parser_message(
                text,
                Some(3),
                "non-finite float `1e999` rejected at line 3, column 13"
            ),
            "non-finite float `<redacted>` rejected at line 3, column 13"
        );
        assert_eq!(
            parser_message(text, Some(4), "non-finite float `1e999` rejected"),
            "non-finite float `1e999` rejected"
        );
        assert_eq!(
            parser_message(text, Some(3), "The string value [x] must be quoted"),
            "The string value [<redacted>] must be quoted"
        );
        // Without a location every quoted value is hidden.
        assert_eq!(parser_message(text, None, "key `k`"), "key `<redacted>`");
        let long = format!("float `{}` rejected", "9".repeat(100_000));
        let cut = parser_message(text, Some(4), &long);
        assert_eq!(
            cut,
            format!("float `{}…` rejected", "9".repeat(MAX_QUOTED_CHARS))
        );
        let many = "`a` ".repeat(10_000);
        assert_eq!(
            parser_message(text, Some(4), &many).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }
}
