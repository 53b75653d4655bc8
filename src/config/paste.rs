//! Paste Deploy files (nova's `api-paste.ini`, Diablo's glance and keystone `.conf` files, Essex's
//! `*-paste.ini`) as Paste Deploy reads them: with Python 2.7's `ConfigParser`.
//!
//! That reader differs from Essex's iniparser ([`super::ini`]): blank lines do not end a
//! multi-line value; `;` after a space starts an inline comment; a line starting with `rem` is a
//! comment; the last assignment of a key wins; `[DEFAULT]` values are seen in every section; and a
//! value holding `%(` is %-interpolated (`%(here)s` is the file's directory, `%%` a literal `%`),
//! while a value without `%(` is taken as written. Keys keep their case (Paste Deploy turns
//! ConfigParser's lower-casing off).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Result;

#[derive(Debug, Clone, Default)]
pub struct PasteFile {
    pub path: PathBuf,
    defaults: BTreeMap<String, String>,
    /// Sections in file order (a repeated header continues the same section).
    sections: Vec<(String, BTreeMap<String, String>)>,
    /// Lines ConfigParser refuses: it raises on the first assignment before any section header
    /// (MissingSectionHeaderError), on other bad lines after reading the whole file (ParsingError).
    pub bad_lines: Vec<BadLine>,
}

/// A line Python's ConfigParser refuses; its value is never kept (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based.
    pub line: usize,
    /// The key, when the line is an assignment (one before any section header).
    pub key: Option<String>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl PasteFile {
    pub fn read(path: &Path) -> Result<PasteFile> {
        let bytes = crate::rootfs::read_config(path, None)?;
        let mut file = PasteFile::parse(&String::from_utf8_lossy(&bytes));
        file.path = path.to_path_buf();
        Ok(file)
    }

    pub fn parse(text: &str) -> PasteFile {
        let mut file = PasteFile::default();
        // Which map the current section is: None before any header, Some(None) for DEFAULT.
        let mut current: Option<Option<usize>> = None;
        let mut option: Option<String> = None;
        let mut pending: Vec<String> = Vec::new();
        let flush = |file: &mut PasteFile, current: Option<Option<usize>>, option: &Option<String>, pending: &mut Vec<String>| {
            if let (Some(section), Some(key)) = (current, option) {
                let value = pending.join("\n");
                match section {
                    None => file.defaults.insert(key.clone(), value),
                    Some(i) => file.sections[i].1.insert(key.clone(), value),
                };
            }
            pending.clear();
        };
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let first = line.chars().next().unwrap_or('\n');
            if line.trim_matches(is_space).is_empty() || first == '#' || first == ';' {
                continue;
            }
            let first_word = line.split(is_space).find(|w| !w.is_empty()).unwrap_or("");
            if (first == 'r' || first == 'R') && first_word.eq_ignore_ascii_case("rem") {
                continue;
            }
            if is_space(first) && current.is_some() && option.is_some() {
                let more = line.trim_matches(is_space);
                if !more.is_empty() {
                    pending.push(more.to_string());
                }
                continue;
            }
            if is_space(first) && current.is_none() {
                // Continues a key before any header, which is reported already.
                continue;
            }
            if let Some(name) = section_header(line) {
                flush(&mut file, current, &option, &mut pending);
                option = None;
                current = Some(if name == "DEFAULT" {
                    None
                } else if let Some(i) = file.sections.iter().position(|(n, _)| n == name) {
                    Some(i)
                } else {
                    file.sections.push((name.to_string(), BTreeMap::new()));
                    Some(file.sections.len() - 1)
                });
                continue;
            }
            match (current, option_line(line)) {
                (Some(_), Some((key, value))) => {
                    flush(&mut file, current, &option, &mut pending);
                    option = Some(key);
                    pending.push(value);
                }
                (None, assignment) => file.bad_lines.push(BadLine { line: i + 1, key: assignment.map(|(key, _)| key) }),
                (Some(_), None) => file.bad_lines.push(BadLine { line: i + 1, key: None }),
            }
        }
        flush(&mut file, current, &option, &mut pending);
        file
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }

    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|(n, _)| n.as_str())
    }

    fn section(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        if name == "DEFAULT" {
            return Some(&self.defaults);
        }
        self.sections.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The keys set in `section` itself (not those it sees from `[DEFAULT]`), sorted.
    pub fn keys(&self, section: &str) -> Vec<String> {
        self.section(section).map(|s| s.keys().cloned().collect()).unwrap_or_default()
    }

    /// The value as written (after ConfigParser's stripping), from the section or `[DEFAULT]`.
    pub fn raw(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section).and_then(|s| s.get(key)).or_else(|| self.defaults.get(key)).map(String::as_str)
    }

    /// The value Paste Deploy handed the application. An interpolation Python would raise on
    /// gives `Err` with the reason (never the value).
    pub fn get(&self, section: &str, key: &str) -> Option<std::result::Result<String, String>> {
        let raw = self.raw(section, key)?;
        Some(interpolate(raw, |name| self.lookup(section, name)))
    }

    fn lookup(&self, section: &str, name: &str) -> Option<String> {
        match name {
            "here" => Some(self.path.parent().unwrap_or(Path::new("")).display().to_string()),
            "__file__" => Some(self.path.display().to_string()),
            _ => self.raw(section, name).map(str::to_string),
        }
    }

    /// The filters and app of `[pipeline:NAME]`, in order.
    pub fn pipeline(&self, name: &str) -> Option<Vec<String>> {
        let value = self.raw(&format!("pipeline:{name}"), "pipeline")?;
        Some(value.split(is_space).filter(|w| !w.is_empty()).map(str::to_string).collect())
    }

    /// The factory of `[filter:NAME]`.
    pub fn filter_factory(&self, name: &str) -> Option<&str> {
        self.section(&format!("filter:{name}")).and_then(|s| s.get("paste.filter_factory")).map(String::as_str)
    }

    /// The pipelines a `[composite:NAME]` urlmap routes to (its path → name entries).
    pub fn composite_targets(&self, name: &str) -> Vec<String> {
        self.section(&format!("composite:{name}"))
            .map(|s| s.iter().filter(|(k, _)| k.starts_with('/')).map(|(_, v)| v.trim_matches(is_space).to_string()).collect())
            .unwrap_or_default()
    }
}

