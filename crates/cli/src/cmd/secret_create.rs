//! `pullsim secret create docker-registry NAME ...`: kubectl's command, flags, output and errors.
//!
//! Arguments are parsed the way kubectl's cobra/pflag parser does (`--flag=v`, `--flag v`,
//! `-n v`, `-nv`, `-o=json`, bool flags with `=false`, `--` ends flags and the NAME count stops
//! there), so errors match kubectl's: flag errors print `Error: ...` + `See '... --help' for
//! usage.`, everything else `error: ...`. kubectl then exits 1; pullsim exits 2, its exit code
//! for trouble.
//! pullsim never talks to a cluster: `--dry-run` may be omitted or `client`; `none`/`server`
//! are refused.

use std::process::ExitCode;

use pullsim_credentials::Secret;
use pullsim_credentials::gourl::go_quote;
use pullsim_credentials::kubectl::{self, DEFAULT_SERVER, DockerRegistryOptions, Output};

use crate::output;

/// The command path printed in usage hints (kubectl prints its own).
const COMMAND: &str = "pullsim secret create docker-registry";

const ALLOWED_FORMATS: &str = "go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml";

const HELP: &str = "Create a new secret for use with Docker registries (kubectl-compatible, never contacts a cluster).

Examples:
  # Create a secret from registry credentials
  pullsim secret create docker-registry my-secret --docker-server=DOCKER_REGISTRY_SERVER --docker-username=DOCKER_USER --docker-password=DOCKER_PASSWORD --docker-email=DOCKER_EMAIL -o yaml

  # Create a new secret named my-secret from ~/.docker/config.json
  pullsim secret create docker-registry my-secret --from-file=.dockerconfigjson=path/to/.docker/config.json

Options:
    --append-hash=false: Append a hash of the secret to its name.
    --docker-email='': Email for Docker registry
    --docker-password='': Password for Docker registry authentication
    --docker-server='https://index.docker.io/v1/': Server location for Docker registry
    --docker-username='': Username for Docker registry authentication
    --dry-run='client': Only \"client\" is supported: pullsim prints the object and sends nothing.
    --from-file=[]: Key files can be specified using their file path, in which case a default name will be given to them, or optionally with a name and file path, in which case the given name will be used.
    -n, --namespace='': The namespace of the object.
    -o, --output='': Output format. One of: json, yaml, name.
    --save-config=false: If true, the configuration of current object will be saved in its annotation (kubectl.kubernetes.io/last-applied-configuration), for a later kubectl apply.

Usage:
  pullsim secret create docker-registry NAME --docker-username=user --docker-password=password --docker-email=email [--docker-server=string] [--from-file=[key=]source] [--dry-run=client] [options]
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Bool,
    /// A string flag with a value used when given bare (pflag NoOptDefVal).
    StrNoOpt(&'static str),
}

struct FlagDef {
    long: &'static str,
    short: Option<char>,
    kind: Kind,
}

const FLAGS: &[FlagDef] = &[
    FlagDef {
        long: "docker-username",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "docker-password",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "docker-email",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "docker-server",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "from-file",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "append-hash",
        short: None,
        kind: Kind::Bool,
    },
    FlagDef {
        long: "namespace",
        short: Some('n'),
        kind: Kind::Str,
    },
    FlagDef {
        long: "output",
        short: Some('o'),
        kind: Kind::Str,
    },
    FlagDef {
        long: "dry-run",
        short: None,
        kind: Kind::StrNoOpt("unchanged"),
    },
    FlagDef {
        long: "validate",
        short: None,
        kind: Kind::StrNoOpt("strict"),
    },
    FlagDef {
        long: "field-manager",
        short: None,
        kind: Kind::Str,
    },
    FlagDef {
        long: "save-config",
        short: None,
        kind: Kind::Bool,
    },
    // Accepted as kubectl accepts them; without a template they change nothing here.
    FlagDef {
        long: "show-managed-fields",
        short: None,
        kind: Kind::Bool,
    },
    FlagDef {
        long: "allow-missing-template-keys",
        short: None,
        kind: Kind::Bool,
    },
    FlagDef {
        long: "help",
        short: Some('h'),
        kind: Kind::Bool,
    },
];

/// A failure and how kubectl reports it.
enum Failure {
    /// A flag error (cobra): `Error: MSG` + usage hint.
    Flag(String),
    /// A usage error (`cmdutil.UsageErrorf`): `error: MSG` + help hint.
    Usage(String),
    /// Any other error: `error: MSG`.
    Plain(String),
}

#[derive(Default)]
struct Parsed {
    values: Vec<(&'static str, String)>,
    positionals_before_dash: Vec<String>,
}

impl Parsed {
    fn last(&self, long: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == long)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, long: &str) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(k, _)| *k == long)
            .map(|(_, v)| v.as_str())
    }
}

