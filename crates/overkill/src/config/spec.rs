//! Declaring a setting once and reading it from every source.
//!
//! A [`SettingSpec`] holds everything about one setting: its dotted file key,
//! its environment variable, its flag, its default, its doc line and its
//! parser. The command line (`crate::cli`), the layered loader
//! ([`resolve`]), the unknown-key check ([`check_file_keys`]), `--help` and
//! the README's table ([`markdown_table`]) all derive from a slice of specs,
//! so a setting cannot be documented in one place and forgotten in another.
//!
//! Keys are dotted paths into the TOML file: `listen` is a top-level key,
//! `fx.url` is `url` in the `[fx]` section (env `OVERKILL_FX_URL`, flag
//! `--fx-url`). An array of tables (`[[proxy.routes]]`) is a file-only
//! setting whose entries are checked field by field.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ConfigError;

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

/// One table of an array-of-tables setting, its values as text.
#[derive(Debug, Default)]
pub struct Entry {
    values: BTreeMap<String, String>,
}

/// An invalid field of an [`Entry`].
#[derive(Debug)]
pub struct EntryError {
    /// The field at fault.
    pub field: &'static str,
    /// Why its value is invalid.
    pub reason: String,
}

/// A settings file, parsed and checked against the specs.
pub struct SettingsFile {
    path: PathBuf,
    table: toml::Table,
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

// === impl SettingsFile ===

impl SettingsFile {
    /// Reads and parses the TOML file at `path` and rejects any key no spec
    /// declares. Syntax errors name their line and column.
    pub fn read<T>(path: &Path, specs: &[SettingSpec<T>]) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let error = |reason: String| ConfigError::new("config", origin.clone(), reason);
        let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read the file: {e}")))?;
        let table = Self::parse(&text, specs).map_err(error)?;
        Ok(Self { path: path.to_owned(), table })
    }

    /// Parses `text` and checks its keys; the error is the reason only.
    fn parse<T>(text: &str, specs: &[SettingSpec<T>]) -> Result<toml::Table, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| syntax_error(text, &e))?;
        check_file_keys(specs, &table, "")?;
        Ok(table)
    }

    fn origin(&self) -> String {
        self.path.display().to_string()
    }

    /// The value at a dotted key, if the file sets it.
    fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let (sections, last) = key.rsplit_once('.').map_or((None, key), |(s, l)| (Some(s), l));
        let mut table = &self.table;
        for section in sections.into_iter().flat_map(|s| s.split('.')) {
            table = table.get(section)?.as_table()?;
        }
        table.get(last)
    }

    /// The entries of an array-of-tables setting, each field as text.
    fn entries<T>(&self, spec: &SettingSpec<T>) -> Result<Vec<Entry>, ConfigError> {
        let Some(value) = self.lookup(spec.key) else { return Ok(Vec::new()) };
        let error = |key: String, reason: String| ConfigError::new(key, self.origin(), reason);
        let Some(items) = value.as_array() else {
            return Err(error(spec.key.to_owned(), format!("expected an array of tables ([[{}]])", spec.key)));
        };
        let mut entries = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let Some(fields) = item.as_table() else {
                return Err(error(format!("{}[{index}]", spec.key), "expected a table".to_owned()));
            };
            let mut entry = Entry::default();
            for (field, value) in fields {
                let text = scalar_text(value).map_err(|r| error(format!("{}[{index}].{field}", spec.key), r))?;
                entry.values.insert(field.clone(), text.trim().to_owned());
            }
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// Rejects any key of `table` (at dotted path `prefix`) that no spec
/// declares, naming its full dotted key; recurses into sections and into
/// the entries of arrays of tables.
fn check_file_keys<T>(specs: &[SettingSpec<T>], table: &toml::Table, prefix: &str) -> Result<(), String> {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        // A quoted key holding a dot (`"fx.url" = …`) would otherwise pass
        // for the section path it spells and then be silently ignored.
        if name.contains('.') || name.is_empty() {
            let quoted = if prefix.is_empty() { format!("\"{name}\"") } else { format!("{prefix}.\"{name}\"") };
            return Err(format!("unknown setting `{quoted}`"));
        }
        if let Some(spec) = specs.iter().find(|spec| spec.key == key) {
            if let Kind::Tables { fields, .. } = &spec.kind {
                check_entries(&key, value, fields)?;
            }
            continue;
        }
        let section = format!("{key}.");
        if !specs.iter().any(|spec| spec.key.starts_with(&section)) {
            return Err(format!("unknown setting `{key}`"));
        }
        match value.as_table() {
            Some(inner) => check_file_keys(specs, inner, &key)?,
            None => return Err(format!("`{key}` is a section: write it as [{key}]")),
        }
    }
    Ok(())
}

fn check_entries(key: &str, value: &toml::Value, fields: &[&str]) -> Result<(), String> {
    let Some(items) = value.as_array() else { return Ok(()) };
    for (index, item) in items.iter().enumerate() {
        if let Some(unknown) = item.as_table().and_then(|t| t.keys().find(|k| !fields.contains(&k.as_str()))) {
            return Err(format!("unknown setting `{key}[{index}].{unknown}`"));
        }
    }
    Ok(())
}

/// The text of a one-value setting given in the file.
fn scalar_text(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Boolean(flag) => Ok(flag.to_string()),
        other => Err(format!("expected a string, integer or boolean, found {}", other.type_str())),
    }
}

/// A TOML syntax error on one line: where it is and what is wrong.
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    let Some(span) = error.span() else { return format!("invalid TOML: {message}") };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("invalid TOML at line {line}, column {column}: {}", message.replace('\n', "; "))
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
