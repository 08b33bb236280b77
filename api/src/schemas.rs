//! OpenAPI schemas that `derive(ToSchema)` cannot state, referenced by the request types'
//! `schema_with`: enums that are exactly what the domain types parse, and email addresses
//! with their limits. Here, not in `openapi.rs`, so request types need not import the
//! document that lists them.

/// A string that is one of `values`.
fn one_of<V: Into<serde_json::Value>>(
    values: impl IntoIterator<Item = V>,
) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values))
        .build()
}

/// The enums several operations and types share, as named components (`openapi.rs` adds
/// them to the document): one name per set of values, so a generated client has one type
/// for each instead of an inline enum per use (which generators name by place, and which
/// then collide). Each is exactly what its domain type parses.
pub fn named_enums() -> Vec<(&'static str, &'static str, utoipa::openapi::Object)> {
    vec![
        (
            "JobStatus",
            "A job's status: `scheduled` (waiting for `run_at`), `waiting` (a workflow step \
             whose parents have not all ended), `queued`, `running`, `succeeded`, `failed` \
             (will retry), `dead` or `cancelled`.",
            one_of(shared::domain::JobStatus::ALL.map(|s| s.as_str())),
        ),
        (
            "JobKind",
            "What a job does.",
            one_of(shared::domain::JobKind::ALL.map(|k| k.as_str())),
        ),
        (
            "Priority",
            "A job's priority: a worker takes the highest-priority ready job of a queue first. \
             `notification` and `system` are given by quire itself; a request asks with \
             `PriorityChoice`.",
            one_of(shared::domain::Priority::ALL.map(|p| p.as_str())),
        ),
        (
            "WorkflowStatus",
            "A workflow's status: `running`, `completed` (every step ended, none failed that a \
             child did not tolerate), `failed` (a step failed; retrying it runs the workflow \
             again) or `cancelled`.",
            one_of(shared::db::WorkflowStatus::ALL.map(|s| s.as_str())),
        ),
        (
            "CertificateStatus",
            "A certificate's status in the registries.",
            one_of(shared::db::CertificateStatus::ALL.map(|s| s.as_str())),
        ),
        (
            "CertificateSort",
            "The order of a registry listing.",
            one_of(shared::db::CertificateSort::NAMES),
        ),
        (
            "PdfStandard",
            "The standards a PDF is exported to meet: one PDF/A level, PDF/UA-1 (`ua-1`), or \
             both (`a-2a+ua-1`). typst checks the document as it writes it: a template that \
             cannot meet it is refused at upload, and a job that cannot ends `dead` with \
             `nonconforming`.",
            one_of(shared::domain::PdfStandard::names()),
        ),
        (
            "EmailTemplateName",
            "The email templates `POST /v1/emails` knows: exactly the built-in ones.",
            one_of(shared::email_templates::builtin_email_templates()),
        ),
    ]
}

/// A `pdf_standard`.
pub fn pdf_standard() -> utoipa::openapi::Ref {
    named("PdfStandard")
}

/// A `pdf_standard`, or null.
pub fn pdf_standard_or_null() -> utoipa::openapi::Schema {
    named_or_null("PdfStandard")
}

/// A reference to one of [`named_enums`] (or another component).
fn named(name: &str) -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name(name)
}

/// [`named`], or null.
fn named_or_null(name: &str) -> utoipa::openapi::Schema {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(named(name))
        .item(
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Null),
        )
        .into()
}

/// The `status` filter of the job list.
pub fn job_status() -> utoipa::openapi::Ref {
    named("JobStatus")
}

/// A workflow's status, in answers and the list's filter.
pub fn workflow_status() -> utoipa::openapi::Ref {
    named("WorkflowStatus")
}

/// The `kind` filters.
pub fn job_kind() -> utoipa::openapi::Ref {
    named("JobKind")
}

/// A job's kind, or null.
pub fn job_kind_or_null() -> utoipa::openapi::Schema {
    named_or_null("JobKind")
}

/// The `status` filter of the registries.
pub fn certificate_status() -> utoipa::openapi::Ref {
    named("CertificateStatus")
}

/// The `sort` of the registries.
pub fn certificate_sort() -> utoipa::openapi::Ref {
    named("CertificateSort")
}

/// A template's kind, in answers.
pub fn template_kind() -> utoipa::openapi::Ref {
    named("TemplateKind")
}

/// An email address as `EmailAddress` takes it: at most 254 characters.
fn email_address(nullable: bool) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat, SchemaType, Type};
    let kind = if nullable {
        SchemaType::Array(vec![Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(kind)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(shared::domain::MAX_ADDRESS))
        .build()
}

fn email_list(min: usize, description: &str) -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(email_address(false))
        .min_items(Some(min))
        .max_items(Some(crate::email_limits::MAX_RECIPIENTS))
        .description(Some(description))
        .build()
}

/// `to` of an email: 1 to 50 addresses.
pub fn email_to() -> utoipa::openapi::schema::Array {
    email_list(1, "1 to 50 addresses")
}

/// `cc` or `bcc` of an email: at most 50 addresses.
pub fn email_copies() -> utoipa::openapi::schema::Array {
    email_list(0, "At most 50 addresses")
}

/// `reply_to` of an email.
pub fn email_reply_to() -> utoipa::openapi::Object {
    email_address(true)
}

/// The template of an email.
pub fn email_template() -> utoipa::openapi::Ref {
    named("EmailTemplateName")
}

/// A certificate's template fields: at most `MAX_FIELDS` members, each a string, number,
/// boolean or null (`limited::Scalar`); which names a template declares is its own.
pub fn certificate_fields() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let scalar = ObjectBuilder::new().schema_type(SchemaType::from_iter([
        Type::String,
        Type::Number,
        Type::Boolean,
        Type::Null,
    ]));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(shared::templates::MAX_FIELDS))
        .additional_properties(Some(scalar))
        .build()
}

/// An email template's variables: at most 50, any JSON values.
pub fn email_vars() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .max_properties(Some(50))
        .build()
}
