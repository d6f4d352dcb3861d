//! Orders as the domain sees them: every value already validated.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::money::Currency;
use crate::timestamp::Rfc3339;

/// Most lines in one order.
pub const MAX_LINES: usize = 50;
/// Largest quantity on one line.
pub const MAX_QUANTITY: i64 = 1000;
/// Largest order total, in minor units: 2^53 − 1, the largest integer every
/// JSON client (JavaScript's numbers included) reads exactly.
pub const MAX_TOTAL_MINOR: i64 = 9_007_199_254_740_991;
/// Longest `customer_ref`.
pub const MAX_CUSTOMER_REF_LEN: usize = 64;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Placed,
    Cancelled,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Database-assigned id, positive.
    pub id: i64,
    pub status: Status,
    /// The client's reference, if it gave one.
    pub customer_ref: Option<String>,
    /// In the order the client listed them.
    pub lines: Vec<OrderLine>,
    /// Sum of the lines' totals, in minor units of `currency`.
    pub total_minor: i64,
    pub currency: Currency,
    /// 1 when placed, 2 once cancelled. The ETag derives from it.
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One line: the product as it was when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: i64,
}

/// An order to place, as the client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// 1..=[`MAX_LINES`] lines, each product at most once.
    pub lines: Vec<LineRequest>,
    pub customer_ref: Option<String>,
}

/// One requested line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRequest {
    pub product_id: i64,
    /// 1..=[`MAX_QUANTITY`].
    pub quantity: i64,
}

/// An order as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView<'a> {
    pub id: i64,
    pub status: Status,
    pub customer_ref: Option<&'a str>,
    pub lines: Vec<OrderLineView<'a>>,
    /// Sum of `line_total_minor`, in minor units of `currency`.
    pub total_minor: i64,
    #[schema(value_type = Currency)]
    pub currency: &'static str,
    /// RFC 3339 UTC, microseconds.
    #[schema(value_type = String, example = "2026-11-29T03:01:03.123456Z")]
    pub created_at: Rfc3339,
    /// RFC 3339 UTC, microseconds.
    #[schema(value_type = String)]
    pub updated_at: Rfc3339,
}

/// An order line as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderLine)]
pub struct OrderLineView<'a> {
    pub product_id: i64,
    /// The product's sku when the order was placed.
    pub sku: &'a str,
    /// The product's name when the order was placed.
    pub name: &'a str,
    /// The product's price when the order was placed.
    pub unit_price_minor: i64,
    pub quantity: i64,
    /// `unit_price_minor` × `quantity`.
    pub line_total_minor: i64,
}

// === impl Status ===

impl Status {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status `text` names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "placed" => Some(Self::Placed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

// === impl Order ===

impl Order {
    /// The strong entity tag of this version: `"<id>-<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }

    /// Where the order lives.
    pub fn location(&self) -> String {
        format!("/v1/orders/{}", self.id)
    }

    /// The API representation.
    pub fn view(&self) -> OrderView<'_> {
        OrderView {
            id: self.id,
            status: self.status,
            customer_ref: self.customer_ref.as_deref(),
            lines: self.lines.iter().map(OrderLine::view).collect(),
            total_minor: self.total_minor,
            currency: self.currency.code(),
            created_at: Rfc3339(self.created_at),
            updated_at: Rfc3339(self.updated_at),
        }
    }
}

// === impl OrderLine ===

impl OrderLine {
    /// `unit_price_minor` × `quantity`; at most 10^12 × 1000, so it fits.
    pub fn total_minor(&self) -> i64 {
        self.unit_price_minor * self.quantity
    }

    fn view(&self) -> OrderLineView<'_> {
        OrderLineView {
            product_id: self.product_id,
            sku: &self.sku,
            name: &self.name,
            unit_price_minor: self.unit_price_minor,
            quantity: self.quantity,
            line_total_minor: self.total_minor(),
        }
    }
}
