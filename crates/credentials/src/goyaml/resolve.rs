//! goyaml.v2 `resolve.go` (which tag a plain scalar resolves to) and encode.go
//! `isBase60Float`, for the strings kubectl must quote.

/// Whether go-yaml resolves `s`, written plain, to a tag other than `!!str`
/// (goyaml.v2 resolve.go `resolve("", s)`).
pub fn resolves_to_non_string(s: &str) -> bool {
    const MAP: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let hint = match s.bytes().next() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return false,
    };
    if MAP.contains(&s) {
        return true;
    }
    match hint {
        b'.' => go_parse_float(s),
        b'D' | b'S' => {
            if is_timestamp(s) {
                return true;
            }
            let plain: String = s.chars().filter(|c| *c != '_').collect();
            go_parse_int_base0(&plain) || (is_yaml_style_float(&plain) && go_parse_float(&plain))
        }
        _ => false,
    }
}

/// `strconv.ParseInt(s, 0, 64)` or `strconv.ParseUint(s, 0, 64)` succeeds (no underscores:
/// the caller removed them).
fn go_parse_int_base0(s: &str) -> bool {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return false;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) if neg => v <= 1 << 63,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (resolve.go `yamlStyleFloat`).
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` returns no error: decimal floats (underscores only between
/// digits), `inf`/`infinity`/`nan`, hexadecimal floats; an overflow to ±Inf is an error.
fn go_parse_float(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return true;
    }
    if !underscores_ok(s) {
        return false;
    }
    let clean: String = lower.chars().filter(|c| *c != '_').collect();
    if let Some(hex) = clean.strip_prefix("0x") {
        return go_hex_float(hex);
    }
    let b = clean.as_bytes();
    let mut i = 0;
    let mut mantissa = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa += 1;
        }
    }
    if mantissa == 0 {
        return false;
    }
    if b.get(i) == Some(&b'e') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len() && clean.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A hexadecimal float mantissa after `0x`: hex digits with at most one `.`, then a mandatory
/// `p` exponent.
fn go_hex_float(hex: &str) -> bool {
    let Some((mant, exp)) = hex.split_once('p') else {
        return false;
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let hexdigits = |x: &str| x.bytes().all(|c| c.is_ascii_hexdigit());
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    !(int.is_empty() && frac.is_empty())
        && hexdigits(int)
        && hexdigits(frac)
        && !exp.is_empty()
        && exp.bytes().all(|c| c.is_ascii_digit())
}

/// strconv `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = s[1].eq_ignore_ascii_case(&b'x');
    }
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$` (encode.go `isBase60Float`).
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // [0-5]?[0-9]: a second digit only after a first in 0-5 (the regexp backtracks).
        match (b.get(i), b.get(i + 1)) {
            (Some(b'0'..=b'5'), Some(d2)) if d2.is_ascii_digit() => i += 2,
            (Some(d), _) if d.is_ascii_digit() => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// resolve.go `parseTimestamp`: `YYYY-` first, then one of the layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, `2006-1-2t15:4:5.999999999Z07:00`,
/// `2006-1-2 15:4:5.999999999`, `2006-1-2` as Go's time.Parse reads them.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let Some(rest) = parse_date(b) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let (sep, rest) = (rest[0], &rest[1..]);
    let Some(rest) = parse_clock(rest) else {
        return false;
    };
    match sep {
        b'T' | b't' => {
            if rest == b"Z" {
                return true;
            }
            // ±hh:mm, hours ≤ 24, minutes ≤ 60 (time.Parse's range checks).
            rest.len() == 6
                && matches!(rest[0], b'+' | b'-')
                && rest[1].is_ascii_digit()
                && rest[2].is_ascii_digit()
                && rest[3] == b':'
                && rest[4].is_ascii_digit()
                && rest[5].is_ascii_digit()
                && (rest[1] - b'0') * 10 + (rest[2] - b'0') <= 24
                && (rest[4] - b'0') * 10 + (rest[5] - b'0') <= 60
        }
        b' ' => rest.is_empty(),
        _ => false,
    }
}

/// One or two digits (time.Parse `getnum` without a fixed width).
fn num12(b: &[u8]) -> Option<(u32, &[u8])> {
    let d0 = *b.first().filter(|c| c.is_ascii_digit())?;
    match b.get(1).filter(|c| c.is_ascii_digit()) {
        Some(d1) => Some((u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'), &b[2..])),
        None => Some((u32::from(d0 - b'0'), &b[1..])),
    }
}

/// `2006-1-2` with month and day range checks; the rest of the input.
fn parse_date(b: &[u8]) -> Option<&[u8]> {
    let year: u32 = std::str::from_utf8(&b[..4]).ok()?.parse().ok()?;
    let (month, rest) = num12(&b[5..])?;
    let rest = rest.strip_prefix(b"-")?;
    let (day, rest) = num12(rest)?;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&day).then_some(rest)
}

/// `15:4:5` then an optional `.999999999` (or `,`) fraction; the rest of the input.
fn parse_clock(b: &[u8]) -> Option<&[u8]> {
    let (h, rest) = num12(b)?;
    let rest = rest.strip_prefix(b":")?;
    let (m, rest) = num12(rest)?;
    let rest = rest.strip_prefix(b":")?;
    let (s, mut rest) = num12(rest)?;
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        rest = &rest[1 + n..];
    }
    Some(rest)
}
