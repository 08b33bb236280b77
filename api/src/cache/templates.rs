//! Templates through the cache layer: the current version of each template by id and by
//! name, and the list of public templates, so a submission does not read the template store
//! on every request. Compiled typst state is cached separately per (id, version) in the
//! worker, where versions are immutable and need no invalidation.

use std::sync::Arc;

use shared::db::DbError;
use shared::templates::{TemplateContent, TemplateRecord};

use super::Caches;

/// A template with its current version's content.
#[derive(Debug, Clone)]
pub struct CachedTemplate {
    pub record: TemplateRecord,
    pub content: TemplateContent,
}

/// A template by id or by name; `None` remembers that there is none.
pub type TemplateEntry = Option<Arc<CachedTemplate>>;
/// The public templates.
pub type ListEntry = Arc<Vec<TemplateRecord>>;

/// The tags an entry looked up by `id_or_name` depends on: the template's id and name (a
/// missing one: whatever could create it under that id or name).
fn tags(id_or_name: &str, entry: &TemplateEntry) -> Vec<String> {
    let mut tags = vec![
        format!("template:{id_or_name}"),
        format!("template-name:{id_or_name}"),
    ];
    if let Some(t) = entry {
        tags.push(format!("template:{}", t.record.id));
        tags.push(format!("template-name:{}", t.record.name));
    }
    tags
}

#[derive(Clone)]
pub struct TemplateCache {
    caches: Caches,
}

impl TemplateCache {
    pub fn new(caches: Caches) -> Self {
        Self { caches }
    }

    /// A live template by id or name with its current version. `use_cache = false` reads
    /// the database (and refreshes the entry).
    pub async fn get(&self, id_or_name: &str, use_cache: bool) -> Result<TemplateEntry, DbError> {
        let tier = &self.caches.inner.templates;
        let key = id_or_name.to_owned();
        let loading = load(&self.caches, id_or_name);
        let tags = |entry: &TemplateEntry| Some(tags(id_or_name, entry));
        if use_cache {
            tier.load(&key, loading, tags).await
        } else {
            tier.reload(key, loading, tags).await
        }
    }

    /// Live public templates by name.
    pub async fn public_list(&self, use_cache: bool) -> Result<ListEntry, DbError> {
        let tier = &self.caches.inner.template_lists;
        let loading = async {
            let list = self.caches.inner.db.list_templates(true).await?;
            Ok(Arc::new(list))
        };
        let tags = |_: &ListEntry| Some(vec!["templates".into()]);
        if use_cache {
            tier.load(&(), loading, tags).await
        } else {
            tier.reload((), loading, tags).await
        }
    }

    /// After a change of `template` committed: every API process has dropped its entries
    /// when this returns (see [`Caches::settle`]).
    pub async fn changed(&self, template: &TemplateRecord) {
        let tags = [
            format!("template:{}", template.id),
            format!("template-name:{}", template.name),
            "templates".to_owned(),
        ];
        self.caches.settle(&tags).await;
    }
}

async fn load(caches: &Caches, id_or_name: &str) -> Result<TemplateEntry, DbError> {
    let db = &caches.inner.db;
    let Some(record) = db.find_template(id_or_name).await? else {
        return Ok(None);
    };
    let version = db
        .template_version(&record.id, record.version)
        .await?
        .ok_or_else(|| {
            DbError::Corrupt(format!("template {} has no current version", record.id))
        })?;
    Ok(Some(Arc::new(CachedTemplate {
        record,
        content: version.content,
    })))
}
