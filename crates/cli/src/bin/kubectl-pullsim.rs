//! `kubectl-pullsim`: the kubectl plugin (kubectl runs `kubectl-pullsim` from PATH for
//! `kubectl pullsim ...`). It maps its arguments onto pullsim's own commands and runs the
//! `pullsim` installed beside it (`cargo install --path crates/cli` installs both), so both
//! names run the same code: `kubectl pullsim explain|run X` is `pullsim pod explain|run
//! --from-cluster X`, `kubectl pullsim nodes check ...` is `pullsim nodes check ...`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// The plugin's usage (`kubectl pullsim`, `kubectl pullsim --help`).
const PLUGIN_USAGE: &str = "kubectl pullsim: pullsim on a live cluster

Usage:
  kubectl pullsim explain TYPE/NAME... [-n NS] [--context C] [pullsim pod explain flags]
  kubectl pullsim run TYPE/NAME... [-n NS] [--context C] [pullsim pod run flags]
  kubectl pullsim nodes check IMAGE... --image PULLSIM_IMAGE [--namespace pullsim-system] [--timeout 5m]

TYPE is pod, deployment, statefulset, daemonset, job or cronjob (or kubectl's short names).
explain and run are `pullsim pod explain|run --from-cluster`: `kubectl pullsim explain --help`
lists their flags.
";

/// What the plugin does with its arguments.
#[derive(Debug, PartialEq)]
enum PluginArgs {
    /// Run pullsim with these arguments.
    Run(Vec<OsString>),
    /// Print the usage; `true`: as asked (exit 0), `false`: as a usage error (exit 2).
    Usage(bool),
}

/// Map `kubectl pullsim ARGS` onto pullsim's commands.
fn plugin_args(args: Vec<OsString>) -> PluginArgs {
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let mut out: Vec<OsString> = Vec::new();
    match first {
        "explain" | "run" => {
            out.push("pod".into());
            out.push(first.into());
            out.push("--from-cluster".into());
            out.extend(args.into_iter().skip(1));
        }
        "nodes" | "--version" | "-V" => out.extend(args),
        "" => return PluginArgs::Usage(false),
        "-h" | "--help" | "help" => return PluginArgs::Usage(true),
        _ => return PluginArgs::Usage(false),
    }
    PluginArgs::Run(out)
}

/// The `pullsim` beside this program, else the one on PATH.
fn pullsim_program() -> PathBuf {
    if let Ok(me) = std::env::current_exe() {
        let beside = me.with_file_name("pullsim");
        if beside.is_file() {
            return beside;
        }
    }
    PathBuf::from("pullsim")
}

fn main() -> ExitCode {
    match plugin_args(std::env::args_os().skip(1).collect()) {
        PluginArgs::Usage(true) => {
            print!("{PLUGIN_USAGE}");
            ExitCode::SUCCESS
        }
        PluginArgs::Usage(false) => {
            eprint!("{PLUGIN_USAGE}");
            ExitCode::from(2)
        }
        PluginArgs::Run(args) => {
            let program = pullsim_program();
            // exec: pullsim takes this process over (signals, exit status); it returns only
            // on failure. argv[0] "kubectl pullsim" makes pullsim's usage lines read so.
            let err = Command::new(&program)
                .arg0("kubectl pullsim")
                .args(args)
                .exec();
            eprintln!(
                "error: kubectl-pullsim: running {}: {err} (install pullsim beside kubectl-pullsim: cargo install --path crates/cli)",
                program.display()
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn plugin_commands_map_onto_pod_and_nodes() {
        assert_eq!(
            plugin_args(os(&["explain", "deploy/web", "-n", "shop"])),
            PluginArgs::Run(os(&[
                "pod",
                "explain",
                "--from-cluster",
                "deploy/web",
                "-n",
                "shop"
            ]))
        );
        assert_eq!(
            plugin_args(os(&["run", "-o", "json", "po/p"])),
            PluginArgs::Run(os(&["pod", "run", "--from-cluster", "-o", "json", "po/p"]))
        );
        assert_eq!(
            plugin_args(os(&["nodes", "check", "nginx"])),
            PluginArgs::Run(os(&["nodes", "check", "nginx"]))
        );
        assert_eq!(plugin_args(os(&[])), PluginArgs::Usage(false));
        assert_eq!(plugin_args(os(&["--help"])), PluginArgs::Usage(true));
        assert_eq!(plugin_args(os(&["images"])), PluginArgs::Usage(false));
    }
}
