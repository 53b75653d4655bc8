//! What a config command did, as a value: every change made to a setting (renamed, rewritten,
//! commented out, made explicit, not carried) with its reason, and every file written. Values of
//! secret settings are shown redacted.

use serde::{Deserialize, Serialize};

use crate::db::DbUrl;
use crate::migrate::Severity;
use crate::reason::Reason;
use crate::redact;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub severity: Severity,
    /// Stable reason code, e.g. `renamed`, `removed`, `default_made_explicit`.
    pub code: Reason,
    /// The file the change is in (the Essex file written).
    pub file: String,
    /// `key` for `[DEFAULT]`, else `[section] key`.
    pub setting: String,
    pub message: String,
    /// Where the Diablo value came from (`path:line`), when it came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrittenFile {
    pub path: String,
    /// Where the file it replaced was kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// `0640` as octal text.
    pub mode: String,
    /// `user:group` when osmigrate set the owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The file already held exactly this text: nothing was written.
    pub unchanged: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigReport {
    /// `config convert nova`, `config upgrade glance`, …
    pub command: String,
    /// The files read.
    pub sources: Vec<String>,
    pub changes: Vec<Change>,
    pub files: Vec<WrittenFile>,
}

impl ConfigReport {
    pub fn new(command: &str) -> ConfigReport {
        ConfigReport { command: command.to_string(), ..ConfigReport::default() }
    }

    pub fn has_warnings(&self) -> bool {
        self.changes.iter().any(|c| c.severity == Severity::Warning)
    }

    /// Records a change; returns it so that the caller can add the origin and the values.
    pub fn change(&mut self, severity: Severity, code: Reason, file: &str, setting: &str, message: impl Into<String>) -> &mut Change {
        debug_assert!(code.allows(severity), "{code} is not reported as {severity} (src/reason.rs)");
        self.changes.push(Change {
            severity,
            code,
            file: file.to_string(),
            setting: setting.to_string(),
            message: message.into(),
            origin: None,
            from: None,
            to: None,
        });
        self.changes.last_mut().expect("just pushed")
    }

    pub fn warn(&mut self, code: Reason, file: &str, setting: &str, message: impl Into<String>) -> &mut Change {
        self.change(Severity::Warning, code, file, setting, message)
    }

    pub fn info(&mut self, code: Reason, file: &str, setting: &str, message: impl Into<String>) -> &mut Change {
        self.change(Severity::Info, code, file, setting, message)
    }

    pub fn source(&mut self, path: &std::path::Path) {
        let shown = path.display().to_string();
        if !self.sources.contains(&shown) {
            self.sources.push(shown);
        }
    }

    pub fn merge(&mut self, other: ConfigReport) {
        for s in other.sources {
            if !self.sources.contains(&s) {
                self.sources.push(s);
            }
        }
        self.changes.extend(other.changes);
        self.files.extend(other.files);
    }

    pub fn changes_with<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Change> {
        self.changes.iter().filter(move |c| c.code == code)
    }
}

impl Change {
    pub fn origin(&mut self, origin: impl Into<String>) -> &mut Change {
        self.origin = Some(origin.into());
        self
    }

    /// The old value, redacted when the setting holds a secret.
    pub fn from_value(&mut self, key: &str, value: &str) -> &mut Change {
        self.from = Some(shown(key, value));
        self
    }

    /// The new value, redacted when the setting holds a secret.
    pub fn to_value(&mut self, key: &str, value: &str) -> &mut Change {
        self.to = Some(shown(key, value));
        self
    }
}

/// Whether a setting holds a secret: a password (`*pass*`: Diablo's `service_pass` too), token,
/// secret or key, or a database URL.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "token", "secret"].iter().any(|w| k.contains(w)) || k.ends_with("_key") || k == "connection" || k.ends_with("sql_connection")
}

/// A value as a report may show it: database URLs without their password, other secrets as
/// `****` and at most their last four characters.
pub fn shown(key: &str, value: &str) -> String {
    if !is_secret(key) {
        return value.to_string();
    }
    if key.ends_with("connection") {
        return match DbUrl::parse(value) {
            Ok(url) => url.to_string(),
            Err(_) if value.contains("://") => redact::url_text(value),
            Err(_) => redact::secret(value),
        };
    }
    redact::secret(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(shown("sql_connection", "mysql://nova:s3cret@db/nova"), "mysql://nova:****@db/nova");
        assert_eq!(shown("connection", "mysql://k:pw@db:3306/keystone?charset=utf8"), "mysql://k:****@db:3306/keystone");
        assert_eq!(shown("admin_token", "999888777666"), "****7666");
        assert_eq!(shown("swift_store_key", "a86850deb2742ec3cb41518e26aa2d89"), "****2d89");
        assert_eq!(shown("rabbit_password", "guest"), "****");
        assert_eq!(shown("service_pass", "dTpw-long-enough"), "****ough", "Diablo auth_token's service password");
        assert_eq!(shown("my_ip", "10.0.0.1"), "10.0.0.1");
        assert!(!is_secret("xenapi_connection_url"));
    }

    #[test]
    fn warnings_are_seen() {
        let mut r = ConfigReport::new("config convert nova");
        r.info(Reason::Renamed, "nova.conf", "osapi_listen", "renamed");
        assert!(!r.has_warnings());
        r.warn(Reason::Removed, "nova.conf", "allow_admin_api", "gone").from_value("allow_admin_api", "true");
        assert!(r.has_warnings());
        assert_eq!(r.changes_with("removed").count(), 1);
    }
}
