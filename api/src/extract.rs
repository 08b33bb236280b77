//! Extractors whose rejections are `ApiError`s: a JSON body, the query string and the path
//! parameters (each reporting the field at fault in the one error body, never axum's plain
//! text), and the authenticated caller.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Unlike axum's `Json`, errors name the field (`photo`, `fields.grade`) and say
/// what was wrong in one stable shape.
pub struct ApiJson<T> {
    pub value: T,
    /// The raw body, for idempotency hashing.
    pub raw: Bytes,
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let ApiBody(raw) = ApiBody::from_request(req, state).await?;
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// A route's body limit, as its `413` tells it (set with axum's limit by [`body_limit`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The layer giving a route a body limit of `bytes`: axum's limit, and the number its `413`
/// names.
pub fn body_limit(
    bytes: usize,
) -> tower::ServiceBuilder<
    tower::layer::util::Stack<
        axum::Extension<BodyLimit>,
        tower::layer::util::Stack<axum::extract::DefaultBodyLimit, tower::layer::util::Identity>,
    >,
> {
    tower::ServiceBuilder::new()
        .layer(axum::extract::DefaultBodyLimit::max(bytes))
        .layer(axum::Extension(BodyLimit(bytes)))
}

/// The raw body, of any type; too large is the JSON `413`, not axum's plain text.
pub struct ApiBody(pub Bytes);

impl<S> FromRequest<S> for ApiBody
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map_or_else(
            || AppState::from_ref(state).config.limits.max_json_body_bytes,
            |l| l.0,
        );
        Bytes::from_request(req, state)
            .await
            .map(ApiBody)
            .map_err(|e| match e {
                e if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge { limit }
                }
                other => ApiError::BadRequest {
                    code: "unreadable_body",
                    message: other.body_text(),
                    field: None,
                },
            })
    }
}

/// Deserialises with the path of the failing field; maps serde's messages to our codes.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    // Syntax first (cheap, allocates nothing), so broken JSON is always a 400 even when a type
    // error would be met before the syntax error.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(raw) {
        return Err(ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the body is not valid JSON: {e}"),
            field: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let parsed = serde_path_to_error::deserialize(&mut de).or_else(|e| {
        // JSON Schema's `integer` is any number without a fraction (`977.0` too), serde's
        // integers only those written without one: read such numbers as integers and try
        // again (only on this error, so other bodies are parsed once).
        if !e
            .inner()
            .to_string()
            .starts_with("invalid type: floating point")
        {
            return Err(e);
        }
        let mut value: serde_json::Value = serde_json::from_slice(raw).map_err(|_| e)?;
        whole_numbers_as_integers(&mut value);
        serde_path_to_error::deserialize(value)
    });
    parsed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::BadRequest {
                    code: "malformed_json",
                    message: format!("the body is not valid JSON: {message}"),
                    field: None,
                }
            }
            _ => {
                // serde reports a missing field at its parent's path; name the field itself.
                if let Some(missing) = message
                    .strip_prefix("missing field `")
                    .and_then(|m| m.split('`').next())
                {
                    let field = if path == "." {
                        missing.to_owned()
                    } else {
                        format!("{path}.{missing}")
                    };
                    return ApiError::invalid_with_code(
                        "missing_field",
                        field.clone(),
                        format!("`{field}` is required"),
                    );
                }
                let field = if path == "." { None } else { Some(path) };
                let message = strip_position(&message);
                if message.starts_with(crate::limited::TOO_MANY) {
                    return ApiError::Invalid {
                        code: "too_many",
                        message: match &field {
                            Some(field) => format!("`{field}`: {message}"),
                            None => message,
                        },
                        field,
                    };
                }
                if message.starts_with("unknown field `") {
                    return ApiError::Invalid {
                        code: "unknown_field",
                        message,
                        field,
                    };
                }
                match field {
                    Some(field) => ApiError::invalid_with_code(
                        "invalid_type",
                        field.clone(),
                        format!("`{field}`: {message}"),
                    ),
                    None => ApiError::Invalid {
                        code: "invalid_body",
                        message,
                        field: None,
                    },
                }
            }
        }
    })
}

/// The query string. Unlike axum's `Query`, a parameter that cannot be read is a JSON
/// `400 invalid_query` naming it.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        parse_query(query).map(ApiQuery)
    }
}

/// Deserialises a query string, naming the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            return ApiError::BadRequest {
                code: "invalid_query",
                message: format!("the query parameter `{missing}` is required"),
                field: Some(missing.to_owned()),
            };
        }
        let field = (path != ".").then_some(path);
        ApiError::BadRequest {
            code: "invalid_query",
            message: match &field {
                Some(f) => format!("the query parameter `{f}` is invalid: {message}"),
                None => format!("the query string cannot be read: {message}"),
            },
            field,
        }
    })
}

/// Path parameters. Unlike axum's `Path`, one that cannot be read (bad percent-encoding,
/// not UTF-8) is a JSON `400 invalid_path` naming it.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                    _ => None,
                };
                Err(ApiError::BadRequest {
                    code: "invalid_path",
                    message: format!("a path parameter cannot be read: {}", e.body_text()),
                    field,
                })
            }
            Err(other) => Err(ApiError::Internal(format!(
                "path parameters: {}",
                other.body_text()
            ))),
        }
    }
}

/// Numbers written with a zero fraction (`977.0`, `1e3`) become integers, everywhere in
/// `value`.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                *value = Value::from(f as i64);
            } else if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
                *value = Value::from(f as u64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// serde_json appends " at line 1 column 42"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

pub use crate::auth::Caller;

/// What a keyed handler starts from: the app's state and the authenticated caller (`401`
/// before anything else is read).
pub struct Keyed {
    pub state: AppState,
    pub caller: Caller,
}

impl FromRequestParts<AppState> for Keyed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Keyed {
            caller: Caller::from_request_parts(parts, state).await?,
            state: state.clone(),
        })
    }
}

/// A keyed handler's row of the caller's own, named by the path's `{id}` (for admins, any
/// owner's): found before the handler runs, after the `401`. Another owner's row is "not
/// found", never "forbidden", so ids cannot be probed.
pub struct Mine<T> {
    pub state: AppState,
    pub caller: Caller,
    pub row: T,
}

/// How [`Mine`] finds a row: from the path's raw text, among those the caller may see.
pub trait Owned: Sized {
    fn find(
        state: &AppState,
        caller: &Caller,
        id: &str,
    ) -> impl Future<Output = Result<Self, ApiError>> + Send;
}

impl<T: Owned> FromRequestParts<AppState> for Mine<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Keyed { state, caller } = Keyed::from_request_parts(parts, state).await?;
        let ApiPath(id) = ApiPath::<String>::from_request_parts(parts, &state).await?;
        let row = T::find(&state, &caller, &id).await?;
        Ok(Mine { state, caller, row })
    }
}

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The rate limiter authenticated the request already.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let state = AppState::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized(
                "missing `Authorization: Bearer <api key>` header",
            ))?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be `Bearer <api key>`",
            ))?;
        state.auth.authenticate(&state.db, secret).await
    }
}
