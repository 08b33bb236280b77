//! `quire templates`: list, show, push a template directory (created, or a new version of
//! the template of that name), preview a page as PNG or PDF.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Subcommand;
use comfy_table::Cell;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::failure::Failure;
use super::http::{Api, segment};
use super::output::{self, Out, text, when};

/// The typst source of a template directory.
const MAIN: &str = "main.typ";
/// Its description, fields, kind and visibility (optional).
const META: &str = "template.json";

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Templates the key may use.
    List,
    /// One template: version, fields, assets; --source prints its typst source.
    Show {
        /// Template id or name.
        id: String,
        #[arg(long)]
        source: bool,
    },
    /// Uploads a directory (admin): `main.typ`, an optional `template.json` (description,
    /// fields, kind, is_public) and every other file as an asset at `/<path>`. Creates the
    /// template, or makes a new version of the one of that name.
    Push {
        dir: PathBuf,
        /// [default: the directory's name]
        #[arg(long)]
        name: Option<String>,
    },
    /// Renders a template with sample values (or those given): page 1 as PNG, or the PDF when
    /// --out ends in `.pdf`.
    Preview {
        /// Template id or name.
        id: String,
        #[arg(long, short, value_name = "FILE")]
        out: PathBuf,
        #[arg(long)]
        recipient: Option<String>,
        #[arg(long)]
        course: Option<String>,
        /// A declared field: NAME=TEXT or NAME:=JSON (repeatable).
        #[arg(long = "field", value_name = "NAME=VALUE", value_parser = super::parse_assignment)]
        fields: Vec<(String, Value)>,
    },
}

pub async fn run(api: &Api, out: Out, command: TemplatesCommand) -> Result<(), Failure> {
    match command {
        TemplatesCommand::List => {
            let list = api.get("/v1/templates").await?;
            out.either(&list, || {
                let mut table = output::table(&[
                    "NAME", "KIND", "VERSION", "FIELDS", "PUBLIC", "BUILT-IN", "UPDATED",
                ]);
                for t in list["templates"].as_array().into_iter().flatten() {
                    table.add_row(vec![
                        Cell::new(text(&t["name"])),
                        Cell::new(text(&t["kind"])),
                        Cell::new(text(&t["version"])),
                        Cell::new(field_names(t)),
                        Cell::new(text(&t["is_public"])),
                        Cell::new(text(&t["builtin"])),
                        Cell::new(when(&t["updated_at"])),
                    ]);
                }
                output::show(&table);
            });
            Ok(())
        }
        TemplatesCommand::Show { id, source } => {
            let t = api.get(&template_path(&id)?).await?;
            if source && !out.json {
                print!("{}", t["source"].as_str().unwrap_or_default());
                return Ok(());
            }
            out.either(&t, || print_template(&t));
            Ok(())
        }
        TemplatesCommand::Push { dir, name } => {
            let name = match name {
                Some(n) => n,
                None => dir
                    .canonicalize()
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .ok_or_else(|| Failure::Usage(format!("{}: give --name", dir.display())))?,
            };
            let mut body = read_dir(&dir)?;
            let existing = match api.get(&template_path(&name)?).await {
                Ok(t) => Some(t),
                Err(f) if f.is_not_found() => None,
                Err(f) => return Err(f),
            };
            let t = match existing {
                Some(current) => {
                    // A new version: a template's name and kind never change.
                    body.remove("kind");
                    let path = template_path(current["id"].as_str().unwrap_or(&name))?;
                    api.json(api.request(Method::PUT, &path).json(&body))
                        .await?
                }
                None => {
                    body.insert("name".into(), Value::String(name.clone()));
                    api.post("/v1/templates", &Value::Object(body)).await?
                }
            };
            out.either(&t, || {
                println!("{name}: version {}", text(&t["version"]));
            });
            Ok(())
        }
        TemplatesCommand::Preview {
            id,
            out: file,
            recipient,
            course,
            fields,
        } => {
            let mut body = Map::new();
            if let Some(r) = recipient {
                body.insert("recipient_name".into(), Value::String(r));
            }
            if let Some(c) = course {
                body.insert("course_name".into(), Value::String(c));
            }
            if !fields.is_empty() {
                body.insert("fields".into(), Value::Object(fields.into_iter().collect()));
            }
            let pdf = file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
            let accept = if pdf { "application/pdf" } else { "image/png" };
            let request = api
                .request(Method::POST, &format!("{}/preview", template_path(&id)?))
                .header("Accept", accept)
                .json(&body);
            let bytes = api.download(request, &file).await?;
            out.either(
                &json!({"path": file, "bytes": bytes, "type": accept}),
                || {
                    println!("{} ({})", file.display(), output::bytes(bytes));
                },
            );
            Ok(())
        }
    }
}

