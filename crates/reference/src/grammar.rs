//! Hand-written matchers for the reference grammar of distribution/reference (regexp.go).
//!
//! Each matcher accepts exactly the language of the corresponding upstream regular expression and,
//! on failure, says what is wrong and at which byte offset. No regex engine is used: references are
//! parsed on the hot path of every pull decision.
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain '/'] remote-name
//! domain           := host [':' port-number]
//! host             := domain-name | '[' IPv6address ']'
//! domain-name      := domain-component ['.' domain-component]*
//! domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//! port-number      := /[0-9]+/
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! remote-name      := path-component ['/' path-component]*
//! alpha-numeric    := /[a-z0-9]+/
//! separator        := /[_.]|__|[-]+/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}/
//! ```

// The matchers walk byte offsets because every failure reports its offset; index loops say that
// more plainly than iterator chains.
#![allow(clippy::needless_range_loop)]

/// Longest tag accepted by the tag grammar (`[\w][\w.-]{0,127}`).
pub(crate) const TAG_MAX: usize = 128;

/// A grammar violation: byte offset in the matched text and a human description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub offset: usize,
    pub reason: String,
}

fn fail(offset: usize, reason: impl Into<String>) -> Fail {
    Fail {
        offset,
        reason: reason.into(),
    }
}

/// Describe the byte at `i` (or the character starting there) for messages.
fn char_at(s: &str, i: usize) -> char {
    s.get(i..)
        .and_then(|t| t.chars().next())
        .unwrap_or('\u{fffd}')
}

/// Where the parts of a matched reference are, as byte offsets into the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Split {
    /// Offset of the '/' that ends the domain, if the name has a domain.
    pub domain_end: Option<usize>,
    /// End of the name (exclusive).
    pub name_end: usize,
    /// End of the tag (exclusive); the tag starts at `name_end + 1`.
    pub tag_end: Option<usize>,
    /// Start of the digest (after '@').
    pub digest_start: Option<usize>,
}

/// Match `s` against the anchored reference grammar (`referenceRegexp`).
pub(crate) fn match_reference(s: &str) -> Result<Split, Fail> {
    let b = s.as_bytes();
    let (nt_end, digest_start) = match b.iter().position(|&c| c == b'@') {
        Some(i) => (i, Some(i + 1)),
        None => (b.len(), None),
    };
    if let Some(ds) = digest_start {
        check_digest_pattern(s, ds, b.len())?;
    }
    let mut name_end = nt_end;
    let mut tag_end = None;
    if let Some(colon) = b[..nt_end].iter().rposition(|&c| c == b':')
        && !b[colon + 1..nt_end].contains(&b'/')
    {
        check_tag(s, colon + 1, nt_end)?;
        name_end = colon;
        tag_end = Some(nt_end);
    }
    let domain_end = check_name(s, 0, name_end)?;
    Ok(Split {
        domain_end,
        name_end,
        tag_end,
        digest_start,
    })
}

/// Match `s[start..end]` against the anchored name grammar (`anchoredNameRegexp`). Returns the
/// offset of the '/' after the domain when the name starts with one. Like the upstream regexp,
/// a first component that is a valid domain is taken as the domain.
pub(crate) fn check_name(s: &str, start: usize, end: usize) -> Result<Option<usize>, Fail> {
    if start == end {
        return Err(fail(start, "the repository name is empty"));
    }
    let b = s.as_bytes();
    match b[start..end].iter().position(|&c| c == b'/') {
        None => {
            check_remote(s, start, end)?;
            Ok(None)
        }
        Some(rel) => {
            let slash = start + rel;
            check_remote(s, slash + 1, end)?;
            if check_domain(s, start, slash).is_ok() {
                return Ok(Some(slash));
            }
            if check_path_component(s, start, slash).is_ok() {
                return Ok(None);
            }
            // Neither a domain nor a path component: explain it as what it most looks like (with
            // '.', ':', brackets or uppercase, ParseNormalizedNamed takes it as a domain too).
            let first = &b[start..slash];
            let looks_like_domain = first
                .iter()
                .any(|&c| matches!(c, b':' | b'[' | b']' | b'.') || c.is_ascii_uppercase());
            if looks_like_domain {
                check_domain(s, start, slash).map(|()| None)
            } else {
                check_path_component(s, start, slash).map(|()| None)
            }
        }
    }
}

