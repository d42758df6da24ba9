//! String scalars in a block mapping exactly as kubectl's YAML printer writes them.
//!
//! kubectl prints `-o yaml` through sigs.k8s.io/yaml, which marshals with its go-yaml v2 fork
//! (sigs.k8s.io/yaml/goyaml.v2). For a string that fork decides the style in `encode.go`
//! (`stringv`: a string that would resolve to another tag when plain — `resolve.go`: null,
//! booleans, ints, floats, timestamps — or is a base-60 float is double-quoted; one with a
//! newline is a literal block), and the emitter (`emitterc.go`:
//! `yaml_emitter_analyze_scalar`, `yaml_emitter_select_scalar_style`, and the plain,
//! single-quoted, double-quoted and literal writers with their folding at 80 columns) may
//! downgrade it to single- or double-quoted. Only what a Secret's name, namespace and data keys
//! can reach is implemented: string scalars as block-mapping keys and values.

/// The string as it comes out of sigs.k8s.io/yaml's JSON-to-YAML step, which kubectl's YAML
/// printer takes: the object is written as JSON (encoding/json escapes control characters, `<>&`
/// and U+2028/U+2029, but not DEL, the C1 controls or U+FFFE/U+FFFF) and parsed back by the
/// go-yaml reader. The reader refuses those unescaped characters (`Err` with its message,
/// reader.go), and in a double-quoted scalar folds a raw NEL (U+0085), a line break to YAML 1.1,
/// with the spaces around it: one break becomes a space, n breaks become n-1 newlines
/// (scannerc.go `yaml_parser_scan_flow_scalar`).
pub fn json_round_trip(s: &str) -> Result<String, &'static str> {
    if s.chars()
        .any(|c| matches!(c as u32, 0x7F..=0x84 | 0x86..=0x9F | 0xFFFE | 0xFFFF))
    {
        return Err("yaml: control characters are not allowed");
    }
    if !s.contains('\u{85}') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != ' ' && chars[i] != '\u{85}' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\u{85}') {
            i += 1;
        }
        let run = &chars[start..i];
        match run.iter().filter(|c| **c == '\u{85}').count() {
            0 => out.extend(run),
            1 => out.push(' '),
            n => out.extend(std::iter::repeat_n('\n', n - 1)),
        }
    }
    Ok(out)
}

mod resolve;

pub use resolve::{is_base60_float, is_timestamp, resolves_to_non_string};

/// go-yaml's `best_width`.
const BEST_WIDTH: usize = 80;
/// go-yaml's `best_indent`.
const BEST_INDENT: usize = 2;

/// One `key: value` line (or lines) of a block mapping whose keys sit at column `indent`,
/// ending with a newline.
pub fn mapping_entry(indent: usize, key: &str, value: &str) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        indent,
        whitespace: true,
        indention: true,
    };
    e.write_indent();
    e.scalar(key, true);
    e.put_str(":");
    e.whitespace = false;
    e.indention = false;
    // emit_scalar raises the indent by best_indent for the value.
    e.indent = indent + BEST_INDENT;
    e.scalar(value, false);
    e.out.push('\n');
    e.out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// `yaml_emitter_analyze_scalar`'s verdicts.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// emitterc.go `is_printable` for one character.
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

/// `is_break`: CR, LF, NEL, LS, PS.
fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_by_whitespace = next.is_none_or(|n| n == ' ' || n == '\t');
        let last = i + 1 == chars.len();
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = c == ' ' || c == '\t' || is_break(c) || c == '\0';
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// encode.go `stringv` then `yaml_emitter_select_scalar_style` (block context).
fn select_style(value: &str, simple_key: bool, a: &Analysis) -> Style {
    let can_plain = !resolves_to_non_string(value) && !is_base60_float(value);
    let mut style = if value.contains('\n') {
        Style::Literal
    } else if can_plain {
        Style::Plain
    } else {
        Style::Double
    };
    if simple_key && a.multiline {
        style = Style::Double;
    }
    if style == Style::Plain && (!a.block_plain_allowed || (value.is_empty() && simple_key)) {
        style = Style::Single;
    }
    if style == Style::Single && !a.single_quoted_allowed {
        style = Style::Double;
    }
    if style == Style::Literal && (!a.block_allowed || simple_key) {
        style = Style::Double;
    }
    style
}

struct Emitter {
    out: String,
    column: usize,
    indent: usize,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    /// `write_break`: LF becomes a line break; other breaks are written as they are.
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indent(&mut self) {
        if !self.indention
            || self.column > self.indent
            || (self.column == self.indent && !self.whitespace)
        {
            self.put_break();
        }
        while self.column < self.indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, s: &str, need_whitespace: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        self.put_str(s);
        self.whitespace = false;
        self.indention = false;
    }

    fn scalar(&mut self, value: &str, simple_key: bool) {
        let a = analyze(value);
        let allow_breaks = !simple_key;
        match select_style(value, simple_key, &a) {
            Style::Plain => self.plain(value, allow_breaks),
            Style::Single => self.single(value, allow_breaks),
            Style::Double => self.double(value, allow_breaks),
            Style::Literal => self.literal(value),
        }
    }

    fn plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single(&mut self, value: &str, allow_breaks: bool) {
        self.indicator("'", true);
        let chars: Vec<char> = value.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && chars[i + 1] != ' '
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.indicator("'", false);
    }