fn template_path(id: &str) -> Result<String, Failure> {
    Ok(format!(
        "/v1/templates/{}",
        segment("a template id or name", id)?
    ))
}

/// A template directory as a creation request (without its name).
fn read_dir(dir: &Path) -> Result<Map<String, Value>, Failure> {
    let local = |path: &Path, e: std::io::Error| Failure::Usage(format!("{}: {e}", path.display()));
    let main = dir.join(MAIN);
    let source = std::fs::read_to_string(&main).map_err(|e| local(&main, e))?;
    let meta_path = dir.join(META);
    let mut body = match std::fs::read_to_string(&meta_path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(Failure::Usage(format!(
                    "{}: expected an object",
                    meta_path.display()
                )));
            }
            Err(e) => return Err(Failure::Usage(format!("{}: {e}", meta_path.display()))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(local(&meta_path, e)),
    };
    body.insert("source".into(), Value::String(source));
    let mut assets = BTreeMap::new();
    collect_assets(dir, dir, &mut assets)?;
    body.insert("assets".into(), json!(assets));
    Ok(body)
}

/// Every file under `at` but the source, the metadata and hidden ones, as `/<path>` ->
/// base64.
fn collect_assets(
    root: &Path,
    at: &Path,
    assets: &mut BTreeMap<String, String>,
) -> Result<(), Failure> {
    let local = |e: std::io::Error| Failure::Usage(format!("{}: {e}", at.display()));
    let mut entries: Vec<_> = std::fs::read_dir(at)
        .map_err(local)?
        .collect::<Result<_, _>>()
        .map_err(local)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path);
        if at == root && (name == MAIN || name == META) {
            continue;
        }
        if entry.file_type().map_err(local)?.is_dir() {
            collect_assets(root, &path, assets)?;
        } else {
            let bytes = std::fs::read(&path).map_err(local)?;
            let key = format!(
                "/{}",
                relative
                    .to_string_lossy()
                    .replace(std::path::MAIN_SEPARATOR, "/")
            );
            assets.insert(key, base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
    Ok(())
}

fn field_names(t: &Value) -> String {
    t["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|f| f["name"].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn print_template(t: &Value) {
    let assets = t["assets"]
        .as_object()
        .map(|a| {
            a.iter()
                .map(|(path, size)| {
                    format!("{path} ({})", output::bytes(size.as_u64().unwrap_or(0)))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    output::show(&output::record(&[
        ("id", text(&t["id"])),
        ("name", text(&t["name"])),
        ("kind", text(&t["kind"])),
        ("version", text(&t["version"])),
        ("description", text(&t["description"])),
        ("public", text(&t["is_public"])),
        ("built-in", text(&t["builtin"])),
        ("assets", assets),
        ("updated", when(&t["updated_at"])),
    ]));
    let fields = t["fields"].as_array().cloned().unwrap_or_default();
    if !fields.is_empty() {
        let mut table = output::table(&["FIELD", "TYPE", "REQUIRED", "MAX LENGTH"]);
        for f in &fields {
            table.add_row(vec![
                Cell::new(text(&f["name"])),
                Cell::new(text(&f["type"])),
                Cell::new(text(&f["required"])),
                Cell::new(text(&f["max_length"])),
            ]);
        }
        println!();
        output::show(&table);
    }
}
