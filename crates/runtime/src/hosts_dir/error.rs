//! Errors of the host directory: I/O errors, which fail the resolve as they fail containerd's
//! (`ConfigureHosts` returns them), and hosts.toml content errors, which containerd only logs
//! before it falls back to the Docker-style certificate files (`loadHostDir`).
//!
//! Content errors display containerd's text (`core/remotes/docker/config/hosts.go@v2.3.4`
//! `parseHostConfig`, Go's `time.ParseDuration`, `net/url`); TOML syntax and type errors are
//! the `toml` crate's text (containerd prints go-toml's).

use std::path::PathBuf;

use pullsim_reference::go_duration::DurationError;

/// Reading the host directory failed (anything but "does not exist").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostsDirError {
    /// `stat`, `open`/`read` or `readdir` failed.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done: `stat`, `open`, `readdir`.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why containerd cannot use a hosts.toml (it logs `failed to decode <file>` and reads the
/// directory's certificate files instead). `table` names where: `host."<key>"` or `root`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostsFileError {
    /// Not valid TOML.
    #[error("{message}")]
    Toml {
        /// The parser's message (line, column).
        message: String,
    },
    /// A key with a value of the wrong TOML type (go-toml's decoding error).
    #[error("toml: cannot decode {found} into {key} ({expected}) of {table}")]
    WrongType {
        /// The table (`host."<key>"` or `root`).
        table: String,
        /// The key.
        key: String,
        /// The Go type containerd decodes into.
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// A capability other than pull, resolve, push, referrers.
    #[error("unknown capability {value}")]
    UnknownCapability {
        /// The table.
        table: String,
        /// The capability as written.
        value: String,
    },
    /// The host key or `server` is not a URL Go parses.
    #[error("unable to parse server {server}: {reason}")]
    ServerUrl {
        /// The table.
        table: String,
        /// The URL, with `https://` prepended when it did not start with `http`.
        server: String,
        /// Go's `url.Parse` error (`parse "…": …`).
        reason: String,
    },
    /// `ca` is neither a string nor an array.
    #[error("invalid type {value} for \"ca\"")]
    CaType {
        /// The table.
        table: String,
        /// The value, as Go's `%v` prints it.
        value: String,
    },
    /// `client` is neither a string nor an array.
    #[error("invalid type {value} for \"client\"")]
    ClientType {
        /// The table.
        table: String,
        /// The value, as Go's `%v` prints it.
        value: String,
    },
    /// An item of the `client` array that is neither a string nor an array.
    #[error("invalid type {go_type} for \"client\"")]
    ClientItemType {
        /// The table.
        table: String,
        /// The item's Go type (`%T`: `int64`, `bool`, `map[string]interface {}` …).
        go_type: &'static str,
    },
    /// A `client` pair that does not have exactly two files.
    #[error("invalid pair {value} for \"client\"")]
    ClientPair {
        /// The table.
        table: String,
        /// The pair, as Go's `%v` prints it.
        value: String,
    },
    /// An array item that is not a string (`ca`, `client` pairs, header values).
    #[error("unable to cast {value} to string")]
    NotString {
        /// The table.
        table: String,
        /// The key (`ca`, `client`, `header.<name>`).
        key: String,
        /// The item, as Go's `%v` prints it.
        value: String,
    },
    /// A header value that is neither a string nor an array.
    #[error("invalid type {value} for header {}", pullsim_reference::go_quote(.name))]
    HeaderType {
        /// The table.
        table: String,
        /// The header name.
        name: String,
        /// The value, as Go's `%v` prints it.
        value: String,
    },
    /// `dial_timeout` is not a Go duration.
    #[error("{source}")]
    DialTimeout {
        /// The table.
        table: String,
        /// Go's `time.ParseDuration` error.
        #[source]
        source: DurationError,
    },
    /// `dial_timeout` is negative (Go accepts it, and every dial then times out at once;
    /// pullsim refuses it).
    #[error("dial_timeout {value} is negative")]
    NegativeDialTimeout {
        /// The table.
        table: String,
        /// The value as written.
        value: String,
    },
}

impl HostsFileError {
    /// The table the error is in: `host."<key>"`, `root`, or `None` for a TOML syntax error.
    pub fn table(&self) -> Option<&str> {
        match self {
            HostsFileError::Toml { .. } => None,
            HostsFileError::WrongType { table, .. }
            | HostsFileError::UnknownCapability { table, .. }
            | HostsFileError::ServerUrl { table, .. }
            | HostsFileError::CaType { table, .. }
            | HostsFileError::ClientType { table, .. }
            | HostsFileError::ClientItemType { table, .. }
            | HostsFileError::ClientPair { table, .. }
            | HostsFileError::NotString { table, .. }
            | HostsFileError::HeaderType { table, .. }
            | HostsFileError::DialTimeout { table, .. }
            | HostsFileError::NegativeDialTimeout { table, .. } => Some(table),
        }
    }
}
