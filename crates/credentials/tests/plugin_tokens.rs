//! Service-account tokens for exec plugins (KEP-4412), run with testdata/plugins/test-provider
//! as the kubelet runs them (kubernetes pkg/credentialprovider/plugin/plugin.go `provide`,
//! `serviceAccountProvider`, plugins.go `externalCredentialProviderKeyring`; cases after
//! plugin_test.go `Test_ProvideWithServiceAccount` and friends): the request's token and
//! annotations, `requireServiceAccount`, required annotations, cache keys per account (and per
//! token with `cacheType: Token`), the echoed-token rejection, the feature gate, and the
//! account as the credential's source.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pullsim_credentials::plugin::{
    PluginProvider, PodContext, ProviderConfig, ServiceAccountData, ServiceAccountRef,
    ServiceAccounts, TokenAttributes, TokenRequest,
};
use pullsim_credentials::{Keyring, Secret, Source};

mod plugin_common;

use plugin_common::{Fixture, bin_dir};

/// ServiceAccounts answered from a table; tokens are `tok:NS:NAME:AUD:POD` unless fixed.
#[derive(Default, Debug)]
struct Accounts {
    accounts: BTreeMap<(String, String), ServiceAccountData>,
    fixed_token: Option<String>,
    requests: Mutex<Vec<TokenRequest>>,
}

impl ServiceAccounts for Accounts {
    fn get(&self, namespace: &str, name: &str) -> Result<ServiceAccountData, String> {
        self.accounts
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| format!("serviceaccount {name:?} not found"))
    }

    fn token(&self, r: &TokenRequest) -> Result<Secret, String> {
        self.requests.lock().unwrap().push(r.clone());
        Ok(Secret::new(self.fixed_token.clone().unwrap_or_else(|| {
            format!(
                "tok:{}:{}:{}:{}",
                r.namespace, r.service_account, r.audience, r.pod_name
            )
        })))
    }
}

fn accounts(fixed_token: Option<&str>) -> Arc<Accounts> {
    let mut a = Accounts {
        fixed_token: fixed_token.map(str::to_string),
        ..Accounts::default()
    };
    let mut ann = BTreeMap::new();
    ann.insert("example.com/role".to_string(), "puller".to_string());
    ann.insert("example.com/extra".to_string(), "x".to_string());
    ann.insert("unrelated".to_string(), "y".to_string());
    a.accounts.insert(
        ("shop".into(), "web".into()),
        ServiceAccountData {
            uid: "sa-uid-web".into(),
            annotations: ann,
        },
    );
    a.accounts.insert(
        ("shop".into(), "plain".into()),
        ServiceAccountData {
            uid: "sa-uid-plain".into(),
            annotations: BTreeMap::new(),
        },
    );
    Arc::new(a)
}

fn pod(name: &str, sa: &str, accounts: &Arc<Accounts>) -> PodContext {
    PodContext {
        namespace: "shop".into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        service_account: sa.into(),
        accounts: Arc::clone(accounts) as Arc<dyn ServiceAccounts>,
    }
}

trait Provider {
    fn provider(&self, env: &[(&str, &str)], attrs: TokenAttributes) -> PluginProvider;
}

impl Provider for Fixture {
    fn provider(&self, env: &[(&str, &str)], attrs: TokenAttributes) -> PluginProvider {
        PluginProvider::new(
            ProviderConfig {
                token_attributes: Some(attrs),
                ..self.config(env, Some(60_000_000_000))
            },
            &bin_dir(),
        )
    }
}

fn attrs(cache_type: &str, require: bool) -> TokenAttributes {
    TokenAttributes {
        audience: "registry-aud".into(),
        cache_type: cache_type.into(),
        require_service_account: Some(require),
        required_annotation_keys: vec![],
        optional_annotation_keys: vec![],
    }
}

const IMAGE: &str = "a.registry.io/team/app";

#[test]
fn the_request_carries_the_token_and_the_named_annotations() {
    let f = Fixture::new();
    let a = accounts(None);
    let p = f.provider(
        &[],
        TokenAttributes {
            required_annotation_keys: vec!["example.com/role".into()],
            optional_annotation_keys: vec!["example.com/extra".into(), "example.com/absent".into()],
            ..attrs("ServiceAccount", true)
        },
    );
    let got = p
        .provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    assert_eq!(got.config.len(), 1);
    assert_eq!(
        got.service_account,
        Some(ServiceAccountRef {
            uid: "sa-uid-web".into(),
            namespace: "shop".into(),
            name: "web".into()
        })
    );
    // staging/src/k8s.io/kubelet/pkg/apis/credentialprovider/v1/types.go: the token and the
    // annotations (only the configured keys that are present; map keys sorted).
    assert_eq!(
        f.requests(),
        vec![
            "{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"a.registry.io/team/app\",\"serviceAccountToken\":\"tok:shop:web:registry-aud:web-1\",\"serviceAccountAnnotations\":{\"example.com/extra\":\"x\",\"example.com/role\":\"puller\"}}"
        ]
    );
    // The TokenRequest: the configured audience, bound to the pod, the account's UID.
    let reqs = a.requests.lock().unwrap().clone();
    assert_eq!(
        reqs,
        vec![TokenRequest {
            namespace: "shop".into(),
            service_account: "web".into(),
            service_account_uid: "sa-uid-web".into(),
            audience: "registry-aud".into(),
            pod_name: "web-1".into(),
            pod_uid: "uid-web-1".into(),
        }]
    );
}

