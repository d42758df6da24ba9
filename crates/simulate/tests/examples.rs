//! The two worked examples of testdata/scenarios run, and say what the README says they say.

use std::path::PathBuf;

use pullsim_simulate::{RunOptions, VariantResult, load, simulate};

fn example(name: &str, duration: Option<&str>) -> Vec<VariantResult> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/scenarios")
        .join(name);
    let mut l = load(&path).unwrap();
    if let Some(d) = duration {
        // Shortened in debug builds; the full 6 h run is the README's (and the bench's).
        for (_, s) in &mut l.variants {
            s.duration = Some(d.to_string());
        }
    }
    simulate(&l, RunOptions::default()).unwrap()
}

fn variant<'a>(r: &'a [VariantResult], name: &str) -> &'a VariantResult {
    r.iter().find(|v| v.variant == name).unwrap()
}

#[test]
fn dockerhub_quota_rollout_runs_out_of_anonymous_pulls() {
    let r = example("dockerhub-quota.yaml", Some("15m"));
    assert_eq!(
        r.iter().map(|v| v.variant.as_str()).collect::<Vec<_>>(),
        [
            "if-not-present",
            "always",
            "authenticated",
            "parallel-pulls"
        ]
    );
    let inp = variant(&r, "if-not-present");
    let hub = inp.registries["docker.io"];
    assert!(inp.failed > 0 && inp.ready > 0, "{inp:?}");
    assert!(hub.throttled > 0);
    assert!(inp.first_throttled_seconds.unwrap() < 120.0);
    // Always: a HEAD per container start, but HEADs are not pulls: the same quota outcome.
    let always = variant(&r, "always");
    assert!(always.registries["docker.io"].manifest_head > hub.manifest_head);
    assert_eq!(always.ready, inp.ready);
    // A personal account: 200 per 6 h per user instead of 100 per address.
    let auth = variant(&r, "authenticated");
    assert!(auth.ready > inp.ready, "{} vs {}", auth.ready, inp.ready);
}

#[test]
fn air_gapped_pool_is_served_by_its_mirror() {
    let r = example("air-gapped-mirror.yaml", None);
    let m = variant(&r, "mirror");
    assert_eq!((m.pods, m.ready), (350, 350));
    assert_eq!(m.registries["docker.io"].requests(), 0);
    assert_eq!(m.registries["quay.io"].requests(), 0);
    assert_eq!(m.registries["registry.internal:5000"].blob_get, 350);
    // The mirror down for 20 minutes: pods arriving then fail on both hosts, back off, and
    // are ready once it is back.
    let o = variant(&r, "mirror-outage");
    assert_eq!(o.ready, 350);
    assert!(o.registries["docker.io"].failed > 0);
    assert!(o.events["BackOff"] > 0);
    assert!(o.time_to_ready_seconds.unwrap().max > 60.0 * 15.0);
    let n = variant(&r, "no-mirror");
    assert_eq!(n.ready, 0);
    assert_eq!(n.registries["registry.internal:5000"].requests(), 0);
}
