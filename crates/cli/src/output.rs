//! The one output writer of every command: text lines and JSON lines on stdout.
//!
//! Nothing in the CLI prints to stdout any other way. A closed stdout (`pullsim images ls | head
//! -1`) makes every write return [`StdoutClosed`], which the command propagates with `?` and
//! `main` turns into a quiet exit 0, as ripgrep does; nothing panics.
//!
//! JSON output is one object per line, and every object starts with `kind`, the type of the
//! line ([`Kind`]); [`json`] is the only function that writes one.

use std::io::Write as _;

/// The type of a JSON line: the value of its `kind` key. Stable: later versions add kinds,
/// never change these.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A kubelet event (`pull`, `pod run`).
    Event,
    /// A container's (or image volume's) status (`pod run`).
    Container,
    /// A hint: something surprising the run met, why, and the fix.
    Hint,
    /// A line the container runtime logged (`pull`, `pod run`, `creds check`).
    RuntimeLog,
    /// What the unpack check did (`pull`, `pod run`).
    Unpack,
    /// One credential tried (`creds check`).
    Attempt,
    /// The verdict (`creds check`).
    Result,
    /// An image of the store (`images ls`, `images inspect`).
    Image,
    /// One container's explanation (`pod explain`).
    Explain,
    /// An image GC run (`images gc`, `pod run --capacity`).
    Gc,
    /// A parsed reference (`ref`).
    Ref,
    /// A pull decision (`policy decide`).
    Decision,
    /// A defaulted pull policy (`policy default`).
    DefaultPolicy,
    /// One step of the back-off schedule (`policy backoff`).
    Backoff,
    /// A pull secret fault (`secret lint`).
    Finding,
    /// A registry entry of a pull secret (`secret decode`).
    SecretEntry,
    /// A credential the kubelet would try (`creds match`).
    Credential,
    /// A key that does not match (`creds match --explain`).
    CredentialMiss,
    /// Images removed (`images rm`).
    Removed,
    /// An image pinned or unpinned (`images pin|unpin`).
    Pin,
    /// The store check (`images verify`).
    Verify,
    /// Disk usage of the store (`images du`).
    DiskUsage,
    /// An image loaded (`images load`).
    Loaded,
    /// The archive written (`images save`).
    Saved,
    /// What a real node would do for an image (`node check`).
    NodeCheck,
    /// One image on one node (`nodes check`, `kubectl pullsim nodes check`).
    NodeResult,
    /// One variant's results (`simulate`).
    Variant,
    /// One time-series sample of one registry host (`simulate`).
    Sample,
}

impl Kind {
    /// The `kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Container => "container",
            Kind::Hint => "hint",
            Kind::RuntimeLog => "runtime_log",
            Kind::Unpack => "unpack",
            Kind::Attempt => "attempt",
            Kind::Result => "result",
            Kind::Image => "image",
            Kind::Explain => "explain",
            Kind::NodeResult => "node_result",
            Kind::Gc => "gc",
            Kind::Ref => "ref",
            Kind::Decision => "decision",
            Kind::DefaultPolicy => "default_policy",
            Kind::Backoff => "backoff",
            Kind::Finding => "finding",
            Kind::SecretEntry => "secret_entry",
            Kind::Credential => "credential",
            Kind::CredentialMiss => "credential_miss",
            Kind::Removed => "removed",
            Kind::Pin => "pin",
            Kind::Verify => "verify",
            Kind::DiskUsage => "disk_usage",
            Kind::Loaded => "loaded",
            Kind::Saved => "saved",
            Kind::NodeCheck => "node_check",
            Kind::Variant => "variant",
            Kind::Sample => "sample",
        }
    }
}

/// Stdout was closed by its reader: output ends quietly and the command exits 0.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Write `text` as is (no newline added).
pub fn text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::anyhow!("writing to stdout: {e}")),
    }
}

/// Write one line.
pub fn line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut s = args.to_string();
    s.push('\n');
    text(&s)
}

/// Write one JSON line of type `kind`: `{"kind":"…", …the value's fields in order}`. `value`
/// must serialize to an object; a `kind` field of its own would be overwritten.
pub fn json<T: serde::Serialize + ?Sized>(kind: Kind, value: &T) -> anyhow::Result<()> {
    let mut obj = serde_json::Map::new();
    obj.insert("kind".into(), kind.as_str().into());
    match serde_json::to_value(value)? {
        serde_json::Value::Object(fields) => {
            for (k, v) in fields {
                if k != "kind" {
                    obj.insert(k, v);
                }
            }
        }
        other => anyhow::bail!(
            "internal error: a {} JSON line is not an object: {other}",
            kind.as_str()
        ),
    }
    let mut s = serde_json::to_string(&obj)?;
    s.push('\n');
    text(&s)
}

/// `println!` through [`line`]: returns early with [`StdoutClosed`] on a closed pipe.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))?
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))?
    };
}
pub(crate) use outln;
