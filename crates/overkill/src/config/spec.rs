//! Declaring a setting once and reading it from every source.
//!
//! A [`SettingSpec`] holds everything about one setting: its dotted file key,
//! its environment variable, its flag, its default, its doc line and its
//! parser. The command line (`crate::cli`), the layered loader
//! ([`resolve`]), the settings file's key check (`super::file`), `--help`
//! and the README's table ([`markdown_table`]) all derive from a slice of specs,
//! so a setting cannot be documented in one place and forgotten in another.
//!
//! Keys are dotted paths into the TOML file: `listen` is a top-level key,
//! `fx.url` is `url` in the `[fx]` section (env `OVERKILL_FX_URL`, flag
//! `--fx-url`). An array of tables (`[[proxy.routes]]`) is a file-only
//! setting whose entries are checked field by field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::ConfigError;
use super::file::{SettingsFile, scalar_text};

/// One setting, declared once.
pub struct SettingSpec<T: 'static> {
    /// Dotted key in the TOML file: `listen`, or `fx.url` for `url` in `[fx]`.
    pub key: &'static str,
    /// Environment variable; `None` for a file-only setting.
    pub env: Option<&'static str>,
    /// Long flag without its dashes; `None` for a file-only setting.
    pub flag: Option<&'static str>,
    /// Placeholder for the value in `--help`: `MS`, `ADDR`, `N`.
    pub value_name: &'static str,
    /// The default as text its own parser accepts, applied before any
    /// source is read; `None` when the setting is unset by default.
    pub default: Option<&'static str>,
    /// One line for `--help` and the README: what the setting does.
    pub doc: &'static str,
    /// How a value is parsed and stored.
    pub kind: Kind<T>,
}

/// The shape of a setting's value.
pub enum Kind<T: 'static> {
    /// One value, given as text by a flag, the environment or the file
    /// (a TOML string, integer or boolean). The function parses the text
    /// and stores it, or says why it is invalid.
    Value(fn(&mut T, &str) -> Result<(), String>),
    /// An array of tables in the file only (`[[proxy.routes]]`). Each
    /// entry may hold the listed `fields`; `apply` parses one entry and
    /// stores it.
    Tables { fields: &'static [&'static str], apply: fn(&mut T, &Entry) -> Result<(), EntryError> },
}

/// One table of an array-of-tables setting, its values as text: scalars by
/// field, arrays of scalars as lists; fields of a nested table by dotted
/// name (`health.path`).
#[derive(Debug, Default)]
pub struct Entry {
    pub(super) values: BTreeMap<String, String>,
    pub(super) lists: BTreeMap<String, Vec<String>>,
}

/// An invalid field of an [`Entry`].
#[derive(Debug)]
pub struct EntryError {
    /// The field at fault.
    pub field: &'static str,
    /// Why its value is invalid.
    pub reason: String,
}

/// Where values come from, highest precedence first.
pub struct Sources<'a> {
    /// Flag values by setting key.
    pub flags: &'a BTreeMap<&'static str, String>,
    /// The environment.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The settings file, when one is given.
    pub file: Option<&'a SettingsFile>,
}

// === impl SettingSpec ===

impl<T> SettingSpec<T> {
    /// The default as shown in `--help` and the README.
    pub fn default_text(&self) -> &'static str {
        self.default.unwrap_or("unset")
    }
}

/// Applies every declared default to `target`. Defaults are constants
/// checked by the unit tests, so a default that does not parse is a bug.
pub fn apply_defaults<T>(specs: &[SettingSpec<T>], target: &mut T) {
    for spec in specs {
        if let (Kind::Value(apply), Some(text)) = (&spec.kind, spec.default) {
            if let Err(reason) = apply(target, text) {
                panic!("the declared default of `{}` does not parse: {reason}", spec.key);
            }
        }
    }
}

/// Reads every setting from `sources` into `target`: flags beat the
/// environment, which beats the file; a setting no source names keeps the
/// value already in `target` (its default).
pub fn resolve<T>(specs: &[SettingSpec<T>], target: &mut T, sources: &Sources<'_>) -> Result<(), ConfigError> {
    for spec in specs {
        match &spec.kind {
            Kind::Value(apply) => {
                if let Some((text, origin)) = sources.value(spec)? {
                    apply(target, text.trim()).map_err(|reason| ConfigError::new(spec.key, origin, reason))?;
                }
            }
            Kind::Tables { apply, .. } => {
                let Some(file) = sources.file else { continue };
                for (index, entry) in file.entries(spec)?.iter().enumerate() {
                    apply(target, entry).map_err(|e| {
                        ConfigError::new(format!("{}[{index}].{}", spec.key, e.field), file.origin(), e.reason)
                    })?;
                }
            }
        }
    }
    Ok(())
}

// === impl Sources ===

impl Sources<'_> {
    /// The highest-precedence text for a one-value setting and where it came from.
    fn value<T>(&self, spec: &SettingSpec<T>) -> Result<Option<(String, String)>, ConfigError> {
        if let (Some(flag), Some(text)) = (spec.flag, self.flags.get(spec.key)) {
            return Ok(Some((text.clone(), format!("--{flag}"))));
        }
        if let Some(text) = spec.env.and_then(|name| (self.env)(name)) {
            let name = spec.env.unwrap_or_default();
            return Ok(Some((text, format!("environment variable {name}"))));
        }
        let Some(file) = self.file else { return Ok(None) };
        match file.lookup(spec.key) {
            None => Ok(None),
            Some(value) => scalar_text(value)
                .map(|text| Some((text, file.origin())))
                .map_err(|reason| ConfigError::new(spec.key, file.origin(), reason)),
        }
    }
}

// === impl Entry ===

impl Entry {
    /// The text of `field`, if the entry sets it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    /// The text of `field`, or an error saying it is required.
    pub fn require(&self, field: &'static str) -> Result<&str, EntryError> {
        self.get(field).ok_or_else(|| EntryError { field, reason: "required".to_owned() })
    }

    /// The fields given as arrays.
    pub fn list_fields(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    /// The items of list `field` (an array in the file), if the entry sets
    /// it as one; `Err` when it is set as a single value.
    pub fn list(&self, field: &'static str) -> Result<Option<&[String]>, EntryError> {
        if self.values.contains_key(field) {
            return Err(EntryError { field, reason: "expected an array, e.g. [\"127.0.0.1:9001\"]".to_owned() });
        }
        Ok(self.lists.get(field).map(Vec::as_slice))
    }
}

/// The README's settings table, one row per spec.
pub fn markdown_table<T>(specs: &[SettingSpec<T>]) -> String {
    let mut table = String::from("| setting | environment | flag | default | meaning |\n|---|---|---|---|---|\n");
    let code = |text: Option<String>| text.map_or_else(|| "—".to_owned(), |t| format!("`{t}`"));
    for spec in specs {
        let _ = writeln!(
            table,
            "| `{}` | {} | {} | {} | {} |",
            spec.key,
            code(spec.env.map(str::to_owned)),
            code(spec.flag.map(|f| format!("--{f}"))),
            code(spec.default.map(str::to_owned)),
            spec.doc.replace('|', "\\|"),
        );
    }
    table
}
