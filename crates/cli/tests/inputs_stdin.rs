//! `-` reads standard input wherever a FILE is taken (`pod run -`, `pod explain -`, `secret
//! lint -`, `secret decode -`, `--secret -`), named `<stdin>` in errors and origins, once per
//! command; `--ephemeral` runs on a temporary node removed at exit.

use std::io::Write as _;
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: &str, env_root: Option<&str>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pullsim"));
    cmd.args(args)
        .env_remove("PULLSIM_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(r) = env_root {
        cmd.env("PULLSIM_ROOT", r);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  imagePullSecrets: [{name: regcred}]\n  containers: [{name: app, image: \"registry.example.com/team/app:v1\", imagePullPolicy: Never}]\n";
const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: default}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"registry.example.com\":{\"username\":\"u\",\"password\":\"\"}}}'\n";

#[test]
fn pod_run_and_explain_read_standard_input() {
    let o = run(&["--ephemeral", "pod", "run", "-", "-o", "json"], POD, None);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("ErrImageNeverPull"), "{}", o.stdout);
    let o = run(&["--ephemeral", "pod", "run", "-"], POD, None);
    assert!(
        o.stdout.contains("Source:           <stdin>: document 1"),
        "{}",
        o.stdout
    );
    let o = run(&["--ephemeral", "pod", "explain", "-"], POD, None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("Pod default/web:"), "{}", o.stdout);
    // The pod's secret from standard input.
    let pod_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pod_file.path(), POD).unwrap();
    let path = pod_file.path().display().to_string();
    let o = run(
        &["--ephemeral", "pod", "explain", &path, "--secret", "-"],
        SECRET,
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("secret:default/regcred"), "{}", o.stdout);
    // Twice: a usage error.
    let o = run(
        &["--ephemeral", "pod", "run", "-", "--secret", "-"],
        POD,
        None,
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("given twice"), "{}", o.stderr);
    // An error in standard input names <stdin> and the line.
    let o = run(&["--ephemeral", "pod", "run", "-"], "kind: [\n", None);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("<stdin>"), "{}", o.stderr);
}

#[test]
fn secret_lint_and_decode_read_standard_input() {
    let o = run(&["secret", "decode", "-", "-o", "json"], SECRET, None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let row: serde_json::Value = serde_json::from_str(o.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["file"], "<stdin>");
    let o = run(&["secret", "lint", "-"], SECRET, None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.trim(), "<stdin>: ok");
}

#[test]
fn ephemeral_runs_on_a_removed_temporary_node() {
    let o = run(&["--ephemeral", "images", "ls"], "", None);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let dir = o
        .stderr
        .split("ephemeral node at ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{}", o.stderr))
        .to_string();
    assert!(!std::path::Path::new(&dir).exists(), "{dir} left behind");
    let root = tempfile::tempdir().unwrap();
    let r = root.path().display().to_string();
    let o = run(&["--ephemeral", "--root", &r, "images", "ls"], "", None);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    let o = run(&["--ephemeral", "images", "ls"], "", Some(&r));
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("--ephemeral"), "{}", o.stderr);
}