/// `[name]` at the start of a line (anything may follow the `]`), as ConfigParser's SECTCRE.
fn section_header(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `key = value` or `key: value` as ConfigParser's OPTCRE, with its inline-comment rule.
fn option_line(line: &str) -> Option<(String, String)> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let first = line.chars().next()?;
    if first == ':' || first == '=' || is_space(first) {
        return None;
    }
    let at = line.find([':', '='])?;
    let key = line[..at].trim_end_matches(is_space).to_string();
    let mut value = line[at + 1..].trim_start_matches(is_space);
    if let Some(pos) = value.find(';') {
        // Python's `optval[pos-1]`: for a leading `;` that is the value's last character.
        let before = if pos == 0 { value.chars().last() } else { value[..pos].chars().last() };
        if before.is_some_and(is_space) {
            value = &value[..pos];
        }
    }
    let value = value.trim_matches(is_space);
    let value = if value == "\"\"" { "" } else { value };
    Some((key, value.to_string()))
}

/// Python 2.7 `ConfigParser._interpolate`: while the value holds `%(`, substitute `%(name)s` and
/// turn `%%` into `%` (Python's `%` operator); a value without `%(` is returned as is.
pub fn interpolate(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut value = raw.to_string();
    for _ in 0..10 {
        if !value.contains("%(") {
            return Ok(value);
        }
        let mut out = String::new();
        let mut rest = value.as_str();
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(after) = after.strip_prefix('%') {
                out.push('%');
                rest = after;
            } else if let Some(body) = after.strip_prefix('(') {
                let close = body.find(')').ok_or("an unterminated %( in the value")?;
                let name = &body[..close];
                let tail = body[close + 1..].strip_prefix('s').ok_or("a %(name) not followed by `s`")?;
                out.push_str(&lookup(name).ok_or("a %(name)s that names no option")?);
                rest = tail;
            } else {
                return Err("a `%` that is neither `%%` nor `%(name)s`".into());
            }
        }
        out.push_str(rest);
        value = out;
    }
    Err("interpolation nested too deeply".into())
}

/// A value as it must be written into a paste file so that Python 2.7's ConfigParser reads it
/// back unchanged: it interpolates (and turns `%%` into `%`) only a value holding `%(`, so only
/// such a value has its `%` doubled.
pub fn escape(value: &str) -> String {
    if value.contains("%(") { value.replace('%', "%%") } else { value.to_string() }
}

/// The auth Nova's API pipelines ran with in Diablo: Essex chooses it with `auth_strategy`. Ordered
/// weakest first: a cloud is a Keystone cloud when any pipeline used Keystone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuthStrategy {
    NoAuth,
    Deprecated,
    Keystone,
}

impl AuthStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStrategy::NoAuth => "noauth",
            AuthStrategy::Deprecated => "deprecated",
            AuthStrategy::Keystone => "keystone",
        }
    }
}

/// What one of Diablo's nova API pipelines says about auth and rate limiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineAuth {
    /// `ec2` or `osapi`: the Diablo API the pipeline serves.
    pub api: String,
    pub pipeline: String,
    pub strategy: Option<AuthStrategy>,
    pub rate_limited: bool,
}

/// The auth filter a Diablo pipeline element stands for: by its factory, else by its name.
fn filter_auth(file: &PasteFile, filter: &str) -> Option<AuthStrategy> {
    let factory = file.filter_factory(filter).unwrap_or("");
    if factory.contains("auth_token") || filter == "authtoken" {
        Some(AuthStrategy::Keystone)
    } else if factory.contains("NoAuth") || filter == "noauth" || filter == "ec2noauth" {
        Some(AuthStrategy::NoAuth)
    } else if factory.contains("AuthMiddleware") || factory.contains(":Authenticate") || filter == "auth" || filter == "authenticate" {
        Some(AuthStrategy::Deprecated)
    } else {
        None
    }
}