/// `remote-name := path-component ['/' path-component]*` over `s[start..end]`.
pub(crate) fn check_remote(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    let mut comp_start = start;
    for i in start..end {
        if b[i] == b'/' {
            check_path_component(s, comp_start, i)?;
            comp_start = i + 1;
        }
    }
    check_path_component(s, comp_start, end)
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `path-component := [a-z0-9]+ (separator [a-z0-9]+)*` with `separator := [_.]|__|[-]+`.
pub(crate) fn check_path_component(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    if start == end {
        let why = if end < b.len() && b[end] == b'/' {
            "empty path component (two '/' in a row or a leading '/')"
        } else {
            "empty path component (the repository name is missing or ends with '/')"
        };
        return Err(fail(start, why));
    }
    let bad_char = |i: usize| -> Fail {
        let c = char_at(s, i);
        if c.is_ascii_uppercase() {
            fail(
                i,
                format!("uppercase character {c:?} in the repository path"),
            )
        } else {
            fail(
                i,
                format!(
                    "character {c:?} is not allowed in a path component (allowed: a-z, 0-9, '.', '_', '__', '-')"
                ),
            )
        }
    };
    if !is_lower_alnum(b[start]) {
        return Err(if matches!(b[start], b'.' | b'_' | b'-') {
            fail(
                start,
                format!(
                    "path component must start with a lowercase letter or digit, not {:?}",
                    b[start] as char
                ),
            )
        } else {
            bad_char(start)
        });
    }
    let mut i = start;
    while i < end {
        let c = b[i];
        if is_lower_alnum(c) {
            i += 1;
            continue;
        }
        let sep_start = i;
        match c {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < end && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < end && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return Err(bad_char(i)),
        }
        if i == end {
            return Err(fail(
                sep_start,
                format!(
                    "path component must end with a lowercase letter or digit, not {:?}",
                    c as char
                ),
            ));
        }
        if !is_lower_alnum(b[i]) {
            if matches!(b[i], b'.' | b'_' | b'-') {
                return Err(fail(
                    i,
                    format!(
                        "separator {:?} cannot follow {:?} (allowed separators: '.', '_', '__', '-' repeated)",
                        b[i] as char, c as char
                    ),
                ));
            }
            return Err(bad_char(i));
        }
    }
    Ok(())
}

/// `domain := host [':' port-number]` over `s[start..end]`.
pub(crate) fn check_domain(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    if start == end {
        return Err(fail(start, "empty domain"));
    }
    let host_end;
    if b[start] == b'[' {
        let Some(rel) = b[start..end].iter().position(|&c| c == b']') else {
            return Err(fail(start, "IPv6 address has no closing ']'"));
        };
        let close = start + rel;
        if close == start + 1 {
            return Err(fail(close, "empty IPv6 address between '[' and ']'"));
        }
        for i in start + 1..close {
            if !(b[i].is_ascii_hexdigit() || b[i] == b':') {
                return Err(fail(
                    i,
                    format!(
                        "character {:?} is not allowed in an IPv6 address (allowed: hex digits and ':'; zones and IPv4 forms are not accepted)",
                        char_at(s, i)
                    ),
                ));
            }
        }
        host_end = close + 1;
    } else {
        host_end = b[start..end]
            .iter()
            .position(|&c| c == b':')
            .map_or(end, |p| start + p);
        check_domain_name(s, start, host_end)?;
    }
    if host_end == end {
        return Ok(());
    }
    if b[host_end] != b':' {
        return Err(fail(
            host_end,
            format!(
                "unexpected {:?} after the IPv6 address (expected ':port' or '/')",
                char_at(s, host_end)
            ),
        ));
    }
    let port_start = host_end + 1;
    if port_start == end {
        return Err(fail(port_start, "empty port number after ':'"));
    }
    for i in port_start..end {
        if !b[i].is_ascii_digit() {
            return Err(fail(
                i,
                format!(
                    "port must be digits only, found {:?} in port {:?}",
                    char_at(s, i),
                    &s[port_start..end]
                ),
            ));
        }
    }
    Ok(())
}

/// `domain-name := domain-component ('.' domain-component)*`.
fn check_domain_name(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    let mut comp = start;
    loop {
        let comp_end = b[comp..end]
            .iter()
            .position(|&c| c == b'.')
            .map_or(end, |p| comp + p);
        if comp == comp_end {
            return Err(fail(
                comp,
                "empty domain component (a leading, trailing or double '.')",
            ));
        }
        for i in comp..comp_end {
            let c = b[i];
            if !(c.is_ascii_alphanumeric() || c == b'-') {
                return Err(fail(
                    i,
                    format!(
                        "character {:?} is not allowed in a domain (allowed: letters, digits, '-', '.')",
                        char_at(s, i)
                    ),
                ));
            }
        }
        if b[comp] == b'-' {
            return Err(fail(comp, "domain component must not start with '-'"));
        }
        if b[comp_end - 1] == b'-' {
            return Err(fail(comp_end - 1, "domain component must not end with '-'"));
        }
        if comp_end == end {
            return Ok(());
        }
        comp = comp_end + 1;
    }
}

/// `tag := [\w][\w.-]{0,127}` over `s[start..end]`.
pub(crate) fn check_tag(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    if start == end {
        return Err(fail(start, "empty tag after ':'"));
    }
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if !is_word(b[start]) {
        return Err(fail(
            start,
            format!(
                "tag must start with a letter, digit or '_', not {:?}",
                char_at(s, start)
            ),
        ));
    }
    for i in start + 1..end {
        let c = b[i];
        if !(is_word(c) || c == b'.' || c == b'-') {
            return Err(fail(
                i,
                format!(
                    "character {:?} is not allowed in a tag (allowed: letters, digits, '_', '.', '-')",
                    char_at(s, i)
                ),
            ));
        }
    }
    if end - start > TAG_MAX {
        return Err(fail(
            start + TAG_MAX,
            format!(
                "tag is {} characters long, the limit is {TAG_MAX}",
                end - start
            ),
        ));
    }
    Ok(())
}

/// The digest part of the reference grammar, over `s[start..end]`:
/// `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`.
pub(crate) fn check_digest_pattern(s: &str, start: usize, end: usize) -> Result<(), Fail> {
    let b = s.as_bytes();
    if start == end {
        return Err(fail(start, "empty digest after '@'"));
    }
    let mut i = start;
    loop {
        if i == end || !b[i].is_ascii_alphabetic() {
            return Err(fail(
                i,
                if i == end {
                    "digest has no ':' between algorithm and hex value".to_string()
                } else {
                    format!(
                        "digest algorithm component must start with a letter, not {:?}",
                        char_at(s, i)
                    )
                },
            ));
        }
        i += 1;
        while i < end && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == end {
            return Err(fail(i, "digest has no ':' between algorithm and hex value"));
        }
        match b[i] {
            b'-' | b'_' | b'+' | b'.' => i += 1,
            b':' => break,
            _ => {
                return Err(fail(
                    i,
                    format!(
                        "character {:?} is not allowed in a digest algorithm",
                        char_at(s, i)
                    ),
                ));
            }
        }
    }
    let hex_start = i + 1;
    for j in hex_start..end {
        if !b[j].is_ascii_hexdigit() {
            return Err(fail(
                j,
                format!(
                    "character {:?} is not a hex digit in the digest",
                    char_at(s, j)
                ),
            ));
        }
    }
    if end - hex_start < 32 {
        return Err(fail(
            hex_start,
            format!(
                "digest hex value has {} characters, at least 32 are required",
                end - hex_start
            ),
        ));
    }
    Ok(())
}

/// `identifier := [a-f0-9]{64}` (anchored).
pub(crate) fn is_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Go's `strings.ToLower(s) != s`: true if any character changes under Unicode lowercasing.
pub(crate) fn has_upper(s: &str) -> bool {
    s.chars().any(|c| {
        if c.is_ascii() {
            c.is_ascii_uppercase()
        } else {
            let mut l = c.to_lowercase();
            !(l.next() == Some(c) && l.next().is_none())
        }
    })
}

/// Go's `strings.ToLower` for the purpose of re-matching an ASCII grammar: ASCII letters and the
/// two non-ASCII letters whose simple lowercase form is ASCII (U+0130 → 'i', U+212A → 'k').
/// Any other non-ASCII character stays non-ASCII and cannot match the grammar either way.
pub(crate) fn go_lower_for_grammar(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            '\u{212a}' => 'k',
            _ => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Offset of the first character that Go's lowercasing would change.
pub(crate) fn first_upper(s: &str) -> Option<(usize, char)> {
    s.char_indices()
        .find(|&(_, c)| has_upper(c.encode_utf8(&mut [0u8; 4])))
}
