//! `pullsim pull IMAGE`: what the kubelet's image manager does for one image — pull policy,
//! local lookup, decision, credentials in keyring order, the pull, and the kubelet's events.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use pullsim_credentials::Match;
use pullsim_policy::{
    Decision, Event, EventReason, Presence, PullPolicy, apply_default_image_tag, decide,
    decision_event, default_pull_policy, invalid_image_event, messages,
};
use pullsim_reference::{Digest, Reference};
use pullsim_registry::{Platform, Progress, RegistryError};
use serde_json::json;

use crate::flags::{CredentialFlags, Format, KubeletFlags, RegistryFlags, open_store, runtime};
use crate::output::{self, Kind, outln};

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message as is; several, deduplicated,
/// joined with `, ` inside brackets (k8s.io/apimachinery/pkg/util/errors/errors.go).
pub(crate) fn aggregate(msgs: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for m in msgs {
        if !seen.contains(&m.as_str()) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen[0].to_string(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// `pullsim pull`.
#[derive(Args, Debug)]
pub struct PullArgs {
    /// The image as a pod spec writes it (`nginx`, `registry:5000/team/app:1.0`, `x@sha256:..`).
    pub image: String,
    /// imagePullPolicy: Always, IfNotPresent or Never (default: the kubelet's defaulting —
    /// Always for `:latest` or no tag, IfNotPresent otherwise).
    #[arg(long)]
    pub policy: Option<PullPolicy>,
    #[command(flatten)]
    pub creds: CredentialFlags,
    /// Platform to pull from a multi-platform index (default: this host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
    /// Blobs downloaded at the same time (containerd's max_concurrent_downloads).
    #[arg(long, value_name = "N", default_value_t = pullsim_registry::DEFAULT_MAX_CONCURRENT_LAYERS)]
    pub max_concurrent_downloads: usize,
    /// Give up on a download after this many seconds without a byte.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub progress_timeout: u64,
    #[command(flatten)]
    pub registry: RegistryFlags,
    #[command(flatten)]
    pub kubelet: KubeletFlags,
    /// Output: text events (with progress bars on a terminal) or JSON lines.
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

struct Emitter {
    format: Format,
}

impl Emitter {
    fn emit(&self, e: &Event) -> anyhow::Result<()> {
        match self.format {
            Format::Json => output::json(
                Kind::Event,
                &json!({
                    "type": e.event_type.as_str(),
                    "reason": e.reason.as_str(),
                    "message": e.message,
                }),
            )?,
            Format::Text => outln!(
                "{:<8} {:<18} {}",
                e.event_type.as_str(),
                e.reason.as_str(),
                e.message
            ),
        }
        Ok(())
    }
}

/// Progress bars per blob (only on a terminal).
struct Bars {
    multi: indicatif::MultiProgress,
    bars: Mutex<HashMap<Digest, indicatif::ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Progress for Bars {
    fn layer_started(&self, d: &Digest, size: u64) {
        let pb = self.multi.add(indicatif::ProgressBar::new(size));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_prefix(format!("{:.12}", d.encoded()));
        if let Ok(mut m) = self.bars.lock() {
            m.insert(d.clone(), pb);
        }
    }
    fn layer_progress(&self, d: &Digest, bytes: u64) {
        if let Ok(m) = self.bars.lock()
            && let Some(pb) = m.get(d)
        {
            pb.set_position(bytes);
        }
    }
    fn layer_done(&self, d: &Digest) {
        if let Ok(m) = self.bars.lock()
            && let Some(pb) = m.get(d)
        {
            pb.finish_and_clear();
        }
    }
}

/// One credential attempt's error, as the kubelet receives it from containerd.
pub(crate) fn cri_error(err: &RegistryError, reference: &str) -> String {
    err.cri_message(reference)
}

/// Run `pullsim pull`.
pub fn run(args: PullArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let out = Emitter {
        format: args.output,
    };
    // applyDefaultImageTag: an unparsable image is InvalidImageName.
    let image = match apply_default_image_tag(&args.image) {
        Ok(i) => i.into_owned(),
        Err(e) => {
            out.emit(&invalid_image_event(&args.image, &e))?;
            return Ok(crate::exit::answer(false));
        }
    };
    let reference = Reference::parse_normalized(&image)
        .with_context(|| format!("parsing image {image:?}"))?
        .with_default_tag();
    let policy = args
        .policy
        .unwrap_or_else(|| default_pull_policy(&args.image));
    // Bad input (an unreadable or invalid secret or configuration) is an error before any
    // event. The node configuration is validated here; the image manager that will run this
    // pull takes it.
    let _node = args.kubelet.node_config()?;
    let keyring = args.creds.keyring()?;
    if args.max_concurrent_downloads == 0 {
        anyhow::bail!("--max-concurrent-downloads must be at least 1");
    }
    let store = open_store(root)?;
    let presence = if policy == PullPolicy::Always {
        Presence::Absent
    } else {
        match store.lookup(&reference)? {
            Some(_) => Presence::Present { accessible: true },
            None => Presence::Absent,
        }
    };
    let decision = decide(policy, presence);
    out.emit(&decision_event(decision, &image, false))?;
    match decision {
        Decision::UseLocal => {
            store.touch(&reference, pullsim_store::now_ms())?;
            return Ok(ExitCode::SUCCESS);
        }
        Decision::NeverPull => return Ok(crate::exit::answer(false)),
        Decision::Pull => {}
    }
    let matches: Vec<Match> = keyring.lookup(&reference);
    let client = args.registry.client(args.platform.clone(), |o| {
        o.max_concurrent_layers = args.max_concurrent_downloads;
        o.progress_timeout = std::time::Duration::from_secs(args.progress_timeout.max(1));
    })?;
    let bars: Option<Arc<Bars>> = (args.output == Format::Text && std::io::stderr().is_terminal())
        .then(|| Arc::new(Bars::new()));
    let progress: &dyn Progress = match &bars {
        Some(b) => b.as_ref(),
        None => &pullsim_registry::NoProgress,
    };
    let written_as = image.clone();
    let cri_ref = reference.to_string();
    let rt = runtime()?;
    let pull_started = Instant::now();
    let result = rt.block_on(async {
        if matches.is_empty() {
            return client
                .pull_as(&reference, &written_as, None, &store, progress)
                .await
                .map_err(|e| vec![cri_error(&e, &cri_ref)]);
        }
        // kuberuntime_image.go PullImage: each credential in order, first success wins,
        // no anonymous retry after credentials fail.
        let mut errs = Vec::new();
        for m in &matches {
            match client
                .pull_as(&reference, &written_as, Some(&m.auth), &store, progress)
                .await
            {
                Ok(p) => return Ok(p),
                Err(e) => errs.push(cri_error(&e, &cri_ref)),
            }
        }
        Err(errs)
    });
    let pull_time = pull_started.elapsed();
    match result {
        Ok(p) => {
            out.emit(&Event::normal(
                EventReason::Pulled,
                messages::successfully_pulled(&image, pull_time, started.elapsed(), p.size),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errs) => {
            let msg = aggregate(&errs);
            out.emit(&Event::warning(
                EventReason::Failed,
                messages::failed_to_pull(&image, &msg),
            ))?;
            let (reason, _) = messages::eval_pull_error(&image, &msg);
            // kuberuntime_container.go startContainer: Warning Failed "Error: <reason>".
            out.emit(&Event::warning(
                EventReason::Failed,
                format!("Error: {reason}"),
            ))?;
            Ok(crate::exit::answer(false))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::aggregate;

    #[test]
    fn aggregate_like_go() {
        // k8s.io/apimachinery/pkg/util/errors/errors.go aggregate.Error
        assert_eq!(aggregate(&[]), "");
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into()]), "[a, b]");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }
}
