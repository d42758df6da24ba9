//! `pullsim secret`: create (kubectl-compatible), lint and decode image pull secrets.

use pullsim_reference::terminal_safe as safe;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pullsim_credentials::lint::{self, Severity};
use pullsim_credentials::urlmatch::normalize_key;
use pullsim_credentials::{PullSecret, SecretFormat, load_pull_secrets};
use serde::Serialize;

use crate::flags::Format;
use crate::output::{self, Kind, outln};

/// `pullsim secret …`
#[derive(Args, Debug)]
#[command(
    about = "Image pull secrets: create (as kubectl), lint, decode",
    long_about = "Image pull secrets.\n\n\
  create docker-registry NAME  the Secret `kubectl create secret docker-registry --dry-run=client` prints, byte for byte\n\
  lint FILE...                 the faults that stop the kubelet from using a pull secret, with where they are\n\
  decode FILE                  registries, usernames and where each came from (passwords redacted)"
)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Subcommand, Debug)]
enum SecretCommand {
    /// Create a docker-registry secret exactly as kubectl does (`docker-registry NAME --docker-username ...`)
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Check pull secrets for the faults that make the kubelet ignore or misuse them
    #[command(after_help = LINT_HELP)]
    Lint(LintArgs),
    /// Show the registries and usernames in pull secrets, and where each came from
    #[command(after_help = DECODE_HELP)]
    Decode(DecodeArgs),
}

const LINT_HELP: &str = "\
Examples:
  # Check a Secret manifest (YAML or JSON, several documents, a List)
  pullsim secret lint regcred.yaml

  # Check several files, one JSON object per finding
  pullsim secret lint -o json regcred.yaml ~/.docker/config.json

Faults: wrong secret type for the key, .dockercfg content under .dockerconfigjson or the reverse,
missing \"auths\", data not valid base64, double-encoded base64, a trailing newline in an encoded
value or in a username/password, auth not base64 or without ':', username/password that disagree
with auth, a registry key the kubelet never matches for Docker Hub images (and the key that would),
an empty secret.
Each is an error (the kubelet fails or ignores the secret) or a warning (it works, but not as
written). Findings name the file, document, secret, data key and registry.

JSON fields: kind (finding), severity, code, file, document (multi-document files), secret, key,
registry, message.

Exit status: 0 when every file is clean, 1 when any fault (error or warning) is found, 2 when a
file cannot be read or parsed.";

const DECODE_HELP: &str = "\
Examples:
  pullsim secret decode regcred.yaml
  pullsim secret decode -o json ~/.docker/config.json

For each registry entry: the file, document and secret it came from, the key the kubelet's keyring
uses for it, the username, and whether the credentials come from `auth` (which overrides
username/password) or from username/password. Passwords are shown as <redacted> unless
--show-secrets.

JSON fields: kind (secret_entry), file, document (multi-document files), secret, format,
registry, key, username, password, email (when set), credentials_from.

Exit status: 0 on success, 2 when the file cannot be read or is not a valid pull secret, and for
usage errors.";

/// `secret create`: kubectl's arguments, parsed as kubectl parses them.
#[derive(Args, Debug)]
struct CreateArgs {
    /// `docker-registry NAME [flags]` (kubectl's flags: --docker-server, --docker-username,
    /// --docker-password, --docker-email, --from-file, -n, --append-hash, -o json|yaml|name, --dry-run=client)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    args: Vec<String>,
}

/// `secret lint`.
#[derive(Args, Debug)]
struct LintArgs {
    /// Secret manifests (YAML/JSON, multi-document, List) or bare config.json / .dockercfg files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output: text, or one JSON object per finding.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: Format,
}

/// `secret decode`.
#[derive(Args, Debug)]
struct DecodeArgs {
    /// A Secret manifest or bare docker config file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print passwords instead of <redacted>.
    #[arg(long)]
    show_secrets: bool,
    /// Output: text, or one JSON object per registry entry.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: Format,
}

/// Run `pullsim secret`.
pub fn run(args: SecretArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SecretCommand::Create(c) => super::secret_create::run(&c.args),
        SecretCommand::Lint(l) => run_lint(l),
        SecretCommand::Decode(d) => run_decode(d),
    }
}

