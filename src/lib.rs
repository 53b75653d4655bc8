//! osmigrate: copy-forward migration of an OpenStack control plane from Diablo (2011.3) to
//! Essex (2012.1). The library does all the work and returns values (reports, maps); the
//! `osmigrate` binary only parses arguments and renders what comes back.

pub mod bench;
pub mod config;
pub mod db;
pub mod deploy;
pub mod error;
pub mod essex_keystone;
pub mod failpoint;
pub mod generate;
pub mod images;
pub mod install;
pub mod keystone_client;
pub mod migrate;
pub mod reason;
pub mod redact;
pub mod rootfs;
pub mod schema;
pub mod secret;
pub mod services;

pub use error::{Error, Result};

/// This build: the crate version and the commit it was built from (`osmigrate --version`), as the
/// journal records it.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OSMIGRATE_COMMIT"), ")");

/// The layers, lowest first: a module may import only modules of lower layers (and its own
/// submodules), never one of its own layer or above. ARCHITECTURE.md states the same list.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["error", "reason"],
    &["failpoint", "redact", "rootfs", "secret"],
    &["schema"],
    &["db"],
    &["migrate"],
    &["essex_keystone", "images"],
    &["config"],
    &["keystone_client", "services"],
    &["generate"],
    &["bench", "deploy", "install"],
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn layer_of(module: &str) -> Option<usize> {
        super::LAYERS.iter().position(|l| l.contains(&module))
    }

    /// Every `crate::NAME` a source file of `module` names, outside comments.
    fn imports(path: &Path, out: &mut Vec<(String, String)>) {
        if path.is_dir() {
            for e in std::fs::read_dir(path).unwrap() {
                imports(&e.unwrap().path(), out);
            }
            return;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                out.push((path.display().to_string(), name));
            }
        }
    }

    #[test]
    fn lower_layers_never_import_higher_or_sideways() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut seen = 0;
        let mut wrong = Vec::new();
        for l in super::LAYERS {
            for module in *l {
                let (dir, file) = (src.join(module), src.join(format!("{module}.rs")));
                assert!(dir.is_dir() || file.is_file(), "LAYERS names `{module}`, which src/ does not have");
                let mut found = Vec::new();
                imports(if dir.is_dir() { &dir } else { &file }, &mut found);
                seen += found.len();
                for (path, name) in found {
                    let (Some(from), Some(to)) = (layer_of(module), layer_of(&name)) else { continue };
                    // The one error type carries a schema difference, plain data that imports
                    // nothing from the crate (asserted below).
                    let error_field = *module == "error" && path.ends_with("error.rs") && name == "schema";
                    if name != *module && to >= from && !error_field {
                        wrong.push(format!("{path}: `{module}` imports `crate::{name}`"));
                    }
                }
            }
        }
        let listed: Vec<&str> = super::LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
        for e in std::fs::read_dir(&src).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_string();
            assert!(["lib", "main", "cli"].contains(&name.as_str()) || listed.contains(&name.as_str()), "src/{name} is in no layer");
        }
        let mut difference = Vec::new();
        imports(&src.join("schema/difference.rs"), &mut difference);
        assert!(difference.is_empty(), "schema::difference, carried by Error, must import nothing: {difference:?}");
        assert!(seen > 100, "the scan found only {seen} imports");
        assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
    }
}
