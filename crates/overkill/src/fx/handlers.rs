//! `GET /v1/fx/rates`, and reading the `currency` parameter that asks the
//! products routes to convert their prices.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use chassis::query::QueryParams;
use chassis::{Deadline, FieldError, Problem};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Fx, Source};
use crate::money::Currency;

/// Most quotes one `/v1/fx/rates` request may name.
pub const MAX_QUOTES: usize = 20;

/// The `/v1/fx` routes, as served.
pub fn router<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Fx: FromRef<S>,
{
    axum::Router::new().route("/v1/fx/rates", axum::routing::get(rates))
}

/// The same routes with their documentation (`crate::api::document`).
pub fn documented<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Fx: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(rates))
}

/// States in `doc` what `#[param]` cannot: the quotes are distinct.
pub fn document_distinct_quotes(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    let operation = doc.paths.paths.get_mut("/v1/fx/rates").and_then(|item| item.get.as_mut());
    let parameters = operation.and_then(|operation| operation.parameters.as_mut()).into_iter().flatten();
    for parameter in parameters.filter(|parameter| parameter.name == "quotes") {
        if let Some(RefOr::T(Schema::Array(array))) = parameter.schema.as_mut() {
            array.unique_items = true;
        }
    }
}

/// Query parameters of `/v1/fx/rates`, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct RatesParams {
    /// The currency the rates are for: 1 `base` = `rate` quote.
    #[param(value_type = Currency)]
    base: String,
    /// 1–20 distinct ISO 4217 codes, separated by commas: `EUR,GBP,JPY`.
    #[param(value_type = Vec<Currency>, style = Form, explode = false, min_items = 1, max_items = 20)]
    quotes: String,
}

/// Exchange rates from one currency.
#[derive(Serialize, ToSchema)]
struct RatesView {
    /// The currency asked for.
    #[schema(value_type = Currency)]
    base: &'static str,
    /// One per quote, in the order asked.
    rates: Vec<RateView>,
}

/// One exchange rate.
#[derive(Serialize, ToSchema)]
struct RateView {
    /// The quote currency.
    #[schema(value_type = Currency)]
    quote: &'static str,
    /// 1 `base` in `quote`: an exact decimal, as a string.
    #[schema(example = "0.9234", pattern = "^[0-9]+(\\.[0-9]*[1-9])?$")]
    rate: String,
    /// The provider's date for the rate.
    #[schema(format = Date, example = "2026-11-27")]
    rate_date: String,
    /// How fresh the rate is.
    #[schema(inline)]
    source: Source,
}

/// Exchange rates from `base` to each of `quotes`.
#[utoipa::path(
    get, path = "/v1/fx/rates", tag = "fx", operation_id = "get_fx_rates",
    params(RatesParams),
    responses(
        (status = 200, description = "The rates, in the order asked", body = RatesView),
        (status = 400, description = "Invalid parameter, all listed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A currency the provider does not quote, or conversion disabled", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider cannot answer and nothing usable is cached",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds until the provider may be asked again"))),
    )
)]
async fn rates(
    State(fx): State<Fx>,
    deadline: Deadline,
    QueryParams(params): QueryParams,
) -> Result<Response, Problem> {
    let (base, quotes) = parse_rates_query(&params)?;
    let mut rates = Vec::with_capacity(quotes.len());
    for quote in quotes {
        // One lookup of `base`'s table serves every quote: the first fills
        // the cache (or fails the request), the rest read it.
        let found = fx.rate(base, quote, deadline.at()).await?;
        rates.push(RateView {
            quote: quote.code(),
            rate: found.rate.to_string(),
            rate_date: found.date.to_string(),
            source: Source::from(found.source),
        });
    }
    Ok(Json(RatesView { base: base.code(), rates }).into_response())
}

/// `base` and `quotes`, every fault listed.
fn parse_rates_query(params: &HashMap<String, String>) -> Result<(Currency, Vec<Currency>), Problem> {
    let mut errors = Vec::new();
    let mut invalid = |field: &str, message: &str| {
        errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
    };
    let base = match params.get("base") {
        None => {
            invalid("base", "is required");
            None
        }
        Some(code) => Currency::parse(code).or_else(|| {
            invalid("base", "must be a current ISO 4217 code, such as EUR");
            None
        }),
    };
    let quotes = match params.get("quotes") {
        None => {
            invalid("quotes", "is required");
            None
        }
        Some(list) => quote_list(list).or_else(|| {
            invalid("quotes", "must be 1 to 20 distinct ISO 4217 codes separated by commas, such as EUR,GBP");
            None
        }),
    };
    let mut unknown: Vec<_> = params.keys().filter(|name| !matches!(name.as_str(), "base" | "quotes")).collect();
    unknown.sort();
    for name in unknown {
        invalid(name, "is not a parameter of this operation (base and quotes are)");
    }
    match (base, quotes) {
        (Some(base), Some(quotes)) if errors.is_empty() => Ok((base, quotes)),
        _ => Err(Problem::invalid_parameters(errors)),
    }
}

/// 1–20 distinct known codes, separated by commas.
fn quote_list(list: &str) -> Option<Vec<Currency>> {
    let mut quotes = Vec::new();
    for code in list.split(',') {
        let quote = Currency::parse(code)?;
        if quotes.contains(&quote) || quotes.len() == MAX_QUOTES {
            return None;
        }
        quotes.push(quote);
    }
    Some(quotes)
}

/// The `currency` parameter: the currency to convert prices into, if asked.
pub fn target_currency(params: &HashMap<String, String>) -> Result<Option<Currency>, FieldError> {
    match params.get("currency") {
        None => Ok(None),
        Some(code) => Currency::parse(code).map(Some).ok_or_else(|| FieldError {
            field: "currency".to_owned(),
            message: "must be a current ISO 4217 code, such as EUR".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn quotes_are_one_to_twenty_distinct_codes() {
        let twenty = "EUR,GBP,JPY,CHF,AUD,CAD,NZD,SEK,NOK,DKK,PLN,CZK,HUF,RON,BGN,ISK,TRY,ILS,INR,KRW";
        let codes = |list: &str| quote_list(list).map(|q| q.iter().map(|c| c.code()).collect::<Vec<_>>().join(","));
        assert_eq!(codes("GBP,EUR").as_deref(), Some("GBP,EUR"), "in the order asked");
        assert_eq!(codes(twenty).as_deref(), Some(twenty));
        for bad in ["", "EUR,", ",EUR", "EUR,EUR", "eur", "EURO", "XXX", &format!("{twenty},MXN")] {
            assert_eq!(codes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_fault_of_the_rates_query_is_listed() {
        let problem = parse_rates_query(&query(&[("base", "usd"), ("symbols", "EUR")])).unwrap_err();
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["base", "quotes", "symbols"]);
        assert!(parse_rates_query(&query(&[("base", "USD"), ("quotes", "USD,EUR")])).is_ok());
    }
}