fn run_lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut unreadable = false;
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in &args.files {
        let linted = if crate::stdin::is_stdin(file) {
            crate::stdin::read("FILE")
                .and_then(|t| Ok(lint::lint_text(&t, &crate::stdin::origin())?))
        } else {
            lint::lint_file(file).map_err(anyhow::Error::from)
        };
        match linted {
            Err(e) => {
                eprintln!("error: {}", safe(&e.to_string()));
                unreadable = true;
            }
            Ok(findings) => {
                for f in &findings {
                    match f.severity {
                        Severity::Error => errors += 1,
                        Severity::Warning => warnings += 1,
                    }
                    match args.output {
                        Format::Json => output::json(Kind::Finding, f)?,
                        Format::Text => outln!("{}", safe(&f.to_string())),
                    }
                }
                if findings.is_empty() && args.output == Format::Text {
                    let shown = if crate::stdin::is_stdin(file) {
                        crate::stdin::origin()
                    } else {
                        file.clone()
                    };
                    outln!("{}: ok", safe(&shown.display().to_string()));
                }
            }
        }
    }
    if args.output == Format::Text && (errors > 0 || warnings > 0) {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
    Ok(if unreadable {
        crate::exit::trouble()
    } else if errors > 0 || warnings > 0 {
        // The contract: 0 clean, 1 faults found (warnings are faults too: the secret
        // does not work as written), 2 unreadable input.
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One registry entry of `secret decode -o json`.
#[derive(Serialize)]
struct DecodedEntry {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<usize>,
    secret: String,
    format: &'static str,
    registry: String,
    key: String,
    username: String,
    password: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    email: String,
    credentials_from: &'static str,
}

fn format_name(f: SecretFormat) -> &'static str {
    match f {
        SecretFormat::DockerConfigJson => "kubernetes.io/dockerconfigjson",
        SecretFormat::Dockercfg => "kubernetes.io/dockercfg",
        SecretFormat::BareConfigJson => "config.json",
        _ => ".dockercfg",
    }
}

fn decode_entries(s: &PullSecret, show: bool) -> Vec<DecodedEntry> {
    s.entries
        .iter()
        .map(|(registry, e)| DecodedEntry {
            file: s.source_file.display().to_string(),
            document: s.document,
            secret: format!("{}/{}", s.namespace, s.name),
            format: format_name(s.format),
            registry: registry.clone(),
            key: normalize_key(registry)
                .unwrap_or_else(|err| format!("(ignored by the kubelet: {err})")),
            username: e.username.clone(),
            // An empty password is no secret: shown as empty, so a missing password is visible.
            password: if show || e.password.is_empty() {
                e.password.expose().to_string()
            } else {
                e.password.to_string()
            },
            email: e.email.clone(),
            credentials_from: if e.raw.auth.as_ref().is_some_and(|a| !a.is_empty()) {
                "auth"
            } else if e.username.is_empty() && e.password.is_empty() {
                "none"
            } else {
                "username/password"
            },
        })
        .collect()
}

fn run_decode(args: DecodeArgs) -> anyhow::Result<ExitCode> {
    let secrets = if crate::stdin::is_stdin(&args.file) {
        pullsim_credentials::parse_pull_secrets(
            &crate::stdin::read("FILE")?,
            &crate::stdin::origin(),
        )?
    } else {
        load_pull_secrets(&args.file)?
    };
    if secrets.is_empty() {
        anyhow::bail!(
            "{}: no pull secret or docker config found",
            args.file.display()
        );
    }
    for s in &secrets {
        let entries = decode_entries(s, args.show_secrets);
        match args.output {
            Format::Json => {
                for e in &entries {
                    output::json(Kind::SecretEntry, e)?;
                }
            }
            Format::Text => {
                let doc = s
                    .document
                    .map(|d| format!(" document {d}"))
                    .unwrap_or_default();
                outln!(
                    "{}{doc}: secret {}/{} ({})",
                    safe(&s.source_file.display().to_string()),
                    safe(&s.namespace),
                    safe(&s.name),
                    format_name(s.format)
                );
                if entries.is_empty() {
                    outln!("  (no registry entries: the kubelet uses nothing from it)");
                }
                for e in &entries {
                    let email = if e.email.is_empty() {
                        String::new()
                    } else {
                        format!(" email {:?}", e.email)
                    };
                    outln!(
                        "  {:?} -> key {}: username {:?} password {}{email} (from {})",
                        e.registry,
                        safe(&e.key),
                        e.username,
                        if e.password.is_empty() {
                            "\"\" (empty)".to_string()
                        } else {
                            safe(&e.password).into_owned()
                        },
                        e.credentials_from
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
