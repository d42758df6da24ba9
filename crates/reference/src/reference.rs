//! The [`Reference`] type: distribution/reference `Parse`, `ParseNormalizedNamed` and the
//! reference operations (reference.go, normalize.go, helpers.go).

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, validate};
use crate::error::ParseError;
use crate::grammar::{self, Fail, Split};

/// `RepositoryNameTotalLengthMax`: the longest repository path (domain excluded).
pub const REPOSITORY_NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The domain of Docker Hub in normalized names (`defaultDomain`).
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, rewritten to [`DEFAULT_DOMAIN`] (`legacyDefaultDomain`).
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of official images on Docker Hub (`officialRepoPrefix`).
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag added to name-only references (`defaultTag`).
pub const DEFAULT_TAG: &str = "latest";

/// A named image reference: `[domain/]path[:tag][@digest]`.
///
/// Display is the full form as parsed (`docker.io/library/nginx:1.25` after
/// [`Reference::parse_normalized`]). References made by [`Reference::parse`] keep the input as
/// written and may have an empty domain (`test_com`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The full string form.
    repr: String,
    /// Offset of the '/' ending the domain, or `None` when there is no domain.
    domain_end: Option<usize>,
    /// End of the name.
    name_end: usize,
    /// End of the tag (the tag starts after the ':' at `name_end`).
    tag_end: Option<usize>,
    digest: Option<Digest>,
}

/// Map a grammar failure in `s` to the error the upstream code returns, applying `Parse`'s
/// lowercase fallback (`ErrNameContainsUppercase` when the lowercased input matches).
fn format_error(s: &str, f: Fail) -> ParseError {
    if grammar::has_upper(s) && grammar::match_reference(&grammar::go_lower_for_grammar(s)).is_ok()
    {
        let (offset, ch) = grammar::first_upper(s).unwrap_or((0, '?'));
        return ParseError::NameContainsUppercase {
            input: s.to_owned(),
            offset,
            ch,
        };
    }
    ParseError::InvalidFormat {
        input: s.to_owned(),
        offset: f.offset,
        reason: f.reason,
    }
}

impl Reference {
    /// distribution `Parse`: validate `s` against the reference grammar without normalizing it.
    pub fn parse(s: &str) -> Result<Reference, ParseError> {
        Self::parse_owned(s.to_owned())
    }

    /// `Parse` of an owned string; the string becomes the reference's storage.
    fn parse_owned(s: String) -> Result<Reference, ParseError> {
        if s.is_empty() {
            return Err(ParseError::NameEmpty);
        }
        let split = grammar::match_reference(&s).map_err(|f| format_error(&s, f))?;
        Self::from_split(s, split)
    }

    fn from_split(s: String, split: Split) -> Result<Reference, ParseError> {
        let Split {
            domain_end,
            name_end,
            tag_end,
            digest_start,
        } = split;
        let path_len = name_end - domain_end.map_or(0, |d| d + 1);
        if path_len > REPOSITORY_NAME_TOTAL_LENGTH_MAX {
            return Err(ParseError::NameTooLong {
                input: s,
                length: path_len,
            });
        }
        let digest = match digest_start {
            Some(ds) => Some(Digest::parse(&s[ds..])?),
            None => None,
        };
        Ok(Reference {
            repr: s,
            domain_end,
            name_end,
            tag_end,
            digest,
        })
    }

    /// distribution `ParseNormalizedNamed`: parse a familiar or full name and normalize it
    /// (`nginx` → `docker.io/library/nginx`, `index.docker.io/x/y` → `docker.io/x/y`).
    pub fn parse_normalized(s: &str) -> Result<Reference, ParseError> {
        if grammar::is_identifier(s) {
            return Err(ParseError::HexIdentifier {
                input: s.to_owned(),
            });
        }
        let (domain, remainder, library) = split_docker_domain(s);
        let remote = remainder.split(':').next().unwrap_or(remainder);
        if grammar::has_upper(remote) {
            let lib = if library { OFFICIAL_REPO_PREFIX } else { "" };
            return Err(ParseError::RemoteNameNotLowercase {
                input: s.to_owned(),
                remote: format!("{lib}{remote}"),
            });
        }
        let lib = if library { OFFICIAL_REPO_PREFIX } else { "" };
        let mut full = String::with_capacity(domain.len() + 1 + lib.len() + remainder.len());
        full.push_str(domain);
        full.push('/');
        full.push_str(lib);
        full.push_str(remainder);
        // `remainder` is a suffix of `s`; offsets past the synthetic prefix map back into `s`.
        let prefix = full.len() - remainder.len();
        let input_base = s.len() - remainder.len();
        // The text before `remainder` is either copied from `s` or synthetic (`docker.io/`).
        let copied = full[..prefix] == s[..input_base];
        let split = grammar::match_reference(&full).map_err(|f| {
            let e = format_error(&full, f);
            remap(e, s, |o| {
                if o >= prefix {
                    input_base + (o - prefix)
                } else if copied {
                    o
                } else {
                    input_base
                }
            })
        })?;
        Self::from_split(full, split).map_err(|e| match e {
            ParseError::NameTooLong { length, .. } => ParseError::NameTooLong {
                input: s.to_owned(),
                length,
            },
            other => other,
        })
    }

