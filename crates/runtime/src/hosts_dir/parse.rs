//! hosts.toml to containerd's `hostConfig` list (`core/remotes/docker/config/hosts.go@v2.3.4`
//! `parseHostsFile`, `parseHostConfig`, `getSortedHosts`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};
use toml_parser::parser::EventReceiver;
use toml_parser::{ErrorSink, Source, Span};

use super::error::HostsFileError;
use super::types::Capability;
use pullsim_reference::go_duration::parse_go_duration;

/// containerd's `hostConfig`: one entry before `ConfigureHosts` fills defaults. `None`/empty
/// `host` is the root entry without `server`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostConfig {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) capabilities: Vec<Capability>,
    /// `None` = not configured (Go's nil slice; `ca = []` is configured and empty).
    pub(crate) ca: Option<Vec<PathBuf>>,
    pub(crate) client: Option<Vec<(PathBuf, Option<PathBuf>)>>,
    pub(crate) skip_verify: Option<bool>,
    pub(crate) header: Vec<(String, String)>,
    pub(crate) override_path: bool,
    pub(crate) dial_timeout: Option<Duration>,
}

/// `getSortedHosts`: the `[host.X…]` table headers in file order, `X` recorded when it differs
/// from the previous header's (so `[host.a] [host.b] [host.a.header]` gives a, b, a, as in
/// containerd). Dotted keys and inline tables are not table headers and are not listed.
pub(crate) fn sorted_hosts(text: &str) -> Vec<String> {
    struct Headers<'i> {
        source: Source<'i>,
        in_header: bool,
        parts: Vec<String>,
        hosts: Vec<String>,
        last: String,
    }
    impl EventReceiver for Headers<'_> {
        fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
            self.in_header = true;
            self.parts.clear();
        }
        fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
            self.in_header = false;
            if self.parts.len() >= 2 && self.parts[0] == "host" && self.parts[1] != self.last {
                self.last = self.parts[1].clone();
                self.hosts.push(self.last.clone());
            }
        }
        fn simple_key(
            &mut self,
            span: Span,
            kind: Option<toml_parser::decoder::Encoding>,
            _error: &mut dyn ErrorSink,
        ) {
            if !self.in_header {
                return;
            }
            if let Some(raw) = self.source.get(span) {
                let raw = toml_parser::Raw::new_unchecked(raw.as_str(), kind, span);
                let mut key = String::new();
                raw.decode_key(&mut key, &mut ());
                self.parts.push(key);
            }
        }
    }
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut headers = Headers {
        source,
        in_header: false,
        parts: Vec::new(),
        hosts: Vec::new(),
        last: String::new(),
    };
    let mut errors: Vec<toml_parser::ParseError> = Vec::new();
    toml_parser::parser::parse_document(&tokens, &mut headers, &mut errors);
    headers.hosts
}

/// `parseHostsFile`: the `[host."…"]` entries in file order, then the root entry.
pub(crate) fn parse_hosts_file(
    base_dir: &Path,
    text: &str,
    host_root: Option<&Path>,
) -> Result<Vec<HostConfig>, HostsFileError> {
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| HostsFileError::Toml {
            message: e.to_string().trim_end().to_string(),
        })?;
    let ordered = sorted_hosts(text);
    let server = match doc.get("server") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(wrong_type("root", "server", "string", other)),
    };
    let empty = Table::new();
    let host_tables = match doc.get("host") {
        None => &empty,
        Some(Value::Table(t)) => t,
        Some(other) => {
            return Err(wrong_type(
                "root",
                "host",
                "map[string]hostFileConfig",
                other,
            ));
        }
    };
    let mut hosts = Vec::with_capacity(ordered.len() + 1);
    for key in &ordered {
        let table = format!("host.{}", pullsim_reference::go_quote(key));
        let config = match host_tables.get(key) {
            None => &empty,
            Some(Value::Table(t)) => t,
            Some(other) => return Err(wrong_type(&table, key, "hostFileConfig", other)),
        };
        hosts.push(parse_host_config(
            &table,
            key,
            (base_dir, host_root),
            config,
        )?);
    }
    hosts.push(parse_host_config(
        "root",
        &server,
        (base_dir, host_root),
        &doc,
    )?);
    Ok(hosts)
}

fn wrong_type(table: &str, key: &str, expected: &'static str, found: &Value) -> HostsFileError {
    HostsFileError::WrongType {
        table: table.to_string(),
        key: key.to_string(),
        expected,
        found: found.type_str(),
    }
}

