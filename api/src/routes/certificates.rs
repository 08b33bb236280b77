//! `/v1/certificates`: issue (validate against the template's declared fields, store images,
//! insert the job with its registry row, push its id), the registries, and revocation.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::db::{
    CertificateCursor, CertificateFilter, CertificateRow, CertificateSort, CertificateStatus,
    RevokeOutcome, SortKey,
};
use shared::domain::{CalendarDate, JobId};
use utoipa::{IntoParams, ToSchema};

use crate::cache::RegistryPage;
use crate::certificate_order::{self, CertificateRequest};
use crate::email_limits::notify_charge;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Caller, Keyed};
use crate::paging::{Listing, PageQuery};
use crate::problems::Problems;
use crate::state::AppState;
use crate::submit::{
    self, Accepted, IdempotencyKeyHeader, JsonSubmission, NotifyResponses, Submission,
    SubmissionResponses, resolve_template,
};
use crate::views::{CertificatePage, CertificateView, SubmittedView, bad_query};

/// Submit a certificate job.
#[utoipa::path(post, path = "/v1/certificates", operation_id = "submit_certificate", tag = "certificates", request_body = CertificateRequest,
    params(IdempotencyKeyHeader),
    responses((status = 202, description = "Accepted; poll the Location", body = SubmittedView), SubmissionResponses, NotifyResponses))]
pub async fn submit(
    State(state): State<AppState>,
    req: JsonSubmission<CertificateRequest>,
) -> Result<Accepted, ApiError> {
    let charge = notify_charge(&state, &req.caller, req.body.notify.as_ref())?;
    let placement = req.body.placement(&req.caller)?;
    let callback_url =
        crate::callbacks::checked(&state, &req.caller, req.body.callback_url.clone()).await?;
    let template = resolve_template(&state, &req.caller, req.body.template.as_deref()).await?;
    let order = certificate_order::check(&state, &req.caller.key_id, &template, req.body).await?;
    let job = Submission {
        payload: &order.payload,
        inputs: order.inputs,
        certificate: Some(&order.certificate),
        charge: charge.as_ref(),
        placement: Some(placement),
        callback_url,
    };
    submit::submit(&state, &req.caller, req.idempotency, job).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegistryQuery {
    /// Template name or id.
    pub template: Option<String>,
    /// `pending`, `valid`, `expired`, `revoked`, `failed` or `cancelled`.
    #[param(schema_with = crate::schemas::certificate_status)]
    pub status: Option<String>,
    /// Case-insensitive part of the recipient's name.
    #[param(max_length = 200)]
    pub recipient: Option<String>,
    /// Issued on or after, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub issued_from: Option<String>,
    /// Issued on or before, `YYYY-MM-DD`.
    #[param(format = Date)]
    pub issued_to: Option<String>,
    /// Batch id: only this batch's certificates.
    pub batch: Option<String>,
    /// `-created_at` (default), `created_at`, `-issued_on` or `issued_on`.
    #[param(schema_with = crate::schemas::certificate_sort)]
    pub sort: Option<String>,
}

/// Cursor text: `<created_at ms>_<issued_on>_<job id>`, the last row's place in every order,
/// so one cursor serves whichever `sort` the next request names. Its syntax is the document's
/// pattern for `cursor` ([`CURSOR_PATTERN`]); `decode_cursor` takes exactly that.
fn encode_cursor(row: &CertificateRow) -> String {
    format!("{}_{}_{}", row.created_at, row.issued_on, row.job_id)
}

/// See [`encode_cursor`].
pub const CURSOR_PATTERN: &str = concat!(
    "^[0-9]{1,18}_[0-9]{4}-[0-9]{2}-[0-9]{2}_",
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
);

fn decode_cursor(raw: &str, sort: CertificateSort) -> Option<CertificateCursor> {
    let mut parts = raw.splitn(3, '_');
    let (created, issued, id) = (parts.next()?, parts.next()?, parts.next()?);
    let created = shared::db::cursor_millis(created)?;
    let job_id = shared::db::cursor_id(id)?;
    // `YYYY-MM-DD` by shape: the key is compared with the rows' `issued_on` as text.
    let date_shaped = issued.len() == 10
        && issued.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !date_shaped {
        return None;
    }
    let key = match sort {
        CertificateSort::CreatedDesc | CertificateSort::CreatedAsc => SortKey::Int(created),
        CertificateSort::IssuedDesc | CertificateSort::IssuedAsc => {
            SortKey::Text(issued.to_owned())
        }
    };
    Some(CertificateCursor { key, job_id })
}

/// One page of a registry, with the template it was filtered by (resolved to its id).
async fn registry(
    state: &AppState,
    mut filter: CertificateFilter,
    q: RegistryQuery,
    page: PageQuery,
    public: bool,
) -> Result<(Json<CertificatePage>, Option<String>), ApiError> {
    let date = |field: &str, raw: &Option<String>| -> Result<Option<CalendarDate>, ApiError> {
        raw.as_deref()
            .map(|s| {
                s.parse::<CalendarDate>()
                    .map_err(|_| bad_query(field, format!("`{field}` must be YYYY-MM-DD")))
            })
            .transpose()
    };
    filter.issued_from = date("issued_from", &q.issued_from)?;
    filter.issued_to = date("issued_to", &q.issued_to)?;
    filter.status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<CertificateStatus>()
                .map_err(|e| bad_query("status", format!("`status` {e}")))
        })
        .transpose()?;
    if let Some(r) = q.recipient.as_deref() {
        // As sent, like the document's `maxLength`.
        if r.chars().count() > 200 {
            return Err(bad_query(
                "recipient",
                "`recipient` is at most 200 characters",
            ));
        }
        if !r.trim().is_empty() {
            filter.recipient = Some(r.trim().to_owned());
        }
    }
    if !public {
        filter.batch_id = q.batch.as_deref().map(|b| b.trim().to_owned());
    }
    let mut resolved = None;
    if let Some(t) = q.template.as_deref() {
        // An unknown template matches nothing rather than failing: names can be deleted.
        filter.template_id = Some(match state.templates.get(t.trim(), true).await? {
            Some(found) => {
                resolved = Some(found.record.id.clone());
                found.record.id.clone()
            }
            None => t.trim().to_owned(),
        });
    }
    let sort = match q.sort.as_deref() {
        None => CertificateSort::default(),
        Some(s) => CertificateSort::parse(s).ok_or_else(|| {
            bad_query(
                "sort",
                format!(
                    "`sort` must be one of {}",
                    CertificateSort::NAMES.join(", ")
                ),
            )
        })?,
    };
    let page = page.checked(|text| decode_cursor(text, sort))?;
    let mut rows = state
        .db
        .list_certificates(
            &filter,
            sort,
            page.after.as_ref(),
            page.fetch(),
            CalendarDate::today(),
        )
        .await?;
    let next_cursor = page.next_cursor(&mut rows, encode_cursor);
    let page = Json(CertificatePage {
        certificates: rows
            .iter()
            .map(|r| CertificateView::from_row(r, &state.base_url, public))
            .collect(),
        next_cursor,
    });
    Ok((page, resolved))
}

