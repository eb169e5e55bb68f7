//! The REST API (axum): routes, shared state, OpenAPI document, static UI.
//!
//! Owns: [`app`] (the whole router, so tests drive it with `oneshot`), [`AppState`], the
//! OpenAPI document ([`openapi`]), the body limit and the security headers. One module per
//! resource; `auth` guards everything. Must not touch: runtime state (ask the supervisor) or SQL
//! (ask the store, off the async threads via [`AppState::db`]).

pub mod auth;
pub mod error;
pub mod events;
pub mod health;
pub mod jump_hosts;
pub mod known_hosts;
pub mod login;
pub mod metrics;
pub mod profiles;
pub mod sessions;
pub mod tunnels;
pub mod ui;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::Router;
use tokio_util::sync::CancellationToken;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::datadir::DataDir;
use crate::store::{Store, StoreError};
use crate::supervisor::Supervisor;
pub use error::{ApiError, ApiJson, ErrorBody};
pub use login::LoginManager;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Name of the UI session cookie.
pub const SESSION_COOKIE: &str = "portwarden_session";

/// Everything a handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    supervisor: Supervisor,
    data_dir: DataDir,
    api_token: Zeroizing<String>,
    login: LoginManager,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Assembles the state. `shutdown` ends long-lived responses (SSE) when cancelled.
    pub fn new(
        store: Arc<Store>,
        supervisor: Supervisor,
        data_dir: DataDir,
        api_token: Zeroizing<String>,
        shutdown: CancellationToken,
    ) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                supervisor,
                data_dir,
                api_token,
                login: LoginManager::new(),
                shutdown,
            }),
        }
    }

    /// The store (synchronous; prefer [`AppState::db`] from async code).
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The supervisor handle.
    pub fn supervisor(&self) -> &Supervisor {
        &self.inner.supervisor
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.inner.data_dir
    }

    /// The login-code and UI-session manager (tests advance its clock).
    pub fn login(&self) -> &LoginManager {
        &self.inner.login
    }

    /// The shutdown token.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub(crate) fn api_token(&self) -> &str {
        &self.inner.api_token
    }

    /// A fresh one-time login link for the UI of an agent listening on `addr` (what `serve`
    /// prints at start-up).
    pub fn login_url(&self, addr: std::net::SocketAddr) -> String {
        format!("http://{addr}/login?code={}", self.inner.login.issue_code())
    }

    /// Runs a store call on the blocking pool.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.inner.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "portwarden agent",
        description = "Local agent that keeps SSH port forwards up. Every endpoint except \
            /health, /login and the UI needs `Authorization: Bearer <api-token>` or the \
            `portwarden_session` cookie. Errors are `{\"error\": \"…\"}`."
    ),
    modifiers(&SecurityAddon),
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "tunnels"), (name = "profiles"), (name = "jump-hosts"), (name = "sessions"),
        (name = "known-hosts"), (name = "agent")
    )
)]
struct ApiDoc;

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tunnels::list, tunnels::create))
        .routes(routes!(tunnels::status))
        .routes(routes!(tunnels::start_all))
        .routes(routes!(tunnels::stop_all))
        .routes(routes!(tunnels::get_one, tunnels::update, tunnels::delete))
        .routes(routes!(tunnels::start))
        .routes(routes!(tunnels::stop))
        .routes(routes!(tunnels::reconnect))
        .routes(routes!(profiles::list, profiles::create))
        .routes(routes!(
            profiles::get_one,
            profiles::update,
            profiles::delete
        ))
        .routes(routes!(jump_hosts::list, jump_hosts::create))
        .routes(routes!(
            jump_hosts::get_one,
            jump_hosts::update,
            jump_hosts::delete
        ))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(
            sessions::get_one,
            sessions::update,
            sessions::delete
        ))
        .routes(routes!(sessions::connect))
        .routes(routes!(sessions::disconnect))
        .routes(routes!(
            known_hosts::list,
            known_hosts::trust,
            known_hosts::forget
        ))
        .routes(routes!(events::events))
        .routes(routes!(metrics::metrics))
        .routes(routes!(health::health))
        .routes(routes!(health::openapi_json))
        .routes(routes!(login::create_link))
        .routes(routes!(login::login))
        .routes(routes!(ui::index))
}

/// The OpenAPI document of every route [`app`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    ui::document_assets(&mut doc);
    doc
}

/// The whole HTTP app: every route, the auth guard, the body limit and security headers.
pub fn app(state: AppState) -> Router {
    let (router, _doc) = api_router().split_for_parts();
    router
        .route("/assets/{*path}", axum::routing::get(ui::asset))
        .fallback(ui::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .layer(
            // The span names the path only: a query string may carry a login code.
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
                },
            ),
        )
        .with_state(state)
}

async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
