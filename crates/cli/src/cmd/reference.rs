//! `pullsim ref IMAGE...`: parse and normalize image references exactly as the kubelet does
//! (distribution/reference `ParseNormalizedNamed`), and show the pull policy the API server
//! would default for each.

use std::process::ExitCode;

use clap::Args;
use pullsim_policy::default_pull_policy;
use pullsim_reference::{ParseError, Reference, go_quote};
use serde::Serialize;

use crate::flags::Format;
use crate::output::{self, Kind};

const AFTER_HELP: &str = "\
Examples:
  # A familiar name and its full form
  pullsim ref nginx:1.25

  # Several at once, one JSON object per line
  pullsim ref -o json nginx registry.example.com:5000/team/app:v1.2.3 'Nginx'

  # Tag and digest together: the digest is what gets pulled, the tag decides the policy
  pullsim ref 'nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'

Rules (distribution/reference normalize.go, as the kubelet uses them):
  - the first path component is a registry only if it contains '.' or ':', is 'localhost',
    or has uppercase letters; otherwise the registry is docker.io
  - a single name on docker.io gets 'library/' (nginx -> docker.io/library/nginx)
  - index.docker.io is written docker.io
  - the repository path is lowercase, at most 255 characters; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]
    and at most 128 characters; a digest is sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>
  - a 64-character hex string alone is an image ID, not a name, and is rejected
  - default pull policy: Always for the tag 'latest' or no tag and no digest, else IfNotPresent

JSON fields, in order: kind (ref), input, valid, error, name, domain, path, tag, digest,
familiar, default_pull_policy (null where it does not apply).

Exit status: 0 when every IMAGE is valid, 1 when any is invalid, 2 for usage errors.";

/// `pullsim ref IMAGE...`
#[derive(Args, Debug)]
#[command(
    about = "Parse and normalize image references as the kubelet does",
    long_about = "Parse and normalize each IMAGE exactly as the kubelet does \
(distribution/reference ParseNormalizedNamed): show its full name, registry (domain), \
repository path, tag, digest, short (familiar) form, and the imagePullPolicy the API server \
defaults for it. An invalid IMAGE gets the upstream error text, then what is wrong and where.",
    after_help = AFTER_HELP
)]
pub struct RefArgs {
    /// Image references as written in a pod spec (e.g. nginx, nginx:1.25, quay.io/x/y@sha256:…)
    #[arg(value_name = "IMAGE", required = true)]
    images: Vec<String>,
    /// Output format: text (one block per image) or json (one object per line)
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// One image's result; the JSON field order is part of the interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefRecord {
    /// The image string as given.
    pub input: String,
    /// Whether the kubelet accepts it.
    pub valid: bool,
    /// Why it is rejected (upstream text first, then what and where).
    pub error: Option<String>,
    /// Full repository name (`docker.io/library/nginx`).
    pub name: Option<String>,
    /// Registry domain (`docker.io`).
    pub domain: Option<String>,
    /// Repository path (`library/nginx`).
    pub path: Option<String>,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest, if any.
    pub digest: Option<String>,
    /// Familiar short form (`nginx:1.25`).
    pub familiar: Option<String>,
    /// `Always` or `IfNotPresent`, as SetDefaults_Container defaults it.
    pub default_pull_policy: String,
}

/// Parse one image into its record, plus the error (for the text renderer's pointer).
pub fn record(input: &str) -> (RefRecord, Option<ParseError>) {
    let policy = default_pull_policy(input).to_string();
    match Reference::parse_normalized(input) {
        Ok(r) => (
            RefRecord {
                input: input.to_owned(),
                valid: true,
                error: None,
                name: Some(r.name()),
                domain: Some(r.domain().to_owned()),
                path: Some(r.path().to_owned()),
                tag: r.tag().map(str::to_owned),
                digest: r.digest().map(|d| d.to_string()),
                familiar: Some(r.familiar()),
                default_pull_policy: policy,
            },
            None,
        ),
        Err(e) => (
            RefRecord {
                input: input.to_owned(),
                valid: false,
                error: Some(e.to_string()),
                name: None,
                domain: None,
                path: None,
                tag: None,
                digest: None,
                familiar: None,
                default_pull_policy: policy,
            },
            Some(e),
        ),
    }
}

/// Byte offset of the problem in the input, when the error has one.
fn error_offset(e: &ParseError) -> Option<usize> {
    match e {
        ParseError::InvalidFormat { offset, .. }
        | ParseError::NameContainsUppercase { offset, .. } => Some(*offset),
        _ => None,
    }
}

/// Whether `s` prints as itself on one line (no controls, no other whitespace than ' ').
fn plain(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && s.chars()
            .all(|c| c == ' ' || !(c.is_control() || c.is_whitespace()))
        && go_quote(s) == format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

const LABEL_WIDTH: usize = 21; // "Default Pull Policy:" + one space

fn line(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!("{:<LABEL_WIDTH$}{value}\n", format!("{label}:")));
}

