//! Output formats shared by the subcommands.

use clap::ValueEnum;

/// `-o text|json`: human text (the default) or JSON, one object per line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, one object per line.
    Json,
}

/// Print one value as a single JSON line on stdout.
#[allow(dead_code)]
pub fn json_line<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
