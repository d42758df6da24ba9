//! Go's `path.Match` / `filepath.Match` (Unix), used per host label by the keyring.
//!
//! Ported from go/src/path/match.go (the kubelet calls `filepath.Match` in
//! pkg/credentialprovider/keyring.go `URLsMatch`; on Unix it has the same syntax): `*` matches any
//! run of non-`/` characters, `?` one non-`/` character, `[...]` a class (`^` negates, `a-z`
//! ranges), `\` escapes. A malformed pattern is an error ([`BadPattern`]), also when the match
//! already failed earlier in the name (Go checks the rest of the pattern before returning false).

/// `syntax error in pattern` (Go's `path.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

impl std::error::Error for BadPattern {}

/// Whether `name` matches the shell `pattern`, with Go's `path.Match` rules.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern;
    let mut name = name;
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star matches the rest of the name unless it has a '/'.
            return Ok(!name.contains('/'));
        }
        // Try the chunk at the current position.
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if let Some(e) = err {
            return Err(e);
        }
        if star {
            // Try skipping i+1 bytes (never past a '/').
            let bytes = name.as_bytes();
            let mut i = 0;
            while i < bytes.len() && bytes[i] != b'/' {
                if name.is_char_boundary(i + 1) {
                    let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                    if ok {
                        if pattern.is_empty() && !t.is_empty() {
                            i += 1;
                            continue;
                        }
                        name = t;
                        continue 'pattern;
                    }
                    if let Some(e) = err {
                        return Err(e);
                    }
                }
                i += 1;
            }
        }
        // Before returning false, check that the rest of the pattern is well-formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if let (_, _, Some(e)) = match_chunk(chunk, "") {
                return Err(e);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Split off the leading stars and the next chunk (up to the next unbracketed `*`).
fn scan_chunk(pattern: &str) -> (bool, &str, &str) {
    let mut p = pattern;
    let mut star = false;
    while let Some(rest) = p.strip_prefix('*') {
        p = rest;
        star = true;
    }
    let bytes = p.as_bytes();
    let mut in_range = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

/// Match `chunk` (no `*`) at the start of `s`; returns the rest of `s`, whether it matched, and a
/// pattern error. After a mismatch the chunk is still scanned for syntax errors.
fn match_chunk<'a>(chunk: &str, s: &'a str) -> (&'a str, bool, Option<BadPattern>) {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        let c0 = chunk.as_bytes()[0];
        match c0 {
            b'[' => {
                let mut r: Option<char> = None;
                if !failed {
                    let ch = s.chars().next();
                    if let Some(ch) = ch {
                        s = &s[ch.len_utf8()..];
                    }
                    r = ch;
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if let Some(rest) = chunk.strip_prefix('^') {
                    negated = true;
                    chunk = rest;
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if let (true, Some(rest)) = (nrange > 0, chunk.strip_prefix(']')) {
                        chunk = rest;
                        break;
                    }
                    let (lo, rest) = match get_esc(chunk) {
                        Ok(v) => v,
                        Err(e) => return ("", false, Some(e)),
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if let Some(rest) = chunk.strip_prefix('-') {
                        match get_esc(rest) {
                            Ok((h, rest)) => {
                                hi = h;
                                chunk = rest;
                            }
                            Err(e) => return ("", false, Some(e)),
                        }
                    }
                    if r.is_some_and(|r| lo <= r && r <= hi) {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s.as_bytes()[0] == b'/' {
                        failed = true;
                    }
                    let n = s.chars().next().map_or(1, char::len_utf8);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c0 == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return ("", false, Some(BadPattern));
                    }
                }
                // Compare one character (Go compares bytes; for valid UTF-8 this is the same).
                let pc = chunk.chars().next().unwrap_or('\0');
                if !failed {
                    match s.chars().next() {
                        Some(sc) if sc == pc => s = &s[sc.len_utf8()..],
                        Some(sc) => {
                            failed = true;
                            s = &s[sc.len_utf8()..];
                        }
                        None => failed = true,
                    }
                }
                chunk = &chunk[pc.len_utf8()..];
            }
        }
    }
    if failed {
        ("", false, None)
    } else {
        (s, true, None)
    }
}

/// One (possibly escaped) character of a class.
fn get_esc(chunk: &str) -> Result<(char, &str), BadPattern> {
    let mut chunk = chunk;
    match chunk.as_bytes().first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        _ => {}
    }
    let r = chunk.chars().next().ok_or(BadPattern)?;
    let rest = &chunk[r.len_utf8()..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Table from go/src/path/match_test.go (matchTests).
    #[test]
    fn go_match_tests() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[x-]", "-", Err(BadPattern)),
            ("[x-]", "z", Err(BadPattern)),
            ("[-x]", "x", Err(BadPattern)),
            ("[-x]", "-", Err(BadPattern)),
            ("[-x]", "a", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(
                path_match(pattern, name),
                *want,
                "Match({pattern:?}, {name:?})"
            );
        }
    }
}
