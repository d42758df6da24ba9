//! `pullsim`: a kubelet image-pull simulator.
//!
//! The binary is thin: it parses arguments (clap), calls the library crates and renders their
//! results as text or JSON. Every subcommand lives in its own module under `cmd/`.

/// mimalloc instead of glibc's malloc: on a pull, hyper reads each socket burst into a fresh
/// ~400 KiB buffer that the hashing thread frees; glibc hands that memory back to the kernel and
/// the next read page-faults it in again (11,000 faults for a 256 MiB pull), while mimalloc keeps
/// it (in transparent huge pages): 239 -> 200 ms for that pull, at ~0.5 ms more per process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod exit;
mod flags;
mod node;
mod output;
mod stdin;
mod verbosity;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "pullsim",
    version,
    about = "Simulate what a Kubernetes node does when a pod needs an image",
    long_about = "pullsim does, on any machine, what the kubelet does when a pod needs an image: it \
defaults the pull policy, looks the image up in its own content-addressed store, picks pull \
credentials from dockerconfigjson secrets the way the kubelet's keyring does, talks to the \
registry, verifies and stores what it pulls, and reports it with the kubelet's own events and \
reasons.\n\nEvery command takes -o text|json; JSON output is one object per line, each with a \
`kind`.\n\nExit status: 0 yes (ready, pullable, valid, clean), 1 no (not ready, not pullable, \
invalid, faults found), 2 trouble (usage error, unreadable or invalid input or configuration, \
damaged store, no space).",
    propagate_version = true
)]
struct Cli {
    /// Store root (default: $XDG_DATA_HOME/pullsim, else ~/.local/share/pullsim).
    #[arg(long, global = true, env = "PULLSIM_ROOT", value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
    /// Run on a fresh, empty node (a temporary store and kubelet directory), removed when the
    /// command ends: results that do not depend on earlier runs. Not with --root/PULLSIM_ROOT.
    #[arg(long, global = true)]
    pub ephemeral: bool,
    /// Verbose: -v shows every HTTP exchange with registries (method, URL with query values
    /// redacted, status, time) and the runtime's info log lines on stderr; -vv adds headers,
    /// credentials redacted.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// The temporary root of `--ephemeral` (a usage error with `--root` or `PULLSIM_ROOT`).
fn ephemeral_root(cli: &Cli) -> anyhow::Result<Option<tempfile::TempDir>> {
    if !cli.ephemeral {
        return Ok(None);
    }
    if let Some(root) = &cli.root {
        anyhow::bail!(
            "--ephemeral runs on a fresh temporary store, but a store was given ({}, from --root or PULLSIM_ROOT): use one or the other",
            root.display()
        );
    }
    Ok(Some(
        tempfile::Builder::new()
            .prefix("pullsim-ephemeral-")
            .tempdir()?,
    ))
}

#[derive(Subcommand, Debug)]
enum Command {
    // Each subcommand adds one variant here and one arm in `main`.
    Policy(cmd::policy::PolicyArgs),
    Ref(cmd::reference::RefArgs),
    /// The node's image store: ls, inspect, rm, pin, unpin, gc, verify, du, load, save.
    Images(cmd::images::ImagesArgs),
    /// Do what the kubelet does for one image: policy, local lookup, credentials, pull, events.
    Pull(Box<cmd::pull::PullArgs>),
    /// Simulate a node running pods: pod run (events, statuses) and pod explain.
    Pod(cmd::pod::PodArgs),
    /// A real node: whether it could pull images, with its own configuration (node check).
    Node(cmd::node_check::NodeArgs),
    /// Image pull secrets: create (as kubectl), lint, decode.
    Secret(cmd::secret::SecretArgs),
    /// Pull credentials: which ones the kubelet would try for an image, and why.
    Creds(cmd::creds::CredsArgs),
    /// Every node of a live cluster: nodes check (also `kubectl pullsim nodes check`).
    Nodes(cmd::nodes::NodesArgs),
    /// Simulate a fleet of nodes pulling images in virtual time, and compare variants.
    Simulate(Box<cmd::simulate::SimulateArgs>),
    /// Print a shell completion script (bash, zsh, fish).
    Completion(cmd::completion::CompletionArgs),
    /// Write man pages (pullsim.1 and one per subcommand).
    Man(cmd::completion::ManArgs),
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    verbosity::init(cli.verbose);
    // `--ephemeral`: a temporary root, removed when it drops at the end of main.
    let ephemeral = match ephemeral_root(&cli) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("error: {err}");
            return exit::trouble();
        }
    };
    if let Some(dir) = &ephemeral {
        eprintln!(
            "pullsim: ephemeral node at {} (removed at exit)",
            dir.path().display()
        );
        node::STORE_NAMED.store(true, std::sync::atomic::Ordering::Relaxed);
        cli.root = Some(dir.path().to_path_buf());
    }
    let result: anyhow::Result<ExitCode> = match cli.command {
        Command::Policy(args) => cmd::policy::run(args),
        Command::Ref(args) => cmd::reference::run(args),
        Command::Images(args) => cmd::images::run(args, cli.root.as_deref()),
        Command::Pull(args) => cmd::pull::run(*args, cli.root.as_deref()),
        Command::Pod(args) => cmd::pod::run(args, cli.root.as_deref()),
        Command::Node(args) => cmd::node_check::run(args),
        Command::Secret(args) => cmd::secret::run(args),
        Command::Creds(args) => cmd::creds::run(args, cli.root.as_deref()),
        Command::Nodes(args) => cmd::nodes::run(args),
        Command::Simulate(args) => cmd::simulate::run(*args, cli.root.as_deref()),
        Command::Completion(args) => cmd::completion::completion(args, Cli::command()),
        Command::Man(args) => cmd::completion::man(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        // `pullsim images ls | head -1`: the reader has what it wanted.
        Err(err) if err.chain().any(|e| e.is::<output::StdoutClosed>()) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors quote user input (file names, manifest lines in a syntax error's excerpt):
            // control characters escaped as `%q` escapes them, line by line (issue 11, item 9).
            let text = format!("{err:#}");
            let lines: Vec<_> = text
                .split('\n')
                .map(pullsim_reference::terminal_safe)
                .collect();
            eprintln!("error: {}", lines.join("\n"));
            exit::trouble()
        }
    }
}