/// The caller's certificates (every owner's for admin keys).
#[utoipa::path(get, path = "/v1/certificates", operation_id = "list_certificates", tag = "certificates", params(RegistryQuery, PageQuery),
    responses((status = 200, body = CertificatePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(mine: Listing<RegistryQuery>) -> Result<Json<CertificatePage>, ApiError> {
    let filter = CertificateFilter {
        owner_id: mine.caller.owner_filter().map(str::to_owned),
        ..CertificateFilter::default()
    };
    let (page, _) = registry(&mine.state, filter, mine.filter, mine.page, false).await?;
    Ok(page)
}

/// Certificates issued with `is_public: true` and rendered; no key needed. With CDN purging
/// configured, a page is cacheable for 60 s and tagged (`registry`, and `template-<id>` when
/// filtered by a template); a revocation or deletion purges it.
#[utoipa::path(get, path = "/v1/certificates/public", operation_id = "list_public_certificates", tag = "certificates", params(RegistryQuery, PageQuery),
    responses((status = 200, body = CertificatePage,
            headers(("Cache-Control" = String, description = "With CDN purging configured: `public, max-age=60`"),
                ("Surrogate-Key" = String, description = "With CDN purging configured: cache tags, space-separated: `registry`, and `template-<id>` when filtered by a template"),
                ("Cache-Tag" = String, description = "The same tags, comma-separated"))),
        (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_public(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<RegistryQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let filter = CertificateFilter {
        public_only: true,
        ..CertificateFilter::default()
    };
    // Through the cache layer: a page is dropped by any change to the registry or to the
    // templates; today's date is in the key, since statuses expire with it.
    let key = format!("{}|{q:?}|{page:?}", CalendarDate::today());
    let loading = async {
        let (Json(page), template) = registry(&state, filter, q, page, true).await?;
        let body = serde_json::to_vec(&page).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok::<_, ApiError>(RegistryPage {
            body: body.into(),
            template,
        })
    };
    let page = state
        .caches
        .registry()
        .load(&key, loading, |_| {
            Some(vec!["registry".into(), "templates".into()])
        })
        .await?;
    let json = [(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    )];
    // Unpurged, a CDN could list a revoked certificate as valid: CDN headers only with purging.
    if state.config.purging().is_none() {
        return Ok((json, page.body).into_response());
    }
    Ok((
        json,
        crate::public_cache::registry(page.template.as_deref()).headers(),
        page.body,
    )
        .into_response())
}

/// One certificate (owner or admin).
#[utoipa::path(get, path = "/v1/certificates/{id}", operation_id = "get_certificate", tag = "certificates",
    params(("id" = uuid::Uuid, Path, description = "The certificate's job id")),
    responses((status = 200, body = CertificateView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = crate::views::parse_id(&id).map_err(|_| ApiError::NotFound("certificate"))?;
    Ok(Json(view_of(&state, &caller, id).await?))
}

/// The caller's certificate (any, for admins) as a view; another owner's is not found.
async fn view_of(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<CertificateView, ApiError> {
    let row = state
        .db
        .get_certificate(id, caller.owner_filter())
        .await?
        .ok_or(ApiError::NotFound("certificate"))?;
    Ok(CertificateView::from_row(&row, &state.base_url, false))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Shown to anyone who verifies the certificate.
    #[schema(example = "Issued in error", max_length = 500)]
    pub reason: String,
}

/// Revoke a certificate (owner or admin). Verification then answers `revoked` with the reason.
#[utoipa::path(post, path = "/v1/certificates/{id}/revoke", operation_id = "revoke_certificate", tag = "certificates",
    request_body = RevokeRequest,
    params(("id" = uuid::Uuid, Path, description = "The certificate's job id")),
    responses((status = 200, body = CertificateView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn revoke(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
    body: ApiJson<RevokeRequest>,
) -> Result<Json<CertificateView>, ApiError> {
    let id = crate::views::parse_id(&id).map_err(|_| ApiError::NotFound("certificate"))?;
    let mut p = Problems::default();
    let reason = p.text("reason", &body.value.reason, 500);
    p.into_result()?;
    let reason = reason.unwrap_or_default();
    let (outcome, purge) = state
        .db
        .revoke_certificate(id, caller.owner_filter(), &reason, state.config.purging())
        .await?;
    state.queue.push_inserted(purge.as_ref()).await;
    match outcome {
        RevokeOutcome::NotFound => Err(ApiError::NotFound("certificate")),
        RevokeOutcome::AlreadyRevoked => Err(ApiError::Conflict {
            code: "already_revoked",
            message: "this certificate is already revoked".into(),
        }),
        RevokeOutcome::Revoked => {
            let view = view_of(&state, &caller, id).await?;
            // Every API process drops its cached verification and registry pages as this
            // commits; the answer waits until they all have (see `cache`).
            let tags = [
                format!("cert:{}", view.verification_code),
                "registry".into(),
            ];
            state.caches.settle(&tags).await;
            Ok(Json(view))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_holds_the_row_in_every_order() {
        let id = JobId::new();
        let text = format!("1764000000000_2026-11-21_{id}");
        assert!(regex::Regex::new(CURSOR_PATTERN).unwrap().is_match(&text));
        assert_eq!(
            decode_cursor(&text, CertificateSort::IssuedDesc),
            Some(CertificateCursor {
                key: SortKey::Text("2026-11-21".into()),
                job_id: id
            })
        );
        assert_eq!(
            decode_cursor(&text, CertificateSort::CreatedAsc),
            Some(CertificateCursor {
                key: SortKey::Int(1_764_000_000_000),
                job_id: id
            })
        );
    }

    #[test]
    fn anything_but_the_documented_syntax_is_refused() {
        let id = JobId::new();
        let pattern = regex::Regex::new(CURSOR_PATTERN).unwrap();
        for bad in [
            String::new(),
            "garbage".to_owned(),
            format!("-5_2026-11-21_{id}"),
            format!("+5_2026-11-21_{id}"),
            format!("5_2026-11-21_{}", id.to_string().replace('-', "")),
            format!("5_x' OR 1=1_{id}"),
            format!("5_2026/11/21_{id}"),
            format!("1234567890123456789_2026-11-21_{id}"),
        ] {
            assert!(!pattern.is_match(&bad), "{bad}");
            for sort in [CertificateSort::CreatedDesc, CertificateSort::IssuedAsc] {
                assert_eq!(decode_cursor(&bad, sort), None, "{bad}");
            }
        }
    }
}
