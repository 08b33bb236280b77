//! Template rows and their immutable versions. A change never edits a version: it adds
//! version N+1 and moves the template's `version` pointer, in one transaction, so a job that
//! pinned (id, N) renders the same thing forever.

use std::collections::BTreeMap;

use base64::Engine as _;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::jobs::NewJob;
use super::pool::{Db, DbError};
use super::purges::insert_purge_in;
use crate::cdn::Purging;
use crate::domain::{PdfStandard, Timestamp};
use crate::templates::{
    BuiltinTemplate, FieldSpec, TemplateContent, TemplateKind, TemplateRecord, TemplateVersion,
};

const COLUMNS: &str = "id, name, kind, description, is_public, builtin, owner_id, version, \
     created_at, updated_at, deleted_at";

/// Owner of what the system itself makes: built-in templates and scheduled jobs.
pub const SYSTEM_OWNER: &str = "system";

/// A template to create.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub kind: TemplateKind,
    pub description: String,
    pub is_public: bool,
    pub owner_id: String,
    pub content: TemplateContent,
}

/// A change: `None` keeps the current value. Any change makes a new version.
#[derive(Debug, Clone, Default)]
pub struct TemplateChange {
    pub description: Option<String>,
    pub is_public: Option<bool>,
    pub source: Option<String>,
    pub assets: Option<BTreeMap<String, Vec<u8>>>,
    pub fields: Option<Vec<FieldSpec>>,
    pub pdf_standard: Option<PdfStandard>,
}

#[derive(Debug)]
pub enum CreateOutcome {
    Created(TemplateRecord),
    NameTaken,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// No job referenced it: rows removed.
    Deleted,
    /// Certificates reference it: hidden, name freed, versions kept for them.
    SoftDeleted,
    NotFound,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("template {what}: {e}"))
}

fn record(row: &AnyRow) -> Result<TemplateRecord, DbError> {
    let text = |n: &str| row.try_get::<String, _>(n).map_err(|e| corrupt(n, e));
    let int = |n: &str| row.try_get::<i64, _>(n).map_err(|e| corrupt(n, e));
    Ok(TemplateRecord {
        id: text("id")?,
        name: text("name")?,
        kind: text("kind")?
            .parse()
            .map_err(|e: String| corrupt("kind", e))?,
        description: text("description")?,
        is_public: int("is_public")? != 0,
        builtin: int("builtin")? != 0,
        owner_id: text("owner_id")?,
        version: int("version")?,
        created_at: int("created_at")?,
        updated_at: int("updated_at")?,
        deleted_at: row
            .try_get::<Option<i64>, _>("deleted_at")
            .map_err(|e| corrupt("deleted_at", e))?,
    })
}

