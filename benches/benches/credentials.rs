//! pullsim-credentials hot paths: keyring lookup over many keys (what every pull pays),
//! URLsMatch, parsing a kubectl-made pull secret, and linting it.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use pullsim_credentials::keyring::{BasicKeyring, Source};
use pullsim_credentials::lint::lint_text;
use pullsim_credentials::urlmatch::urls_match_str;
use pullsim_credentials::{Keyring, parse_pull_secrets};

const SECRET: &str = "apiVersion: v1\ndata:\n  .dockerconfigjson: eyJhdXRocyI6eyJodHRwczovL2luZGV4LmRvY2tlci5pby92MS8iOnsidXNlcm5hbWUiOiJ1IiwicGFzc3dvcmQiOiJwIiwiYXV0aCI6ImRUcHcifX19\nkind: Secret\nmetadata:\n  creationTimestamp: null\n  name: s1\ntype: kubernetes.io/dockerconfigjson\n";

fn big_keyring(n: usize) -> Keyring {
    let mut auths = serde_json::Map::new();
    for i in 0..n {
        let key = match i % 4 {
            0 => format!("registry-{i}.example.com"),
            1 => format!("https://registry-{i}.example.com/v2/team-{i}"),
            2 => format!("*.mirror-{i}.example.com:5000"),
            _ => format!("quay.io/org-{i}"),
        };
        auths.insert(
            key,
            serde_json::json!({"username": format!("user-{i}"), "password": "pw"}),
        );
    }
    auths.insert(
        "https://index.docker.io/v1/".into(),
        serde_json::json!({"auth": "dTpw"}),
    );
    let text = serde_json::json!({ "auths": auths }).to_string();
    let secrets = parse_pull_secrets(&text, Path::new("config.json")).unwrap();
    let mut k = Keyring::new();
    for s in &secrets {
        k.add_secret(s);
    }
    k
}

fn benches(c: &mut Criterion) {
    let k = big_keyring(200);
    c.bench_function("keyring lookup, 200 keys, path-prefix hit", |b| {
        b.iter(|| k.lookup_name(black_box("registry-1.example.com/team-1/app")))
    });
    c.bench_function("keyring lookup, 200 keys, Docker Hub fallback", |b| {
        b.iter(|| k.lookup_name(black_box("docker.io/library/busybox")))
    });
    c.bench_function("keyring lookup_explained, 200 keys", |b| {
        b.iter(|| k.lookup_explained(black_box("quay.io/org-3/app")))
    });
    c.bench_function("URLsMatchStr glob+port", |b| {
        b.iter(|| {
            urls_match_str(
                black_box("*.kubernetes.io:1111/blah"),
                black_box("prefix.kubernetes.io:1111/blah/x"),
            )
        })
    });
    c.bench_function("parse kubectl pull secret (YAML)", |b| {
        b.iter(|| parse_pull_secrets(black_box(SECRET), Path::new("s.yaml")).unwrap())
    });
    c.bench_function("lint kubectl pull secret (YAML)", |b| {
        b.iter(|| lint_text(black_box(SECRET), Path::new("s.yaml")).unwrap())
    });
    let secrets = parse_pull_secrets(SECRET, Path::new("s.yaml")).unwrap();
    c.bench_function(
        "BasicDockerKeyring.Add one secret into a new keyring",
        |b| {
            b.iter(|| {
                let mut ring = BasicKeyring::default();
                ring.add(
                    &Source::Secret {
                        namespace: "ns".into(),
                        name: "s".into(),
                    },
                    black_box(&secrets[0].entries),
                );
                ring
            })
        },
    );
}

criterion_group!(credentials, benches);
criterion_main!(credentials);
