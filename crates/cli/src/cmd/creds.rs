//! `pullsim creds`: which credentials the kubelet would try for an image (`match`), and whether
//! they work against the registry (`check`, in creds_check.rs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use pullsim_credentials::nodeconfig::{Checked, SearchDirs, search_node_config};
use pullsim_reference::Reference;
use serde::Serialize;

use crate::flags::{CredentialFlags, Format};
use crate::output::{self, Kind, outln};

/// `pullsim creds …`
#[derive(Args, Debug)]
#[command(
    about = "Pull credentials: which the kubelet would try (match), and whether they work (check)"
)]
pub struct CredsArgs {
    #[command(subcommand)]
    command: CredsCommand,
}

#[derive(Subcommand, Debug)]
enum CredsCommand {
    /// The credentials the kubelet would try for IMAGE, in order, and why each key matched
    #[command(
        long_about = "The credentials the kubelet would try for IMAGE, in try order: pod \
secrets (--secret, in imagePullSecrets order), then the node config, then exec credential \
plugins, matched exactly as pkg/credentialprovider/keyring.go on the normalized repository \
(docker.io/library/busybox). No lines and the note `no credentials: the kubelet pulls \
anonymously` when nothing matches.",
        after_help = MATCH_HELP
    )]
    Match(MatchArgs),
    /// Would the node be able to pull IMAGE with these credentials, and if not, exactly why?
    /// Tries each credential in the kubelet's order (auth flow + one manifest HEAD, no layers).
    Check(Box<crate::cmd::creds_check::CheckArgs>),
}

const MATCH_HELP: &str = "\
Examples:
  # Which key of a pull secret the kubelet uses for a Docker Hub image
  pullsim creds match nginx --secret regcred.yaml

  # Pod secrets in imagePullSecrets order, then the node's config.json; show the keys that miss
  pullsim creds match registry.example.com:5000/team/app:v1 --secret a.yaml --secret b.yaml \\
      --node-config /var/lib/kubelet/config.json --explain

  # With exec credential plugins (kubelet --image-credential-provider-config/-bin-dir)
  pullsim creds match 123.dkr.ecr.us-east-1.amazonaws.com/app --provider-config providers.yaml \\
      --provider-bin-dir /usr/libexec/kubelet-plugins

Matching (keyring.go): keys are normalized (https:// added, /v1/ or /v2/ dropped); a key matches
when the port is equal, the host has as many labels, each label matches as a glob (case matters),
and the key's path is a plain string prefix of the repository's. Within the pod secrets (one
keyring) and within the node config, matching keys are tried in reverse lexicographic order (the
same key from several secrets: in --secret order); only when none matches does a Docker Hub
image use the index.docker.io key. Pod secrets come before the node config, then plugins.

JSON fields, one line per credential in try order: kind (credential), key, source
(secret:<namespace>/<name>, node:<path> or plugin:<name>), username, why. With --explain, the
keys that did not match follow as kind (credential_miss), key, source, username, match (false),
why_not. Passwords are never printed.

Exit status: 0 (also when no credential matches), 2 for an invalid image, unreadable input or a
usage error.";

/// `creds match`.
#[derive(Args, Debug)]
struct MatchArgs {
    /// The image as a pod spec writes it.
    image: String,
    #[command(flatten)]
    creds: CredentialFlags,
    /// Search for the node config as the kubelet does (root dir, working dir, $HOME/.docker,
    /// /.docker, then legacy .dockercfg) when --node-config is not given.
    #[arg(long, conflicts_with = "node_config")]
    node_search: bool,
    /// The kubelet root directory searched first by --node-search.
    #[arg(long, value_name = "DIR", requires = "node_search")]
    kubelet_root: Option<PathBuf>,
    /// Also list the keys that did not match and why not.
    #[arg(long)]
    explain: bool,
    /// Output: text, or one JSON object per credential in try order.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    output: Format,
}

#[derive(Serialize)]
struct MatchLine<'a> {
    key: &'a str,
    source: String,
    username: &'a str,
    why: &'a str,
}

#[derive(Serialize)]
struct MissLine<'a> {
    key: &'a str,
    source: String,
    username: &'a str,
    #[serde(rename = "match")]
    matched: bool,
    why_not: &'a str,
}

/// Run `pullsim creds`.
pub fn run(args: CredsArgs, root: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match args.command {
        CredsCommand::Match(m) => run_match(m),
        CredsCommand::Check(c) => crate::cmd::creds_check::run(*c, root),
    }
}

fn run_match(args: MatchArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse_normalized(&args.image)
        .with_context(|| format!("image {:?}", args.image))?;
    let repository = reference.name();
    let mut keyring = args.creds.keyring()?;
    if args.node_search {
        let search = search_node_config(&SearchDirs::from_env(args.kubelet_root.as_deref()));
        if args.explain {
            for (path, outcome) in &search.checked {
                let what = match outcome {
                    Checked::Missing => "missing".to_string(),
                    Checked::Found => "used".to_string(),
                    Checked::Invalid(e) => format!("skipped: {e}"),
                    _ => "checked".to_string(),
                };
                eprintln!("node config {}: {what}", path.display());
            }
        }
        if let Some((path, cfg)) = &search.found {
            keyring.add_node_docker_config(path, cfg);
        }
    }
    let lookup = keyring.lookup_explained(&repository);
    for w in &lookup.warnings {
        eprintln!("warning: {w}");
    }
    match args.output {
        Format::Json => {
            for m in &lookup.matches {
                output::json(
                    Kind::Credential,
                    &MatchLine {
                        key: &m.key,
                        source: m.source.to_string(),
                        username: &m.auth.username,
                        why: &m.why,
                    },
                )?;
            }
            if args.explain {
                for m in &lookup.misses {
                    output::json(
                        Kind::CredentialMiss,
                        &MissLine {
                            key: &m.key,
                            source: m.source.to_string(),
                            username: &m.username,
                            matched: false,
                            why_not: &m.why_not,
                        },
                    )?;
                }
            }
            if lookup.matches.is_empty() {
                eprintln!("no credentials: the kubelet pulls anonymously");
            }
        }
        Format::Text => {
            outln!("image {} -> repository {repository}", args.image);
            if lookup.matches.is_empty() {
                outln!("no credentials: the kubelet pulls anonymously");
            }
            for (i, m) in lookup.matches.iter().enumerate() {
                outln!(
                    "{}. key {}  source {}  username {:?}\n   why: {}",
                    i + 1,
                    m.key,
                    m.source,
                    m.auth.username,
                    m.why
                );
            }
            if args.explain {
                for m in &lookup.misses {
                    outln!(
                        "-  key {}  source {}  username {:?}\n   not matched: {}",
                        m.key,
                        m.source,
                        m.username,
                        m.why_not
                    );
                }
            }
        }
    }
    if args.explain {
        for ig in &lookup.ignored {
            eprintln!(
                "ignored entry {:?} from {}: {}",
                ig.location, ig.source, ig.error
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
