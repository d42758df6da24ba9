//! Mirrors and per-host TLS against real registries (distribution's `docker-registry` through
//! pullsim-testsupport): a mirror that holds the image serves it, a mirror without the
//! repository leaves it to the upstream (`core/remotes/docker/resolver.go@v2.3.4` Resolve); a
//! host's own CA file, containerd's loopback default (`config/hosts.go@v2.3.4`: certificate
//! verification skipped on a loopback host), and a host with TLS but no CA.

use pullsim_reference::Reference;
use pullsim_registry::{HostPlan, HostTls, RegistryHost, Resolver};
use pullsim_testsupport::image::ImageSpec;
use pullsim_testsupport::{Mode, RegistryConfig, RegistryHandle, shared};

mod common;
use common::plans::{client, pull, pulled_config};

fn start() -> RegistryHandle {
    RegistryHandle::start(Mode::Anonymous, RegistryConfig::default()).unwrap()
}

fn plan(hosts: Vec<RegistryHost>) -> HostPlan {
    common::plans::plan(hosts, Resolver::Containerd2Transfer)
}

/// The config pulled through `p` and the host that resolved.
async fn pulled(r: &Reference, p: &HostPlan) -> (String, Option<String>) {
    let report = pull(&client(), r, p).await;
    (pulled_config(&report), report.resolved_by)
}

#[tokio::test]
async fn mirror_serves_else_upstream() {
    let (mirror, upstream) = (start(), start());
    let up_img = upstream
        .push_generated(&ImageSpec::simple("v1", 2, 4096, 1), "team/app:v1")
        .unwrap();
    let mirror_img = mirror
        .push_generated(&ImageSpec::simple("v1", 2, 4096, 2), "team/app:v1")
        .unwrap();
    assert_ne!(
        up_img.manifests[0].config_digest,
        mirror_img.manifests[0].config_digest
    );
    let hosts = vec![
        RegistryHost::default_for(&mirror.host),
        RegistryHost::default_for(&upstream.host),
    ];
    let p = plan(hosts.clone());
    let r = Reference::parse_normalized(&upstream.reference("team/app:v1")).unwrap();
    let (config, by) = pulled(&r, &p).await;
    assert_eq!(config, mirror_img.manifests[0].config_digest);
    assert_eq!(by, Some(hosts[0].url()));

    let r = Reference::parse_normalized(&upstream.reference("team/other:v1")).unwrap();
    let other = upstream
        .push_generated(&ImageSpec::simple("v1", 1, 2048, 3), "team/other:v1")
        .unwrap();
    let (config, by) = pulled(&r, &p).await;
    assert_eq!(config, other.manifests[0].config_digest);
    assert_eq!(by, Some(hosts[1].url()));
}

#[tokio::test]
async fn host_tls_settings() {
    let reg = shared(Mode::Tls);
    let img = reg
        .push_generated(&ImageSpec::simple("v1", 1, 2048, 4), "hosts/tls:v1")
        .unwrap();
    let r = Reference::parse_normalized(&reg.reference("hosts/tls:v1")).unwrap();
    let c = client();
    let https = |tls: Option<HostTls>| RegistryHost {
        tls,
        http_fallback: false,
        ..RegistryHost::default_for(&reg.host)
    };
    // containerd's loopback default: verification skipped.
    let report = c
        .resolve_on(
            &r,
            &HostPlan::default_for(&r, None, Resolver::Containerd2Local),
        )
        .await;
    assert_eq!(report.result.unwrap().digest.to_string(), img.top_digest());
    // The host's own CA file.
    let ca = HostTls {
        ca_files: vec![reg.ca_file.clone().unwrap()],
        ..HostTls::default()
    };
    let report = c.resolve_on(&r, &plan(vec![https(Some(ca))])).await;
    assert_eq!(report.result.unwrap().digest.to_string(), img.top_digest());
    // TLS without the CA: the certificate is refused.
    let e = c
        .resolve_on(&r, &plan(vec![https(Some(HostTls::default()))]))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.outcome(), "tls-error", "{e}");
    assert!(
        e.to_string()
            .contains("x509: certificate signed by unknown authority"),
        "{e}"
    );
    // A missing CA file is a configuration error naming it.
    let missing = HostTls {
        ca_files: vec!["/nonexistent/ca.pem".into()],
        ..HostTls::default()
    };
    let e = c
        .resolve_on(&r, &plan(vec![https(Some(missing))]))
        .await
        .result
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