/// Go `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn set(p: &mut Parsed, def: &FlagDef, value: String, shown: &str) -> Result<(), Failure> {
    if def.kind == Kind::Bool && parse_bool(&value).is_none() {
        let q = go_quote(&value);
        return Err(Failure::Flag(format!(
            "invalid argument {q} for {shown:?} flag: strconv.ParseBool: parsing {q}: invalid syntax"
        )));
    }
    if def.long == "from-file"
        && let Err(e) = go_csv_record(&value)
    {
        return Err(Failure::Flag(format!(
            "invalid argument {} for {shown:?} flag: {e}",
            go_quote(&value)
        )));
    }
    p.values.push((def.long, value));
    Ok(())
}

fn flag_name(def: &FlagDef) -> String {
    match def.short {
        Some(c) => format!("-{c}, --{}", def.long),
        None => format!("--{}", def.long),
    }
}

/// pflag's parse loop.
fn parse(args: &[String]) -> Result<Parsed, Failure> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let s = &args[i];
        i += 1;
        if s == "--" {
            break;
        }
        if let Some(body) = s.strip_prefix("--") {
            // pflag parseLongArg: a name may not start with '-' or '='.
            if body.starts_with(['-', '=']) {
                return Err(Failure::Flag(format!("bad flag syntax: {s}")));
            }
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(def) = FLAGS.iter().find(|f| f.long == name) else {
                return Err(Failure::Flag(format!("unknown flag: --{name}")));
            };
            let value = match (inline, def.kind) {
                (Some(v), _) => v,
                (None, Kind::Bool) => "true".into(),
                (None, Kind::StrNoOpt(d)) => d.into(),
                (None, Kind::Str) => {
                    if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        return Err(Failure::Flag(format!("flag needs an argument: --{name}")));
                    }
                }
            };
            set(&mut p, def, value, &flag_name(def))?;
        } else if s.len() > 1 && s.starts_with('-') {
            let shorts = &s[1..];
            for (idx, c) in shorts.char_indices() {
                let Some(def) = FLAGS.iter().find(|f| f.short == Some(c)) else {
                    return Err(Failure::Flag(format!(
                        "unknown shorthand flag: '{c}' in -{shorts}"
                    )));
                };
                let rest = &shorts[idx + c.len_utf8()..];
                if let Some(v) = rest.strip_prefix('=') {
                    set(&mut p, def, v.to_string(), &flag_name(def))?;
                    break;
                }
                match def.kind {
                    Kind::Bool => set(&mut p, def, "true".into(), &flag_name(def))?,
                    Kind::StrNoOpt(d) => set(&mut p, def, d.into(), &flag_name(def))?,
                    Kind::Str if !rest.is_empty() => {
                        set(&mut p, def, rest.to_string(), &flag_name(def))?;
                        break;
                    }
                    Kind::Str => {
                        if i < args.len() {
                            i += 1;
                            set(&mut p, def, args[i - 1].clone(), &flag_name(def))?;
                        } else {
                            return Err(Failure::Flag(format!(
                                "flag needs an argument: '{c}' in -{shorts}"
                            )));
                        }
                    }
                }
            }
        } else {
            p.positionals_before_dash.push(s.clone());
        }
    }
    Ok(p)
}

