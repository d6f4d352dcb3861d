//! Building and running the application: the one path both `main` and the
//! tests go through.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use chassis::ops::{self, Ops};
use chassis::proxy::Proxy;
use chassis::tls::{PairError, Tls, TlsAcceptor};
use chassis::{HttpSettings, Shutdown};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::ballast;
use crate::config::Config;
use crate::db::Database;
use crate::fx::Fx;
use crate::idempotency::IdempotencyStore;
use crate::orders::OrderStore;
use crate::products::ProductStore;

/// Why the application did not start. `main` maps each cause to its own
/// exit status, so an operator (or a supervisor) can tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind its address: in use, not an address of
    /// this host, or not permitted.
    #[error("cannot listen on {address} for the {listener} listener: {source}")]
    Bind {
        /// Which listener: `API`, `TLS`, `HTTP/3 (UDP)` or `admin`.
        listener: &'static str,
        /// The address it was given.
        address: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable: unreadable, not PEM,
    /// mismatched or expired.
    #[error("invalid configuration: {}: {source}", .source.setting())]
    Tls {
        /// Which file and why.
        #[from]
        source: PairError,
    },
    /// The database could not be opened, e.g. an SQLite file in a missing
    /// or read-only directory. (PostgreSQL connects lazily: an unreachable
    /// server is not this.)
    #[error("cannot open the database: {0:#}")]
    Database(anyhow::Error),
    /// Anything else, with its context.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What `/readyz` reports: the database decides readiness; the FX
/// provider's breaker is shown, but a provider outage never makes the
/// service unready (it can still do everything else).
struct Readiness {
    db: Database,
    fx: Fx,
    proxy: Proxy,
}

impl ops::Readiness for Readiness {
    fn check(&self) -> ops::BoxFuture<'_, Result<(), String>> {
        ops::Readiness::check(&self.db)
    }

    fn record_gauges(&self) {
        ops::Readiness::record_gauges(&self.db);
        self.proxy.record_gauges();
    }

    fn details(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut details = serde_json::Map::new();
        details.insert("fx".to_owned(), self.fx.details());
        details
    }
}

/// What the API is served on: cleartext, TLS (TCP) and HTTP/3 (QUIC), as
/// configured (`docs/design/tls.md`).
struct ApiListeners {
    /// HTTP/1.1 and h2c.
    plain: Option<TcpListener>,
    /// HTTP/1.1 and HTTP/2 over TLS.
    tls: Option<(TcpListener, TlsAcceptor)>,
    /// HTTP/3, on UDP at the TLS port.
    quic: Option<quinn::Endpoint>,
}

/// A built application: database open, migrations applied, listeners bound.
pub struct Application {
    listeners: ApiListeners,
    admin_listener: TcpListener,
    /// The listeners' bound addresses, read once at bind time.
    api_addr: SocketAddr,
    admin_addr: SocketAddr,
    tls: Option<Tls>,
    api: Router,
    admin: Router,
    http: HttpSettings,
    shutdown: Shutdown,
    metrics: PrometheusHandle,
    keys: IdempotencyStore,
    db: Database,
}

// === impl Application ===

impl Application {
    /// Opens the database, applies migrations (unless turned off), binds
    /// both listeners (port 0 picks a free port) and builds the routers.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let metrics = chassis::telemetry::init_metrics()?;
        let tls = config.tls.settings().map(Tls::load).transpose()?;
        metrics::gauge!("build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        ballast::hold(config.ballast_mb);

        let db = Database::connect(&config.database, config.db_pool_size, config.db_shared_connections)
            .await
            .map_err(StartError::Database)?;
        if config.migrate_on_start {
            let applied = db.migrate().await.context("failed to apply migrations")?;
            tracing::info!(applied, database = db.engine(), "migrations up to date");
        }

        let shutdown = Shutdown::new();
        // A claim older than any request may run belongs to a dead process:
        // a handler never outlives the request timeout (the middleware drops
        // it), and it claims its key after the request began.
        let keys = IdempotencyStore::new(db.clone(), config.idempotency_ttl, config.http.request_timeout);
        let fx = Fx::new(&config.fx).context("cannot build the FX provider's HTTP client")?;
        let state = AppState {
            products: ProductStore::new(db.clone()),
            orders: OrderStore::new(db.clone()),
            keys: keys.clone(),
            fx: fx.clone(),
        };
        let proxy = Proxy::new(config.proxy_routes.clone());
        proxy.spawn_health_checks(shutdown.clone());
        let api = api::router(state, proxy.clone(), &config.http);
        let admin = ops::router(Ops {
            readiness: Arc::new(Readiness { db: db.clone(), fx, proxy }),
            shutdown: shutdown.clone(),
            metrics: metrics.clone(),
        });

        let (listeners, api_addr) = ApiListeners::bind(&config, tls.as_ref()).await?;
        let admin_listener = bind(config.admin_listen, "admin").await?;
        let admin_addr = admin_listener.local_addr().context("the admin listener has no address")?;
        tracing::info!(
            listen = %api_addr,
            tls_listen = listeners.tls_addr().map(tracing::field::display),
            http3 = listeners.quic.is_some(),
            admin_listen = %admin_addr,
            database = db.engine(),
            "listening"
        );
        Ok(Self {
            listeners,
            admin_listener,
            api_addr,
            admin_addr,
            tls,
            api,
            admin,
            http: config.http,
            shutdown,
            metrics,
            keys,
            db,
        })
    }

