//! The image manager's cache-hit path with a real store (pullsim-node over containerd's image
//! service on pullsim-store, KEP-2535 records as kubelet files behind the kubelet's cache):
//! - one EnsureImageExists for a present image, IfNotPresent, with the KEP-2535 gate on:
//!   a preloaded image (no verification needed) and a kubelet-pulled image whose record the
//!   pod's secret must match (verification with a keyring lookup); target under 5 µs;
//! - a whole sync of a pod with 10,000 containers, all present (target under 100 ms).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pullsim_credentials::Keyring;
use pullsim_node::keyring::PodKeyring;
use pullsim_node::manifest::{ImageSource, Origin as SpecOrigin, PodImage, PodSpec};
use pullsim_node::records::{
    CachedPullRecords, FsPullRecords, ImagePullCredentials, ImagePullSecret, ImagePulledRecord,
    PullRecordsAccessor,
};
use pullsim_node::sync::{PodRun, SyncOptions, run_pods};
use pullsim_node::{
    EnsureRequest, FakeClock, ImageManager, ManagerConfig, Puller, VerificationConfig,
};
use pullsim_policy::{Allowlist, PullPolicy, PullerConfig, VerificationPolicy};
use pullsim_runtime::{ContainerdImageService, RuntimeConfig};
use pullsim_store::{Origin, Store};

use pullsim_benches::{HOST, store_with_images};

/// A store with `n` present images `HOST/team{i}/app:v1`, preloaded or pulled.
fn store_with(n: usize, origin: Origin) -> (tempfile::TempDir, Arc<Store>) {
    let (dir, store) = store_with_images(n, origin);
    (dir, Arc::new(store))
}

fn secret_yaml() -> String {
    // {"auths":{"registry.example.com":{"username":"alice","password":"alice-pass"}}}
    let cfg = "eyJhdXRocyI6eyJyZWdpc3RyeS5leGFtcGxlLmNvbSI6eyJ1c2VybmFtZSI6ImFsaWNlIiwicGFzc3dvcmQiOiJhbGljZS1wYXNzIn19fQ==";
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred\n  namespace: shop\n  uid: secret-uid\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {cfg}\n"
    )
}

fn keyring() -> PodKeyring {
    let secrets =
        pullsim_credentials::parse_pull_secrets(&secret_yaml(), std::path::Path::new("bench.yaml"))
            .expect("secret");
    let refs: Vec<_> = secrets.iter().collect();
    PodKeyring::new(&Keyring::new(), &refs, &pod_of(1))
}

type Records = CachedPullRecords<FsPullRecords>;

/// An offline containerd image service over `store`.
fn service(store: &Arc<Store>) -> ContainerdImageService {
    let mut cfg = RuntimeConfig::new(store.root());
    cfg.offline = true;
    ContainerdImageService::with_store(store.clone(), &cfg).expect("runtime")
}

/// The kubelet's records accessor: files under `kubelet_dir`, behind the cache.
fn records(kubelet_dir: &std::path::Path) -> Records {
    CachedPullRecords::new(FsPullRecords::new(kubelet_dir).expect("records"))
}

fn manager(
    store: &Arc<Store>,
    kubelet_dir: &std::path::Path,
    policy: VerificationPolicy,
) -> ImageManager<ContainerdImageService, Records> {
    let clock = Arc::new(FakeClock::default());
    let cfg = ManagerConfig {
        ensure_secret_pulled_images: true,
        verification: VerificationConfig {
            policy,
            allowlist: Allowlist::default(),
        },
    };
    ImageManager::new(
        service(store),
        records(kubelet_dir),
        cfg,
        Puller::new(&PullerConfig::default(), 5.0, 10, clock.clone()),
        clock,
    )
}

