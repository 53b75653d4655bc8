//! `config convert nova`: Diablo's flagfile `nova.conf` into the INI file Essex reads, with the
//! values Diablo ran with.
//!
//! The flagfile is read with gflags' rules ([`super::flagfile`]): includes spliced in place, the
//! last assignment winning, `--noX` resolved against Diablo's options, and nothing after the line
//! where Diablo stopped parsing. The INI file keeps Diablo's order, with a comment wherever an
//! included file starts and ends. Then, setting by setting: renamed options get their Essex name
//! (and `novncproxy_base_url` its `/vnc_auto.html`), removed ones are commented out with the
//! reason, image ids go through the Glance map, `sql_connection` names the new database, and the
//! settings whose Essex default would change what Diablo did are written out: `auth_strategy`
//! (from the api-paste pipeline Diablo ran), `enabled_apis`, `connection_type`,
//! `glance_api_servers`. Every change is in the report.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::flagfile::{FlagEntry, Flagfile, is_flagfile, read_flagfiles};
use super::options::{OptionKind, Release, nova_option};
use super::paste::{AuthStrategy, PasteFile, nova_pipelines};
use super::report::ConfigReport;
use crate::error::{Error, Result};
use crate::images::image_ref::{self, ImageRef};
use crate::images::map::{MapSource, for_each_entry};
use crate::migrate::{Severity, StepReport};

#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// The flagfiles nova was started with, in command-line order (usually just `nova.conf`).
    pub inputs: Vec<PathBuf>,
    /// The directory nova was started in: relative includes and `api_paste_config` are resolved
    /// against it, as gflags and Diablo's paste lookup did.
    pub cwd: PathBuf,
    /// The tree nova's files are read from (`/` on the host): `inputs`, `cwd`, `paste` and every
    /// include are host paths, reached under it ([`crate::rootfs::under_root`]).
    pub root: PathBuf,
    /// The Diablo api-paste.ini; default: the file `api_paste_config` names, found as Diablo did.
    pub paste: Option<PathBuf>,
    pub image_map: Option<MapSource>,
    /// The new (Essex) Nova database, as it goes into the file.
    pub sql_connection: Option<String>,
    /// Also carry the assignments after the line where Diablo stopped reading.
    pub carry_after_stop: bool,
    /// The auth Essex must use instead of the one Diablo's pipelines ran (Nova's own users moved
    /// into Keystone).
    pub auth_strategy: Option<AuthStrategy>,
    /// How the output is named in the report (its path, or `stdout`).
    pub target: String,
}

#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    pub report: ConfigReport,
}

/// Options Diablo's nova processes defined outside nova itself (Keystone's EC2 middleware, which
/// nova-api loaded from its paste pipeline): not in Diablo's option list, yet in effect.
const DEFINED_BY_KEYSTONE: &[&str] = &["keystone_ec2_url"];

/// The image-id options Essex expects as Glance UUIDs.
const IMAGE_ID_OPTIONS: &[&str] = &["vpn_image_id", "rescue_image_id", "rescue_kernel_id", "rescue_ramdisk_id"];

/// A Diablo option's Essex successor.
struct Rename {
    from: &'static str,
    to: &'static str,
    note: &'static str,
}

const RENAMES: &[Rename] = &[
    Rename { from: "san_privatekey", to: "san_private_key", note: "renamed in Essex" },
    Rename { from: "notification_topic", to: "notification_topics", note: "renamed in Essex and now a list" },
    Rename {
        from: "vncserver_host",
        to: "vncserver_listen",
        note: "renamed in Essex (the proxy now reaches hosts at vncserver_proxyclient_address)",
    },
    Rename { from: "vncproxy_topic", to: "consoleauth_topic", note: "the VNC proxy's auth moved to nova-consoleauth in Essex" },
    Rename { from: "vnc_token_ttl", to: "console_token_ttl", note: "the VNC proxy's auth moved to nova-consoleauth in Essex" },
    Rename { from: "osapi_listen", to: "osapi_compute_listen", note: "the OpenStack API was split into compute and volume APIs in Essex" },
    Rename {
        from: "osapi_listen_port",
        to: "osapi_compute_listen_port",
        note: "the OpenStack API was split into compute and volume APIs in Essex",
    },
    Rename {
        from: "least_cost_scheduler_cost_functions",
        to: "least_cost_functions",
        note: "renamed when Essex flattened the distributed scheduler",
    },
    Rename { from: "default_local_format", to: "default_ephemeral_format", note: "renamed in Essex" },
    Rename { from: "windows_version_timeout", to: "agent_version_timeout", note: "renamed in Essex" },
];

/// Why Essex no longer has a Diablo option, by the option's family.
fn removal_reason(name: &str) -> &'static str {
    match name {
        "allow_admin_api" => "Essex gates admin actions with policy.json rules instead",
        "use_deprecated_auth" => "auth_strategy replaces it (derived below from the api-paste pipeline Diablo ran)",
        "osapi_extensions_path" => "Essex loads extensions by class path (osapi_compute_extension), not from a directory",
        "vncproxy_manager" => "the VNC proxy's auth manager class is gone: Essex uses nova-consoleauth",
        "iscsi_ip_prefix" => "Essex wants the address itself (iscsi_ip_address, default $my_ip), not a prefix to match",
        "default_host_filter" => "Essex's filter scheduler takes a list of filter classes (scheduler_default_filters)",
        "sql_min_pool_size" | "sql_max_pool_size" | "sql_pool_timeout" => "Essex no longer pools database connections itself",
        "osapi_host" | "osapi_port" => "Essex builds API links from the request (or osapi_compute_link_prefix)",
        n if n.starts_with("vsa")
            || n.contains("_vsa")
            || n == "vc_image_name"
            || n == "max_vcs_in_vsa"
            || n == "drive_type_approx_capacity_percent" =>
        {
            "virtual storage arrays were removed from Essex"
        }
        n if n.starts_with("ajax") => "the ajax console proxy was removed from Essex",
        n if n.starts_with("zone") || n == "enable_zone_routing" || n == "build_plan_encryption_key" => "zones were removed from Essex",
        n if n.starts_with("vncproxy") || n == "vnc_debug" => "the Diablo VNC proxy was replaced by nova-novncproxy in Essex",
        "aoe_eth_dev" | "blades_per_shelf" | "num_shelves" => "the AoE volume driver was removed from Essex",
        _ => "Essex no longer has this option",
    }
}

