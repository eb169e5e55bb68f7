//! The embedded web UI: `GET /` (index.html) and `GET /assets/{path}` (files of
//! `crates/agent/web/`), and the JSON 404 for every other unknown path.
//!
//! Owns: serving embedded files with their content types. Must not touch: the files themselves
//! (written by the UI work) or security headers (set for every response in `api::app`).

use axum::extract::Path;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};

use super::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

fn serve(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            (
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                file.data.into_owned(),
            )
                .into_response()
        }
        None => ApiError::NotFound(format!("Not found: /{path}")).into_response(),
    }
}

/// The web UI.
#[utoipa::path(get, path = "/", tag = "agent", security(),
    responses((status = 200, description = "The web UI", content_type = "text/html")))]
pub async fn index() -> Response {
    serve("index.html")
}

/// A UI asset (`crates/agent/web/<path>`).
pub async fn asset(Path(path): Path<String>) -> Response {
    if path.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return ApiError::NotFound(format!("Not found: /assets/{path}")).into_response();
    }
    serve(&path)
}

/// JSON 404 for unknown paths.
pub async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(super::ErrorBody {
            error: format!("Not found: {}", uri.path()),
        }),
    )
        .into_response()
}

/// Adds `GET /assets/{path}` (a wildcard route, which the path macro cannot express).
pub fn document_assets(doc: &mut utoipa::openapi::OpenApi) {
    let op = OperationBuilder::new()
        .tag("agent")
        .summary(Some("A UI asset (JavaScript, CSS, images)"))
        .operation_id(Some("asset"))
        .security(utoipa::openapi::security::SecurityRequirement::default())
        .parameter(
            ParameterBuilder::new()
                .name("path")
                .parameter_in(ParameterIn::Path)
                .required(utoipa::openapi::Required::True)
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                ))),
        )
        .response(
            "200",
            ResponseBuilder::new()
                .description("The file")
                .content("application/octet-stream", ContentBuilder::new().build()),
        )
        .response("404", ResponseBuilder::new().description("No such asset"))
        .build();
    doc.paths.paths.insert(
        "/assets/{path}".to_string(),
        PathItem::new(HttpMethod::Get, op),
    );
}
