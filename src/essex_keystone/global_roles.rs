//! Essex has no global roles: the roles Diablo granted globally (and Nova's administrators) are
//! granted on one tenant instead, `systenant` unless the operator names another. This is the one
//! place that says which tenant that is, how it is created and how a moved grant is reported; the
//! Keystone import and the Nova-auth import both use it.

use serde_json::json;

use super::rows;
use crate::error::Result;
use crate::migrate::{Severity, Sink, StepReport};

/// The tenant's id, name-based so that a run started again from scratch creates the same tenant.
pub fn tenant_id(name: &str) -> String {
    let namespace = uuid::Uuid::from_u128(0x6f736d69_6772_6174_656b_657973746f6e);
    uuid::Uuid::new_v5(&namespace, format!("keystone-tenant:{name}").as_bytes()).simple().to_string()
}

/// Writes the tenant `name` (id from [`tenant_id`]) and reports that osmigrate made it;
/// `receives` says what it holds ("Diablo's global roles …"), `why` ends the finding's message.
pub fn create_tenant(s: &mut Sink, source: &str, name: &str, receives: &str, why: &str) -> Result<String> {
    let id = tenant_id(name);
    let extra = json!({"description": "Holds the roles that were global in Diablo (created by osmigrate)", "enabled": true});
    s.write(source, "tenant", &rows::NAMED_COLUMNS, &[rows::named(&id, name, &extra)], crate::db::OnConflict::Fail)?;
    s.report.note(
        Severity::Info,
        source,
        "global_roles_tenant_created",
        &format!("created the tenant that receives {receives} ({why})"),
        format!("`{name}` id={id}"),
    );
    Ok(id)
}

/// Reports a global grant that is made on the global-roles tenant `tenant` instead.
pub fn note_moved(report: &mut StepReport, source: &str, tenant: &str, who: String) {
    report.note(
        Severity::Info,
        source,
        "global_role_moved",
        &format!("Essex has no global roles: granted on tenant `{tenant}` instead"),
        who,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tenant_id_depends_on_the_name_only() {
        assert_eq!(super::tenant_id("systenant"), super::tenant_id("systenant"));
        assert_ne!(super::tenant_id("systenant"), super::tenant_id("admin"));
        assert_eq!(super::tenant_id("systenant").len(), 32);
    }
}
