//! `-v` / `-vv`: what the libraries log, on stderr (never stdout). `-v`: every HTTP exchange
//! with a registry or token endpoint (method, URL with query values redacted, status, time) and
//! the runtime's info-level log lines; `-vv`: also the request and response headers, credentials
//! redacted by name. Without `-v` nothing of it is printed.

use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The `-v` count of this command.
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// Install the stderr logger for `count` times `-v` (nothing for 0).
pub fn init(count: u8) {
    LEVEL.store(count, Ordering::Relaxed);
    let filter = match count {
        0 => return,
        1 => "pullsim::http=debug",
        _ => "pullsim::http=trace,pullsim_registry=debug,pullsim_runtime=debug,pullsim_node=debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_ansi(false)
        .try_init();
}
