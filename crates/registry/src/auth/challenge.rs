//! `WWW-Authenticate` challenge parsing (RFC 7235 §4.1, as containerd's
//! `core/remotes/docker/auth/parse.go` and distribution's `registry/client/auth/challenge`
//! read it): several challenges per header and several headers, token or quoted-string
//! parameter values, quoted values containing commas and backslash-escaped quotes.

use std::collections::BTreeMap;

/// The authentication scheme of a challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `Basic`.
    Basic,
    /// `Bearer` (the distribution token flow).
    Bearer,
    /// Anything else, lower-cased.
    Other(String),
}

impl Scheme {
    /// `basic`, `bearer` or the other scheme's name.
    pub fn as_str(&self) -> &str {
        match self {
            Scheme::Basic => "basic",
            Scheme::Bearer => "bearer",
            Scheme::Other(s) => s,
        }
    }
}

/// One challenge: a scheme and its parameters (keys lower-cased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme.
    pub scheme: Scheme,
    /// `realm`, `service`, `scope`, `error`, ...
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by (lower-case) name.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

fn is_tchar(c: char) -> bool {
    // RFC 7230 tchar, plus '/' and ':' which registries put in unquoted realms.
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~/:".contains(c)
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] == b' ' || self.s[self.i] == b'\t') {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b',') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn token(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if is_tchar(c as char) {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn quoted(&mut self) -> String {
        // at '"'
        self.i += 1;
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                b'"' => break,
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Parse every challenge in every given `WWW-Authenticate` header value, in order.
/// Unparseable fragments are skipped.
pub fn parse_challenges<'a>(headers: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for h in headers {
        parse_one_header(h, &mut out);
    }
    out
}

fn parse_one_header(h: &str, out: &mut Vec<Challenge>) {
    let mut lx = Lexer {
        s: h.as_bytes(),
        i: 0,
    };
    loop {
        lx.skip_ws_commas();
        if lx.peek().is_none() {
            return;
        }
        let scheme = lx.token();
        if scheme.is_empty() {
            // Not a token: skip one byte to make progress.
            lx.i += 1;
            continue;
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "basic" => Scheme::Basic,
            "bearer" => Scheme::Bearer,
            other => Scheme::Other(other.to_string()),
        };
        let mut params = BTreeMap::new();
        // Parameters: key=value separated by commas, until a token not followed by '='.
        loop {
            lx.skip_ws_commas();
            let save = lx.i;
            let key = lx.token();
            if key.is_empty() {
                break;
            }
            lx.skip_ws();
            if lx.peek() != Some(b'=') {
                // The start of the next challenge.
                lx.i = save;
                break;
            }
            lx.i += 1;
            lx.skip_ws();
            let value = if lx.peek() == Some(b'"') {
                lx.quoted()
            } else {
                lx.token()
            };
            params.insert(key.to_ascii_lowercase(), value);
        }
        out.push(Challenge { scheme, params });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn table() {
        // Cases after containerd core/remotes/docker/auth/parse_test.go and distribution
        // registry/client/auth/challenge/authchallenge_test.go.
        let cases: Vec<(Vec<&str>, Vec<Challenge>)> = vec![
            (
                vec![r#"Basic realm="Registry Realm""#],
                vec![Challenge {
                    scheme: Scheme::Basic,
                    params: p(&[("realm", "Registry Realm")]),
                }],
            ),
            (
                vec![
                    r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
                ],
                vec![Challenge {
                    scheme: Scheme::Bearer,
                    params: p(&[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/nginx:pull"),
                    ]),
                }],
            ),
            (
                // several challenges in one header, quoted commas, escaped quotes
                vec![
                    r#"Basic realm="a, \"b\"", Bearer realm="https://t/token", service=svc, error="insufficient_scope""#,
                ],
                vec![
                    Challenge {
                        scheme: Scheme::Basic,
                        params: p(&[("realm", r#"a, "b""#)]),
                    },
                    Challenge {
                        scheme: Scheme::Bearer,
                        params: p(&[
                            ("realm", "https://t/token"),
                            ("service", "svc"),
                            ("error", "insufficient_scope"),
                        ]),
                    },
                ],
            ),
            (
                // several headers; scheme and keys are case-insensitive
                vec![r#"BEARER Realm="r1""#, r#"basic realm=x"#],
                vec![
                    Challenge {
                        scheme: Scheme::Bearer,
                        params: p(&[("realm", "r1")]),
                    },
                    Challenge {
                        scheme: Scheme::Basic,
                        params: p(&[("realm", "x")]),
                    },
                ],
            ),
            (
                // a scope with several actions and a space-separated list of scopes
                vec![
                    r#"Bearer realm="http://127.0.0.1:1/token",scope="repository:a/b:pull,push repository:c:pull""#,
                ],
                vec![Challenge {
                    scheme: Scheme::Bearer,
                    params: p(&[
                        ("realm", "http://127.0.0.1:1/token"),
                        ("scope", "repository:a/b:pull,push repository:c:pull"),
                    ]),
                }],
            ),
            (
                vec![r#"Negotiate"#, ""],
                vec![Challenge {
                    scheme: Scheme::Other("negotiate".into()),
                    params: BTreeMap::new(),
                }],
            ),
        ];
        for (headers, want) in cases {
            assert_eq!(
                parse_challenges(headers.iter().copied()),
                want,
                "{headers:?}"
            );
        }
    }
}