    /// Where the API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Where TLS is served (TCP; HTTP/3 on UDP at the same port), if it is.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.listeners.tls_addr()
    }

    /// Where probes and metrics listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// Triggering this drains and stops the application.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Serves until shutdown is triggered, then drains the API; the admin
    /// listener keeps answering (`/readyz`: draining) until the drain ends.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let admin_stop = Shutdown::new();
        tokio::spawn(chassis::telemetry::run_metrics_upkeep(self.metrics, admin_stop.clone()));
        let sweep_stop = admin_stop.clone();
        tokio::spawn(self.keys.sweep_until(async move { sweep_stop.wait().await }));
        let admin = tokio::spawn({
            // The admin listener stops when the API drain is over, with no
            // grace of its own: nothing balances traffic onto it.
            let http = HttpSettings { drain_grace: Duration::ZERO, ..self.http.clone() };
            let (listener, router, stop) = (self.admin_listener, self.admin, admin_stop.clone());
            async move { chassis::server::serve(listener, router, &http, stop).await }
        });
        if let Some(tls) = self.tls.clone() {
            tokio::spawn(tls.watch(admin_stop.clone()));
        }
        let served = self.listeners.serve(self.api, self.tls.as_ref(), &self.http, &self.shutdown).await;
        self.db.close().await;
        admin_stop.trigger();
        admin.await.context("admin server task failed")??;
        tracing::info!("stopped");
        served
    }
}

// === impl ApiListeners ===

impl ApiListeners {
    /// Binds what the configuration asks for; returns the listeners and
    /// the address of `listen`.
    async fn bind(config: &Config, tls: Option<&Tls>) -> Result<(Self, SocketAddr), StartError> {
        let Some(tls) = tls else {
            let plain = bind(config.listen, "API").await?;
            let address = plain.local_addr().context("the API listener has no address")?;
            return Ok((Self { plain: Some(plain), tls: None, quic: None }, address));
        };
        let plain = match config.tls.listen {
            Some(_) => Some(bind(config.listen, "API").await?),
            None => None,
        };
        let secure =
            bind(config.tls.listen.unwrap_or(config.listen), if plain.is_some() { "TLS" } else { "API" }).await?;
        let secure_addr = secure.local_addr().context("the TLS listener has no address")?;
        // HTTP/3 on UDP at the port the TCP listener got (port 0 resolved).
        let quic = match tls.settings().http3 {
            true => Some(chassis::server::h3::bind(secure_addr, tls, &config.http).map_err(|error| {
                let source =
                    error.downcast::<std::io::Error>().unwrap_or_else(|e| std::io::Error::other(format!("{e:#}")));
                StartError::Bind { listener: "HTTP/3 (UDP)", address: secure_addr, source }
            })?),
            false => None,
        };
        let api_addr = match &plain {
            Some(plain) => plain.local_addr().context("the API listener has no address")?,
            None => secure_addr,
        };
        let acceptor = tls.acceptor().context("cannot build the TLS configuration")?;
        Ok((Self { plain, tls: Some((secure, acceptor)), quic }, api_addr))
    }

    fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves `api` on every listener until `shutdown`, then drains them
    /// together.
    async fn serve(
        self,
        api: Router,
        tls: Option<&Tls>,
        http: &HttpSettings,
        shutdown: &Shutdown,
    ) -> anyhow::Result<()> {
        let mut servers: Vec<futures_util::future::BoxFuture<'_, anyhow::Result<()>>> = Vec::new();
        if let Some(listener) = self.plain {
            servers.push(chassis::server::serve(listener, api.clone(), http, shutdown.clone()));
        }
        if let (Some((listener, acceptor)), Some(tls)) = (self.tls, tls) {
            let port = listener.local_addr().context("the TLS listener has no address")?.port();
            let app = if self.quic.is_some() { tls.advertise(api.clone(), port) } else { api.clone() };
            servers.push(chassis::server::serve_tls(listener, acceptor, app, http, shutdown.clone()));
            if let Some(endpoint) = self.quic {
                let handshake = tls.settings().handshake_timeout;
                servers.push(chassis::server::h3::serve(endpoint, api, http, handshake, shutdown.clone()));
            }
        }
        futures_util::future::join_all(servers).await.into_iter().collect()
    }
}

/// Applies pending migrations and returns how many ran (`overkill migrate`).
pub async fn migrate(config: &Config) -> Result<usize, StartError> {
    let db = Database::connect(&config.database, 1, 0).await.map_err(StartError::Database)?;
    Ok(db.migrate().await.context("failed to apply migrations")?)
}

async fn bind(address: SocketAddr, listener: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(address).await.map_err(|source| StartError::Bind { listener, address, source })
}
