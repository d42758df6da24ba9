//! The one set of exit codes of every command (README "Exit codes").

use std::process::ExitCode;

/// Exit code 1, "no": the answer is negative (not ready, not pullable, invalid, faults found).
pub const NO: u8 = 1;
/// Exit code 2, trouble: a usage error (as clap's), unreadable or invalid input or
/// configuration, a damaged store, no space; every error that reaches `main`.
pub const TROUBLE: u8 = 2;

/// Exit 0 for a "yes" answer (ready, pullable, valid, clean), 1 for a "no".
pub fn answer(yes: bool) -> ExitCode {
    if yes {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NO)
    }
}

/// Exit 2.
pub fn trouble() -> ExitCode {
    ExitCode::from(TROUBLE)
}