/// `parseHostConfig` for one table (`server` is the table key or the root `server`).
fn parse_host_config(
    table: &str,
    server: &str,
    (base_dir, host_root): (&Path, Option<&Path>),
    config: &Table,
) -> Result<HostConfig, HostsFileError> {
    let mut result = HostConfig::default();
    let override_path = match config.get("override_path") {
        None => false,
        Some(Value::Boolean(b)) => *b,
        Some(other) => return Err(wrong_type(table, "override_path", "bool", other)),
    };
    result.override_path = override_path;
    if !server.is_empty() {
        let server = if server.starts_with("http") {
            server.to_string()
        } else {
            format!("https://{server}")
        };
        let (scheme, host, path) =
            go_url_parts(&server).map_err(|reason| HostsFileError::ServerUrl {
                table: table.to_string(),
                server: server.clone(),
                reason,
            })?;
        result.scheme = scheme;
        result.host = host;
        result.path = if !path.is_empty() {
            let cleaned = go_path_clean(&path);
            if !cleaned.ends_with("/v2") && !override_path {
                format!("{cleaned}/v2")
            } else {
                cleaned
            }
        } else if !override_path {
            "/v2".to_string()
        } else {
            String::new()
        };
    }
    result.skip_verify = match config.get("skip_verify") {
        None => None,
        Some(Value::Boolean(b)) => Some(*b),
        Some(other) => return Err(wrong_type(table, "skip_verify", "*bool", other)),
    };
    result.capabilities = match config.get("capabilities") {
        None => Capability::ALL.to_vec(),
        Some(Value::Array(items)) if items.is_empty() => Capability::ALL.to_vec(),
        Some(Value::Array(items)) => {
            let mut caps = Vec::new();
            for item in items {
                let Value::String(name) = item else {
                    return Err(wrong_type(table, "capabilities", "[]string", item));
                };
                let cap =
                    Capability::parse(name).ok_or_else(|| HostsFileError::UnknownCapability {
                        table: table.to_string(),
                        value: name.clone(),
                    })?;
                if !caps.contains(&cap) {
                    caps.push(cap);
                }
            }
            caps.sort();
            caps
        }
        Some(other) => return Err(wrong_type(table, "capabilities", "[]string", other)),
    };
    let abs = |p: &str| make_abs_path(p, base_dir, host_root);
    result.ca = match config.get("ca") {
        None => None,
        Some(Value::String(s)) => Some(vec![abs(s)]),
        Some(Value::Array(items)) => Some(
            string_slice(table, "ca", items)?
                .iter()
                .map(|s| abs(s))
                .collect(),
        ),
        Some(other) => {
            return Err(HostsFileError::CaType {
                table: table.to_string(),
                value: go_v(other),
            });
        }
    };
    result.client = match config.get("client") {
        None => None,
        Some(Value::String(s)) => Some(vec![(abs(s), None)]),
        Some(Value::Array(items)) => {
            let mut pairs = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => pairs.push((abs(s), None)),
                    Value::Array(pair) => {
                        let files = string_slice(table, "client", pair)?;
                        let [cert, key] = files.as_slice() else {
                            return Err(HostsFileError::ClientPair {
                                table: table.to_string(),
                                value: go_v(item),
                            });
                        };
                        // Go keeps the joined key path; an empty key joins to the directory.
                        pairs.push((abs(cert), Some(abs(key))));
                    }
                    other => {
                        return Err(HostsFileError::ClientItemType {
                            table: table.to_string(),
                            go_type: go_type(other),
                        });
                    }
                }
            }
            // Go appends to a nil slice: an empty array leaves it nil (not configured).
            (!pairs.is_empty()).then_some(pairs)
        }
        Some(other) => {
            return Err(HostsFileError::ClientType {
                table: table.to_string(),
                value: go_v(other),
            });
        }
    };
    if let Some(header) = config.get("header") {
        let Value::Table(header) = header else {
            return Err(wrong_type(
                table,
                "header",
                "map[string]interface {}",
                header,
            ));
        };
        for (name, value) in header {
            match value {
                Value::String(s) => result.header.push((name.clone(), s.clone())),
                Value::Array(items) => {
                    for s in string_slice(table, &format!("header.{name}"), items)? {
                        result.header.push((name.clone(), s));
                    }
                }
                other => {
                    return Err(HostsFileError::HeaderType {
                        table: table.to_string(),
                        name: name.clone(),
                        value: go_v(other),
                    });
                }
            }
        }
    }
    result.dial_timeout = match config.get("dial_timeout") {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => {
            let nanos = parse_go_duration(s).map_err(|source| HostsFileError::DialTimeout {
                table: table.to_string(),
                source,
            })?;
            let nanos = u64::try_from(nanos).map_err(|_| HostsFileError::NegativeDialTimeout {
                table: table.to_string(),
                value: s.clone(),
            })?;
            Some(Duration::from_nanos(nanos))
        }
        Some(other) => return Err(wrong_type(table, "dial_timeout", "string", other)),
    };
    Ok(result)
}