/// The Diablo value of an option: the last assignment read, else Diablo's default.
fn diablo_value(entries: &[&FlagEntry], name: &str) -> Option<String> {
    entries.iter().rev().find(|e| e.name == name).map(|e| e.value.clone()).or_else(|| nova_option(Release::Diablo, name)?.default.clone())
}

/// Python's `string.Template.substitute`: `$name`, `${name}`, `$$`. `None` when a name is unknown.
fn substitute(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, tail) = if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}')?;
            (&body[..end], &body[end + 1..])
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            return None;
        }
        out.push_str(&lookup(name)?);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// Where Diablo found its paste file: `api_paste_config` as given (relative to nova's directory),
/// then under `state_path` (`etc/nova/`, `etc/`, itself), then `/etc/nova/`.
pub fn diablo_paste_candidates(api_paste_config: &str, state_path: Option<&str>, cwd: &Path) -> Vec<PathBuf> {
    let mut out = vec![cwd.join(api_paste_config)];
    if let Some(state) = state_path {
        let state = cwd.join(state);
        out.push(state.join("etc/nova").join(api_paste_config));
        out.push(state.join("etc").join(api_paste_config));
        out.push(state.join(api_paste_config));
    }
    out.push(Path::new("/etc/nova").join(api_paste_config));
    out
}

/// Rewrites Diablo's API names for Essex: `osapi` served compute and volumes, and both APIs
/// served the metadata that Essex gives its own API.
fn essex_apis(diablo: &str) -> String {
    let mut apis: Vec<&str> = Vec::new();
    let mut push = |name| {
        if !apis.contains(&name) {
            apis.push(name);
        }
    };
    let mut metadata = false;
    for api in diablo.split(',').filter(|a| !a.is_empty()) {
        match api {
            "osapi" => {
                push("osapi_compute");
                push("osapi_volume");
                metadata = true;
            }
            "ec2" => {
                push("ec2");
                metadata = true;
            }
            other => push(other),
        }
    }
    if metadata {
        push("metadata");
    }
    apis.join(",")
}

/// What one flagfile assignment becomes.
enum Outcome {
    /// `key=value` lines (a multistring gives one per value).
    Set(String, String),
    /// Commented out, with the reason.
    CommentOut(String),
    /// Left out of the file (superseded).
    Superseded(String),
}

struct Converter<'a> {
    opts: &'a ConvertOptions,
    report: ConfigReport,
    /// Old image id → UUID for the ids the image options name.
    images: HashMap<i64, String>,
}

impl ConvertOptions {
    /// A file nova named (relative to its directory), as osmigrate reaches it.
    fn local(&self, path: &Path) -> Result<PathBuf> {
        crate::rootfs::under_root(&self.root, &self.cwd.join(path))
    }
}

pub fn convert(opts: &ConvertOptions) -> Result<Converted> {
    if opts.inputs.is_empty() {
        return Err(Error::Usage("no flagfile to convert (--in FILE)".into()));
    }
    for input in &opts.inputs {
        let path = opts.local(input)?;
        let text = crate::rootfs::read_config(&path, None)?;
        if !is_flagfile(&String::from_utf8_lossy(&text)) {
            let hint = match super::write::original_of(&path) {
                Some(b) => format!("; its Diablo original is {}", b.display()),
                None => String::new(),
            };
            return Err(Error::Usage(format!("{} is not a Diablo flagfile (no `--flag` lines){hint}", path.display())));
        }
    }
    let flagfile = read_flagfiles(&opts.inputs, &opts.cwd, &opts.root)?;
    let mut c = Converter { opts, report: ConfigReport::new("config convert nova"), images: HashMap::new() };
    for f in &flagfile.files {
        c.report.source(f);
    }
    c.load_images(&flagfile)?;
    let text = c.render(&flagfile)?;
    Ok(Converted { text, report: c.report })
}

fn origin(e: &FlagEntry) -> String {
    format!("{}:{}", e.source.display(), e.line)
}

