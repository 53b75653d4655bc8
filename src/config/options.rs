//! Every nova option of Diablo (2011.3) and Essex (2012.1) with its type and default, as data.
//!
//! The tables in `nova-options/` were extracted statically from upstream's `DEFINE_*` (2011.3) and
//! `cfg.*Opt` (2012.1) calls; defaults are Python literals there. Rows from `bin/stack` (a developer
//! tool with its own `host`/`port`/`user`/`project` flags, never loaded by a nova service) are left
//! out, as the upstream diff does. Where two modules define the same name (`console_driver`,
//! `console_public_hostname`), the first row wins: it is `nova/console/manager.py`, the console
//! manager a stock nova-console loads (`console_manager`'s default).

use std::sync::OnceLock;

pub use crate::schema::Release;

/// An option's type, named after the gflags `DEFINE_*` / cfg `*Opt` kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    Str,
    Int,
    Float,
    Bool,
    /// Comma-separated list.
    List,
    /// Repeated on the command line (or in the file): every occurrence is kept.
    MultiStr,
}

impl OptionKind {
    fn from_table(name: &str) -> Self {
        match name {
            "str" => OptionKind::Str,
            "int" => OptionKind::Int,
            "float" => OptionKind::Float,
            "bool" => OptionKind::Bool,
            "list" => OptionKind::List,
            "multistr" => OptionKind::MultiStr,
            other => panic!("nova option table: unknown type `{other}`"),
        }
    }

    /// A value as osmigrate carries it: booleans as `true`/`false` (`None` if gflags would reject
    /// the spelling), lists re-joined with bare commas because gflags strips the items and Essex
    /// does not; anything else as written.
    pub fn normalize(self, raw: &str) -> Option<String> {
        match self {
            OptionKind::Bool => parse_bool(raw).map(|b| b.to_string()),
            OptionKind::List => Some(raw.split(',').map(|item| item.trim_matches(is_py_space)).collect::<Vec<_>>().join(",")),
            _ => Some(raw.to_owned()),
        }
    }
}

/// python-gflags' boolean spellings, any case. Python's own `True`/`False` are among them, so the
/// tables' defaults parse too.
pub fn parse_bool(raw: &str) -> Option<bool> {
    let is = |words: [&str; 3]| words.iter().any(|w| raw.eq_ignore_ascii_case(w));
    if is(["true", "t", "1"]) {
        Some(true)
    } else if is(["false", "f", "0"]) {
        Some(false)
    } else {
        None
    }
}

/// Python 2's `string.whitespace`, what `str.strip()` removes (Rust's `trim` would also remove
/// Unicode spaces that Python kept).
pub(crate) fn is_py_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: String,
    pub kind: OptionKind,
    /// The default as a config file would spell it: `'eth0'` → `eth0`, `True` → `True`, numbers as
    /// written, lists joined with `,` (multistrings with `\n`, as their items may hold commas).
    /// `None` for Python's `None` and for defaults computed by code.
    pub default: Option<String>,
    /// The default is code the extractor could not evaluate (`socket.gethostname()`…): the value
    /// depended on the host nova ran on.
    pub default_is_expression: bool,
    /// Defined only by a command-line tool (bin/instance-usage-audit, …), not by the services:
    /// its default is no service's default.
    pub tool_only: bool,
}

/// Diablo's scripts whose flags no nova service defines (bin/stack's are left out altogether).
const TOOLS: &[&str] = &["bin/instance-usage-audit:", "bin/clear_rabbit_queues:"];

/// The options of a release, sorted by name.
pub fn nova_options(release: Release) -> &'static [OptionSpec] {
    static DIABLO: OnceLock<Vec<OptionSpec>> = OnceLock::new();
    static ESSEX: OnceLock<Vec<OptionSpec>> = OnceLock::new();
    let (cell, table) = match release {
        Release::Diablo => (&DIABLO, include_str!("nova-options/diablo-2011.3.tsv")),
        Release::Essex => (&ESSEX, include_str!("nova-options/essex-2012.1.tsv")),
    };
    cell.get_or_init(|| parse_table(table))
}

pub fn nova_option(release: Release, name: &str) -> Option<&'static OptionSpec> {
    let options = nova_options(release);
    options.binary_search_by(|o| o.name.as_str().cmp(name)).ok().map(|i| &options[i])
}

/// Columns: name, type, default, file:line, help (unused here).
fn parse_table(table: &str) -> Vec<OptionSpec> {
    let mut specs: Vec<OptionSpec> = table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let [name, kind, default, origin, _help] = row.split('\t').collect::<Vec<_>>()[..] else {
                panic!("nova option table: malformed row `{row}`");
            };
            (!origin.starts_with("bin/stack:")).then(|| {
                let kind = OptionKind::from_table(kind);
                let (default, default_is_expression) = parse_default(kind, default);
                let tool_only = TOOLS.iter().any(|t| origin.starts_with(t));
                OptionSpec { name: name.to_owned(), kind, default, default_is_expression, tool_only }
            })
        })
        .collect();
    // Stable, so the first row of a duplicated name is the one kept.
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs.dedup_by(|later, first| later.name == first.name);
    specs
}