/// `makeStringSlice`: every item must be a string.
fn string_slice(table: &str, key: &str, items: &[Value]) -> Result<Vec<String>, HostsFileError> {
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(HostsFileError::NotString {
                table: table.to_string(),
                key: key.to_string(),
                value: go_v(other),
            }),
        })
        .collect()
}

/// `makeAbsPath`: absolute paths as they are (read under `host_root` when the node's
/// filesystem is mounted elsewhere), others joined to the host directory.
fn make_abs_path(p: &str, base: &Path, host_root: Option<&Path>) -> PathBuf {
    if Path::new(p).is_absolute() {
        crate::host_path::on_host(host_root, Path::new(p))
    } else if p.is_empty() {
        base.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Go's `%v` of a decoded TOML value (go-toml v2 decodes into `any`: string, int64, float64,
/// bool, time, `[]any`, `map[string]any`).
fn go_v(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_v).collect();
            format!("[{}]", inner.join(" "))
        }
        Value::Table(t) => {
            let inner: Vec<String> = t.iter().map(|(k, v)| format!("{k}:{}", go_v(v))).collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

/// Go's `%T` of a decoded TOML value.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Integer(_) => "int64",
        Value::Float(_) => "float64",
        Value::Boolean(_) => "bool",
        Value::Datetime(_) => "time.Time",
        Value::Array(_) => "[]interface {}",
        Value::Table(_) => "map[string]interface {}",
    }
}

/// Scheme (lower case), host and path of a URL as Go's `url.Parse` splits it; the error is
/// Go's text (`parse "…": …`).
pub(crate) fn go_url_parts(raw: &str) -> Result<(String, String, String), String> {
    let scheme_end = raw.char_indices().find_map(|(i, c)| match c {
        'a'..='z' | 'A'..='Z' => None,
        '0'..='9' | '+' | '-' | '.' if i > 0 => None,
        ':' if i > 0 => Some(Some(i)),
        _ => Some(None),
    });
    let scheme = match scheme_end {
        Some(Some(i)) => raw[..i].to_ascii_lowercase(),
        _ => String::new(),
    };
    let rest = if scheme.is_empty() {
        raw
    } else {
        &raw[scheme.len() + 1..]
    };
    if !scheme.is_empty() && !rest.starts_with('/') {
        // An opaque URL (`https:host`): no host, no path.
        pullsim_credentials::gourl::parse(raw).map_err(|e| e.to_string())?;
        return Ok((scheme, String::new(), String::new()));
    }
    if scheme.is_empty() {
        let first = rest.split('/').next().unwrap_or("");
        if first.contains(':') {
            return Err(format!(
                "parse {}: first path segment in URL cannot contain colon",
                pullsim_reference::go_quote(raw)
            ));
        }
    }
    let url = pullsim_credentials::gourl::parse(raw).map_err(|e| e.to_string())?;
    Ok((scheme, url.host, url.path))
}