/// Every pipeline Diablo's `ec2` and `osapi` composites route to, with its auth.
pub fn nova_pipelines(file: &PasteFile) -> Vec<PipelineAuth> {
    let mut out = Vec::new();
    for api in ["ec2", "osapi"] {
        let mut targets = file.composite_targets(api);
        targets.sort();
        targets.dedup();
        for target in targets {
            let Some(elements) = file.pipeline(&target) else { continue };
            let strategies: Vec<AuthStrategy> = elements.iter().filter_map(|e| filter_auth(file, e)).collect();
            if strategies.is_empty() && !elements.iter().any(|e| e.contains("executor") || e.contains("osapiapp")) {
                // Version documents and metadata: no auth by design.
                continue;
            }
            let rate_limited =
                elements.iter().any(|e| e == "ratelimit" || file.filter_factory(e).is_some_and(|f| f.contains("RateLimiting")));
            out.push(PipelineAuth { api: api.to_string(), pipeline: target, strategy: strategies.into_iter().max(), rate_limited });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configparser_rules() {
        let f = PasteFile::parse(
            "[DEFAULT]\nshared = d\n[filter:authtoken]\nauth_host = 10.0.0.1 ; inline comment\nadmin_token = a;b\nKey = v1\nKey: v2\nempty = \"\"\nmulti = a\n\n   b\nrem this is a comment\n[filter:authtoken]\nlater = x\n   \nbad line\n",
        );
        assert_eq!(f.raw("filter:authtoken", "auth_host"), Some("10.0.0.1"));
        assert_eq!(f.raw("filter:authtoken", "admin_token"), Some("a;b"));
        assert_eq!(f.raw("filter:authtoken", "Key"), Some("v2"));
        assert_eq!(f.raw("filter:authtoken", "key"), None);
        assert_eq!(f.raw("filter:authtoken", "empty"), Some(""));
        assert_eq!(f.raw("filter:authtoken", "multi"), Some("a\nb"));
        assert_eq!(f.raw("filter:authtoken", "later"), Some("x"));
        assert_eq!(f.raw("filter:authtoken", "shared"), Some("d"));
        assert_eq!(f.keys("filter:authtoken"), ["Key", "admin_token", "auth_host", "empty", "later", "multi"]);
        assert_eq!(f.bad_lines, [BadLine { line: 16, key: None }]);
        let top = PasteFile::parse("# keystone.conf\nbind_host = 0.0.0.0\n  more\n[keystone.backends.sqlalchemy]\n");
        assert_eq!(top.bad_lines, [BadLine { line: 2, key: Some("bind_host".into()) }]);
        assert_eq!(top.keys("DEFAULT"), Vec::<String>::new());
    }

    #[test]
    fn interpolation_is_python_2s() {
        let mut f = PasteFile::parse(
            "[DEFAULT]\nbase = /srv\n[app:x]\nplain = 50%\ndoubled = 50%%\nref = %(base)s/%%x\nhere = %(here)s/f\nbroken = %(nope)s\n",
        );
        f.path = PathBuf::from("/etc/nova/api-paste.ini");
        let get = |k| f.get("app:x", k).unwrap();
        assert_eq!(get("plain"), Ok("50%".into()));
        assert_eq!(get("doubled"), Ok("50%%".into()), "no %( in it: Python 2 leaves it");
        assert_eq!(get("ref"), Ok("/srv/%x".into()));
        assert_eq!(get("here"), Ok("/etc/nova/f".into()));
        let err = get("broken").unwrap_err();
        assert!(err.contains("names no option") && !err.contains("nope"), "the value (it may be a secret) stays out: {err}");
        assert_eq!(escape("a%b"), "a%b");
        assert_eq!(escape("%(x)s 50%"), "%%(x)s 50%%");
    }

    #[test]
    fn diablo_nova_pipelines() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/diablo");
        let shipped = PasteFile::read(&dir.join("nova-api-paste.ini")).unwrap();
        let auths = nova_pipelines(&shipped);
        assert!(!auths.is_empty());
        assert!(auths.iter().all(|a| a.strategy == Some(AuthStrategy::NoAuth)), "{auths:?}");
        assert!(auths.iter().filter(|a| a.api == "osapi").all(|a| a.rate_limited));
        let keystone = PasteFile::read(&dir.join("keystone-example-nova-api-paste.ini")).unwrap();
        assert!(nova_pipelines(&keystone).iter().all(|a| a.strategy == Some(AuthStrategy::Keystone)));
    }

    proptest::proptest! {
        #[test]
        fn any_text_reads_without_panic(text in "(\\PC|\n|\t|%|\\(|\\)|;|=|:|\\[|\\]){0,300}") {
            let f = PasteFile::parse(&text);
            for section in f.section_names().map(str::to_string).collect::<Vec<_>>() {
                for key in f.keys(&section) {
                    let _ = f.get(&section, &key);
                }
            }
            let _ = nova_pipelines(&f);
        }
    }
}
