//! The part of Go's `net/url.Parse` and `net.SplitHostPort` the keyring relies on.
//!
//! pkg/credentialprovider/keyring.go normalizes keys with `url.Parse("https://" + key)` and
//! compares images with `ParseSchemelessURL` + `SplitURL`; what Go accepts or rejects, and how it
//! splits host, port and path, decides which keys exist and which match. This module reproduces
//! that for absolute `http(s)://` URLs: control characters, the `#fragment` and `?query` cut,
//! `user@` info, bracketed IPv6 hosts, port validation (`invalid port ":x" after host`), host
//! character validation, and percent-unescaping of host and path.

use std::fmt;

/// A URL split the way Go's `net/url` splits it (only the parts the keyring uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoUrl {
    /// `url.Host`: host and optional `:port`, unescaped.
    pub host: String,
    /// `url.Path`: unescaped path ("" when absent).
    pub path: String,
}

/// Why Go's `url.Parse` would reject a string. Display: Go's text, `parse "URL": reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The string given to `url.Parse`.
    pub url: String,
    /// Go's reason text.
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parse {}: {}", go_quote(&self.url), self.reason)
    }
}

impl std::error::Error for UrlError {}

fn err(url: &str, reason: String) -> UrlError {
    UrlError {
        url: url.to_string(),
        reason,
    }
}

/// Go's `url.Parse` for a string that starts with a scheme and `//` (what the keyring builds).
/// Strings without `//` after the scheme parse with an empty host and the rest as the path
/// (Go's opaque/rootless forms are not distinguished; the keyring never produces them).
pub fn parse(raw: &str) -> Result<GoUrl, UrlError> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(err(raw, "net/url: invalid control character in URL".into()));
    }
    let (without_frag, frag) = match raw.find('#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    if let Some(frag) = frag {
        unescape(frag, Mode::Fragment).map_err(|r| err(raw, r))?;
    }
    // Scheme: letters, then letters/digits/+-. up to ':'.
    let rest = match split_scheme(without_frag) {
        Some((_, rest)) => rest,
        None => without_frag,
    };
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        match rest.find('?') {
            Some(i) => &rest[..i],
            None => rest,
        }
    };
    let (host, path) = if let Some(after) = rest.strip_prefix("//") {
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        (parse_authority(authority).map_err(|r| err(raw, r))?, path)
    } else {
        (String::new(), rest)
    };
    let path = unescape(path, Mode::Path).map_err(|r| err(raw, r))?;
    Ok(GoUrl { host, path })
}

fn split_scheme(s: &str) -> Option<(&str, &str)> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i > 0 => return Some((&s[..i], &s[i + 1..])),
            _ => return None,
        }
    }
    None
}

fn parse_authority(authority: &str) -> Result<String, String> {
    let host = match authority.rfind('@') {
        None => authority,
        Some(i) => {
            let userinfo = &authority[..i];
            if !userinfo.bytes().all(valid_userinfo_byte) {
                return Err("net/url: invalid userinfo".into());
            }
            &authority[i + 1..]
        }
    };
    parse_host(host)
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"-._:~!$&'()*+,;=%@".contains(&b)
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &host[i + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    } else if let Some(i) = host.rfind(':') {
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", go_quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_optional_port(port: &str) -> bool {
    if port.is_empty() {
        return true;
    }
    match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Path,
    Fragment,
}

/// Characters Go refuses unescaped in a host (`shouldEscape(c, encodeHost)`).
fn host_byte_needs_escape(c: u8) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    !matches!(
        c,
        b'-' | b'_'
            | b'.'
            | b'~'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'['
            | b']'
            | b'<'
            | b'>'
            | b'"'
    )
}

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'%' {
            let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(unhex),
                bytes.get(i + 2).copied().and_then(unhex),
            ) else {
                let end = (i + 3).min(bytes.len());
                let shown = String::from_utf8_lossy(&bytes[i..end]).into_owned();
                return Err(format!("invalid URL escape {}", go_quote(&shown)));
            };
            if mode == Mode::Host && h < 8 && &s[i..i + 3] != "%25" {
                return Err(format!("invalid URL escape {}", go_quote(&s[i..i + 3])));
            }
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        if mode == Mode::Host && c < 0x80 && host_byte_needs_escape(c) {
            return Err(format!(
                "invalid character {} in host name",
                go_quote(&(c as char).to_string())
            ));
        }
        out.push(c);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `net.SplitHostPort`: `Ok((host, port))`, or `Err` when Go reports an error (missing
/// port, too many colons, stray brackets).
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), &'static str> {
    let Some(i) = hostport.rfind(':') else {
        return Err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return Err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return Err("too many colons in address");
            }
            return Err("missing port in address");
        }
        host = &hostport[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return Err("too many colons in address");
        }
        j = 0;
        k = 0;
    }
    if hostport[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

pub use pullsim_reference::go_quote;

#[cfg(test)]
mod tests {
    use super::*;

    // strconv.Quote as kubectl 1.32 printed these flag values.
    #[test]
    fn quote_like_go() {
        assert_eq!(go_quote("a\"b"), r#""a\"b""#);
        assert_eq!(go_quote("\u{1}é"), r#""\x01é""#);
        assert_eq!(go_quote("\u{a0}"), r#""\u00a0""#);
        assert_eq!(go_quote("\u{85}"), r#""\u0085""#);
        assert_eq!(go_quote("\u{feff}😀"), r#""\ufeff😀""#);
        assert_eq!(go_quote("\u{f0000}"), r#""\U000f0000""#);
    }

    #[test]
    fn splits_like_go() {
        let u = parse("https://quay.io/v1/").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("quay.io", "/v1/"));
        let u = parse("https://r.io:5000/a%2Fb?x=1#frag").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("r.io:5000", "/a/b"));
        let u = parse("https://user:pw@r.io/x").unwrap();
        assert_eq!(u.host, "r.io");
        let u = parse("https://[::1]:5000/x").unwrap();
        assert_eq!(u.host, "[::1]:5000");
        let u = parse("https://").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("", ""));
    }

    #[test]
    fn rejects_like_go() {
        // Texts as net/url reports them (go/src/net/url/url.go parseHost, unescape).
        assert_eq!(
            parse("https://r.io:port/x").unwrap_err().to_string(),
            "parse \"https://r.io:port/x\": invalid port \":port\" after host"
        );
        assert_eq!(
            parse("https://r io").unwrap_err().reason,
            "invalid character \" \" in host name"
        );
        assert_eq!(
            parse("https://r.io/%zz").unwrap_err().reason,
            "invalid URL escape \"%zz\""
        );
        assert_eq!(
            parse("https://[::1").unwrap_err().reason,
            "missing ']' in host"
        );
        assert_eq!(
            parse("https://a\nb").unwrap_err().reason,
            "net/url: invalid control character in URL"
        );
    }

    #[test]
    fn split_host_port_like_go() {
        assert_eq!(split_host_port("r.io:5000"), Ok(("r.io", "5000")));
        assert_eq!(split_host_port("[::1]:5000"), Ok(("::1", "5000")));
        assert_eq!(split_host_port("r.io:"), Ok(("r.io", "")));
        assert!(split_host_port("r.io").is_err());
        assert!(split_host_port("::1").is_err());
        assert!(split_host_port("").is_err());
    }
}