/// Go's `path.Clean` (lexical: `//` → `/`, `.` and `..` resolved, no trailing `/`).
pub(crate) fn go_path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_headers_in_file_order_with_containerds_repeat_rule() {
        let text = r#"
server = "https://up"
[host."https://b"]
  capabilities = ["pull"]
[host."https://a"]
[host."https://a".header]
  x = "1"
[host.'https://c']
[host."https://b".header]
"#;
        assert_eq!(
            sorted_hosts(text),
            ["https://b", "https://a", "https://c", "https://b"]
        );
        // Dotted keys and inline tables are not table headers (go-toml's unstable parser).
        assert!(sorted_hosts("host.\"https://x\".capabilities = [\"pull\"]\n").is_empty());
        assert!(sorted_hosts("[host]\n\"https://x\" = {}\n").is_empty());
    }

    #[test]
    fn path_clean_like_go() {
        for (p, want) in [
            ("/v2/", "/v2"),
            ("//a//b/", "/a/b"),
            ("/a/./b/../c", "/a/c"),
            ("/..", "/"),
            ("a/../..", ".."),
            ("/", "/"),
        ] {
            assert_eq!(go_path_clean(p), want, "{p}");
        }
    }

    #[test]
    fn go_value_formatting() {
        let t: Table = "a = [1, \"x\", true]\nb = {k = 2}".parse().unwrap();
        assert_eq!(go_v(&t["a"]), "[1 x true]");
        assert_eq!(go_v(&t["b"]), "map[k:2]");
    }

    /// containerd's own table: `core/remotes/docker/config/hosts_test.go@v2.3.4`
    /// `TestParseHostFile` (same file, same expected entries, base directory "").
    #[test]
    fn upstream_parse_host_file() {
        const TESTTOML: &str = r#"
server = "https://test-default.registry"
ca = "/etc/path/default"
[header]
  x-custom-1 = "custom header"

[host."https://mirror.registry"]
  capabilities = ["pull"]
  ca = "/etc/certs/mirror.pem"
  skip_verify = false
  [host."https://mirror.registry".header]
    x-custom-2 = ["value1", "value2"]

[host."https://mirror-bak.registry/us"]
  capabilities = ["pull"]
  skip_verify = true

[host."http://mirror.registry"]
  capabilities = ["pull"]

[host."https://test-1.registry"]
  capabilities = ["pull", "resolve", "push", "referrers"]
  ca = ["/etc/certs/test-1-ca.pem", "/etc/certs/special.pem"]
  client = [["/etc/certs/client.cert", "/etc/certs/client.key"],["/etc/certs/client.pem", ""]]

[host."https://test-2.registry"]
  client = "/etc/certs/client.pem"

[host."https://test-3.registry"]
  client = ["/etc/certs/client-1.pem", "/etc/certs/client-2.pem"]

[host."https://no-referrers.registry"]
  capabilities = ["pull", "resolve", "push"]
  client = ["/etc/certs/client-1.pem", "/etc/certs/client-2.pem"]

[host."https://noncompliantmirror.registry/v2/namespaceprefix"]
  capabilities = ["pull"]
  override_path = true

[host."https://noprefixnoncompliant.registry"]
  override_path = true

[host."https://onlyheader.registry".header]
  x-custom-1 = "justaheader"

[host."https://dial-timeout.registry"]
  dial_timeout = "3s"
"#;
        use Capability::*;
        let all = Capability::ALL.to_vec();
        let pb = |s: &str| PathBuf::from(s);
        let host = |scheme: &str, host: &str, path: &str, caps: Vec<Capability>| HostConfig {
            scheme: scheme.into(),
            host: host.into(),
            path: path.into(),
            capabilities: caps,
            ..HostConfig::default()
        };
        let hdr = |k: &str, vs: &[&str]| -> Vec<(String, String)> {
            vs.iter().map(|v| (k.to_string(), v.to_string())).collect()
        };
        let expected = vec![
            HostConfig {
                ca: Some(vec![pb("/etc/certs/mirror.pem")]),
                skip_verify: Some(false),
                header: hdr("x-custom-2", &["value1", "value2"]),
                ..host("https", "mirror.registry", "/v2", vec![Pull])
            },
            HostConfig {
                skip_verify: Some(true),
                ..host("https", "mirror-bak.registry", "/us/v2", vec![Pull])
            },
            host("http", "mirror.registry", "/v2", vec![Pull]),
            HostConfig {
                ca: Some(vec![
                    pb("/etc/certs/test-1-ca.pem"),
                    pb("/etc/certs/special.pem"),
                ]),
                // Go's pair {"/etc/certs/client.pem", ""}: the key joined to the base dir "".
                client: Some(vec![
                    (
                        pb("/etc/certs/client.cert"),
                        Some(pb("/etc/certs/client.key")),
                    ),
                    (pb("/etc/certs/client.pem"), Some(pb(""))),
                ]),
                ..host("https", "test-1.registry", "/v2", all.clone())
            },
            HostConfig {
                client: Some(vec![(pb("/etc/certs/client.pem"), None)]),
                ..host("https", "test-2.registry", "/v2", all.clone())
            },
            HostConfig {
                client: Some(vec![
                    (pb("/etc/certs/client-1.pem"), None),
                    (pb("/etc/certs/client-2.pem"), None),
                ]),
                ..host("https", "test-3.registry", "/v2", all.clone())
            },
            HostConfig {
                client: Some(vec![
                    (pb("/etc/certs/client-1.pem"), None),
                    (pb("/etc/certs/client-2.pem"), None),
                ]),
                ..host(
                    "https",
                    "no-referrers.registry",
                    "/v2",
                    vec![Pull, Resolve, Push],
                )
            },
            HostConfig {
                override_path: true,
                ..host(
                    "https",
                    "noncompliantmirror.registry",
                    "/v2/namespaceprefix",
                    vec![Pull],
                )
            },
            HostConfig {
                override_path: true,
                ..host("https", "noprefixnoncompliant.registry", "", all.clone())
            },
            HostConfig {
                header: hdr("x-custom-1", &["justaheader"]),
                ..host("https", "onlyheader.registry", "/v2", all.clone())
            },
            HostConfig {
                dial_timeout: Some(Duration::from_secs(3)),
                ..host("https", "dial-timeout.registry", "/v2", all.clone())
            },
            HostConfig {
                ca: Some(vec![pb("/etc/path/default")]),
                header: hdr("x-custom-1", &["custom header"]),
                ..host("https", "test-default.registry", "/v2", all.clone())
            },
        ];
        let hosts = parse_hosts_file(Path::new(""), TESTTOML, None).unwrap();
        assert_eq!(hosts.len(), expected.len());
        for (got, want) in hosts.iter().zip(&expected) {
            assert_eq!(got, want);
        }
    }
}