impl Converter<'_> {
    fn target(&self) -> String {
        self.opts.target.clone()
    }

    /// The entries that go into the file, in order: Diablo's, and with `--carry-after-stop` the
    /// ones after the stop.
    fn entries<'f>(&self, flagfile: &'f Flagfile) -> Vec<&'f FlagEntry> {
        let mut entries: Vec<&FlagEntry> = flagfile.entries.iter().collect();
        if self.opts.carry_after_stop {
            entries.extend(flagfile.ignored_after_stop.iter());
        }
        entries
    }

    fn load_images(&mut self, flagfile: &Flagfile) -> Result<()> {
        let wanted: Vec<i64> = self
            .entries(flagfile)
            .iter()
            .filter(|e| IMAGE_ID_OPTIONS.contains(&e.name.as_str()))
            .filter_map(|e| match image_ref::parse(&e.value) {
                ImageRef::Legacy { id, .. } if id != 0 => Some(id),
                _ => None,
            })
            .collect();
        let Some(map) = self.opts.image_map.as_ref().filter(|_| !wanted.is_empty()) else { return Ok(()) };
        let mut notes = StepReport::default();
        let mut images = HashMap::new();
        for_each_entry(map, &mut notes, |old, new| {
            if wanted.contains(&old) {
                images.insert(old, new);
            }
            Ok(())
        })?;
        for f in notes.findings {
            self.report.change(f.severity, &f.code, &self.target(), "", format!("image map: {}", f.message));
        }
        self.images = images;
        Ok(())
    }

    fn render(&mut self, flagfile: &Flagfile) -> Result<String> {
        let entries = self.entries(flagfile);
        let mut out = String::new();
        let names: Vec<String> = self.opts.inputs.iter().map(|p| Ok(self.opts.local(p)?.display().to_string())).collect::<Result<_>>()?;
        out.push_str(&format!("# nova.conf for Essex (2012.1), converted by osmigrate from the Diablo flagfile {}.\n", names.join(", ")));
        out.push_str("# Every assignment Diablo applied is here in Diablo's order, each included file inlined where it\n");
        out.push_str("# was read; what had to change is commented in place and listed in osmigrate's report.\n");
        out.push_str("[DEFAULT]\n");

        if let Some((path, line)) = &flagfile.stopped_at {
            let after = flagfile.ignored_after_stop.len();
            let what = if self.opts.carry_after_stop {
                "carried anyway (--carry-after-stop)"
            } else {
                "left out (--carry-after-stop carries them)"
            };
            let severity = Severity::Warning;
            self.report
                .change(
                    severity,
                    "flagfile_stopped",
                    &self.target(),
                    "",
                    format!(
                        "Diablo stopped reading here (a line that is not an option, such as an indented comment); {after} assignment{} after it never took effect: {what}",
                        if after == 1 { "" } else { "s" }
                    ),
                )
                .origin(format!("{}:{line}", path.display()));
            for e in &flagfile.ignored_after_stop {
                let code = if self.opts.carry_after_stop { "carried_after_stop" } else { "after_stop" };
                self.report
                    .change(severity, code, &self.target(), &e.name, "set after the line where Diablo stopped reading")
                    .origin(origin(e))
                    .from_value(&e.name, &e.value);
            }
        }

        // The index of the assignment in effect for each single-valued option.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            last.insert(e.name.as_str(), i);
        }
        let mut seen_files: Vec<&Path> = Vec::new();
        let mut current: Option<&Path> = None;
        let mut stop_marked = false;
        for (i, e) in entries.iter().enumerate() {
            if i >= flagfile.entries.len() && !stop_marked {
                stop_marked = true;
                if let Some((path, line)) = &flagfile.stopped_at {
                    out.push_str(&format!(
                        "\n# ---- Diablo stopped reading at {}:{line}; carried anyway (--carry-after-stop):\n",
                        path.display()
                    ));
                    current = None;
                }
            }
            if current != Some(e.source.as_path()) {
                let path = e.source.as_path();
                let include = flagfile.includes.iter().find(|inc| inc.path == path);
                let header = match (seen_files.contains(&path), include) {
                    (true, _) => format!("# ---- back in {}", path.display()),
                    (false, Some(inc)) => format!("# ---- {} (included at {}:{})", path.display(), inc.from.display(), inc.line),
                    (false, None) => format!("# ---- {}", path.display()),
                };
                out.push_str(&format!("\n{header}\n"));
                if !seen_files.contains(&path) {
                    seen_files.push(path);
                }
                current = Some(path);
            }
            let multi = nova_option(Release::Diablo, &e.name).is_some_and(|o| o.kind == OptionKind::MultiStr);
            let outcome = if !multi && last[e.name.as_str()] != i {
                let winner = entries[last[e.name.as_str()]];
                self.report
                    .info("superseded", &self.target(), &e.name, format!("set again at {} (Diablo kept the last value)", origin(winner)))
                    .origin(origin(e));
                Outcome::Superseded(format!("superseded by {} (Diablo kept the last value)", origin(winner)))
            } else {
                self.translate(e)
            };
            match outcome {
                Outcome::Set(key, value) => out.push_str(&format!("{key}={value}\n")),
                Outcome::CommentOut(reason) | Outcome::Superseded(reason) => {
                    out.push_str(&format!("# {reason}\n#{}={}\n", e.name, e.value));
                }
            }
        }

        let explicit = self.explicit(&entries)?;
        if !explicit.is_empty() {
            out.push_str("\n# ---- set by osmigrate: Essex's defaults would change what Diablo did\n");
            for (comment, key, value) in explicit {
                out.push_str(&format!("# {comment}\n{key}={value}\n"));
            }
        }
        Ok(out)
    }

    /// One assignment Diablo applied (and that is not superseded), for Essex.
    fn translate(&mut self, e: &FlagEntry) -> Outcome {
        let target = self.target();
        let name = e.name.as_str();
        let diablo = nova_option(Release::Diablo, name);
        let essex = nova_option(Release::Essex, name);
        if e.quoted {
            self.report
                .warn(
                    "quoted_value",
                    &target,
                    name,
                    "the quotes are part of the value: gflags kept them and so does Essex; remove them if they were meant as quoting",
                )
                .origin(origin(e));
        }
        if e.value.starts_with(|c: char| c.is_whitespace()) {
            self.report
                .warn("leading_space_lost", &target, name, "the value starts with a blank that Essex strips")
                .origin(origin(e))
                .from_value(name, &e.value);
        }
        if diablo.is_some_and(|o| o.kind == OptionKind::List) && e.written != e.value {
            self.report
                .info("list_rejoined", &target, name, "list items re-joined without the blanks Essex would keep")
                .origin(origin(e))
                .from_value(name, &e.written)
                .to_value(name, &e.value);
        }
        if diablo.is_none() {
            return if name == "flagfile" {
                self.report
                    .warn("indented_include", &target, name, "an indented --flagfile= was no include for Diablo (getopt saw an unknown flag): the file it names never took effect")
                    .origin(origin(e));
                Outcome::CommentOut("an indented --flagfile= line: Diablo did not include this file".into())
            } else if DEFINED_BY_KEYSTONE.contains(&name) {
                self.report
                    .info("carried", &target, name, "defined in Diablo by Keystone's EC2 middleware, and by nova in Essex")
                    .origin(origin(e));
                Outcome::Set(name.to_string(), e.value.clone())
            } else if essex.is_some() {
                self.report
                    .warn(
                        "not_a_diablo_option",
                        &target,
                        name,
                        "Diablo had no such option, so this line never took effect; Essex has one and would apply it",
                    )
                    .origin(origin(e))
                    .from_value(name, &e.value);
                Outcome::CommentOut("not a Diablo option, so Diablo ignored it; Essex would not".into())
            } else {
                self.report
                    .info("unknown_option", &target, name, "neither release's nova defines this option (a plug-in's?); carried as written")
                    .origin(origin(e));
                Outcome::Set(name.to_string(), e.value.clone())
            };
        }
        if let Some(rename) = RENAMES.iter().find(|r| r.from == name) {
            if rename.to == "notification_topics" && e.value.contains(',') {
                self.report.warn("renamed", &target, name, "now a list: the commas in this value make several topics").origin(origin(e));
            }
            self.report.info("renamed", &target, name, rename.note).origin(origin(e)).to = Some(rename.to.to_string());
            return Outcome::Set(rename.to.to_string(), e.value.clone());
        }
        match name {
            "vncproxy_url" => {
                let url = format!("{}/vnc_auto.html", e.value.trim_end_matches('/'));
                self.report
                    .info(
                        "renamed",
                        &target,
                        name,
                        "novncproxy_base_url names the page itself: Diablo appended /vnc_auto.html, Essex does not",
                    )
                    .origin(origin(e))
                    .from_value(name, &e.value)
                    .to_value("novncproxy_base_url", &url);
                return Outcome::Set("novncproxy_base_url".into(), url);
            }
            "iscsi_ip_prefix" if e.value.parse::<std::net::Ipv4Addr>().is_ok() || e.value.starts_with('$') => {
                self.report.info("renamed", &target, name, "a whole address: carried as iscsi_ip_address").origin(origin(e));
                return Outcome::Set("iscsi_ip_address".into(), e.value.clone());
            }
            "default_host_filter" => {
                let class = e.value.rsplit('.').next().unwrap_or(&e.value);
                let filter = if class == "InstanceTypeFilter" { "ComputeFilter" } else { class };
                self.report
                    .warn("renamed", &target, name, "carried as scheduler_default_filters (InstanceTypeFilter is ComputeFilter in Essex); check the filters for Essex's filter scheduler")
                    .origin(origin(e))
                    .from_value(name, &e.value)
                    .to_value("scheduler_default_filters", filter);
                return Outcome::Set("scheduler_default_filters".into(), filter.to_string());
            }
            "sql_connection" => {
                return if let Some(new) = &self.opts.sql_connection {
                    self.report
                        .info("sql_connection", &target, name, "points at the new Essex database")
                        .origin(origin(e))
                        .from_value(name, &e.value)
                        .to_value(name, new);
                    Outcome::Set(name.into(), new.clone())
                } else {
                    self.report
                        .warn(
                            "sql_connection",
                            &target,
                            name,
                            "still the Diablo database: give --sql-connection with the database `db migrate nova --to` built",
                        )
                        .origin(origin(e))
                        .from_value(name, &e.value);
                    Outcome::Set(name.into(), e.value.clone())
                };
            }
            "enabled_apis" => {
                let apis = essex_apis(&e.value);
                if apis != e.value {
                    self.report
                        .info("api_names", &target, name, "Diablo's osapi is Essex's osapi_compute and osapi_volume; the metadata service Diablo's APIs served is Essex's metadata API")
                        .origin(origin(e))
                        .from_value(name, &e.value)
                        .to_value(name, &apis);
                }
                return Outcome::Set(name.into(), apis);
            }
            _ => {}
        }
        if IMAGE_ID_OPTIONS.contains(&name) {
            return self.image_option(e);
        }
        if essex.is_none() {
            let reason = removal_reason(name);
            let default = diablo.and_then(|o| o.kind.normalize(o.default.as_deref()?));
            let severity = if default.as_deref() == Some(e.value.as_str()) { Severity::Info } else { Severity::Warning };
            self.report.change(severity, "removed", &target, name, reason).origin(origin(e)).from_value(name, &e.value);
            return Outcome::CommentOut(format!("removed in Essex: {reason}"));
        }
        Outcome::Set(name.to_string(), e.value.clone())
    }

    fn image_option(&mut self, e: &FlagEntry) -> Outcome {
        let target = self.target();
        let name = e.name.as_str();
        match image_ref::parse(&e.value) {
            ImageRef::Legacy { id, prefix, suffix } if id != 0 => match (self.images.get(&id), &self.opts.image_map) {
                (Some(uuid), _) => {
                    let new = image_ref::rewrite(prefix, uuid, suffix);
                    self.report
                        .info("image_id", &target, name, "rewritten through the Glance image map")
                        .origin(origin(e))
                        .from_value(name, &e.value)
                        .to_value(name, &new);
                    Outcome::Set(name.into(), new)
                }
                (None, Some(map)) => {
                    self.report
                        .warn(
                            "image_not_in_map",
                            &target,
                            name,
                            format!("image {id} is not in {}: carried as written, Essex will not find it", map.describe()),
                        )
                        .origin(origin(e));
                    Outcome::Set(name.into(), e.value.clone())
                }
                (None, None) => {
                    self.report
                        .warn(
                            "image_id_not_rewritten",
                            &target,
                            name,
                            "an old integer image id: give --image-map so that it becomes the image's UUID",
                        )
                        .origin(origin(e));
                    Outcome::Set(name.into(), e.value.clone())
                }
            },
            ImageRef::Unknown => {
                self.report
                    .warn("image_id_unknown", &target, name, "not an image id or href the map can rewrite; carried as written")
                    .origin(origin(e));
                Outcome::Set(name.into(), e.value.clone())
            }
            _ => Outcome::Set(name.into(), e.value.clone()),
        }
    }

    /// The settings written out because Essex's defaults differ from what Diablo did:
    /// `(comment, key, value)`.
    fn explicit(&mut self, entries: &[&FlagEntry]) -> Result<Vec<(String, String, String)>> {
        let target = self.target();
        let set = |name: &str| entries.iter().any(|e| e.name == name);
        let mut out = Vec::new();

        let (diablo_strategy, rate_limited) = self.auth_from_paste(entries)?;
        let (strategy, why) = match self.opts.auth_strategy {
            Some(s) => {
                self.report.info("auth_strategy", &target, "auth_strategy", "Nova's own users were imported into Keystone").to =
                    Some(s.as_str().to_string());
                (Some(s), "Nova's own users and keys are in Keystone now")
            }
            None => (diablo_strategy, "the auth Diablo's api-paste pipeline ran with (Essex defaults to noauth)"),
        };
        if let Some(strategy) = strategy {
            out.push((why.to_string(), "auth_strategy".to_string(), strategy.as_str().to_string()));
        }
        if rate_limited == Some(false) {
            out.push(("Diablo's OpenStack API pipeline had no rate limiting".into(), "api_rate_limit".into(), "false".into()));
            self.report.info("default_made_explicit", &target, "api_rate_limit", "Diablo's OpenStack API pipeline had no ratelimit filter");
        }
        if !set("enabled_apis") {
            let diablo = diablo_value(entries, "enabled_apis").unwrap_or_default();
            let apis = essex_apis(&diablo);
            self.report
                .info("default_made_explicit", &target, "enabled_apis", "Diablo's default API names, in Essex's names")
                .from_value("enabled_apis", &diablo)
                .to_value("enabled_apis", &apis);
            out.push(("Diablo's default APIs, in Essex's names".into(), "enabled_apis".into(), apis));
        }
        if !set("connection_type") {
            let value = diablo_value(entries, "connection_type").unwrap_or_else(|| "libvirt".into());
            self.report
                .info(
                    "default_made_explicit",
                    &target,
                    "connection_type",
                    "Diablo defaulted to libvirt; Essex has no default and refuses to start",
                )
                .to_value("connection_type", &value);
            out.push(("Diablo's default; Essex has none".into(), "connection_type".into(), value));
        }
        if !set("glance_api_servers") {
            let value = "$my_ip:9292".to_string();
            self.report
                .info(
                    "default_made_explicit",
                    &target,
                    "glance_api_servers",
                    "Diablo used this host's address and port 9292; Essex's default would follow glance_host and glance_port",
                )
                .to_value("glance_api_servers", &value);
            out.push(("Diablo's default: this host, port 9292".into(), "glance_api_servers".into(), value));
        }
        if !set("vncserver_host") && diablo_value(entries, "vnc_enabled").as_deref() != Some("false") {
            self.report
                .info(
                    "default_made_explicit",
                    &target,
                    "vncserver_listen",
                    "VNC servers listened on 0.0.0.0 in Diablo; Essex's default is 127.0.0.1",
                )
                .to_value("vncserver_listen", "0.0.0.0");
            out.push((
                "Diablo's VNC servers listened on every address (Essex's default: 127.0.0.1)".into(),
                "vncserver_listen".into(),
                "0.0.0.0".into(),
            ));
        }
        if !set("sql_connection") {
            if let Some(new) = &self.opts.sql_connection {
                self.report
                    .info("sql_connection", &target, "sql_connection", "points at the new Essex database")
                    .to_value("sql_connection", new);
                out.push(("the new Essex database".into(), "sql_connection".into(), new.clone()));
            }
        }
        self.note_changed_defaults(entries);
        Ok(out)
    }

    /// Options the file leaves at their default where Essex's default is not Diablo's: listed, not
    /// written (Essex's choice is usually deliberate).
    fn note_changed_defaults(&mut self, entries: &[&FlagEntry]) {
        const WRITTEN: &[&str] = &["enabled_apis", "connection_type", "glance_api_servers"];
        let target = self.target();
        let mut changed: BTreeMap<&str, (String, String)> = BTreeMap::new();
        for diablo in super::options::nova_options(Release::Diablo) {
            let name = diablo.name.as_str();
            if WRITTEN.contains(&name) || entries.iter().any(|e| e.name == name) {
                continue;
            }
            let Some(essex) = nova_option(Release::Essex, name) else { continue };
            let (Some(old), Some(new)) = (&diablo.default, &essex.default) else { continue };
            let norm = |kind: OptionKind, v: &str| kind.normalize(v).unwrap_or_else(|| v.to_string());
            let same_number = matches!((old.parse::<f64>(), new.parse::<f64>()), (Ok(a), Ok(b)) if a == b);
            if norm(diablo.kind, old) != norm(essex.kind, new) && !same_number {
                changed.insert(name, (old.clone(), new.clone()));
            }
        }
        for (name, (old, new)) in changed {
            self.report
                .info("default_changed", &target, name, "not set in the file: Essex's new default applies")
                .from_value(name, &old)
                .to_value(name, &new);
        }
    }

    /// `auth_strategy` and whether the OpenStack API was rate limited, from Diablo's api-paste.ini.
    fn auth_from_paste(&mut self, entries: &[&FlagEntry]) -> Result<(Option<AuthStrategy>, Option<bool>)> {
        let target = self.target();
        let cwd = &self.opts.cwd;
        let path = if let Some(p) = &self.opts.paste {
            Some(self.opts.local(p)?)
        } else {
            let lookup = |n: &str| diablo_value(entries, n);
            let config =
                diablo_value(entries, "api_paste_config").and_then(|v| substitute(&v, &lookup)).unwrap_or_else(|| "api-paste.ini".into());
            let state = diablo_value(entries, "state_path").and_then(|v| substitute(&v, &lookup));
            let candidates =
                diablo_paste_candidates(&config, state.as_deref(), cwd).iter().map(|p| self.opts.local(p)).collect::<Result<Vec<_>>>()?;
            let found = candidates.iter().find(|p| p.is_file()).cloned();
            if found.is_none() {
                let tried: Vec<_> = candidates.iter().map(|p| p.display().to_string()).collect();
                self.report.warn(
                    "auth_strategy_unknown",
                    &target,
                    "auth_strategy",
                    format!("no Diablo api-paste file found (looked where Diablo did: {}); auth_strategy not set, so Essex uses noauth wherever nova-api runs: give --paste", tried.join(", ")),
                );
            }
            found
        };
        let Some(path) = path else { return Ok((None, None)) };
        let file = PasteFile::read(&path)?;
        self.report.source(&path);
        let pipelines = nova_pipelines(&file);
        let mut strategies: Vec<AuthStrategy> = pipelines.iter().filter_map(|p| p.strategy).collect();
        strategies.sort();
        strategies.dedup();
        let osapi: Vec<_> = pipelines.iter().filter(|p| p.api == "osapi").collect();
        let chosen = osapi.iter().filter_map(|p| p.strategy).max().or_else(|| strategies.last().copied());
        let shown = path.display().to_string();
        match (chosen, strategies.len()) {
            (None, _) => {
                self.report.warn(
                    "auth_strategy_unknown",
                    &target,
                    "auth_strategy",
                    format!("{shown} has no ec2 or osapi pipeline with an auth filter: auth_strategy not set"),
                );
            }
            (Some(s), 1) => {
                self.report.info("auth_strategy", &target, "auth_strategy", format!("derived from the pipelines of {shown}")).to =
                    Some(s.as_str().to_string());
            }
            (Some(s), _) => {
                let all: Vec<_> =
                    pipelines.iter().map(|p| format!("{}={}", p.pipeline, p.strategy.map_or("none", |s| s.as_str()))).collect();
                self.report
                    .warn(
                        "auth_strategy",
                        &target,
                        "auth_strategy",
                        format!(
                            "{shown} ran different auth per pipeline ({}); Essex has one setting: the OpenStack API's is used",
                            all.join(", ")
                        ),
                    )
                    .to = Some(s.as_str().to_string());
            }
        }
        let rate_limited = if osapi.is_empty() { None } else { Some(osapi.iter().all(|p| p.rate_limited)) };
        Ok((chosen, rate_limited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ini::IniDoc;

    struct Case {
        dir: tempfile::TempDir,
    }

    impl Case {
        fn new(files: &[(&str, &str)]) -> Case {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in files {
                let path = dir.path().join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Case { dir }
        }

        fn opts(&self) -> ConvertOptions {
            ConvertOptions {
                auth_strategy: None,
                inputs: vec![PathBuf::from("nova.conf")],
                cwd: self.dir.path().to_path_buf(),
                root: PathBuf::from("/"),
                paste: None,
                image_map: None,
                sql_connection: None,
                carry_after_stop: false,
                target: "nova.conf".into(),
            }
        }

        fn convert(&self, opts: &ConvertOptions) -> (IniDoc, ConfigReport, String) {
            let c = convert(opts).unwrap();
            let doc = IniDoc::parse(c.text.as_bytes());
            doc.assignments().unwrap_or_else(|e| panic!("{e}\n{}", c.text));
            (doc, c.report, c.text)
        }

        fn run(&self) -> (IniDoc, ConfigReport, String) {
            self.convert(&self.opts())
        }
    }

    fn get(doc: &IniDoc, key: &str) -> Option<String> {
        doc.get("DEFAULT", key)
    }

    fn codes<'a>(r: &'a ConfigReport, key: &str) -> Vec<&'a str> {
        r.changes.iter().filter(|c| c.setting == key).map(|c| c.code.as_str()).collect()
    }

    #[test]
    fn includes_are_inlined_in_diablos_order_and_named() {
        let case = Case::new(&[
            ("nova.conf", "--my_ip=10.0.0.1\n--s3_host=parent\n--flagfile=extra.conf\n--s3_host=parent-later\n"),
            ("extra.conf", "--my_ip=10.0.0.2\n--s3_host=child\n"),
        ]);
        let (doc, report, text) = case.run();
        // Diablo: the include wins over the parent's earlier lines, the parent's later lines win over it.
        assert_eq!(get(&doc, "my_ip").as_deref(), Some("10.0.0.2"));
        assert_eq!(get(&doc, "s3_host").as_deref(), Some("parent-later"));
        // Each single-valued option is assigned once; the others are comments naming the winner.
        assert_eq!(doc.get_all("DEFAULT", "s3_host").len(), 1);
        let parent = case.dir.path().join("nova.conf").display().to_string();
        let child = case.dir.path().join("extra.conf").display().to_string();
        assert!(text.contains(&format!("# ---- {child} (included at {parent}:3)")), "{text}");
        assert!(text.contains(&format!("# ---- back in {parent}")), "{text}");
        assert!(text.contains(&format!("# superseded by {child}:1 (Diablo kept the last value)\n#my_ip=10.0.0.1")), "{text}");
        assert_eq!(report.changes_with("superseded").count(), 3);
        assert_eq!(report.sources, [parent, child]);
    }

    #[test]
    fn several_flagfiles_on_the_command_line() {
        let case = Case::new(&[("nova.conf", "--my_ip=1\n--verbose\n"), ("nova-compute.conf", "--my_ip=2\n")]);
        let mut opts = case.opts();
        opts.inputs.push(PathBuf::from("nova-compute.conf"));
        let (doc, ..) = case.convert(&opts);
        assert_eq!((get(&doc, "my_ip").as_deref(), get(&doc, "verbose").as_deref()), (Some("2"), Some("true")));
    }

    #[test]
    fn negation_multistrings_lists_and_quotes() {
        let case = Case::new(&[(
            "nova.conf",
            "--nouse_ipv6\n--noop_cost_fn_weight=2\n--list_notifier_drivers=a.b\n--list_notifier_drivers=c.d\n--region_list= one , two\n--s3_host=\"h q\"\n",
        )]);
        let (doc, report, _) = case.run();
        assert_eq!(get(&doc, "use_ipv6").as_deref(), Some("false"));
        assert_eq!(get(&doc, "noop_cost_fn_weight").as_deref(), Some("2"), "an option named no… is itself");
        assert_eq!(doc.get_all("DEFAULT", "list_notifier_drivers"), ["a.b", "c.d"]);
        assert_eq!(get(&doc, "region_list").as_deref(), Some("one,two"));
        assert_eq!(get(&doc, "s3_host").as_deref(), Some("\"h q\""));
        assert_eq!(codes(&report, "region_list"), ["list_rejoined"]);
        assert_eq!(codes(&report, "s3_host"), ["quoted_value"]);
        assert_eq!(report.exit_status(), 1);
    }

    #[test]
    fn lines_after_the_stop_are_left_out_unless_asked_for() {
        let case = Case::new(&[("nova.conf", "--my_ip=1\n  # an indented comment\n--my_ip=2\n--s3_host=late\n")]);
        let (doc, report, _) = case.run();
        assert_eq!((get(&doc, "my_ip").as_deref(), get(&doc, "s3_host")), (Some("1"), None));
        let stop = report.changes_with("flagfile_stopped").next().unwrap();
        assert!(stop.origin.as_deref().unwrap().ends_with("nova.conf:2"));
        assert_eq!(report.changes_with("after_stop").count(), 2);
        let mut opts = case.opts();
        opts.carry_after_stop = true;
        let (doc, report, text) = case.convert(&opts);
        assert_eq!((get(&doc, "my_ip").as_deref(), get(&doc, "s3_host").as_deref()), (Some("2"), Some("late")));
        assert_eq!(report.changes_with("carried_after_stop").count(), 2);
        assert!(text.contains("Diablo stopped reading at"), "{text}");
    }

    #[test]
    fn renamed_and_removed_options() {
        let case = Case::new(&[(
            "nova.conf",
            "--vncproxy_url=http://vnc.example:6080/\n--osapi_listen_port=9774\n--notification_topic=n\n--allow_admin_api\n--use_deprecated_auth=false\n--iscsi_ip_prefix=192.168.\n--default_host_filter=InstanceTypeFilter\n--glance_host=10.9.9.9\n--zone_name=z1\n",
        )]);
        let (doc, report, text) = case.run();
        assert_eq!(get(&doc, "novncproxy_base_url").as_deref(), Some("http://vnc.example:6080/vnc_auto.html"));
        assert_eq!(get(&doc, "osapi_compute_listen_port").as_deref(), Some("9774"));
        assert_eq!(get(&doc, "notification_topics").as_deref(), Some("n"));
        assert_eq!(get(&doc, "scheduler_default_filters").as_deref(), Some("ComputeFilter"));
        for gone in
            ["vncproxy_url", "osapi_listen_port", "allow_admin_api", "use_deprecated_auth", "iscsi_ip_prefix", "glance_host", "zone_name"]
        {
            assert_eq!(get(&doc, gone), None, "{gone}");
        }
        assert!(
            text.contains("# removed in Essex: Essex gates admin actions with policy.json rules instead\n#allow_admin_api=true\n"),
            "{text}"
        );
        assert!(text.contains("# not a Diablo option, so Diablo ignored it; Essex would not\n#glance_host=10.9.9.9\n"), "{text}");
        let severity = |key| report.changes.iter().find(|c| c.setting == key).unwrap().severity;
        assert_eq!(severity("allow_admin_api"), Severity::Warning);
        assert_eq!(severity("use_deprecated_auth"), Severity::Info, "set to its default: nothing lost");
        assert_eq!(severity("glance_host"), Severity::Warning);
        assert_eq!(severity("zone_name"), Severity::Warning);
        assert!(report.changes.iter().any(|c| c.setting == "zone_name" && c.message == "zones were removed from Essex"));
    }

    #[test]
    fn defaults_that_changed_are_made_explicit() {
        let case = Case::new(&[("nova.conf", "--verbose\n")]);
        let (doc, report, _) = case.run();
        assert_eq!(get(&doc, "enabled_apis").as_deref(), Some("ec2,osapi_compute,osapi_volume,metadata"));
        assert_eq!(get(&doc, "connection_type").as_deref(), Some("libvirt"));
        assert_eq!(get(&doc, "glance_api_servers").as_deref(), Some("$my_ip:9292"));
        assert_eq!(get(&doc, "vncserver_listen").as_deref(), Some("0.0.0.0"));
        assert!(report.changes_with("default_changed").any(|c| c.setting == "sql_max_retries"));
        let case = Case::new(&[(
            "nova.conf",
            "--enabled_apis=ec2\n--connection_type=xenapi\n--glance_api_servers=g1:9292,g2:9292\n--novnc_enabled\n",
        )]);
        let (doc, ..) = case.run();
        assert_eq!(get(&doc, "enabled_apis").as_deref(), Some("ec2,metadata"));
        assert_eq!(get(&doc, "connection_type").as_deref(), Some("xenapi"));
        assert_eq!(doc.get_all("DEFAULT", "glance_api_servers"), ["g1:9292,g2:9292"]);
    }

    #[test]
    fn auth_strategy_from_the_paste_pipeline_diablo_ran() {
        let diablo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/diablo");
        let keystone = std::fs::read_to_string(diablo.join("keystone-example-nova-api-paste.ini")).unwrap();
        let noauth = std::fs::read_to_string(diablo.join("nova-api-paste.ini")).unwrap();
        let deprecated = noauth.replace("ec2noauth", "authenticate").replace("faultwrap noauth", "faultwrap auth");
        let unlimited = keystone.replace(" ratelimit", "");
        for (paste, strategy, limited) in
            [(&keystone, "keystone", true), (&noauth, "noauth", true), (&deprecated, "deprecated", true), (&unlimited, "keystone", false)]
        {
            // Found as Diablo found it: api_paste_config under state_path/etc/nova.
            let case =
                Case::new(&[("nova.conf", "--state_path=/nonexistent\n--state_path=state\n"), ("state/etc/nova/api-paste.ini", paste)]);
            let (doc, report, _) = case.run();
            assert_eq!(get(&doc, "auth_strategy").as_deref(), Some(strategy));
            assert_eq!(get(&doc, "api_rate_limit").as_deref(), if limited { None } else { Some("false") });
            assert!(report.sources.iter().any(|s| s.ends_with("state/etc/nova/api-paste.ini")));
        }
        let mixed = noauth.replace("faultwrap noauth", "faultwrap auth");
        let case = Case::new(&[("nova.conf", "--api_paste_config=/nowhere/p.ini\n"), ("p.ini", &mixed)]);
        let mut opts = case.opts();
        opts.paste = Some(PathBuf::from("p.ini"));
        let (doc, report, _) = case.convert(&opts);
        assert_eq!(get(&doc, "auth_strategy").as_deref(), Some("deprecated"), "the OpenStack API's auth");
        assert_eq!(report.changes.iter().find(|c| c.code == "auth_strategy").unwrap().severity, Severity::Warning);
        // Nowhere to be found: reported, not guessed.
        let case = Case::new(&[("nova.conf", "--api_paste_config=missing.ini\n")]);
        let (doc, report, _) = case.run();
        assert_eq!(get(&doc, "auth_strategy"), None);
        assert_eq!(report.changes_with("auth_strategy_unknown").count(), 1);
    }

    #[test]
    fn image_ids_go_through_the_map_and_sql_connection_moves() {
        let uuid = "2b8f1a4e-3c6d-4a4b-9f0e-0c1d2e3f4a5b";
        let case = Case::new(&[
            (
                "nova.conf",
                "--vpn_image_id=3\n--rescue_kernel_id=http://g:9292/v1/images/3\n--rescue_ramdisk_id=9\n--rescue_image_id=ami-00000003\n--sql_connection=mysql://nova:pw@db/nova\n",
            ),
            ("map.csv", &format!("old_id,new_id\n3,{uuid}\n")),
        ]);
        let (doc, report, _) = case.run();
        assert_eq!(get(&doc, "vpn_image_id").as_deref(), Some("3"));
        assert_eq!(codes(&report, "vpn_image_id"), ["image_id_not_rewritten"]);
        assert_eq!(codes(&report, "sql_connection"), ["sql_connection"]);
        let mut opts = case.opts();
        opts.image_map = Some(MapSource::parse(case.dir.path().join("map.csv").to_str().unwrap()).unwrap());
        opts.sql_connection = Some("mysql://nova:new@db2/nova_essex".into());
        let (doc, report, _) = case.convert(&opts);
        assert_eq!(get(&doc, "vpn_image_id").as_deref(), Some(uuid));
        assert_eq!(get(&doc, "rescue_kernel_id"), Some(format!("http://g:9292/v1/images/{uuid}")));
        assert_eq!(get(&doc, "rescue_ramdisk_id").as_deref(), Some("9"));
        assert_eq!(codes(&report, "rescue_ramdisk_id"), ["image_not_in_map"]);
        assert_eq!(codes(&report, "rescue_image_id"), ["image_id_unknown"]);
        assert_eq!(get(&doc, "sql_connection").as_deref(), Some("mysql://nova:new@db2/nova_essex"));
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains(":pw@") && !json.contains(":new@"), "{json}");
    }

    #[test]
    fn an_ini_file_is_refused_and_its_original_named() {
        let case = Case::new(&[("nova.conf", "[DEFAULT]\nverbose=true\n"), ("nova.conf.osmigrate-backup", "--verbose\n")]);
        let e = convert(&case.opts()).unwrap_err().to_string();
        assert!(e.contains("not a Diablo flagfile") && e.contains("nova.conf.osmigrate-backup"), "{e}");
    }

    #[test]
    fn template_substitution_as_python() {
        let lookup = |n: &str| (n == "state_path").then(|| "/var/lib/nova".to_string());
        assert_eq!(substitute("$state_path/api-paste.ini", &lookup).as_deref(), Some("/var/lib/nova/api-paste.ini"));
        assert_eq!(substitute("${state_path}x $$5", &lookup).as_deref(), Some("/var/lib/novax $5"));
        assert_eq!(substitute("$nope", &lookup), None);
    }
}
