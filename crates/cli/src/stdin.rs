//! `-` for a FILE argument: standard input, read once per command and named `<stdin>` in
//! errors and `Source:` lines (as kubectl's `-f -`). A second `-` in the same command is a usage
//! error: standard input can be read only once.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The name standard input has in errors and origins.
pub const STDIN_NAME: &str = "<stdin>";

static TAKEN: Mutex<Option<String>> = Mutex::new(None);

/// Whether `path` is `-`.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Standard input as UTF-8 text, for the argument `what` (`--secret`, `FILE`); fails when
/// another argument already took it.
pub fn read(what: &str) -> anyhow::Result<String> {
    let mut taken = TAKEN
        .lock()
        .map_err(|_| anyhow::anyhow!("reading standard input: lock poisoned"))?;
    if let Some(first) = taken.as_ref() {
        anyhow::bail!(
            "standard input (-) given twice, for {first} and for {what}: it can be read only once"
        );
    }
    *taken = Some(what.to_string());
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("reading standard input for {what}: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{STDIN_NAME} ({what}): not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The origin path of standard input.
pub fn origin() -> PathBuf {
    PathBuf::from(STDIN_NAME)
}

/// The text of a FILE option that may be `-`: `Some((text, <stdin>))` for `-`, `None` for a
/// path (the caller reads it with its own loader, which names the path in its errors).
pub fn text_if_stdin(path: &Path, what: &str) -> anyhow::Result<Option<(String, PathBuf)>> {
    if is_stdin(path) {
        Ok(Some((read(what)?, origin())))
    } else {
        Ok(None)
    }
}
