//! The host directory against a real containerd: for every layout of
//! `pullsim_testsupport::containerd::layout_cases`, `ctr images pull --hosts-dir` (containerd
//! 1.6.20) runs against two real registries that hold different images under one tag, and
//! [`load_hosts`] must give the host order ctr used; ctr's end result must be the case's.
//!
//! ctr resolves with `HostDirFromRoot(--hosts-dir)` (one root, never split:
//! `ConfigPathMode::WholeString`) and sends `--user` to every host, as CRI sends the kubelet's
//! credentials (`v1.6.20:cmd/ctr/commands/resolver.go` `GetResolver`).

use std::sync::OnceLock;

use pullsim_runtime::hosts_dir::{Capability, ConfigPathMode, load_hosts};
use pullsim_testsupport::containerd::{
    ContainerdHandle, LayoutCase, OracleTrace, Outcome, Side, layout_cases,
};

fn containerd() -> &'static ContainerdHandle {
    static C: OnceLock<ContainerdHandle> = OnceLock::new();
    C.get_or_init(|| {
        ContainerdHandle::start().expect("start containerd (scripts/setup installs it)")
    })
}

use pullsim_testsupport::layout_setup::{LAYOUT_REPO as REPO, LayoutSetup};

fn side_of(host: &str, s: &LayoutSetup) -> Side {
    s.side_of(host)
        .unwrap_or_else(|| panic!("{host}: a host that is neither registry"))
}

fn run_case(case: &LayoutCase, seed: u64) {
    let s = LayoutSetup::start(case, seed).unwrap();
    let root = tempfile::tempdir().unwrap();
    case.write(root.path(), &s.upstream.host, &s.mirror_host)
        .unwrap();
    let reference = s.upstream.reference(REPO);
    let result = containerd().pull(&reference, root.path(), case.user);

    // pullsim's reading of the same directory.
    let loaded = load_hosts(
        root.path().to_str().unwrap(),
        ConfigPathMode::WholeString,
        &s.upstream.host,
    )
    .unwrap();
    let resolvers: Vec<Side> = loaded
        .hosts
        .iter()
        .filter(|h| h.can(Capability::Pull) && h.can(Capability::Resolve))
        .map(|h| side_of(&h.host, &s))
        .collect();
    assert_eq!(
        resolvers, case.resolvers,
        "{}: load_hosts resolvers (hosts {:?})",
        case.name, loaded.hosts
    );

    let trace = match (&result, case.outcome) {
        (Ok(pull), Outcome::Image(side)) => {
            let want = match side {
                Side::Upstream => s.upstream_digest.clone(),
                Side::Mirror => s.mirror_digest.clone().unwrap(),
            };
            assert_eq!(
                pull.image_digest, want,
                "{}: image ctr ended with",
                case.name
            );
            if side == Side::Upstream {
                assert_eq!(pull.config_digest, s.upstream_config, "{}", case.name);
            }
            pull.trace.clone()
        }
        (Err(e), Outcome::Fails) => {
            let pullsim_testsupport::containerd::OracleError::Ctr {
                stderr, debug_log, ..
            } = e
            else {
                panic!("{}: {e}", case.name);
            };
            assert!(stderr.contains("not found"), "{}: {stderr}", case.name);
            OracleTrace::from_debug_log(debug_log)
        }
        (other, want) => panic!("{}: expected {want:?}, ctr gave {other:?}", case.name),
    };
    let ctr_order: Vec<Side> = trace.resolve_hosts.iter().map(|h| side_of(h, &s)).collect();
    assert_eq!(
        ctr_order, case.resolve_order,
        "{}: ctr's resolve order",
        case.name
    );
    assert!(
        resolvers.starts_with(&ctr_order),
        "{}: ctr tried {ctr_order:?}, load_hosts gives {resolvers:?}",
        case.name
    );
    // The decode failure containerd logs: the same error; containerd 2.0+ names the file
    // (`failed to decode <dir>/hosts.toml`, what load_hosts gives), 1.6/1.7 do not
    // (`v1.6.20:remotes/docker/config/hosts.go` `failed to decode hosts.toml`).
    for warning in loaded
        .warnings
        .iter()
        .filter(|w| w.contains("failed to decode"))
    {
        let error = warning.split_once(" error=").map(|(_, e)| e).unwrap();
        let as_16 = format!("level=error msg=\"failed to decode hosts.toml\" error={error}");
        assert!(
            trace.log.contains(&as_16),
            "{}: ctr did not log {as_16}; it logged {:?}",
            case.name,
            trace.log
        );
        let dir = loaded.dir.as_ref().unwrap().join("hosts.toml");
        assert!(
            warning.starts_with(&format!(
                "level=error msg=\"failed to decode {}\"",
                dir.display()
            )),
            "{warning}"
        );
    }
    if case.name == "undecodable-hosts-toml" {
        // The decode failure, then 2.x's HTTPS-first line for the loopback upstream default
        // (containerd 1.6 has no HTTPS-first fallback and logs nothing for it).
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[1].contains(pullsim_runtime::hosts_dir::HTTPS_FIRST_MESSAGE));
    }
    if case.name == "pull-only-mirror" {
        // Blobs are tried at every host in order, the pull-only mirror first.
        let first_blob = trace
            .requests
            .iter()
            .find(|r| r.url.contains("/blobs/"))
            .expect("a blob request");
        assert!(
            first_blob
                .url
                .starts_with(&format!("http://{}/v2/", s.mirror_host)),
            "{first_blob:?}"
        );
        assert!(first_blob.url.contains("?ns="), "{first_blob:?}");
    }
    drop(s.mirror);
}

#[test]
fn every_layout_case_matches_ctr() {
    let cases = layout_cases();
    assert!(cases.len() >= 8);
    for (i, case) in cases.iter().enumerate() {
        run_case(case, 7000 + i as u64 * 10);
    }
}
