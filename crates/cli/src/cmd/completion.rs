//! `pullsim completion SHELL` and `pullsim man --out DIR`: shell completions and man pages,
//! generated from the same clap definition the binary parses with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

/// `pullsim completion`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
  pullsim completion bash > /etc/bash_completion.d/pullsim\n  \
  pullsim completion zsh > \"${fpath[1]}/_pullsim\"\n  \
  pullsim completion fish > ~/.config/fish/completions/pullsim.fish")]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Shells with completions.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// GNU bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
}

/// `pullsim man`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  pullsim man --out /usr/local/share/man/man1 && man pullsim-pod-run"
)]
pub struct ManArgs {
    /// Directory to write the pages to (created if missing): pullsim.1 and one page per
    /// subcommand (pullsim-pod-run.1, ...).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Write the completion script for `args.shell` to stdout.
pub fn completion(args: CompletionArgs, mut cmd: clap::Command) -> anyhow::Result<ExitCode> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "pullsim", &mut buf);
    crate::output::text(&String::from_utf8_lossy(&buf))?;
    Ok(ExitCode::SUCCESS)
}

/// Write man pages for the command and every subcommand into `args.out`.
pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut written = 0;
    write_pages(
        &cmd.clone().name("pullsim"),
        "pullsim",
        &args.out,
        &mut written,
    )?;
    eprintln!("wrote {written} man pages to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> anyhow::Result<()> {
    let page = cmd.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(page.clone())
        .render(&mut buf)
        .with_context(|| format!("rendering the man page of {name}"))?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf).with_context(|| format!("writing {}", file.display()))?;
    *written += 1;
    for sub in page.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
