//! Exact name resolution. The rules, in order:
//!
//! 1. `key` is an object's id: that object. A *different* object whose name is `key` is not used
//!    (it is reported in [`Resolved::shadowed`]): ids win, so an id always means one object, and
//!    the other is reached by its own id. This matters after an import, where ids are `"1"`,
//!    `"2"`… and a tenant may well be named `"2"`.
//! 2. `key` is exactly the name of one object: that object. Names compare byte for byte: case
//!    counts (`Admin` is not `admin`), and there is no substring matching (`admin` never finds
//!    `sysadmin`).
//! 3. Several objects have that name (a Keystone that does not keep names unique): an error
//!    listing them with their ids.
//! 4. None: an error; objects whose name differs only in case are offered as hints, never used.

use serde::Serialize;

use super::Named;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Tenant,
    User,
    Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// Objects named `key` that were not used because `key` is another object's id.
    pub shadowed: Vec<Named>,
}

impl Resolved {
    pub fn named(self) -> Named {
        Named { id: self.id, name: self.name }
    }
}

/// Picks the object `key` names among `candidates` (see the module's rules).
pub fn resolve(kind: Kind, key: &str, candidates: &[Named]) -> Result<Resolved> {
    if key.is_empty() {
        return Err(Error::Usage(format!("an empty {kind} name or id")));
    }
    let by_id: Vec<&Named> = candidates.iter().filter(|c| c.id == key).collect();
    let by_name: Vec<&Named> = candidates.iter().filter(|c| c.name == key).collect();
    let chosen: Vec<&Named> = if by_id.is_empty() { by_name.clone() } else { by_id };
    match chosen.as_slice() {
        [one] => Ok(Resolved {
            kind,
            id: one.id.clone(),
            name: one.name.clone(),
            shadowed: by_name.iter().filter(|c| c.id != one.id).map(|c| (*c).clone()).collect(),
        }),
        [] => {
            let lower = key.to_lowercase();
            let hints: Vec<String> =
                candidates.iter().filter(|c| c.name.to_lowercase() == lower).map(|c| format!("`{}` (id {})", c.name, c.id)).collect();
            let hint = if hints.is_empty() {
                String::new()
            } else {
                format!("; names are compared exactly, case included: did you mean {}?", hints.join(" or "))
            };
            Err(Error::NotFound(format!("no {kind} has the id or the name `{key}`{hint}")))
        }
        several => Err(Error::Ambiguous(format!(
            "`{key}` names {} {kind}s: {}; give the id of the one you mean",
            several.len(),
            several.iter().map(|c| format!("`{}` (id {})", c.name, c.id)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, name: &str) -> Named {
        Named { id: id.into(), name: name.into() }
    }

    #[test]
    fn ids_then_exact_names() {
        let roles = [n("1", "Admin"), n("2", "sysadmin"), n("3", "admin"), n("4", "1")];
        assert_eq!(resolve(Kind::Role, "3", &roles).unwrap().name, "admin");
        assert_eq!(resolve(Kind::Role, "admin", &roles).unwrap().id, "3");
        assert_eq!(resolve(Kind::Role, "Admin", &roles).unwrap().id, "1");
        // `1` is role 1's id and role 4's name: the id wins, role 4 is reported.
        let r = resolve(Kind::Role, "1", &roles).unwrap();
        assert_eq!((r.id.as_str(), r.shadowed), ("1", vec![n("4", "1")]));
    }

    #[test]
    fn no_substring_no_case_folding() {
        let roles = [n("2", "sysadmin"), n("5", "Member")];
        let e = resolve(Kind::Role, "admin", &roles).unwrap_err();
        assert!(matches!(e, Error::NotFound(_)));
        assert_eq!(e.to_string(), "no role has the id or the name `admin`");
        let e = resolve(Kind::Role, "member", &roles).unwrap_err().to_string();
        assert!(e.contains("did you mean `Member` (id 5)?"), "{e}");
    }

    #[test]
    fn ambiguity_lists_every_candidate() {
        let users = [n("a1", "nova"), n("b2", "nova"), n("c3", "glance")];
        let e = resolve(Kind::User, "nova", &users).unwrap_err();
        assert!(matches!(e, Error::Ambiguous(_)));
        assert_eq!(e.to_string(), "`nova` names 2 users: `nova` (id a1), `nova` (id b2); give the id of the one you mean");
        assert_eq!(resolve(Kind::User, "b2", &users).unwrap().name, "nova");
        assert!(matches!(resolve(Kind::User, "", &users), Err(Error::Usage(_))));
    }
}
