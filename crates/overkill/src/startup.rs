//! Building and running the application: the one path both `main` and the
//! tests go through.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use chassis::ops::{self, Ops};
use chassis::{HttpSettings, Shutdown};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use utoipa::openapi::OpenApi;

use crate::api::{self, AppState};
use crate::ballast;
use crate::config::Config;
use crate::db::Database;
use crate::products::ProductStore;

/// A built application: database open, migrations applied, listeners bound.
pub struct Application {
    api_listener: TcpListener,
    admin_listener: TcpListener,
    api: Router,
    admin: Router,
    http: HttpSettings,
    shutdown: Shutdown,
    openapi: Arc<OpenApi>,
    metrics: PrometheusHandle,
    db: Database,
}

// === impl Application ===

impl Application {
    /// Opens the database, applies migrations (unless turned off), binds
    /// both listeners (port 0 picks a free port) and builds the routers.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let metrics = chassis::telemetry::init_metrics()?;
        metrics::gauge!("build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        ballast::hold(config.ballast_mb);

        let db = Database::connect(&config.database, config.db_pool_size).await?;
        if config.migrate_on_start {
            let applied = db.migrate().await.context("failed to apply migrations")?;
            tracing::info!(applied, database = db.engine(), "migrations up to date");
        }

        let shutdown = Shutdown::new();
        let state = AppState { products: ProductStore::new(db.clone()) };
        let (api, openapi) = api::router(state, &config.http);
        let admin =
            ops::router(Ops { readiness: Arc::new(db.clone()), shutdown: shutdown.clone(), metrics: metrics.clone() });

        let api_listener = bind(config.listen, "API").await?;
        let admin_listener = bind(config.admin_listen, "admin").await?;
        tracing::info!(
            listen = %api_listener.local_addr()?,
            admin_listen = %admin_listener.local_addr()?,
            database = db.engine(),
            "listening"
        );
        Ok(Self { api_listener, admin_listener, api, admin, http: config.http, shutdown, openapi, metrics, db })
    }

    /// Where the API listens.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Where probes and metrics listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Triggering this drains and stops the application.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The OpenAPI document the API serves.
    pub fn openapi(&self) -> Arc<OpenApi> {
        self.openapi.clone()
    }

    /// Serves until shutdown is triggered, then drains the API; the admin
    /// listener keeps answering (`/readyz`: draining) until the drain ends.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let admin_stop = Shutdown::new();
        tokio::spawn(chassis::telemetry::run_metrics_upkeep(self.metrics, admin_stop.clone()));
        let admin = tokio::spawn({
            let (listener, router, http, stop) =
                (self.admin_listener, self.admin, self.http.clone(), admin_stop.clone());
            async move { chassis::server::serve(listener, router, &http, stop).await }
        });
        let served = chassis::server::serve(self.api_listener, self.api, &self.http, self.shutdown).await;
        self.db.close().await;
        admin_stop.trigger();
        admin.await.context("admin server task failed")??;
        tracing::info!("stopped");
        served
    }
}

/// Applies pending migrations and returns how many ran (`overkill migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<usize> {
    let db = Database::connect(&config.database, 1).await?;
    db.migrate().await.context("failed to apply migrations")
}

async fn bind(address: SocketAddr, name: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("failed to bind the {name} listener to {address}"))
}
