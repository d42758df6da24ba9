//! `pullsim secret create docker-registry NAME ...`: kubectl's command, flags, output and errors.
//!
//! Arguments are parsed the way kubectl's cobra/pflag parser does (`--flag=v`, `--flag v`,
//! `-n v`, `-nv`, `-o=json`, bool flags with `=false`, `--` ends flags and the NAME count stops
//! there), so errors and exit codes match kubectl's: flag errors print
//! `Error: ...` + `See '... --help' for usage.`, everything else `error: ...`, all exit 1.
//! pullsim never talks to a cluster: `--dry-run` may be omitted or `client`; `none`/`server`
//! are refused.

use std::io::Write as _;
use std::process::ExitCode;

use pullsim_credentials::Secret;
use pullsim_credentials::kubectl::{self, DEFAULT_SERVER, DockerRegistryOptions, Output};

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
        return Err(Failure::Flag(format!(
            "invalid argument {value:?} for {shown:?} flag: strconv.ParseBool: parsing {value:?}: invalid syntax"
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

/// pflag StringSlice: comma-separated values (CSV quoting).
fn split_csv(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
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
    let output = match p.last("output").unwrap_or("") {
        "" => Output::Default,
        "json" => Output::Json,
        "yaml" => Output::Yaml,
        "name" => Output::Name,
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
        from_files: p.all("from-file").flat_map(split_csv).collect(),
        append_hash: p.last("append-hash").and_then(parse_bool).unwrap_or(false),
    };
    kubectl::validate(&opts).map_err(|e| Failure::Plain(e.0))?;
    let secret = kubectl::build(&opts).map_err(|e| Failure::Plain(e.0))?;
    Ok(secret.render(output))
}

/// Run `pullsim secret create ARGS...` (ARGS starts with the secret kind).
pub fn run(args: &[String]) -> ExitCode {
    let (kind, rest) = match args.split_first() {
        Some((k, rest)) => (k.as_str(), rest),
        None => ("", args),
    };
    if kind == "-h" || kind == "--help" {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if kind != "docker-registry" {
        eprintln!(
            "error: pullsim creates docker-registry secrets only (usage: {COMMAND} NAME ...), got {kind:?}"
        );
        return ExitCode::from(1);
    }
    match execute(rest) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Flag(msg)) => {
            eprintln!("Error: {msg}\nSee '{COMMAND} --help' for usage.");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}\nSee '{COMMAND} -h' for help and examples");
            ExitCode::from(1)
        }
        Err(Failure::Plain(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
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

    #[test]
    fn csv_split() {
        assert_eq!(split_csv("a,b=c"), vec!["a", "b=c"]);
        assert_eq!(split_csv("\"a,b\",c"), vec!["a,b", "c"]);
    }
}
