//! The Essex templated catalog file (`catalog.<region>.<type>.<key> = <value>`), as
//! `keystone.catalog.backends.templated.parse_templates@2012.1` reads it: it needs the literal
//! ` = `, splits the key on `.`, turns `_` in a type into `-`, and %-interpolates every value.

use std::fmt::Write as _;

/// Legacy `%tenant_id%` → Essex `$(tenant_id)s`; every other `%` is doubled, because Essex
/// %-interpolates catalog values (a bare `%` would break token issue).
pub fn essex_url(legacy: &str) -> String {
    let mut out = String::with_capacity(legacy.len() + 8);
    let mut rest = legacy;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let word_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        if word_len > 0 && after[word_len..].starts_with('%') {
            let _ = write!(out, "$({})s", &after[..word_len]);
            rest = &after[word_len + 1..];
        } else {
            out.push_str("%%");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// One region/type entry of the templates file (also what a catalog listing shows).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TemplateEntry {
    pub region: String,
    pub service_type: String,
    pub name: String,
    pub public_url: String,
    pub admin_url: String,
    pub internal_url: String,
}

/// Why an entry cannot be expressed in the templates file, if it cannot.
pub fn unrepresentable(e: &TemplateEntry) -> Option<String> {
    if e.region.contains('.') || e.region.contains(char::is_whitespace) || e.region.is_empty() {
        return Some(format!("region `{}` cannot be a templates key (no dots, spaces or empty names)", e.region));
    }
    if e.service_type.contains('.') || e.service_type.contains(char::is_whitespace) || e.service_type.is_empty() {
        return Some(format!("service type `{}` cannot be a templates key (no dots, spaces or empty names)", e.service_type));
    }
    for v in [&e.name, &e.public_url, &e.admin_url, &e.internal_url] {
        if v.contains(" = ") || v.contains('\n') {
            return Some(format!("value `{v}` contains ` = ` or a line break, which the templates parser cannot read"));
        }
    }
    None
}

/// The templates file for the given entries (already one per region and type).
pub fn render(entries: &[TemplateEntry]) -> String {
    render_with_header("Essex Keystone catalog (TemplatedCatalog), carried over from the legacy endpoint_templates by osmigrate.", entries)
}

/// The templates file, opening with `header` as a comment line.
pub fn render_with_header(header: &str, entries: &[TemplateEntry]) -> String {
    let mut out = format!("# {header}\n");
    for e in entries {
        let ty = e.service_type.replace('_', "-");
        out.push('\n');
        for (key, value) in [
            ("publicURL", &e.public_url),
            ("adminURL", &e.admin_url),
            ("internalURL", &e.internal_url),
            ("name", &e.name),
            ("enabled", &"True".to_string()),
        ] {
            let _ = writeln!(out, "catalog.{}.{}.{} = {}", e.region, ty, key, value);
        }
    }
    out
}

/// Reads a templates file as Essex does: lines without ` = ` or whose key does not start with
/// `catalog.` are skipped, `_` in a type becomes `-`, and keys other than the URLs and `name` are
/// ignored here. A line Essex cannot read (two ` = `, a key with fewer than four parts) is an
/// error naming it, since Essex would fail to start on it. Entries keep the file's order.
pub fn parse(text: &str) -> Result<Vec<TemplateEntry>, String> {
    let mut entries: Vec<TemplateEntry> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if !line.contains(" = ") {
            continue;
        }
        let line = line.trim();
        let mut halves = line.split(" = ");
        let (key, value) = (halves.next().unwrap_or(""), halves.next().unwrap_or(""));
        if halves.next().is_some() {
            return Err(format!("line {}: more than one ` = ` (Essex cannot read it)", n + 1));
        }
        if !key.starts_with("catalog.") {
            continue;
        }
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() < 4 {
            return Err(format!("line {}: `{key}` is not catalog.REGION.TYPE.KEY (Essex cannot read it)", n + 1));
        }
        let (region, service_type) = (parts[1], parts[2].replace('_', "-"));
        let i = if let Some(i) = entries.iter().position(|e| e.region == region && e.service_type == service_type) {
            i
        } else {
            entries.push(TemplateEntry {
                region: region.to_string(),
                service_type,
                name: String::new(),
                public_url: String::new(),
                admin_url: String::new(),
                internal_url: String::new(),
            });
            entries.len() - 1
        };
        let e = &mut entries[i];
        match parts[3] {
            "publicURL" => e.public_url = value.to_string(),
            "adminURL" => e.admin_url = value.to_string(),
            "internalURL" => e.internal_url = value.to_string(),
            "name" => e.name = value.to_string(),
            _ => {}
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_translated_and_escaped() {
        assert_eq!(essex_url("http://h:8774/v1.1/%tenant_id%"), "http://h:8774/v1.1/$(tenant_id)s");
        assert_eq!(essex_url("http://h/a%20b/%tenant_id%"), "http://h/a%%20b/$(tenant_id)s");
        assert_eq!(essex_url("100%"), "100%%");
        assert_eq!(essex_url("http://h:8080/"), "http://h:8080/");
    }

    #[test]
    fn rendered_lines_parse_like_essex() {
        let e = TemplateEntry {
            region: "RegionOne".into(),
            service_type: "object_store".into(),
            name: "Swift Service".into(),
            public_url: "http://h:8080/v1/AUTH_$(tenant_id)s".into(),
            admin_url: "http://h:8080/".into(),
            internal_url: "http://h:8080/v1/AUTH_$(tenant_id)s".into(),
        };
        let text = render(std::slice::from_ref(&e));
        // Essex: `k, v = line.strip().split(' = ')`, key must start with `catalog.`
        let lines: Vec<(&str, &str)> = text.lines().filter(|l| l.contains(" = ")).map(|l| l.split_once(" = ").unwrap()).collect();
        assert_eq!(lines.len(), 5);
        assert!(lines.iter().all(|(k, _)| k.starts_with("catalog.RegionOne.object-store.")));
        assert!(unrepresentable(&e).is_none());
        let bad = TemplateEntry { region: "Region.One".into(), ..e };
        assert!(unrepresentable(&bad).unwrap().contains("Region.One"));
    }

    #[test]
    fn rendered_files_parse_back() {
        let e = TemplateEntry {
            region: "RegionOne".into(),
            service_type: "object-store".into(),
            name: "Swift Service".into(),
            public_url: "http://h:8080/v1/AUTH_$(tenant_id)s".into(),
            admin_url: "http://h:8080/".into(),
            internal_url: "http://h:8080/v1/AUTH_$(tenant_id)s".into(),
        };
        assert_eq!(parse(&render(std::slice::from_ref(&e))).unwrap(), vec![e]);
        assert_eq!(parse("# c\ncatalog.R.object_store.name = S\nother.R.x.name = y\n").unwrap()[0].service_type, "object-store");
        assert!(parse("catalog.R.compute = x\n").unwrap_err().contains("line 1"));
        assert!(parse("catalog.R.c.publicURL = a = b\n").unwrap_err().contains("` = `"));
    }
}
