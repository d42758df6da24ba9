//! Go's `%q` (strconv.Quote), which the kubelet, kubectl and distribution use in their messages.
//! One implementation for every crate: printability follows Go's `unicode.IsPrint` over the
//! Unicode 15.0 general categories (the tables of the Go release the kubelet is built with).
//!
//! Upstream: go/src/strconv/quote.go (appendQuotedWith, appendEscapedRune),
//! go/src/unicode/graphic.go (IsPrint).

use std::fmt::Write as _;

use unicode_general_category::{GeneralCategory, get_general_category};

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    use GeneralCategory::*;
    matches!(
        get_general_category(c),
        UppercaseLetter
            | LowercaseLetter
            | TitlecaseLetter
            | ModifierLetter
            | OtherLetter
            | NonspacingMark
            | SpacingMark
            | EnclosingMark
            | DecimalNumber
            | LetterNumber
            | OtherNumber
            | ConnectorPunctuation
            | DashPunctuation
            | OpenPunctuation
            | ClosePunctuation
            | InitialPunctuation
            | FinalPunctuation
            | OtherPunctuation
            | MathSymbol
            | CurrencySymbol
            | ModifierSymbol
            | OtherSymbol
    )
}

/// Go's `%q` of a string (`strconv.Quote`): double quotes, `\"` and `\\` escaped, printable
/// runes kept as they are, `\a \b \f \n \r \t \v` by name, other runes below U+0020 and U+007F
/// as `\xHH`, other non-printable runes as `\uHHHH` or `\UHHHHHHHH`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// `c` as Go's `%q` writes it inside the quotes (appendEscapedRune), quotes and backslashes
/// aside.
fn push_escaped(out: &mut String, c: char) {
    match c {
        c if go_is_print(c) => out.push(c),
        '\u{07}' => out.push_str("\\a"),
        '\u{08}' => out.push_str("\\b"),
        '\u{0C}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{0B}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7F}' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// A user-controlled string made safe to print on a terminal: every rune Go would not print
/// (ESC, CR, other control characters, invisible format characters) is written as `%q` writes
/// it (`\x1b`, `\r`, `\u200b`), everything else as it is, without quotes. Borrowed when there
/// is nothing to escape.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(go_is_print) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod terminal_tests {
    use super::*;

    #[test]
    fn terminal_safe_escapes_what_go_quote_escapes_without_quotes() {
        assert_eq!(terminal_safe("nginx:1.25"), "nginx:1.25");
        assert!(matches!(
            terminal_safe("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            terminal_safe("evil\u{1b}[2J\rimage"),
            "evil\\x1b[2J\\rimage"
        );
        assert_eq!(terminal_safe("a\"b\\c"), "a\"b\\c");
        assert_eq!(terminal_safe("zero\u{200b}width"), "zero\\u200bwidth");
        // The same escapes as %q inside its quotes.
        let s = "x\u{7}\u{1b}\u{85}y";
        assert_eq!(format!("\"{}\"", terminal_safe(s)), go_quote(s));
    }
}