    fn double(&mut self, value: &str, allow_breaks: bool) {
        self.indicator("\"", true);
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        // go-yaml's `is_bom(b, i)` looks at b[0..3] whatever i is: a value that starts with a
        // BOM has every character escaped (kubectl prints "\uFEFF\x61\x62" for "\u{FEFF}ab").
        let starts_with_bom = value.starts_with('\u{FEFF}');
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || starts_with_bom || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{07}' => self.put('a'),
                    '\u{08}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{0B}' => self.put('v'),
                    '\u{0C}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1B}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let text = if v <= 0xFF {
                            format!("x{v:02X}")
                        } else if v <= 0xFFFF {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        self.put_str(&text);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.write_indent();
                    if chars[i + 1] == ' ' {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false);
    }

    fn literal(&mut self, value: &str) {
        self.indicator("|", true);
        let chars: Vec<char> = value.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.put_str(&BEST_INDENT.to_string());
        }
        // Chomping: `-` without a final break, `+` when the value is one break or ends with two.
        let n = chars.len();
        if n == 0 || !is_break(chars[n - 1]) {
            self.put('-');
        } else if n == 1 || is_break(chars[n - 2]) {
            self.put('+');
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
        // A value ending in a break leaves the cursor at column 0: the caller's newline
        // must not add an empty line.
        if self.out.ends_with('\n') {
            self.out.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: &str) -> String {
        mapping_entry(2, "name", value)
    }

    // Each expected text is what kubectl 1.32 printed for
    // `kubectl create secret docker-registry NAME ... --dry-run=client -o yaml`.
    #[test]
    fn styles_as_kubectl_prints_them() {
        let cases: &[(&str, &str)] = &[
            ("my-secret", "  name: my-secret\n"),
            ("123", "  name: \"123\"\n"),
            ("true", "  name: \"true\"\n"),
            ("a: b", "  name: 'a: b'\n"),
            ("<<", "  name: <<\n"),
            ("2001-01-01", "  name: \"2001-01-01\"\n"),
            ("2001-02-30", "  name: 2001-02-30\n"),
            ("a\tb", "  name: \"a\\tb\"\n"),
            ("a\u{1F600}b", "  name: \"a\\U0001F600b\"\n"),
            ("x\u{FEFF}", "  name: \"x\\uFEFF\"\n"),
            ("\u{FEFF}ab", "  name: \"\\uFEFF\\x61\\x62\"\n"),
            ("\u{FEFF}é-x", "  name: \"\\uFEFF\\xE9\\x2D\\x78\"\n"),
            ("x\u{1}y", "  name: \"x\\x01y\"\n"),
            ("a\nb", "  name: |-\n    a\n    b\n"),
            ("a\n", "  name: |\n    a\n"),
            ("a\n\n", "  name: |+\n    a\n\n"),
            (" a\nb", "  name: |2-\n     a\n    b\n"),
            ("a \nb", "  name: \"a \\nb\"\n"),
            ("1e400", "  name: 1e400\n"),
            ("1_000", "  name: \"1_000\"\n"),
            (".5_0", "  name: \".5_0\"\n"),
            ("._5", "  name: ._5\n"),
            ("0X1F", "  name: \"0X1F\"\n"),
            ("0x", "  name: 0x\n"),
            ("+.5", "  name: \"+.5\"\n"),
            ("+inf", "  name: +inf\n"),
            ("1:99", "  name: 1:99\n"),
            ("1:2_3", "  name: 1:2_3\n"),
            ("12:30", "  name: \"12:30\"\n"),
            ("99999999999999999999", "  name: \"99999999999999999999\"\n"),
            ("2001-1-1T1:2:3Z", "  name: \"2001-1-1T1:2:3Z\"\n"),
            (
                "2001-01-01 10:00:00.5",
                "  name: \"2001-01-01 10:00:00.5\"\n",
            ),
        ];
        for (value, want) in cases {
            assert_eq!(v(value), *want, "{value:?}");
        }
    }

    #[test]
    fn long_values_fold_at_80_columns() {
        let words = format!("{}end", "word ".repeat(30));
        assert_eq!(
            v(&words),
            "  name: word word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word end\n"
        );
        let ns = format!("ns x: {}end", "word ".repeat(30));
        assert_eq!(
            mapping_entry(2, "namespace", &ns),
            "  namespace: 'ns x: word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word word\n    word end'\n"
        );
    }

    // kubectl 1.32: DEL in a name is "error: yaml: control characters are not allowed"; a NEL
    // is folded by the JSON-to-YAML step.
    #[test]
    fn json_round_trip_as_kubectl() {
        assert_eq!(
            json_round_trip("a\u{7f}b"),
            Err("yaml: control characters are not allowed")
        );
        assert!(json_round_trip("a\u{9f}b").is_err());
        assert_eq!(json_round_trip("a\u{85}b").unwrap(), "a b");
        assert_eq!(json_round_trip("a \u{85} b").unwrap(), "a b");
        assert_eq!(json_round_trip("a\u{85}\u{85}\u{85}b").unwrap(), "a\n\nb");
        assert_eq!(
            json_round_trip("a  b\u{1}\u{FEFF}").unwrap(),
            "a  b\u{1}\u{FEFF}"
        );
    }

    #[test]
    fn keys() {
        assert_eq!(
            mapping_entry(2, ".dockerconfigjson", "eyJ9"),
            "  .dockerconfigjson: eyJ9\n"
        );
        assert_eq!(mapping_entry(2, "123", "x"), "  \"123\": x\n");
        assert_eq!(mapping_entry(2, "-", "x"), "  '-': x\n");
    }
}