/// The text block for one image (kubectl describe style), ending with a newline.
pub fn render_text(rec: &RefRecord, err: Option<&ParseError>) -> String {
    let mut out = String::new();
    let shown = if plain(&rec.input) {
        rec.input.clone()
    } else {
        go_quote(&rec.input)
    };
    line(&mut out, "Image", &shown);
    let none = "<none>";
    if rec.valid {
        line(&mut out, "Valid", "yes");
        line(&mut out, "Name", rec.name.as_deref().unwrap_or(none));
        line(&mut out, "Domain", rec.domain.as_deref().unwrap_or(none));
        line(&mut out, "Path", rec.path.as_deref().unwrap_or(none));
        line(&mut out, "Tag", rec.tag.as_deref().unwrap_or(none));
        line(&mut out, "Digest", rec.digest.as_deref().unwrap_or(none));
        line(
            &mut out,
            "Familiar",
            rec.familiar.as_deref().unwrap_or(none),
        );
    } else {
        line(&mut out, "Valid", "no");
        line(&mut out, "Error", rec.error.as_deref().unwrap_or(none));
        // Point at the offending character when the input prints as itself.
        if let Some(off) = err.and_then(error_offset)
            && plain(&rec.input)
            && rec.input.is_ascii()
            && off <= rec.input.len()
        {
            out.push_str(&format!("{:LABEL_WIDTH$}{}\n", "", rec.input));
            out.push_str(&format!("{:LABEL_WIDTH$}{:off$}^\n", "", ""));
        }
    }
    line(&mut out, "Default Pull Policy", &rec.default_pull_policy);
    out
}

/// Run `pullsim ref`.
pub fn run(args: RefArgs) -> anyhow::Result<ExitCode> {
    let mut all_valid = true;
    for (i, image) in args.images.iter().enumerate() {
        let (rec, err) = record(image);
        all_valid &= rec.valid;
        match args.output {
            Format::Json => output::json(Kind::Ref, &rec)?,
            Format::Text if i == 0 => output::text(&render_text(&rec, err.as_ref()))?,
            Format::Text => output::text(&format!("\n{}", render_text(&rec, err.as_ref())))?,
        }
    }
    Ok(crate::exit::answer(all_valid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn json_fields_in_order() {
        let (rec, _) = record("nginx:1.25");
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"input":"nginx:1.25","valid":true,"error":null,"name":"docker.io/library/nginx","domain":"docker.io","path":"library/nginx","tag":"1.25","digest":null,"familiar":"nginx:1.25","default_pull_policy":"IfNotPresent"}"#
        );
        let (rec, _) = record("Nginx");
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"input":"Nginx","valid":false,"error":"invalid reference format: repository name (library/Nginx) must be lowercase","name":null,"domain":null,"path":null,"tag":null,"digest":null,"familiar":null,"default_pull_policy":"IfNotPresent"}"#
        );
    }

    #[test]
    fn text_block_for_a_valid_image() {
        let (rec, err) = record("nginx");
        assert_eq!(
            render_text(&rec, err.as_ref()),
            "Image:               nginx\n\
             Valid:               yes\n\
             Name:                docker.io/library/nginx\n\
             Domain:              docker.io\n\
             Path:                library/nginx\n\
             Tag:                 <none>\n\
             Digest:              <none>\n\
             Familiar:            nginx\n\
             Default Pull Policy: Always\n"
        );
    }

    #[test]
    fn text_block_points_at_the_problem() {
        let (rec, err) = record("aa/asdf$$^/aa");
        let text = render_text(&rec, err.as_ref());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "Valid:               no");
        assert!(lines[2].starts_with("Error:               invalid reference format: "));
        assert_eq!(lines[3], "                     aa/asdf$$^/aa");
        assert_eq!(lines[4], "                            ^");
        assert_eq!(lines[5], "Default Pull Policy: IfNotPresent");
    }

    #[test]
    fn odd_inputs_are_quoted() {
        let (rec, err) = record("");
        assert!(render_text(&rec, err.as_ref()).starts_with("Image:               \"\"\n"));
        let (rec, err) = record("a\tb");
        assert!(render_text(&rec, err.as_ref()).starts_with("Image:               \"a\\tb\"\n"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn rendering_never_panics(s in any::<String>()) {
            let (rec, err) = record(&s);
            let text = render_text(&rec, err.as_ref());
            prop_assert!(text.ends_with('\n'));
            prop_assert_eq!(rec.valid, rec.error.is_none());
            prop_assert!(rec.default_pull_policy == "Always" || rec.default_pull_policy == "IfNotPresent");
            let json = serde_json::to_string(&rec).unwrap();
            prop_assert!(!json.contains('\n'));
        }
    }
}
