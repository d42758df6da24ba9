//! `tokenAttributes` decoding and validation with the kubelet's messages
//! (kubernetes pkg/credentialprovider/plugin/config.go `validateCredentialProviderConfig`,
//! `validateServiceAccountAnnotationKeys`; cases after config_test.go
//! `Test_validateCredentialProviderConfig` tokenAttributes rows; apimachinery field.Error
//! formatting and `ToAggregate`; `IsQualifiedName` = content.IsLabelKey).

use std::path::{Path, PathBuf};

use pullsim_credentials::plugin::config::parse_configs;
use pullsim_credentials::plugin::token_attributes::is_qualified_name;

fn config(api_version: &str, token_attributes: &str) -> String {
    format!(
        r#"{{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{{"name":"p","matchImages":["*.r.io"],"defaultCacheDuration":"1m","apiVersion":"{api_version}","tokenAttributes":{token_attributes}}}]}}"#
    )
}

fn check(text: &str, gate: bool) -> Result<(), String> {
    let path = Path::new("cfg.json");
    parse_configs(&[(PathBuf::from(path), text.to_string())], path, gate)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

const V1: &str = "credentialprovider.kubelet.k8s.io/v1";
const VALID: &str = r#"{"serviceAccountTokenAudience":"aud","requireServiceAccount":true,"cacheType":"ServiceAccount","requiredServiceAccountAnnotationKeys":["example.com/a"],"optionalServiceAccountAnnotationKeys":["example.com/b"]}"#;

fn err(text: &str, gate: bool) -> String {
    let e = check(text, gate).unwrap_err();
    let (_, msg) = e
        .split_once("failed to validate credential provider config: ")
        .unwrap_or_else(|| panic!("{e}"));
    msg.to_string()
}

#[test]
fn a_valid_config_loads_both_cache_types() {
    check(&config(V1, VALID), true).unwrap();
    check(
        &config(
            V1,
            &VALID.replace(r#""cacheType":"ServiceAccount""#, r#""cacheType":"Token""#),
        ),
        true,
    )
    .unwrap();
}

/// One provider `foobar` as the upstream table writes it, with `tokenAttributes`.
fn foobar(api_version: &str, token_attributes: &str) -> String {
    format!(
        r#"{{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[{{"name":"foobar","matchImages":["foobar.registry.io"],"defaultCacheDuration":"1m","apiVersion":"{api_version}","tokenAttributes":{token_attributes}}}]}}"#
    )
}

// kubernetes pkg/credentialprovider/plugin/config_test.go Test_validateCredentialProviderConfig,
// the tokenAttributes rows: (name, config, saTokenForCredentialProviders, expectErr).
#[test]
fn validation_table() {
    let v1 = V1;
    let cases: Vec<(&str, String, bool, &str)> = vec![
        (
            "token attributes set without KubeletServiceAccountTokenForCredentialProviders feature gate enabled",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requireServiceAccount":true}"#,
            ),
            false,
            "providers.tokenAttributes: Forbidden: tokenAttributes is not supported when KubeletServiceAccountTokenForCredentialProviders feature gate is disabled",
        ),
        (
            "token attributes not nil but empty ServiceAccountTokenAudience",
            foobar(
                v1,
                r#"{"cacheType":"Token","requiredServiceAccountAnnotationKeys":["prefix.io/annotation-1","prefix.io/annotation-2"],"requireServiceAccount":true}"#,
            ),
            true,
            "providers.tokenAttributes.serviceAccountTokenAudience: Required value",
        ),
        (
            "token attributes not nil but empty CacheType",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","requireServiceAccount":true}"#,
            ),
            true,
            "providers.tokenAttributes.cacheType: Required value: cacheType is required to be set when tokenAttributes is specified. Supported values are: ServiceAccount, Token",
        ),
        (
            "token attributes not nil, invalid CacheType",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"invalid-cache-type","requireServiceAccount":true}"#,
            ),
            true,
            "providers.tokenAttributes.cacheType: Unsupported value: \"invalid-cache-type\": supported values: \"ServiceAccount\", \"Token\"",
        ),
        (
            "token attributes not nil but empty ServiceAccountTokenRequired",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requiredServiceAccountAnnotationKeys":["prefix.io/annotation-1","prefix.io/annotation-2"]}"#,
            ),
            true,
            "providers.tokenAttributes.requireServiceAccount: Required value",
        ),
        (
            "required service account annotation keys not qualified name (same validation as metav1.ObjectMeta)",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["cantendwithadash-","now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes.requiredServiceAccountAnnotationKeys: Invalid value: \"cantendwithadash-\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "optional service account annotation keys not qualified name (same validation as metav1.ObjectMeta)",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requireServiceAccount":true,"optionalServiceAccountAnnotationKeys":["cantendwithadash-","now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes.optionalServiceAccountAnnotationKeys: Invalid value: \"cantendwithadash-\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
        (
            "duplicate required service account annotation keys",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple","now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes.requiredServiceAccountAnnotationKeys: Duplicate value: \"now-with-dashes/simple\"",
        ),
        (
            "duplicate optional service account annotation keys",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requireServiceAccount":true,"optionalServiceAccountAnnotationKeys":["now-with-dashes/simple","now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes.optionalServiceAccountAnnotationKeys: Duplicate value: \"now-with-dashes/simple\"",
        ),
        (
            "annotation key in required and optional keys",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple-1","now-with-dashes/simple-2"],"optionalServiceAccountAnnotationKeys":["now-with-dashes/simple-2","now-with-dashes/simple-3"]}"#,
            ),
            true,
            "providers.tokenAttributes: Invalid value: [\"now-with-dashes/simple-2\"]: annotation keys cannot be both required and optional",
        ),
        (
            "required annotation keys set when requireServiceAccount is false",
            foobar(
                v1,
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requireServiceAccount":false,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple-1","now-with-dashes/simple-2"]}"#,
            ),
            true,
            "providers.tokenAttributes.requiredServiceAccountAnnotationKeys: Forbidden: requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set",
        ),
        (
            "tokenAttributes set with credentialprovider.kubelet.k8s.io/v1alpha1 APIVersion",
            foobar(
                "credentialprovider.kubelet.k8s.io/v1alpha1",
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes: Forbidden: tokenAttributes is only supported for credentialprovider.kubelet.k8s.io/v1 API version",
        ),
        (
            "tokenAttributes set with credentialprovider.kubelet.k8s.io/v1beta1 APIVersion",
            foobar(
                "credentialprovider.kubelet.k8s.io/v1beta1",
                r#"{"serviceAccountTokenAudience":"audience","cacheType":"ServiceAccount","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple"]}"#,
            ),
            true,
            "providers.tokenAttributes: Forbidden: tokenAttributes is only supported for credentialprovider.kubelet.k8s.io/v1 API version",
        ),
    ];
    for (name, text, gate, want) in cases {
        assert_eq!(err(&text, gate), want, "{name}");
    }
    // "valid config with KubeletServiceAccountTokenForCredentialProviders feature gate enabled"
    check(
        &foobar(v1, r#"{"serviceAccountTokenAudience":"audience","cacheType":"Token","requireServiceAccount":true,"requiredServiceAccountAnnotationKeys":["now-with-dashes/simple-1","now-with-dashes/simple-2"],"optionalServiceAccountAnnotationKeys":["now-with-dashes/simple-3"]}"#),
        true,
    )
    .unwrap();
    // Several problems: aggregated in order, as `[a, b]` (apimachinery RegexError joins its
    // examples with "', " and " or ": two spaces, as Go prints).
    let many = err(&config(V1, "{}"), false);
    assert!(
        many.starts_with("[providers.tokenAttributes: Forbidden: tokenAttributes is not supported"),
        "{many}"
    );
    assert!(many.contains(", providers.tokenAttributes.serviceAccountTokenAudience: Required value, providers.tokenAttributes.requireServiceAccount: Required value, "), "{many}");
    // ToAggregate: the same message twice is listed once (two providers without audience).
    let two = r#"{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig","providers":[
        {"name":"a","matchImages":["a.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1","tokenAttributes":{"requireServiceAccount":true,"cacheType":"Token"}},
        {"name":"b","matchImages":["b.io"],"defaultCacheDuration":"1m","apiVersion":"credentialprovider.kubelet.k8s.io/v1","tokenAttributes":{"requireServiceAccount":true,"cacheType":"Token"}}]}"#;
    assert_eq!(
        err(two, true),
        "providers.tokenAttributes.serviceAccountTokenAudience: Required value"
    );
}

