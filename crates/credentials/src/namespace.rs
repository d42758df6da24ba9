//! `-n/--namespace` as kubectl applies it to objects read from files (cli-runtime
//! `pkg/resource/visitor.go` `SetNamespace` / `RequireNamespace`): an object without a
//! namespace takes the given one; an object with another namespace is refused:
//! `the namespace from the provided object "A" does not match the namespace "B". You must pass
//! '--namespace=A' to perform this operation.` Lists are visited item by item; a `Namespace`
//! object (cluster-scoped) is left alone.

use serde_json::Value;

/// kubectl's refusal of an object in another namespace than `-n` names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the namespace from the provided object {object:?} does not match the namespace {flag:?}. You must pass '--namespace={object}' to perform this operation."
)]
pub struct NamespaceMismatch {
    /// The object's own `metadata.namespace`.
    pub object: String,
    /// The namespace given with `-n`.
    pub flag: String,
}

/// Give `doc` (and a List's items) the namespace `ns` where it has none; refuse another one.
pub fn require_namespace(doc: &mut Value, ns: &str) -> Result<(), NamespaceMismatch> {
    let Value::Object(obj) = doc else {
        return Ok(());
    };
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind == "List" || kind.ends_with("List") {
        if let Some(Value::Array(items)) = obj.get_mut("items") {
            for item in items {
                require_namespace(item, ns)?;
            }
        }
        return Ok(());
    }
    if kind == "Namespace" || obj.get("kind").is_none() {
        // A cluster-scoped object, or a bare docker config (no metadata).
        return Ok(());
    }
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(meta) = meta else {
        return Ok(());
    };
    match meta.get("namespace").and_then(Value::as_str) {
        Some(own) if !own.is_empty() && own != ns => Err(NamespaceMismatch {
            object: own.to_string(),
            flag: ns.to_string(),
        }),
        Some(own) if !own.is_empty() => Ok(()),
        _ => {
            meta.insert("namespace".into(), Value::String(ns.to_string()));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_missing_refuses_other_as_kubectl() {
        let mut d = serde_json::json!({"kind": "Pod", "metadata": {"name": "p"}});
        require_namespace(&mut d, "team").unwrap();
        assert_eq!(d["metadata"]["namespace"], "team");
        let mut l = serde_json::json!({"kind": "List", "items": [
            {"kind": "Secret", "metadata": {"name": "s", "namespace": "team"}},
            {"kind": "Pod", "metadata": {"name": "p", "namespace": "dev"}}]});
        // The message kubectl prints (cli-runtime pkg/resource/visitor.go RequireNamespace).
        assert_eq!(
            require_namespace(&mut l, "team").unwrap_err().to_string(),
            "the namespace from the provided object \"dev\" does not match the namespace \"team\". You must pass '--namespace=dev' to perform this operation."
        );
        let mut ns = serde_json::json!({"kind": "Namespace", "metadata": {"name": "x"}});
        require_namespace(&mut ns, "team").unwrap();
        assert!(ns["metadata"].get("namespace").is_none());
    }
}
