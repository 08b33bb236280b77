//! Compiled templates, cached per (template id, version) in this process. A version never
//! changes once written, so entries need no invalidation: a change through the API makes a
//! new version, which jobs submitted afterwards pin. Reads never hit the database on a hit.

use std::sync::Arc;

use shared::db::Db;

use shared::templates::TemplateContent;

use crate::error::JobError;
use crate::render::Template;

/// One version: its files, and their parsed form when they are a shipped template's (see
/// [`crate::render::is_shipped`]): only those render in-process. Anything else is never parsed
/// here, so an uploaded template cannot loop, exhaust memory or fill typst's process-wide
/// file-id table in the worker; it renders in the bounded child.
pub struct LoadedTemplate {
    pub content: TemplateContent,
    pub compiled: Option<Template>,
}

/// Most compiled versions kept; a compiled template is its files (sources, assets) parsed.
const CAPACITY: u64 = 256;

#[derive(Clone)]
pub struct CompiledTemplates {
    db: Db,
    cache: moka::future::Cache<(String, i64), Arc<LoadedTemplate>>,
}

impl CompiledTemplates {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: moka::future::Cache::new(CAPACITY),
        }
    }

    /// The compiled template for a pinned version: from the cache, else loaded and parsed
    /// once however many jobs ask for it at the same moment.
    pub async fn get(&self, id: &str, version: i64) -> Result<Arc<LoadedTemplate>, JobError> {
        let db = self.db.clone();
        let key = (id.to_owned(), version);
        self.cache
            .try_get_with(key, async move {
                let stored = db.template_version(id, version).await?.ok_or_else(|| {
                    JobError::permanent(
                        "unknown_template",
                        format!("template {id} version {version} does not exist"),
                    )
                })?;
                let content = stored.content;
                let loaded = tokio::task::spawn_blocking(move || {
                    if !crate::render::is_shipped(&content) {
                        return Ok(LoadedTemplate {
                            content,
                            compiled: None,
                        });
                    }
                    Template::compile(content.files()).map(|compiled| LoadedTemplate {
                        content,
                        compiled: Some(compiled),
                    })
                })
                .await
                .map_err(|e| JobError::retryable("internal", e.to_string()))?
                .map_err(|e| JobError::permanent("invalid_template", e.to_string()))?;
                Ok::<_, JobError>(Arc::new(loaded))
            })
            .await
            .map_err(|e: Arc<JobError>| (*e).clone())
    }
}
