//! Configuration files. nova.conf: Diablo's flagfile as Diablo read it ([`flagfile`]), both
//! releases' options as data ([`options`]), [`resolve`], which says what value an option had and
//! where it came from, and [`nova::convert`], which writes the Essex INI file. The other services:
//! [`upgrade`] renders the Essex keystone, glance and nova-paste files from the Diablo ones.
//! Underneath: a lossless INI editor in Essex's dialect ([`ini`]), Paste Deploy's reading of paste
//! files ([`paste`]), atomic writing with backups, mode and owner ([`write`]), and the change
//! report ([`report`]).
//!
//! Essex could still read a flagfile, but its on-the-fly conversion turns includes into later
//! config files that override the parent's later lines, the opposite of Diablo; and
//! `nova-manage config convert` drops includes. So the Diablo file is read here with gflags'
//! own rules and the values Diablo ran with are what gets carried.

pub mod flagfile;
pub mod ini;
pub mod nova;
pub mod options;
pub mod paste;
pub mod report;
pub mod upgrade;
pub mod write;

use std::path::PathBuf;

pub use flagfile::{FlagEntry, Flagfile, FlagfileAt, Include, is_flagfile, read_flagfile, read_flagfiles};
pub use options::{OptionKind, OptionSpec, Release, nova_option, nova_options};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Normalized for the option's type ([`OptionKind::normalize`]): booleans are `true`/`false`.
    /// A multistring's values are joined with `\n` (a flagfile line cannot hold one; a comma can
    /// be part of a value).
    pub value: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `--set KEY=VALUE`.
    Override,
    /// The assignment in effect in the flagfile (for a multistring, its last one).
    File { path: PathBuf, line: usize },
    /// Not set: Diablo ran with its default.
    DiabloDefault,
    /// An option only Essex has.
    EssexDefault,
    /// Unknown to both releases, or a default that is `None` or was computed on the host.
    Missing,
}

/// The value of option `name`: the last override, else the flagfile's assignment, else the Diablo
/// default, else (for an option Diablo did not have) the Essex default. Multistrings take every
/// value of the first of these that has one. Fails on an override gflags could not parse.
pub fn resolve(name: &str, file: Option<&Flagfile>, overrides: &[(String, String)]) -> Result<Resolved> {
    let diablo = nova_option(Release::Diablo, name);
    let essex = nova_option(Release::Essex, name);
    let kind = diablo.or(essex).map(|o| o.kind);
    let collect = |values: Vec<&str>| match kind {
        Some(OptionKind::MultiStr) => values.join("\n"),
        _ => values.last().map_or_else(String::new, std::string::ToString::to_string),
    };
    let set: Vec<&str> = overrides.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect();
    let (value, origin) = if !set.is_empty() {
        (Some(collect(set)), Origin::Override)
    } else if let Some((file, last)) = file.and_then(|f| Some((f, f.last(name)?))) {
        (Some(collect(file.get_all(name))), Origin::File { path: last.source.clone(), line: last.line })
    } else if let Some(diablo) = diablo {
        (diablo.default.clone(), Origin::DiabloDefault)
    } else if let Some(essex) = essex {
        (essex.default.clone(), Origin::EssexDefault)
    } else {
        (None, Origin::Missing)
    };
    let Some(value) = value else { return Ok(Resolved { value: None, origin: Origin::Missing }) };
    let value = match kind {
        Some(kind) => kind.normalize(&value).ok_or_else(|| Error::Usage(format!("`{name}` is a boolean: use true or false")))?,
        None => value,
    };
    Ok(Resolved { value: Some(value), origin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn origins_in_order_of_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("nova.conf");
        std::fs::write(&conf, "--verbose\n--my_ip=10.0.0.1\n--list_notifier_drivers=a\n--list_notifier_drivers=b\n--mystery=1\n").unwrap();
        let file = read_flagfile(&conf, Path::new("/")).unwrap();
        let resolve = |name, overrides: &[(&str, &str)]| resolve(name, Some(&file), &set(overrides)).unwrap();
        let resolved = |value: Option<&str>, origin| Resolved { value: value.map(str::to_owned), origin };
        let at = |line| Origin::File { path: conf.clone(), line };

        assert_eq!(resolve("my_ip", &[("my_ip", "1"), ("my_ip", "2")]), resolved(Some("2"), Origin::Override));
        assert_eq!(resolve("verbose", &[("verbose", "0")]), resolved(Some("false"), Origin::Override));
        assert_eq!(resolve("enabled_apis", &[("enabled_apis", "ec2, osapi")]), resolved(Some("ec2,osapi"), Origin::Override));
        assert_eq!(resolve("verbose", &[]), resolved(Some("true"), at(1)));
        assert_eq!(resolve("my_ip", &[("other", "x")]), resolved(Some("10.0.0.1"), at(2)));
        assert_eq!(resolve("list_notifier_drivers", &[]), resolved(Some("a\nb"), at(4)));
        assert_eq!(resolve("mystery", &[]), resolved(Some("1"), at(5)));
        // Not in the file: Diablo's default (booleans normalized), else Essex's for its own options.
        assert_eq!(resolve("use_ipv6", &[]), resolved(Some("false"), Origin::DiabloDefault));
        assert_eq!(resolve("rabbit_port", &[]), resolved(Some("5672"), Origin::DiabloDefault));
        assert_eq!(resolve("osapi_compute_listen", &[]), resolved(Some("0.0.0.0"), Origin::EssexDefault));
        // A None or computed default is missing, even where Essex has one of its own.
        assert_eq!(resolve("memcached_servers", &[]), resolved(None, Origin::Missing));
        assert_eq!(resolve("dhcpbridge", &[]), resolved(None, Origin::Missing));
        assert_eq!(resolve("no_such_option", &[]), resolved(None, Origin::Missing));
        assert_eq!(super::resolve("verbose", None, &[]).unwrap(), resolved(Some("false"), Origin::DiabloDefault));
    }

    #[test]
    fn a_malformed_boolean_override_is_refused_without_echoing_it() {
        let e = resolve("verbose", None, &set(&[("verbose", "s3cret")])).unwrap_err().to_string();
        assert!(e.contains("`verbose` is a boolean") && !e.contains("s3cret"), "{e}");
    }
}
