//! The settings file: TOML read once, every key checked against the specs
//! (with its full dotted key when unknown), values looked up by dotted key.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::spec::{Entry, Kind, SettingSpec};

/// A settings file, parsed and checked against the specs.
pub struct SettingsFile {
    path: PathBuf,
    table: toml::Table,
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

    /// The file as an error names it: its path.
    pub(super) fn origin(&self) -> String {
        self.path.display().to_string()
    }

    /// The value at a dotted key, if the file sets it.
    pub(super) fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let (sections, last) = key.rsplit_once('.').map_or((None, key), |(s, l)| (Some(s), l));
        let mut table = &self.table;
        for section in sections.into_iter().flat_map(|s| s.split('.')) {
            table = table.get(section)?.as_table()?;
        }
        table.get(last)
    }

    /// The entries of an array-of-tables setting, each field as text.
    pub(super) fn entries<T>(&self, spec: &SettingSpec<T>) -> Result<Vec<Entry>, ConfigError> {
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
            let at = |field: &str| format!("{}[{index}].{field}", spec.key);
            for (field, value) in flatten(fields, "") {
                match value {
                    toml::Value::Array(items) => {
                        let texts = items.iter().map(|item| scalar_text(item).map(|t| t.trim().to_owned()));
                        let list = texts.collect::<Result<Vec<_>, _>>().map_err(|r| error(at(&field), r))?;
                        entry.lists.insert(field, list);
                    }
                    value => {
                        let text = scalar_text(value).map_err(|r| error(at(&field), r))?;
                        entry.values.insert(field, text.trim().to_owned());
                    }
                }
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
        let Some(table) = item.as_table() else { continue };
        if let Some((unknown, _)) = flatten(table, "").into_iter().find(|(k, _)| !fields.contains(&k.as_str())) {
            return Err(format!("unknown setting `{key}[{index}].{unknown}`"));
        }
    }
    Ok(())
}

/// The values of `table` by dotted field name: a nested table's fields
/// (`[proxy.routes.health]`'s `path`) become `health.path`.
fn flatten<'a>(table: &'a toml::Table, prefix: &str) -> Vec<(String, &'a toml::Value)> {
    let mut fields = Vec::new();
    for (name, value) in table {
        let name = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match value.as_table() {
            Some(inner) => fields.extend(flatten(inner, &name)),
            None => fields.push((name, value)),
        }
    }
    fields
}

/// The text of a one-value setting given in the file.
pub(super) fn scalar_text(value: &toml::Value) -> Result<String, String> {
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
    // `get`, not indexing: a span starting inside a multi-byte character
    // must not panic; it then counts from the start of the file.
    let before = text.get(..span.start.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("invalid TOML at line {line}, column {column}: {}", message.replace('\n', "; "))
}
