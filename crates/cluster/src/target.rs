//! `TYPE/NAME` arguments (`deployment/web`, `deploy/web`, `po/web`...) and the API paths of the
//! objects pullsim reads.

use std::fmt;
use std::str::FromStr;

use crate::error::ClusterError;

/// The workload kinds pullsim reads from a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkloadKind {
    /// `pod`, `pods`, `po`.
    Pod,
    /// `deployment`, `deployments`, `deploy` (group apps).
    Deployment,
    /// `statefulset`, `statefulsets`, `sts` (group apps).
    StatefulSet,
    /// `daemonset`, `daemonsets`, `ds` (group apps).
    DaemonSet,
    /// `job`, `jobs` (group batch).
    Job,
    /// `cronjob`, `cronjobs`, `cj` (group batch).
    CronJob,
}

impl WorkloadKind {
    /// Every kind, in the order the help lists them.
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
    ];

    /// The singular resource name kubectl accepts (`deployment`).
    pub fn singular(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pod",
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::Job => "job",
            WorkloadKind::CronJob => "cronjob",
        }
    }

    /// The plural resource name in API paths (`deployments`).
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pods",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
        }
    }

    /// kubectl's short name, if the resource has one.
    fn short(self) -> Option<&'static str> {
        match self {
            WorkloadKind::Pod => Some("po"),
            WorkloadKind::Deployment => Some("deploy"),
            WorkloadKind::StatefulSet => Some("sts"),
            WorkloadKind::DaemonSet => Some("ds"),
            WorkloadKind::Job => None,
            WorkloadKind::CronJob => Some("cj"),
        }
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "",
            WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => {
                "apps"
            }
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
        }
    }

    /// `/api/v1` or `/apis/GROUP/v1`.
    fn api_prefix(self) -> &'static str {
        match self.group() {
            "" => "/api/v1",
            "apps" => "/apis/apps/v1",
            _ => "/apis/batch/v1",
        }
    }

    /// Parse a resource word as kubectl's REST mapper does for these kinds: singular, plural or
    /// short name, case-insensitive, optionally qualified by its group (`deployments.apps`).
    pub fn parse(word: &str) -> Option<WorkloadKind> {
        let lower = word.to_ascii_lowercase();
        let (res, group) = match lower.split_once('.') {
            Some((r, g)) => (r.to_string(), Some(g.to_string())),
            None => (lower, None),
        };
        WorkloadKind::ALL.into_iter().find(|k| {
            let named = res == k.singular() || res == k.plural() || Some(res.as_str()) == k.short();
            let group_ok = match &group {
                None => true,
                Some(g) => g == k.group() || (k.group().is_empty() && g.is_empty()),
            };
            named && group_ok
        })
    }
}

/// One `TYPE/NAME` to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The kind.
    pub kind: WorkloadKind,
    /// The object's name.
    pub name: String,
}

impl Target {
    /// The object's API path in `namespace`.
    pub fn path(&self, namespace: &str) -> String {
        namespaced_path(
            self.kind.api_prefix(),
            namespace,
            self.kind.plural(),
            &self.name,
        )
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.singular(), self.name)
    }
}

impl FromStr for Target {
    type Err = ClusterError;

    fn from_str(s: &str) -> Result<Target, ClusterError> {
        let bad = |why: String| ClusterError::Target {
            given: s.to_string(),
            why,
        };
        let Some((word, name)) = s.split_once('/') else {
            return Err(bad(
                "expected TYPE/NAME (e.g. deployment/web), TYPE one of pod, deployment, statefulset, daemonset, job, cronjob".into(),
            ));
        };
        let kind = WorkloadKind::parse(word).ok_or_else(|| {
            bad(format!(
                "pullsim reads pod, deployment, statefulset, daemonset, job and cronjob, not {word:?}"
            ))
        })?;
        check_name(name).map_err(bad)?;
        Ok(Target {
            kind,
            name: name.to_string(),
        })
    }
}

/// An object name as a path segment: non-empty, and none of what apimachinery's
/// IsValidPathSegmentName refuses (`.`, `..`, `/`, `%`) (validation/path/name.go).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            return Err(format!("may not contain '{bad}'"));
        }
    }
    Ok(())
}

/// `PREFIX/namespaces/NS/RESOURCE/NAME`.
pub(crate) fn namespaced_path(prefix: &str, ns: &str, resource: &str, name: &str) -> String {
    format!("{prefix}/namespaces/{ns}/{resource}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_names_short_names_and_groups() {
        for (word, kind) in [
            ("deploy", WorkloadKind::Deployment),
            ("Deployment", WorkloadKind::Deployment),
            ("deployments.apps", WorkloadKind::Deployment),
            ("po", WorkloadKind::Pod),
            ("sts", WorkloadKind::StatefulSet),
            ("ds", WorkloadKind::DaemonSet),
            ("jobs.batch", WorkloadKind::Job),
            ("cj", WorkloadKind::CronJob),
        ] {
            assert_eq!(WorkloadKind::parse(word), Some(kind), "{word}");
        }
        assert_eq!(WorkloadKind::parse("deployments.batch"), None);
        assert_eq!(WorkloadKind::parse("replicaset"), None);
    }

    #[test]
    fn paths() {
        let t: Target = "deploy/web".parse().unwrap();
        assert_eq!(
            t.path("shop"),
            "/apis/apps/v1/namespaces/shop/deployments/web"
        );
        let t: Target = "po/p1".parse().unwrap();
        assert_eq!(t.path("d"), "/api/v1/namespaces/d/pods/p1");
        let t: Target = "cronjob/nightly".parse().unwrap();
        assert_eq!(t.path("d"), "/apis/batch/v1/namespaces/d/cronjobs/nightly");
        assert_eq!(t.to_string(), "cronjob/nightly");
    }

    #[test]
    fn refusals_name_the_argument() {
        let e = "web".parse::<Target>().unwrap_err().to_string();
        assert!(e.starts_with("\"web\": expected TYPE/NAME"), "{e}");
        let e = "service/web".parse::<Target>().unwrap_err().to_string();
        assert!(e.contains("not \"service\""), "{e}");
        let e = "pod/a/b".parse::<Target>().unwrap_err().to_string();
        assert!(e.contains("may not contain '/'"), "{e}");
        assert!("pod/".parse::<Target>().is_err());
    }
}