/// A pull secret as `kubectl create secret … --dry-run=client -o yaml` writes it: no namespace.
const NO_NAMESPACE_SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{\"auths\":{\"registry.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}'\n";

/// `-n NS`: objects without a namespace take it (a `--dry-run=client -o yaml` secret included),
/// and an object in another namespace is refused with kubectl's message (cli-runtime
/// `pkg/resource/visitor.go` RequireNamespace), exit 2.
#[test]
fn namespace_flag_as_kubectl() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  imagePullSecrets: [{name: regcred}]\n  containers: [{name: app, image: \"registry.example.com/team/app:v1\", imagePullPolicy: Never}]\n";
    let secret = NO_NAMESPACE_SECRET;
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret.yaml");
    std::fs::write(&secret_file, secret).unwrap();
    let s = secret_file.display().to_string();
    // Without -n both land in default; with -n team both in team: the secret is found.
    for ns in [None, Some("team")] {
        let mut args = vec![
            "--ephemeral",
            "pod",
            "explain",
            "-",
            "--secret",
            &s,
            "-o",
            "json",
        ];
        if let Some(n) = ns {
            args.extend(["-n", n]);
        }
        let o = run(&args, pod, None);
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        let want = ns.unwrap_or("default");
        assert!(
            o.stdout.contains(&format!("\"pod\":\"{want}/web\"")),
            "{}",
            o.stdout
        );
        assert!(
            o.stdout.contains(&format!("secret:{want}/regcred")),
            "{}",
            o.stdout
        );
    }
    // An object in another namespace.
    let o = run(&["--ephemeral", "pod", "run", "-", "-n", "team"], POD, None);
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("the namespace from the provided object \"default\" does not match the namespace \"team\". You must pass '--namespace=default' to perform this operation."),
        "{}",
        o.stderr
    );
    // creds match: the secret read from standard input lands in -n's namespace.
    let o = run(
        &[
            "creds",
            "match",
            "registry.example.com/team/app:v1",
            "--secret",
            "-",
            "-n",
            "team",
            "-o",
            "json",
        ],
        secret,
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("secret:team/regcred"), "{}", o.stdout);
}

/// `-` for the node's configuration files too: the node's docker config, the kubelet's config,
/// the credential provider config, containerd's config and CRI-O's registries.conf.
#[test]
fn configuration_files_read_standard_input() {
    let image = "registry.example.com/team/app:v1";
    // --node-config -: the node's credentials, named <stdin>.
    let o = run(
        &["creds", "match", image, "--node-config", "-", "-o", "json"],
        r#"{"auths":{"registry.example.com":{"username":"node","password":"p"}}}"#,
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("<stdin>"), "{}", o.stdout);
    assert!(o.stdout.contains("\"username\":\"node\""), "{}", o.stdout);
    let pod = tempfile::NamedTempFile::new().unwrap();
    // A pod that pulls: explain lists the hosts the runtime would try.
    std::fs::write(
        pod.path(),
        POD.replace("imagePullPolicy: Never", "imagePullPolicy: Always"),
    )
    .unwrap();
    let p = pod.path().display().to_string();
    // --config -: the kubelet's configuration; its errors name <stdin>.
    let o = run(
        &["--ephemeral", "pod", "explain", &p, "--config", "-"],
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nimagePullCredentialsVerificationPolicy: NeverVerify\n",
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let o = run(
        &["--ephemeral", "pod", "explain", &p, "--config", "-"],
        "kind: [\n",
        None,
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("<stdin>"), "{}", o.stderr);
    // --provider-config -: read and validated as the kubelet does, named <stdin>.
    let bin = tempfile::tempdir().unwrap();
    let b = bin.path().display().to_string();
    let o = run(
        &[
            "creds",
            "match",
            image,
            "--provider-config",
            "-",
            "--provider-bin-dir",
            &b,
        ],
        "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders: []\n",
        None,
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("<stdin>"), "{}", o.stderr);
    // --containerd-config -: its config_path sends the registry to a mirror.
    let certs = tempfile::tempdir().unwrap();
    let host_dir = certs.path().join("registry.example.com");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(
        host_dir.join("hosts.toml"),
        "server = \"https://registry.example.com\"\n[host.\"https://mirror.example.net\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
    )
    .unwrap();
    let config = format!(
        "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"{}\"\n",
        certs.path().display()
    );
    let o = run(
        &[
            "--ephemeral",
            "pod",
            "explain",
            &p,
            "--containerd-config",
            "-",
        ],
        &config,
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("mirror.example.net"), "{}", o.stdout);
    // --registries-conf -: CRI-O's mirror.
    let o = run(
        &[
            "--ephemeral",
            "pod",
            "explain",
            &p,
            "--runtime",
            "cri-o",
            "--registries-conf",
            "-",
        ],
        "[[registry]]\nlocation = \"registry.example.com\"\n[[registry.mirror]]\nlocation = \"mirror.example.org\"\n",
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("mirror.example.org"), "{}", o.stdout);
}

/// `-n` on `pull` and `creds check` (the one-container pod lands in that namespace, with the
/// secrets), as on `pod run`, `pod explain` and `creds match` above.
#[test]
fn namespace_flag_on_pull_and_creds_check() {
    let secret = NO_NAMESPACE_SECRET;
    let o = run(
        &[
            "--ephemeral",
            "pull",
            "registry.example.com/team/app:v1",
            "--offline",
            "--secret",
            "-",
            "-n",
            "team",
            "-o",
            "json",
        ],
        secret,
        None,
    );
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("\"pod\":\"team/pull\""), "{}", o.stdout);
    // A secret in another namespace is refused as kubectl refuses it.
    let o = run(
        &[
            "--ephemeral",
            "creds",
            "check",
            "registry.example.com/team/app:v1",
            "--offline",
            "--secret",
            "-",
            "-n",
            "team",
        ],
        SECRET,
        None,
    );
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("does not match the namespace \"team\""),
        "{}",
        o.stderr
    );
}