    /// distribution `ParseNamed`: like [`Reference::parse_normalized`] but the input must
    /// already be in normalized form.
    pub fn parse_named(s: &str) -> Result<Reference, ParseError> {
        let r = Self::parse_normalized(s)?;
        if r.repr != s {
            return Err(ParseError::NameNotCanonical {
                input: s.to_owned(),
                canonical: r.repr,
            });
        }
        Ok(r)
    }

    /// distribution `ParseDockerRef`: normalized, with `latest` added to name-only references
    /// and the tag dropped when there is also a digest.
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ParseError> {
        let r = Self::parse_normalized(s)?;
        Ok(match (&r.digest, r.tag_end) {
            (Some(d), Some(_)) => r.name_only().with_digest(d.clone()),
            _ => r.with_default_tag(),
        })
    }

    /// distribution `WithName`: a name without tag or digest, not normalized.
    pub fn with_name(name: &str) -> Result<Reference, ParseError> {
        let domain_end =
            grammar::check_name(name, 0, name.len()).map_err(|f| ParseError::InvalidFormat {
                input: name.to_owned(),
                offset: f.offset,
                reason: f.reason,
            })?;
        Self::from_split(
            name.to_owned(),
            Split {
                domain_end,
                name_end: name.len(),
                tag_end: None,
                digest_start: None,
            },
        )
    }

    /// The domain (`docker.io`, `localhost:5000`, `[::1]:5000`); empty when a reference made by
    /// [`Reference::parse`] has none.
    pub fn domain(&self) -> &str {
        self.domain_end.map_or("", |d| &self.repr[..d])
    }

    /// The repository path (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.repr[self.domain_end.map_or(0, |d| d + 1)..self.name_end]
    }

    /// The repository name, domain included (`docker.io/library/nginx`).
    pub fn name(&self) -> String {
        self.name_str().to_owned()
    }

    /// The repository name as a borrowed string.
    pub fn name_str(&self) -> &str {
        &self.repr[..self.name_end]
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag_end.map(|e| &self.repr[self.name_end + 1..e])
    }

    /// The digest, if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// True when the reference has neither tag nor digest (`IsNameOnly`).
    pub fn is_name_only(&self) -> bool {
        self.tag_end.is_none() && self.digest.is_none()
    }

    /// The full string form (same as Display).
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// `FamiliarName`: the short name (`nginx`, `user/app`, `localhost:5000/app`).
    pub fn familiar_name(&self) -> String {
        self.familiar_name_str().to_owned()
    }

    fn familiar_name_str(&self) -> &str {
        if self.domain() != DEFAULT_DOMAIN {
            return self.name_str();
        }
        let path = self.path();
        match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest,
            _ => path,
        }
    }

    /// `FamiliarString`: the short form with tag and digest (`nginx:1.25`, `nginx@sha256:…`).
    pub fn familiar(&self) -> String {
        let name = self.familiar_name_str();
        let suffix = &self.repr[self.name_end..];
        let mut out = String::with_capacity(name.len() + suffix.len());
        out.push_str(name);
        out.push_str(suffix);
        out
    }

    /// `TagNameOnly`: adds the tag `latest` when the reference has neither tag nor digest.
    pub fn with_default_tag(&self) -> Reference {
        if !self.is_name_only() {
            return self.clone();
        }
        let mut repr = String::with_capacity(self.repr.len() + 1 + DEFAULT_TAG.len());
        repr.push_str(&self.repr);
        repr.push(':');
        repr.push_str(DEFAULT_TAG);
        Reference {
            tag_end: Some(repr.len()),
            repr,
            domain_end: self.domain_end,
            name_end: self.name_end,
            digest: None,
        }
    }

    /// `WithDigest`: the same name and tag with `d` as the digest (replacing any digest).
    pub fn with_digest(&self, d: Digest) -> Reference {
        let keep = self.tag_end.unwrap_or(self.name_end);
        let mut repr = String::with_capacity(keep + 1 + d.as_str().len());
        repr.push_str(&self.repr[..keep]);
        repr.push('@');
        repr.push_str(d.as_str());
        Reference {
            repr,
            domain_end: self.domain_end,
            name_end: self.name_end,
            tag_end: self.tag_end,
            digest: Some(d),
        }
    }

    /// `WithTag`: the same name and digest with `tag` as the tag (replacing any tag).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ParseError> {
        grammar::check_tag(tag, 0, tag.len()).map_err(|f| ParseError::TagInvalidFormat {
            tag: tag.to_owned(),
            reason: format!("{} at offset {}", f.reason, f.offset),
        })?;
        let mut repr = String::with_capacity(self.repr.len() + tag.len() + 1);
        repr.push_str(self.name_str());
        repr.push(':');
        repr.push_str(tag);
        let tag_end = repr.len();
        if let Some(d) = &self.digest {
            repr.push('@');
            repr.push_str(d.as_str());
        }
        Ok(Reference {
            repr,
            domain_end: self.domain_end,
            name_end: self.name_end,
            tag_end: Some(tag_end),
            digest: self.digest.clone(),
        })
    }

    /// `TrimNamed`: the name alone, without tag or digest.
    pub fn name_only(&self) -> Reference {
        Reference {
            repr: self.name(),
            domain_end: self.domain_end,
            name_end: self.name_end,
            tag_end: None,
            digest: None,
        }
    }

    /// True when the domain is Docker Hub (`docker.io`).
    pub fn is_docker_hub(&self) -> bool {
        self.domain() == DEFAULT_DOMAIN
    }
}