/// pflag StringSlice `readAsCSV`: the first record of `value` read by Go's encoding/csv
/// (`Reader.Read`, default options), with its errors (`parse error on line L, column C: bare "
/// in non-quoted-field`, `extraneous or missing " in quoted-field`, `EOF`). Columns are 1-based
/// byte offsets, as Go counts them.
fn go_csv_record(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut rest = value.as_bytes();
    let mut line_no = 0usize;
    // readLine: up to and including '\n'; "\r\n" becomes "\n"; a final '\r' is dropped.
    let mut read_line = |line_no: &mut usize| -> Option<Vec<u8>> {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let mut line = rest[..end].to_vec();
        rest = &rest[end..];
        *line_no += 1;
        if line.last() != Some(&b'\n') && line.last() == Some(&b'\r') {
            line.pop();
        }
        let n = line.len();
        if n >= 2 && line[n - 2] == b'\r' && line[n - 1] == b'\n' {
            line.truncate(n - 1);
            line[n - 2] = b'\n';
        }
        Some(line)
    };
    let nl = |l: &[u8]| usize::from(l.last() == Some(&b'\n'));
    // Skip empty lines; none left is io.EOF.
    let mut line = loop {
        match read_line(&mut line_no) {
            None => return Err("EOF".into()),
            Some(l) if l.len() == nl(&l) => continue,
            Some(l) => break l,
        }
    };
    let rec_line = line_no;
    let err = |line: usize, col: usize, what: &str| {
        if line == rec_line {
            format!("parse error on line {line}, column {col}: {what}")
        } else {
            format!("record on line {rec_line}; parse error on line {line}, column {col}: {what}")
        }
    };
    const BARE: &str = "bare \" in non-quoted-field";
    const QUOTE: &str = "extraneous or missing \" in quoted-field";
    let mut fields = Vec::new();
    let (mut pos_line, mut col) = (line_no, 1usize);
    let mut l: &[u8] = &line;
    loop {
        if l.first() != Some(&b'"') {
            let comma = l.iter().position(|b| *b == b',');
            let field = match comma {
                Some(i) => &l[..i],
                None => &l[..l.len() - nl(l)],
            };
            if let Some(j) = field.iter().position(|b| *b == b'"') {
                return Err(err(pos_line, col + j, BARE));
            }
            fields.push(String::from_utf8_lossy(field).into_owned());
            match comma {
                Some(i) => {
                    l = &l[i + 1..];
                    col += i + 1;
                }
                None => return Ok(fields),
            }
        } else {
            let mut buf = Vec::new();
            l = &l[1..];
            col += 1;
            loop {
                if let Some(i) = l.iter().position(|b| *b == b'"') {
                    buf.extend_from_slice(&l[..i]);
                    l = &l[i + 1..];
                    col += i + 1;
                    match l.first() {
                        Some(b'"') => {
                            buf.push(b'"');
                            l = &l[1..];
                            col += 1;
                        }
                        Some(b',') => {
                            l = &l[1..];
                            col += 1;
                            fields.push(String::from_utf8_lossy(&buf).into_owned());
                            break;
                        }
                        _ if nl(l) == l.len() => {
                            fields.push(String::from_utf8_lossy(&buf).into_owned());
                            return Ok(fields);
                        }
                        _ => return Err(err(pos_line, col - 1, QUOTE)),
                    }
                } else if !l.is_empty() {
                    buf.extend_from_slice(l);
                    col += l.len();
                    match read_line(&mut line_no) {
                        Some(next) => {
                            line = next;
                            l = &line;
                            pos_line += 1;
                            col = 1;
                        }
                        None => l = &[],
                    }
                } else {
                    return Err(err(pos_line, col, QUOTE));
                }
            }
        }
    }
}

fn execute(args: &[String]) -> Result<String, Failure> {
    let p = parse(args)?;
    if p.last("help").and_then(parse_bool) == Some(true) {
        return Ok(HELP.to_string());
    }
    if p.positionals_before_dash.len() != 1 {
        return Err(Failure::Usage(format!(
            "exactly one NAME is required, got {}",
            p.positionals_before_dash.len()
        )));
    }
    match p.last("dry-run") {
        None | Some("client") => {}
        Some("unchanged") => {
            eprintln!(
                "warning: --dry-run is deprecated and can be replaced with --dry-run=client."
            );
        }
        Some(v @ ("none" | "server")) => {
            return Err(Failure::Plain(format!(
                "pullsim never contacts a cluster: only --dry-run=client is supported (got --dry-run={v})"
            )));
        }
        Some(v) => match parse_bool(v) {
            Some(true) => eprintln!(
                "warning: --dry-run={v} is deprecated (boolean value) and can be replaced with --dry-run=client."
            ),
            Some(false) => {
                return Err(Failure::Plain(format!(
                    "pullsim never contacts a cluster: only --dry-run=client is supported (got --dry-run={v})"
                )));
            }
            None => {
                return Err(Failure::Plain(format!(
                    "Invalid dry-run value ({v}). Must be \"none\", \"server\", or \"client\"."
                )));
            }
        },
    }
    // kubectl matches json, yaml and name case-insensitively (-o YAML works), templates not.
    let output = match p.last("output").unwrap_or("") {
        "" => Output::Default,
        o if o.eq_ignore_ascii_case("json") => Output::Json,
        o if o.eq_ignore_ascii_case("yaml") => Output::Yaml,
        o if o.eq_ignore_ascii_case("name") => Output::Name,
        other
            if ALLOWED_FORMATS
                .split(',')
                .any(|f| f == other.split_once('=').map_or(other, |(name, _)| name)) =>
        {
            return Err(Failure::Plain(format!(
                "pullsim supports -o json, yaml and name only (got {other:?})"
            )));
        }
        other => {
            return Err(Failure::Plain(format!(
                "unable to match a printer suitable for the output format {other:?}, allowed formats are: {ALLOWED_FORMATS}"
            )));
        }
    };
    let opts = DockerRegistryOptions {
        name: p.positionals_before_dash[0].clone(),
        namespace: p.last("namespace").map(str::to_string),
        server: p
            .last("docker-server")
            .unwrap_or(DEFAULT_SERVER)
            .to_string(),
        username: p.last("docker-username").unwrap_or("").to_string(),
        password: Secret::new(p.last("docker-password").unwrap_or("")),
        email: p.last("docker-email").unwrap_or("").to_string(),
        from_files: p
            .all("from-file")
            .flat_map(|v| go_csv_record(v).unwrap_or_default())
            .collect(),
        append_hash: p.last("append-hash").and_then(parse_bool).unwrap_or(false),
        save_config: p.last("save-config").and_then(parse_bool).unwrap_or(false),
    };
    kubectl::validate(&opts).map_err(|e| Failure::Plain(e.0))?;
    let secret = kubectl::build(&opts).map_err(|e| Failure::Plain(e.0))?;
    secret.render(output).map_err(|e| Failure::Plain(e.0))
}

