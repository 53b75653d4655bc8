//! Essex Keystone's identity rows as its SQL backend writes them (`identity/backends/sql.py` at
//! 2012.1): tenants and users are an id, a name and every other field in the JSON `extra`; a grant
//! is a `user_tenant_membership` row plus role ids in `metadata.data` `{"roles": […]}`. The
//! Keystone import, the Nova-auth import and the admin client's database transport all build and
//! read these rows here, so the three writers cannot disagree on their shape.

use serde_json::{Map, Value as Json, json};

use crate::db::Value;
use crate::error::{Error, Result};

/// `tenant` and `user`: [`named`].
pub const NAMED_COLUMNS: [&str; 3] = ["id", "name", "extra"];
pub const ROLE_COLUMNS: [&str; 2] = ["id", "name"];
pub const MEMBERSHIP_COLUMNS: [&str; 2] = ["user_id", "tenant_id"];
/// `metadata`: [`metadata`].
pub const METADATA_COLUMNS: [&str; 3] = ["user_id", "tenant_id", "data"];
pub const EC2_COLUMNS: [&str; 4] = ["access", "secret", "user_id", "tenant_id"];

/// A JSON column's text.
pub fn json_text(v: &Json) -> Value {
    Value::Text(v.to_string())
}

/// A tenant or user row.
pub fn named(id: &str, name: &str, extra: &Json) -> Vec<Value> {
    vec![id.into(), name.into(), json_text(extra)]
}

/// A new `metadata` row granting `roles` (role ids).
pub fn metadata(user: &str, tenant: &str, roles: &[String]) -> Vec<Value> {
    vec![user.into(), tenant.into(), json_text(&json!({ "roles": roles }))]
}

/// An `extra` or `data` column as the JSON object it must be (NULL reads as `{}`); anything else
/// is an error naming the row, never an empty map: rewriting it would drop what it holds.
pub fn object(text: Option<String>, table: &str, row: impl std::fmt::Display, field: &str) -> Result<Map<String, Json>> {
    match text {
        None => Ok(Map::new()),
        Some(s) => match serde_json::from_str::<Json>(&s) {
            Ok(Json::Object(m)) => Ok(m),
            _ => Err(Error::bad_data(table, row, field, "is not a JSON object (Essex cannot read this row either)")),
        },
    }
}

/// The role ids a `metadata.data` grants, as text.
pub fn role_ids(data: &Map<String, Json>) -> Vec<String> {
    data.get("roles").and_then(Json::as_array).into_iter().flatten().filter_map(id_text).collect()
}

/// A role id as Essex stored it: text, or a number an older writer left.
fn id_text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Adds the `roles` that `data` does not grant yet, returning those; `roles` other than a list
/// is an error naming the row (`row`).
pub fn add_roles(data: &mut Map<String, Json>, roles: &[String], row: impl std::fmt::Display) -> Result<Vec<String>> {
    let list = data.entry("roles").or_insert_with(|| json!([]));
    let Some(list) = list.as_array_mut() else {
        return Err(Error::bad_data("metadata", row, "data", "`roles` is not a list"));
    };
    let have: Vec<String> = list.iter().filter_map(id_text).collect();
    let mut added: Vec<String> = Vec::new();
    for r in roles {
        if !have.contains(r) && !added.contains(r) {
            added.push(r.clone());
        }
    }
    list.extend(added.iter().cloned().map(Json::String));
    Ok(added)
}

/// Removes `role` from what `data` grants; false when it was not granted.
pub fn remove_role(data: &mut Map<String, Json>, role: &str) -> bool {
    let Some(list) = data.get_mut("roles").and_then(Json::as_array_mut) else { return false };
    let before = list.len();
    list.retain(|r| id_text(r).as_deref() != Some(role));
    list.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_added_once_and_removed() {
        let mut data = object(Some(r#"{"roles": ["a", 7], "other": 1}"#.into()), "metadata", "u t", "data").unwrap();
        assert_eq!(role_ids(&data), ["a", "7"]);
        assert_eq!(add_roles(&mut data, &["a".into(), "b".into(), "b".into()], "u t").unwrap(), ["b"]);
        assert_eq!(role_ids(&data), ["a", "7", "b"]);
        assert!(remove_role(&mut data, "7"));
        assert!(!remove_role(&mut data, "7"));
        assert_eq!(data["other"], 1);
        let mut bad = object(Some(r#"{"roles": "a"}"#.into()), "metadata", "u t", "data").unwrap();
        assert!(add_roles(&mut bad, &["b".into()], "u t").unwrap_err().to_string().contains("not a list"));
        assert!(object(Some("[1]".into()), "metadata", "u t", "data").unwrap_err().to_string().contains("u t"));
        assert!(object(None, "metadata", "u t", "data").unwrap().is_empty());
    }
}