/// Rewrite offsets of an error found in the synthetic `domain/[library/]remainder` string so they
/// point into the caller's input `s`.
fn remap(e: ParseError, s: &str, map: impl Fn(usize) -> usize) -> ParseError {
    match e {
        ParseError::InvalidFormat { offset, reason, .. } => ParseError::InvalidFormat {
            input: s.to_owned(),
            offset: map(offset),
            reason,
        },
        ParseError::NameContainsUppercase { offset, ch, .. } => ParseError::NameContainsUppercase {
            input: s.to_owned(),
            offset: map(offset),
            ch,
        },
        other => other,
    }
}

/// normalize.go `splitDockerDomain`: returns the domain, the remainder of the input after it,
/// and whether `library/` must be put in front of the remainder.
fn split_docker_domain(name: &str) -> (&str, &str, bool) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (DEFAULT_DOMAIN, name, true);
    };
    let (domain, remote) = if maybe_domain == "localhost" {
        (maybe_domain, maybe_remote)
    } else if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, maybe_remote)
    } else if maybe_domain.contains(['.', ':']) || grammar::has_upper(maybe_domain) {
        (maybe_domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    let library = domain == DEFAULT_DOMAIN && !remote.contains('/');
    (domain, remote, library)
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({})", self.repr)
    }
}

impl FromStr for Reference {
    type Err = ParseError;
    /// Same as [`Reference::parse_normalized`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

/// What `ParseAnyReference` returns: a named reference or a bare digest.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A named reference (normalized).
    Named(Reference),
    /// A digest alone (`sha256:…`, or a 64-hex image ID taken as sha256).
    Digest(Digest),
}

impl AnyReference {
    /// distribution `ParseAnyReference`: a 64-hex identifier or a valid digest is a digest
    /// reference; anything else is parsed with [`Reference::parse_normalized`].
    pub fn parse(s: &str) -> Result<AnyReference, ParseError> {
        if grammar::is_identifier(s) {
            return Digest::from_sha256_hex(s).map(AnyReference::Digest);
        }
        if validate(s).is_ok() {
            return Digest::parse(s).map(AnyReference::Digest);
        }
        Reference::parse_normalized(s).map(AnyReference::Named)
    }

    /// `FamiliarString` of the reference (a digest is its own familiar form).
    pub fn familiar(&self) -> String {
        match self {
            AnyReference::Named(r) => r.familiar(),
            AnyReference::Digest(d) => d.to_string(),
        }
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => r.fmt(f),
            AnyReference::Digest(d) => d.fmt(f),
        }
    }
}