#[test]
fn annotation_keys_are_checked_lowercased() {
    // validateServiceAccountAnnotationKeys: case does not matter (ToLower before the check).
    let upper = config(
        V1,
        r#"{"serviceAccountTokenAudience":"aud","requireServiceAccount":true,"cacheType":"Token","requiredServiceAccountAnnotationKeys":["Example.COM/Role"]}"#,
    );
    check(&upper, true).unwrap();
}

#[test]
fn qualified_names_as_apimachinery() {
    assert!(is_qualified_name("example.com/name").is_empty());
    assert!(is_qualified_name("a").is_empty());
    assert_eq!(
        is_qualified_name("/name"),
        vec!["prefix part must be non-empty"]
    );
    assert_eq!(
        is_qualified_name("Example.com/name"),
        vec![
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ]
    );
    assert_eq!(
        is_qualified_name(&"a".repeat(64)),
        vec!["name part must be no more than 63 characters"]
    );
    let empty = is_qualified_name("p/");
    assert_eq!(empty[0], "name part must be non-empty");
    assert_eq!(empty.len(), 2);
    assert!(is_qualified_name("a/b/c")[0].starts_with("a valid label key must consist of"));
}

#[test]
fn decoding_is_strict() {
    let e = check(
        &config(V1, r#"{"serviceAccountTokenAudience":"aud","bogus":1}"#),
        true,
    )
    .unwrap_err();
    assert!(
        e.contains("strict decoding error: unknown field \"providers[0].tokenAttributes.bogus\""),
        "{e}"
    );
    let e = check(&config(V1, r#"{"requireServiceAccount":"yes"}"#), true).unwrap_err();
    assert!(e.contains("of type bool"), "{e}");
}
