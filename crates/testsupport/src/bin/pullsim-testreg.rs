//! `pullsim-testreg`: runs a test registry in the foreground and generates test images.
//!
//! ```text
//! pullsim-testreg serve MODE --dir DIR [--tls] [--token-ttl SECS] [--anonymous-pull GLOB]...
//! pullsim-testreg gen-image --out DIR --tag T --layers N --layer-size BYTES [--gzip|--zstd|--plain]
//!                           [--compressible] [--platforms linux/amd64,linux/arm64/v8] [--seed S]
//! pullsim-testreg push --env FILE --layout DIR --tag T --dest REPO[:TAG]
//! ```

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use pullsim_testsupport::image::{self, ImageSpec, LayerSpec, Platform};
use pullsim_testsupport::{Mode, PushTarget, RegistryConfig, RegistryHandle, push_layout};

const USAGE: &str = "usage:
  pullsim-testreg serve MODE --dir DIR [--tls] [--token-ttl SECS] [--anonymous-pull GLOB]...
      MODE: anonymous | htpasswd | token | tls. Runs docker-registry (and the token server) on
      127.0.0.1:<free port> until SIGTERM/SIGINT (or until stdin closes when it is a pipe);
      writes DIR/env (REGISTRY=127.0.0.1:PORT, REGISTRY_MODE, REGISTRY_USER/PASS, ...).
  pullsim-testreg gen-image --out DIR --tag T --layers N --layer-size BYTES [--gzip|--zstd|--plain]
      [--compressible] [--platforms linux/amd64,linux/arm64/v8] [--seed S]
      Writes an OCI layout and prints its digests as JSON. Sizes accept K, M, G suffixes (KiB...).
  pullsim-testreg push --env FILE --layout DIR --tag T --dest REPO[:TAG]
      skopeo copy --all --preserve-digests to the registry described by FILE, as its push user.";

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("gen-image") => gen_image(&args[1..]),
        Some("push") => push(&args[1..]),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pullsim-testreg: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Minimal flag parser: `--name value`, `--name=value`, `--switch`, positionals.
struct Args {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(args: &[String], switches: &[&str], valued: &[&str]) -> Res<Self> {
        let mut out = Args {
            positional: Vec::new(),
            flags: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if switches.contains(&name) {
                    out.flags.push((name.to_string(), None));
                } else if valued.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("--{name} needs a value"))?,
                    };
                    out.flags.push((name.to_string(), Some(v)));
                } else {
                    return Err(format!("unknown option --{name}\n{USAGE}"));
                }
            } else {
                out.positional.push(a.clone());
            }
        }
        Ok(out)
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn values(&self, name: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    fn required(&self, name: &str) -> Res<&str> {
        self.value(name)
            .ok_or_else(|| format!("--{name} is required\n{USAGE}"))
    }
}

fn serve(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &["tls"], &["dir", "token-ttl", "anonymous-pull"])?;
    let [mode] = a.positional.as_slice() else {
        return Err(format!("serve needs exactly one MODE\n{USAGE}"));
    };
    let mode: Mode = mode.parse().map_err(|e| format!("{e}"))?;
    let dir = PathBuf::from(a.required("dir")?);
    let mut cfg = RegistryConfig {
        work_dir: Some(dir.clone()),
        tls: a.has("tls"),
        ..RegistryConfig::default()
    };
    if let Some(ttl) = a.value("token-ttl") {
        cfg.token_ttl = Duration::from_secs(
            ttl.parse()
                .map_err(|_| format!("--token-ttl {ttl:?} is not a number of seconds"))?,
        );
    }
    cfg.anonymous_acl = a.values("anonymous-pull");
    let env_file = dir.join("env");
    let _ = std::fs::remove_file(&env_file);
    let handle = RegistryHandle::start(mode, cfg).map_err(|e| e.to_string())?;
    let env = format!(
        "{}REGISTRY_PID={}\n",
        handle.env_lines(),
        std::process::id()
    );
    let tmp = dir.join(".env.tmp");
    std::fs::write(&tmp, &env).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &env_file).map_err(|e| format!("writing {}: {e}", env_file.display()))?;
    print!("{env}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let reason = runtime.block_on(wait_for_stop())?;
    eprintln!(
        "pullsim-testreg: {reason}; stopping the registry on {}",
        handle.host
    );
    drop(handle);
    let _ = std::fs::remove_file(&env_file);
    Ok(())
}

/// Waits for SIGTERM or SIGINT, or for stdin to close when stdin is a pipe.
async fn wait_for_stop() -> Res<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    if stdin_is_pipe() {
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            let _ = tx.send(());
        });
    } else {
        std::mem::forget(tx);
    }
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        _ = rx => "stdin closed",
    })
}

fn stdin_is_pipe() -> bool {
    std::fs::metadata("/proc/self/fd/0").is_ok_and(|m| m.file_type().is_fifo())
}

fn parse_size(s: &str) -> Res<usize> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mult) = [
        ("gib", 1usize << 30),
        ("mib", 1 << 20),
        ("kib", 1 << 10),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
    ]
    .iter()
    .find_map(|(suffix, m)| lower.strip_suffix(suffix).map(|n| (n.to_string(), *m)))
    .unwrap_or((lower.clone(), 1));
    num.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or with a K/M/G suffix)"))
}

fn gen_image(args: &[String]) -> Res<()> {
    let a = Args::parse(
        args,
        &["gzip", "zstd", "plain", "compressible"],
        &["out", "tag", "layers", "layer-size", "platforms", "seed"],
    )?;
    if let Some(p) = a.positional.first() {
        return Err(format!("unexpected argument {p:?}\n{USAGE}"));
    }
    if [a.has("gzip"), a.has("zstd"), a.has("plain")]
        .iter()
        .filter(|x| **x)
        .count()
        > 1
    {
        return Err("--gzip, --zstd and --plain exclude each other".into());
    }
    let out = PathBuf::from(a.required("out")?);
    let layers: usize = a
        .required("layers")?
        .parse()
        .map_err(|_| "--layers needs a number".to_string())?;
    let size = parse_size(a.required("layer-size")?)?;
    let platforms = a
        .value("platforms")
        .unwrap_or("linux/amd64")
        .split(',')
        .map(|p| p.trim().parse::<Platform>().map_err(|e| e.to_string()))
        .collect::<Res<Vec<_>>>()?;
    let seed = match a.value("seed") {
        Some(s) => s
            .parse()
            .map_err(|_| format!("--seed {s:?} is not a number"))?,
        None => 1,
    };
    let spec = ImageSpec {
        layers: vec![
            LayerSpec {
                size,
                gzip: !a.has("plain") && !a.has("zstd"),
                zstd: a.has("zstd"),
                compressible: a.has("compressible")
            };
            layers
        ],
        platforms,
        tag: a.required("tag")?.to_string(),
        seed,
    };
    let img = image::generate(&out, &spec).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&img.to_json()).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn push(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &[], &["env", "layout", "tag", "dest"])?;
    let target =
        PushTarget::from_env_file(Path::new(a.required("env")?)).map_err(|e| e.to_string())?;
    push_layout(
        &target,
        Path::new(a.required("layout")?),
        a.required("tag")?,
        a.required("dest")?,
    )
    .map_err(|e| e.to_string())
}
