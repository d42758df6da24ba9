//! containerd's log lines as logrus' text formatter writes them (without the time field):
//! `level=info msg="…" key=value`; a value is quoted Go-style when it has a character outside
//! `[A-Za-z0-9-._/@^+]` (logrus `needsQuoting`).

use pullsim_reference::go_quote;

/// logrus `needsQuoting` with the default `QuoteEmptyFields = false` (an empty value is bare).
fn needs_quoting(s: &str) -> bool {
    !s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/' | '@' | '^' | '+'))
}

fn value(s: &str) -> String {
    if needs_quoting(s) {
        go_quote(s)
    } else {
        s.to_string()
    }
}

/// One log line: `level=<level> msg=<msg> k=v …` (fields in the order given; logrus sorts
/// them by key, callers pass them sorted).
pub(crate) fn logrus_line(level: &str, msg: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("level={level} msg={}", value(msg));
    for (k, v) in fields {
        line.push_str(&format!(" {k}={}", value(v)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_logrus() {
        assert_eq!(
            logrus_line("info", "hello world", &[("host", "127.0.0.1:5000")]),
            r#"level=info msg="hello world" host="127.0.0.1:5000""#
        );
        assert_eq!(
            logrus_line("error", "x", &[("error", "a/b.c")]),
            "level=error msg=x error=a/b.c"
        );
        assert_eq!(
            logrus_line("info", "m", &[("k", "")]),
            "level=info msg=m k="
        );
    }
}