/// Run `pullsim secret create ARGS...` (ARGS starts with the secret kind). Output and messages
/// are kubectl's; the exit status is pullsim's: 2 where kubectl exits 1 (a usage error or
/// invalid input).
pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let trouble = crate::exit::trouble();
    let (kind, rest) = match args.split_first() {
        Some((k, rest)) => (k.as_str(), rest),
        None => ("", args),
    };
    if kind.is_empty() {
        eprintln!(
            "error: missing the secret kind: pullsim creates docker-registry secrets (usage: {COMMAND} NAME ...; see {COMMAND} --help)"
        );
        return Ok(trouble);
    }
    if kind == "-h" || kind == "--help" {
        output::text(HELP)?;
        return Ok(ExitCode::SUCCESS);
    }
    if kind != "docker-registry" {
        eprintln!(
            "error: pullsim creates docker-registry secrets only (usage: {COMMAND} NAME ...), got {kind:?}"
        );
        return Ok(trouble);
    }
    match execute(rest) {
        Ok(out) => {
            output::text(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(Failure::Flag(msg)) => {
            eprintln!("Error: {msg}\nSee '{COMMAND} --help' for usage.");
            Ok(trouble)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}\nSee '{COMMAND} -h' for help and examples");
            Ok(trouble)
        }
        Err(Failure::Plain(msg)) => {
            eprintln!("error: {msg}");
            Ok(trouble)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pflag_forms() {
        let p = parse(&v(&[
            "s",
            "-nfoo",
            "-o=json",
            "--append-hash",
            "--docker-username",
            "u",
            "--",
            "x",
        ]))
        .ok()
        .unwrap();
        assert_eq!(p.positionals_before_dash, vec!["s"]);
        assert_eq!(p.last("namespace"), Some("foo"));
        assert_eq!(p.last("output"), Some("json"));
        assert_eq!(p.last("append-hash"), Some("true"));
        assert_eq!(p.last("docker-username"), Some("u"));
        // --dry-run takes no separate value: "client" becomes a positional, as in kubectl.
        let p = parse(&v(&["s", "--dry-run", "client"])).ok().unwrap();
        assert_eq!(p.positionals_before_dash.len(), 2);
    }

    // Go encoding/csv (reader.go readRecord) as pflag's StringSlice reads a flag value; the
    // error texts and columns are what kubectl 1.32 printed for these --from-file values.
    #[test]
    fn csv_record_as_go() {
        let ok = |v: &str| go_csv_record(v).ok().unwrap();
        assert_eq!(ok("a,b=c"), vec!["a", "b=c"]);
        assert_eq!(ok("\"a,b\",c"), vec!["a,b", "c"]);
        assert_eq!(ok("\"a\"\"b\",,"), vec!["a\"b", "", ""]);
        assert_eq!(ok("a\nb"), vec!["a"]);
        assert_eq!(ok("a\r\nb"), vec!["a"]);
        assert_eq!(ok("\"a\nb\""), vec!["a\nb"]);
        assert_eq!(ok("\n\nx"), vec!["x"]);
        assert_eq!(ok(""), Vec::<String>::new());
        let bad = |v: &str| go_csv_record(v).err().unwrap();
        assert_eq!(
            bad("a\"b"),
            "parse error on line 1, column 2: bare \" in non-quoted-field"
        );
        assert_eq!(
            bad("\"a"),
            "parse error on line 1, column 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            bad("\"a\"b"),
            "parse error on line 1, column 3: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            bad("\"a\"\"b\"x"),
            "parse error on line 1, column 6: extraneous or missing \" in quoted-field"
        );
        assert_eq!(
            bad("\"a\n"),
            "parse error on line 1, column 4: extraneous or missing \" in quoted-field"
        );
        assert_eq!(bad("\n"), "EOF");
    }
}