fn encode_assets(assets: &BTreeMap<String, Vec<u8>>) -> String {
    let map: BTreeMap<&str, String> = assets
        .iter()
        .map(|(p, b)| {
            (
                p.as_str(),
                base64::engine::general_purpose::STANDARD.encode(b),
            )
        })
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

fn version_row(row: &AnyRow) -> Result<TemplateVersion, DbError> {
    let text = |n: &str| row.try_get::<String, _>(n).map_err(|e| corrupt(n, e));
    let encoded: BTreeMap<String, String> =
        serde_json::from_str(&text("assets")?).map_err(|e| corrupt("assets", e))?;
    let mut assets = BTreeMap::new();
    for (path, b64) in encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| corrupt("asset", e))?;
        assets.insert(path, bytes);
    }
    Ok(TemplateVersion {
        template_id: text("template_id")?,
        version: row.try_get("version").map_err(|e| corrupt("version", e))?,
        content: TemplateContent {
            source: text("source")?,
            assets,
            fields: serde_json::from_str(&text("fields")?).map_err(|e| corrupt("fields", e))?,
            pdf_standard: row
                .try_get::<Option<String>, _>("pdf_standard")
                .map_err(|e| corrupt("pdf_standard", e))?
                .map(|s| s.parse().map_err(|e| corrupt("pdf_standard", e)))
                .transpose()?,
        },
        digest: text("digest")?,
        created_at: row
            .try_get("created_at")
            .map_err(|e| corrupt("created_at", e))?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Db {
    /// Creates a template with version 1.
    pub async fn create_template(&self, new: &NewTemplate) -> Result<CreateOutcome, DbError> {
        self.create_template_as(new, false).await
    }

    async fn create_template_as(
        &self,
        new: &NewTemplate,
        builtin: bool,
    ) -> Result<CreateOutcome, DbError> {
        let now = Timestamp::now().millis();
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO templates ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, NULL) \
             RETURNING {COLUMNS}"
        )))
        .bind(id.clone())
        .bind(new.name.clone())
        .bind(new.kind.as_str())
        .bind(new.description.clone())
        .bind(i64::from(new.is_public))
        .bind(i64::from(builtin))
        .bind(new.owner_id.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Ok(CreateOutcome::NameTaken),
            Err(e) => return Err(e.into()),
        };
        insert_version(&mut tx, &id, 1, &new.content, &new.owner_id, now).await?;
        tx.commit().await?;
        Ok(CreateOutcome::Created(record(&row)?))
    }

    /// Applies a change as a new version. `None` when the template does not exist (or is
    /// deleted). With `purging`, the purge of the answers that depend on the template is
    /// inserted in the same transaction and returned, to be pushed.
    pub async fn update_template(
        &self,
        id: &str,
        change: TemplateChange,
        by: &str,
        purging: Option<Purging>,
    ) -> Result<Option<(TemplateRecord, Option<NewJob>)>, DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        // Moving the pointer first takes the row lock, so concurrent changes serialise.
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE templates SET version = version + 1, updated_at = $2, \
             description = COALESCE($3, description), is_public = COALESCE($4, is_public) \
             WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}"
        )))
        .bind(id.to_owned())
        .bind(now)
        .bind(change.description.clone())
        .bind(change.is_public.map(i64::from))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let template = record(&row)?;
        let previous = sqlx::query(
            "SELECT template_id, version, source, assets, fields, pdf_standard, digest, created_at \
             FROM template_versions WHERE template_id = $1 AND version = $2",
        )
        .bind(id.to_owned())
        .bind(template.version - 1)
        .fetch_one(&mut *tx)
        .await?;
        let previous = version_row(&previous)?.content;
        let content = TemplateContent {
            source: change.source.unwrap_or(previous.source),
            assets: change.assets.unwrap_or(previous.assets),
            fields: change.fields.unwrap_or(previous.fields),
            pdf_standard: change.pdf_standard.or(previous.pdf_standard),
        };
        insert_version(&mut tx, id, template.version, &content, by, now).await?;
        let purge = insert_purge_in(&mut tx, purging, vec![crate::cdn::template(id)]).await?;
        tx.commit().await?;
        Ok(Some((template, purge)))
    }

    /// A live template by id or by name.
    pub async fn find_template(&self, id_or_name: &str) -> Result<Option<TemplateRecord>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM templates WHERE (id = $1 OR name = $1) AND deleted_at IS NULL"
        )))
        .bind(id_or_name.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// One version's content, deleted templates included (queued jobs still need it).
    pub async fn template_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<TemplateVersion>, DbError> {
        let row = sqlx::query(
            "SELECT template_id, version, source, assets, fields, pdf_standard, digest, created_at \
             FROM template_versions WHERE template_id = $1 AND version = $2",
        )
        .bind(id.to_owned())
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(version_row).transpose()
    }

    /// Every version of a template, newest first: number, digest, when, and how many
    /// fields it declares (not the sources).
    pub async fn template_versions(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, String, i64, usize)>, DbError> {
        let rows = sqlx::query(
            "SELECT version, digest, created_at, fields FROM template_versions \
             WHERE template_id = $1 ORDER BY version DESC",
        )
        .bind(id.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let fields: String = r.try_get("fields")?;
                let declared = serde_json::from_str::<Vec<serde_json::Value>>(&fields)
                    .map(|f| f.len())
                    .unwrap_or(0);
                Ok((
                    r.try_get("version")?,
                    r.try_get("digest")?,
                    r.try_get("created_at")?,
                    declared,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Live templates by name; only public ones when `public_only`.
    pub async fn list_templates(&self, public_only: bool) -> Result<Vec<TemplateRecord>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM templates WHERE deleted_at IS NULL AND ($1 = 0 OR is_public = 1) \
             ORDER BY name"
        )))
        .bind(i64::from(public_only))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record).collect()
    }

    /// Deletes a template, softly when certificates reference it. With `purging`, the purge
    /// of the answers that depend on the template is inserted in the same transaction.
    pub async fn delete_template(
        &self,
        id: &str,
        purging: Option<Purging>,
    ) -> Result<(DeleteOutcome, Option<NewJob>), DbError> {
        let tags = || vec![crate::cdn::template(id)];
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        let soft = sqlx::query(
            "UPDATE templates SET deleted_at = $2, updated_at = $2 \
             WHERE id = $1 AND deleted_at IS NULL \
             AND (EXISTS (SELECT 1 FROM certificates WHERE template_id = $1) \
                  OR EXISTS (SELECT 1 FROM batches WHERE template_id = $1))",
        )
        .bind(id.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if soft.rows_affected() > 0 {
            let purge = insert_purge_in(&mut tx, purging, tags()).await?;
            tx.commit().await?;
            return Ok((DeleteOutcome::SoftDeleted, purge));
        }
        sqlx::query(
            "DELETE FROM template_versions WHERE template_id = $1 \
             AND EXISTS (SELECT 1 FROM templates WHERE id = $1 AND deleted_at IS NULL)",
        )
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        let hard = sqlx::query("DELETE FROM templates WHERE id = $1 AND deleted_at IS NULL")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if hard.rows_affected() == 0 {
            tx.commit().await?;
            return Ok((DeleteOutcome::NotFound, None));
        }
        let purge = insert_purge_in(&mut tx, purging, tags()).await?;
        tx.commit().await?;
        Ok((DeleteOutcome::Deleted, purge))
    }

    /// Makes the database hold the shipped built-in templates: creates missing ones and adds
    /// a version when the shipped files changed. Safe to run from every process at once.
    pub async fn seed_builtin_templates(
        &self,
        builtins: &[BuiltinTemplate],
    ) -> Result<(), DbError> {
        for builtin in builtins {
            let digest = builtin.content.digest();
            let current = match self.find_template(&builtin.name).await? {
                Some(t) => t,
                None => {
                    let new = NewTemplate {
                        name: builtin.name.clone(),
                        kind: builtin.kind,
                        description: builtin.description.clone(),
                        is_public: true,
                        owner_id: SYSTEM_OWNER.to_owned(),
                        content: builtin.content.clone(),
                    };
                    // NameTaken: another process seeded it meanwhile; fine either way.
                    self.create_template_as(&new, true).await?;
                    continue;
                }
            };
            if !current.builtin {
                continue; // An admin's template took the name: leave it alone.
            }
            let shipped = self
                .template_version(&current.id, current.version)
                .await?
                .map(|v| v.digest);
            if shipped.as_deref() != Some(digest.as_str()) {
                tracing::info!(template = %builtin.name, "built-in template changed; adding a version");
                self.update_template(
                    &current.id,
                    TemplateChange {
                        description: Some(builtin.description.clone()),
                        source: Some(builtin.content.source.clone()),
                        assets: Some(builtin.content.assets.clone()),
                        fields: Some(builtin.content.fields.clone()),
                        pdf_standard: builtin.content.pdf_standard,
                        ..TemplateChange::default()
                    },
                    SYSTEM_OWNER,
                    // A shipped template's new version changes no public answer.
                    None,
                )
                .await?;
            }
        }
        Ok(())
    }
}

async fn insert_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    version: i64,
    content: &TemplateContent,
    by: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO template_versions \
         (template_id, version, source, assets, fields, pdf_standard, digest, created_by, \
          created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_owned())
    .bind(version)
    .bind(content.source.clone())
    .bind(encode_assets(&content.assets))
    .bind(serde_json::to_string(&content.fields).unwrap_or_else(|_| "[]".into()))
    .bind(content.pdf_standard.map(|s| s.to_string()))
    .bind(content.digest())
    .bind(by.to_owned())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