#[test]
fn require_service_account_and_required_annotations_keep_the_plugin_from_running() {
    let f = Fixture::new();
    let a = accounts(None);
    let p = f.provider(&[], attrs("ServiceAccount", true));
    let e = p
        .provide_for(IMAGE, Some(&pod("static", "", &a)))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Service account name is empty for pod shop/static"),
        "{e}"
    );
    let p2 = f.provider(
        &[],
        TokenAttributes {
            required_annotation_keys: vec!["example.com/role".into()],
            ..attrs("ServiceAccount", true)
        },
    );
    let e = p2
        .provide_for(IMAGE, Some(&pod("p", "plain", &a)))
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "Failed to get service account data shop/plain: required annotation example.com/role not found"
        ),
        "{e}"
    );
    let e = p2
        .provide_for(IMAGE, Some(&pod("p", "ghost", &a)))
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "Failed to get service account shop/ghost: serviceaccount \"ghost\" not found"
        ),
        "{e}"
    );
    assert!(f.requests().is_empty(), "the plugin never ran");
    // requireServiceAccount false: a pod without an account runs the plugin without a token.
    let p3 = f.provider(&[], attrs("ServiceAccount", false));
    let got = p3.provide_for(IMAGE, Some(&pod("static", "", &a))).unwrap();
    assert_eq!(got.service_account, None);
    assert_eq!(got.config.len(), 1);
    assert!(!f.requests()[0].contains("serviceAccountToken"));
}

#[test]
fn cache_type_service_account_shares_per_account_token_per_token() {
    // cacheType ServiceAccount: pods of one account share the cached answer even though
    // their tokens differ; another account runs the plugin again.
    let f = Fixture::new();
    let a = accounts(None);
    let p = f.provider(&[], attrs("ServiceAccount", true));
    p.provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    p.provide_for(IMAGE, Some(&pod("web-2", "web", &a)))
        .unwrap();
    assert_eq!(f.requests().len(), 1);
    p.provide_for(IMAGE, Some(&pod("other", "plain", &a)))
        .unwrap();
    assert_eq!(f.requests().len(), 2);
    // cacheType Token: the token's hash is in the key, so each pod's own token runs it.
    let g = Fixture::new();
    let pt = g.provider(&[], attrs("Token", true));
    pt.provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    pt.provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    assert_eq!(g.requests().len(), 1, "same token: cached");
    pt.provide_for(IMAGE, Some(&pod("web-2", "web", &a)))
        .unwrap();
    assert_eq!(g.requests().len(), 2, "another token: the plugin runs");
    // Without a pod context (no service account) the cache is a different key space.
    let h = Fixture::new();
    let pn = h.provider(&[], attrs("ServiceAccount", false));
    pn.provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    pn.provide(IMAGE).unwrap();
    assert_eq!(h.requests().len(), 2);
}

#[test]
fn an_echoed_token_is_refused_unless_cache_type_is_token() {
    let f = Fixture::new();
    let a = accounts(None);
    let p = f.provider(&[("PLUGIN_ECHO_TOKEN", "1")], attrs("ServiceAccount", true));
    let e = p
        .provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "credential provider test-provider: Credential provider plugin returned the service account token as the password for image \"a.registry.io/team/app\", which is not allowed when service account cache type is not set to 'Token'"
    );
    assert!(
        !e.to_string().contains("tok:shop"),
        "the token is never shown"
    );
    let t = f.provider(&[("PLUGIN_ECHO_TOKEN", "1")], attrs("Token", true));
    let got = t
        .provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    assert_eq!(
        got.config[0].1.password.expose(),
        "tok:shop:web:registry-aud:web-1"
    );
}

#[test]
fn with_the_gate_off_no_token_is_asked_for() {
    let f = Fixture::new();
    let a = accounts(None);
    let p = f
        .provider(&[], attrs("ServiceAccount", true))
        .with_service_account_tokens(false);
    let got = p
        .provide_for(IMAGE, Some(&pod("web-1", "web", &a)))
        .unwrap();
    assert_eq!(got.service_account, None);
    assert!(a.requests.lock().unwrap().is_empty());
    assert!(!f.requests()[0].contains("serviceAccountToken"));
}

#[test]
fn the_keyring_tracks_the_account_as_the_source() {
    let f = Fixture::new();
    let a = accounts(Some("fixed-token"));
    let mut kr = Keyring::new();
    kr.add_plugin(Arc::new(f.provider(&[], attrs("ServiceAccount", true))));
    assert!(kr.wants_service_account_tokens());
    kr.set_service_accounts(a.clone());
    let mut for_pod = kr.clone();
    for_pod.set_pod("shop", "web-1", "uid-web-1", "web");
    let m = for_pod.lookup_name(IMAGE);
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].source,
        Source::Plugin {
            name: "test-provider".into(),
            service_account: Some(ServiceAccountRef {
                uid: "sa-uid-web".into(),
                namespace: "shop".into(),
                name: "web".into()
            })
        }
    );
    assert_eq!(
        m[0].source.to_string(),
        "plugin:test-provider (serviceaccount:shop/web)"
    );
    // Without the pod (requireServiceAccount): nothing, and the reason as a warning.
    let l = kr.lookup_explained(IMAGE);
    assert!(l.matches.is_empty());
    assert!(
        l.warnings[0].contains("requireServiceAccount is true and this lookup is for no pod"),
        "{:?}",
        l.warnings
    );
}