fn ensure_present(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("node/ensure_image_exists_present");
    let image = format!("{HOST}/team500/app:v1");
    let req = EnsureRequest {
        pod: "shop/web",
        pod_uid: "uid",
        container: "app",
        field_path: Some("spec.containers{app}"),
        image: &image,
        policy: PullPolicy::IfNotPresent,
    };
    let creds = keyring();

    // Preloaded image, NeverVerifyPreloadedImages (the default): no verification.
    let (_d1, preloaded) = store_with(1_000, Origin::Preloaded);
    let kubelet1 = tempfile::tempdir().expect("kubelet dir");
    let m = manager(
        &preloaded,
        kubelet1.path(),
        VerificationPolicy::NeverVerifyPreloadedImages,
    );
    let out = rt.block_on(m.ensure_image_exists(&req, &creds));
    assert!(out.image_ref.is_some(), "{out:?}");
    g.bench_function("preloaded_no_verification", |b| {
        b.iter(|| {
            let out = rt.block_on(m.ensure_image_exists(black_box(&req), &creds));
            m.take_events();
            out
        })
    });

    // Gate off: the plain presence check.
    let mut off = manager(
        &preloaded,
        kubelet1.path(),
        VerificationPolicy::NeverVerifyPreloadedImages,
    );
    off = ImageManager::new(
        service(&preloaded),
        records(kubelet1.path()),
        ManagerConfig {
            ensure_secret_pulled_images: false,
            ..ManagerConfig::default()
        },
        Puller::new(&PullerConfig::default(), 5.0, 10, off.clock().clone()),
        off.clock().clone(),
    );
    g.bench_function("gate_off", |b| {
        b.iter(|| {
            let out = rt.block_on(off.ensure_image_exists(black_box(&req), &creds));
            off.take_events();
            out
        })
    });

    // Pulled by the kubelet with the pod's secret: the record must match the pod's credential.
    let (_d2, pulled) = store_with(1_000, Origin::Pulled);
    let id = pulled
        .lookup(&pullsim_reference::Reference::parse_normalized(&image).expect("ref"))
        .expect("lookup")
        .expect("present")
        .id();
    let hash = creds.keyring().lookup_name(&format!("{HOST}/team500/app"))[0]
        .auth
        .credential_hash();
    let kubelet2 = tempfile::tempdir().expect("kubelet dir");
    FsPullRecords::new(kubelet2.path())
        .expect("records")
        .write_image_pulled_record(&ImagePulledRecord {
            image_ref: id,
            last_updated_time: Some(1),
            credential_mapping: [(
                format!("{HOST}/team500/app"),
                ImagePullCredentials {
                    kubernetes_secrets: vec![ImagePullSecret {
                        uid: "secret-uid".into(),
                        namespace: "shop".into(),
                        name: "regcred".into(),
                        credential_hash: hash,
                    }],
                    ..Default::default()
                },
            )]
            .into(),
        })
        .expect("record");
    let m = manager(
        &pulled,
        kubelet2.path(),
        VerificationPolicy::NeverVerifyPreloadedImages,
    );
    let out = rt.block_on(m.ensure_image_exists(&req, &creds));
    assert!(out.image_ref.is_some(), "{out:?}");
    g.bench_function("pulled_verified_by_secret", |b| {
        b.iter(|| {
            let out = rt.block_on(m.ensure_image_exists(black_box(&req), &creds));
            m.take_events();
            out
        })
    });
    g.finish();
}

fn pod_of(n: usize) -> PodSpec {
    PodSpec {
        namespace: "shop".into(),
        name: "big".into(),
        uid: "uid".into(),
        service_account: "default".into(),
        image_pull_secrets: vec!["regcred".into()],
        images: (0..n)
            .map(|i| PodImage {
                source: ImageSource::Container,
                name: format!("c{i}"),
                image: format!("{HOST}/team{i}/app:v1"),
                pull_policy: Some(PullPolicy::IfNotPresent),
            })
            .collect(),
        origin: SpecOrigin {
            file: "bench.yaml".into(),
            document: 1,
            object: "Pod \"big\"".into(),
        },
    }
}

fn ten_thousand_containers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("node/sync_pod_all_present");
    g.sample_size(10);
    let (_d, store) = store_with(10_000, Origin::Preloaded);
    let kubelet = tempfile::tempdir().expect("kubelet dir");
    let m = manager(
        &store,
        kubelet.path(),
        VerificationPolicy::NeverVerifyPreloadedImages,
    );
    let spec = pod_of(10_000);
    g.bench_function("10000_containers", |b| {
        b.iter_batched(
            || vec![PodRun::new(spec.clone(), Box::new(keyring()))],
            |mut pods| {
                rt.block_on(run_pods(&m, &mut pods, &SyncOptions::default()));
                assert!(pods[0].ready());
                m.take_events();
                pods
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, ensure_present, ten_thousand_containers);
criterion_main!(benches);