/// The tables' literals: `None`, `True`/`False`, numbers, a quoted string without escapes, or a
/// list of such strings; a quoted `<expr> …` stands for code.
fn parse_default(kind: OptionKind, literal: &str) -> (Option<String>, bool) {
    if literal == "None" {
        (None, false)
    } else if literal.starts_with('[') {
        let separator = if kind == OptionKind::MultiStr { "\n" } else { "," };
        (Some(quoted_strings(literal).join(separator)), false)
    } else if let Some(text) = quoted_strings(literal).first() {
        match text.strip_prefix("<expr>") {
            // Adjacent string literals are one string in Python: `'nova.scheduler.' 'filter_…'`.
            Some(code) => concatenation(code).map_or((None, true), |s| (Some(s), false)),
            None => (Some(text.to_string()), false),
        }
    } else {
        (Some(literal.to_owned()), false)
    }
}

/// Every `'…'` or `"…"` in `literal`, in order.
/// The value of code made only of string literals (Python joins adjacent ones), else none.
fn concatenation(code: &str) -> Option<String> {
    let parts = quoted_strings(code);
    let mut rest = code.to_string();
    for p in &parts {
        rest = rest.replacen(&format!("'{p}'"), "", 1).replacen(&format!("\"{p}\""), "", 1);
    }
    (!parts.is_empty() && rest.trim().is_empty()).then(|| parts.concat())
}

fn quoted_strings(literal: &str) -> Vec<&str> {
    let mut strings = Vec::new();
    let mut rest = literal;
    while let Some(start) = rest.find(['\'', '"']) {
        let quote = rest[start..].chars().next().unwrap();
        let body = &rest[start + 1..];
        let end = body.find(quote).unwrap_or_else(|| panic!("nova option table: unterminated string in `{literal}`"));
        strings.push(&body[..end]);
        rest = &body[end + 1..];
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_defaults_are_evaluated_and_tool_flags_marked() {
        let essex = nova_option(Release::Essex, "compute_scheduler_driver").unwrap();
        assert_eq!(essex.default.as_deref(), Some("nova.scheduler.filter_scheduler.FilterScheduler"));
        assert!(!essex.default_is_expression);
        assert!(nova_option(Release::Diablo, "instance_usage_audit_period").unwrap().tool_only);
        assert!(!nova_option(Release::Diablo, "compute_scheduler_driver").unwrap().tool_only);
        assert_eq!(concatenation(" 'a' \"b\"").as_deref(), Some("ab"));
        assert_eq!(concatenation(" socket.gethostname()"), None);
    }

    #[test]
    fn tables_match_the_upstream_counts() {
        // The header of diff-diablo-essex.txt: 356 names in 2011.3, 471 in 2012.1.
        assert_eq!(nova_options(Release::Diablo).len(), 356);
        assert_eq!(nova_options(Release::Essex).len(), 471);
        assert!(nova_options(Release::Diablo).windows(2).all(|w| w[0].name < w[1].name));
        // The simple unquoting above relies on this.
        for table in [include_str!("nova-options/diablo-2011.3.tsv"), include_str!("nova-options/essex-2012.1.tsv")] {
            assert!(table.lines().all(|row| !row.split('\t').nth(2).unwrap().contains('\\')));
        }
    }

    #[test]
    fn defaults_read_as_a_config_file_would_hold_them() {
        let diablo = |name| nova_option(Release::Diablo, name).unwrap();
        let spec = diablo("ajax_console_proxy_topic");
        assert_eq!((spec.kind, spec.default.as_deref(), spec.default_is_expression), (OptionKind::Str, Some("ajax_proxy"), false));
        assert_eq!(diablo("verbose").default.as_deref(), Some("False"));
        assert_eq!(diablo("san_thin_provision").default.as_deref(), Some("true"));
        assert_eq!(diablo("ajax_console_idle_timeout").default.as_deref(), Some("300"));
        assert_eq!(diablo("xenapi_task_poll_interval").kind, OptionKind::Float);
        assert_eq!(diablo("enabled_apis").default.as_deref(), Some("ec2,osapi"));
        assert_eq!(diablo("region_list").default.as_deref(), Some(""));
        assert_eq!(diablo("memcached_servers").default, None);
        assert!(!diablo("memcached_servers").default_is_expression);
        let mkfs = diablo("virt_mkfs");
        assert_eq!(mkfs.kind, OptionKind::MultiStr);
        assert_eq!(mkfs.default.as_deref().unwrap().lines().count(), 3);
        for expression in ["host", "glance_api_servers", "state_path", "block_size"] {
            let spec = diablo(expression);
            assert!(spec.default.is_none() && spec.default_is_expression, "{expression}");
        }
        // bin/stack's flags are not nova's; duplicated names keep nova/console/manager.py's row.
        assert!(nova_option(Release::Diablo, "user").is_none());
        assert_eq!(diablo("console_driver").default.as_deref(), Some("nova.console.xvp.XVPConsoleProxy"));
        assert!(diablo("console_public_hostname").default_is_expression);
        assert!(nova_option(Release::Diablo, "osapi_compute_listen").is_none());
        assert_eq!(nova_option(Release::Essex, "osapi_compute_listen").unwrap().default.as_deref(), Some("0.0.0.0"));
    }

    #[test]
    fn values_normalize_like_gflags_parses_them() {
        for (raw, expected) in
            [("TRUE", Some("true")), ("t", Some("true")), ("1", Some("true")), ("F", Some("false")), ("yes", None), ("", None)]
        {
            assert_eq!(OptionKind::Bool.normalize(raw).as_deref(), expected, "{raw}");
        }
        assert_eq!(OptionKind::List.normalize(" ec2 , osapi,,metadata").as_deref(), Some("ec2,osapi,,metadata"));
        assert_eq!(OptionKind::List.normalize("").as_deref(), Some(""));
        assert_eq!(OptionKind::Str.normalize(" a b ").as_deref(), Some(" a b "));
    }
}
