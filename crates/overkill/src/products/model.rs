//! Products as the domain sees them: every value already validated.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::fx::Converted;
use crate::money::Currency;
use crate::timestamp::Rfc3339;

/// Largest price, in minor units.
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;
/// Longest name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 200;
/// Largest stock count.
pub const MAX_STOCK: i64 = 1_000_000_000;

/// A stored product.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Database-assigned id, positive.
    pub id: i64,
    /// Stock-keeping unit, unique, immutable.
    pub sku: Sku,
    /// The mutable fields.
    pub fields: ProductFields,
    /// Starts at 1; +1 on every change. The ETag derives from it.
    pub version: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// The fields a client may set and change.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFields {
    /// 1–200 characters, not blank.
    pub name: String,
    /// At most 2000 characters.
    pub description: Option<String>,
    /// 0..=[`MAX_PRICE_MINOR`] minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: Currency,
    /// 0..=[`MAX_STOCK`].
    pub stock: i64,
}

/// A product to create.
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// Its sku.
    pub sku: Sku,
    /// Its fields.
    pub fields: ProductFields,
}

/// 1–64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

/// A product as the API shows it.
// Borrowed from the `Product`: serialized without copying a string.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Product)]
pub struct ProductView<'a> {
    /// Database-assigned id.
    pub id: i64,
    /// Stock-keeping unit.
    #[schema(example = "MUG-BLUE-330")]
    pub sku: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Free text, or null.
    pub description: Option<&'a str>,
    /// Price in minor units of `currency` (cents for EUR).
    pub price_minor: i64,
    #[schema(value_type = Currency)]
    pub currency: &'static str,
    /// Units in stock.
    pub stock: i64,
    /// Starts at 1, +1 on every change.
    pub version: i64,
    /// RFC 3339 UTC, microseconds.
    #[schema(value_type = String, example = "2026-11-27T18:01:03.123456Z")]
    pub created_at: Rfc3339,
    /// RFC 3339 UTC, microseconds.
    #[schema(value_type = String)]
    pub updated_at: Rfc3339,
    /// The price in the currency the request's `currency` parameter asked
    /// for; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub converted: Option<Converted>,
}

// === impl Sku ===

impl Sku {
    /// Longest sku.
    pub const MAX_LEN: usize = 64;

    /// Validates a sku.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (1..=Self::MAX_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        valid.then(|| Self(text.to_owned()))
    }

    /// The sku as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// === impl Product ===

impl Product {
    /// The strong entity tag of this version: `"<id>-<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }

    /// The API representation.
    pub fn view(&self) -> ProductView<'_> {
        ProductView {
            id: self.id,
            sku: &self.sku.0,
            name: &self.fields.name,
            description: self.fields.description.as_deref(),
            price_minor: self.fields.price_minor,
            currency: self.fields.currency.code(),
            stock: self.fields.stock,
            version: self.version,
            created_at: Rfc3339(self.created_at),
            updated_at: Rfc3339(self.updated_at),
            converted: None,
        }
    }
}

// === impl ProductFields ===

impl ProductFields {
    /// The lower-cased name the `q` filter searches.
    pub fn name_folded(&self) -> String {
        self.name.to_lowercase()
    }
}

/// A row as read back from storage. Storage is trusted for everything but
/// the currency code, which is re-checked so a bad row cannot reach clients.
pub struct StoredRow {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl TryFrom<StoredRow> for Product {
    type Error = anyhow::Error;

    fn try_from(row: StoredRow) -> anyhow::Result<Self> {
        let currency = Currency::parse(&row.currency)
            .ok_or_else(|| anyhow::anyhow!("product {} has an unknown currency", row.id))?;
        Ok(Self {
            id: row.id,
            sku: Sku(row.sku),
            fields: ProductFields {
                name: row.name,
                description: row.description,
                price_minor: row.price_minor,
                currency,
                stock: row.stock,
            },
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
