//! The built-in email templates (`templates/email/<name>/{subject.txt,body.txt,body.html}`),
//! embedded at compile time and rendered with minijinja in strict mode.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use include_dir::{Dir, include_dir};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

static EMAIL_TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates/email");

const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

/// Variables templates test with `is defined` (quire fills them in when it has them), so never
/// reported missing.
const OPTIONAL_VARIABLES: [&str; 1] = ["files"];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The default callback escapes by name: `.html` parts are HTML-escaped, `.txt` are not.
    env.set_loader(|name| {
        Ok(EMAIL_TEMPLATES
            .get_file(name)
            .and_then(|f| f.contents_utf8())
            .map(str::to_owned))
    });
    env.add_filter("paragraphs", paragraphs);
    env
});

/// Text split on blank lines, empty paragraphs dropped.
fn paragraphs(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One email rendered: a one-line subject, the plain-text part and the HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("unknown email template `{0}`")]
    UnknownTemplate(String),
    #[error("email template variables must be a JSON object")]
    VarsNotObject,
    #[error("email template `{template}`: missing variable(s): {}", names.join(", "))]
    MissingVariables {
        template: String,
        names: Vec<String>,
    },
    #[error("email template `{template}`: the subject contains a line break")]
    SubjectLineBreak { template: String },
    #[error("email template `{template}`: the subject is empty")]
    EmptySubject { template: String },
    #[error("email template `{template}` ({part}): {message}")]
    Render {
        template: String,
        part: &'static str,
        message: String,
    },
}

/// A linked file: what `files` lists when attachments are sent as links.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkedFile {
    pub filename: String,
    pub url: String,
}

/// Adds the variables quire gives every template, unless the caller set them: `attached`
/// (whether files are attached), `files` (the links otherwise) and `download_url` (the first
/// link, or null). The API adds them with placeholder links to check a submission; the
/// worker with the real ones.
pub fn add_file_variables(
    vars: &mut serde_json::Map<String, serde_json::Value>,
    attached: bool,
    files: &[LinkedFile],
) {
    let first = files.first().map(|f| f.url.clone());
    vars.entry("attached").or_insert(attached.into());
    vars.entry("download_url").or_insert(first.into());
    vars.entry("files")
        .or_insert_with(|| serde_json::to_value(files).unwrap_or_default());
}

/// Names of the built-in email templates, sorted.
pub fn builtin_email_templates() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = EMAIL_TEMPLATES
        .dirs()
        .filter(|d| PARTS.iter().all(|p| d.get_file(d.path().join(p)).is_some()))
        .filter_map(|d| d.path().to_str())
        .collect();
    names.sort_unstable();
    names
}

/// Renders one built-in template with `vars` (a JSON object). Every variable a part uses must
/// be given (null is a value); the rendered subject must be one non-empty line.
pub fn render(template: &str, vars: &serde_json::Value) -> Result<RenderedEmail, EmailError> {
    if !builtin_email_templates().contains(&template) {
        return Err(EmailError::UnknownTemplate(template.to_owned()));
    }
    let serde_json::Value::Object(given) = vars else {
        return Err(EmailError::VarsNotObject);
    };
    let ctx = minijinja::Value::from_serialize(vars);
    let mut out = [String::new(), String::new(), String::new()];
    for (part, slot) in PARTS.into_iter().zip(out.iter_mut()) {
        let name = format!("{template}/{part}");
        let render_err = |message: String| EmailError::Render {
            template: template.to_owned(),
            part,
            message,
        };
        let tmpl = ENV
            .get_template(&name)
            .map_err(|e| render_err(e.to_string()))?;
        match tmpl.render(&ctx) {
            Ok(s) => *slot = s,
            Err(e) if e.kind() == ErrorKind::UndefinedError => {
                let names: BTreeSet<String> = tmpl
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !given.contains_key(v) && !OPTIONAL_VARIABLES.contains(&v.as_str()))
                    .collect();
                if names.is_empty() {
                    return Err(render_err(e.to_string()));
                }
                return Err(EmailError::MissingVariables {
                    template: template.to_owned(),
                    names: names.into_iter().collect(),
                });
            }
            Err(e) => return Err(render_err(e.to_string())),
        }
    }
    let [subject, text, html] = out;
    let subject = subject.trim().to_owned();
    if subject.contains(['\r', '\n']) {
        return Err(EmailError::SubjectLineBreak {
            template: template.to_owned(),
        });
    }
    if subject.is_empty() {
        return Err(EmailError::EmptySubject {
            template: template.to_owned(),
        });
    }
    Ok(RenderedEmail {
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_five_builtins_are_embedded() {
        assert_eq!(
            builtin_email_templates(),
            [
                "certificate_issued",
                "generic",
                "job_failed",
                "report_ready",
                "webhook_disabled"
            ]
        );
    }

    #[test]
    fn every_builtin_renders_with_its_documented_variables() {
        let cases = [
            (
                "report_ready",
                json!({"title": "SAT Line 3", "document_number": "SAT-001", "job_id": "j1",
                       "attached": false, "download_url": "https://q.example/f"}),
            ),
            (
                "certificate_issued",
                json!({"recipient_name": "Ana", "course": "Rust", "verification_code": "ABCD",
                       "verify_url": "https://q.example/v/ABCD", "job_id": "j2",
                       "attached": true, "download_url": null}),
            ),
            (
                "job_failed",
                json!({"job_id": "j3", "kind": "report", "attempts": 3,
                       "error": "boom", "job_url": "https://q.example/v1/jobs/j3"}),
            ),
            ("generic", json!({"subject": "Hi", "text": "One.\n\nTwo."})),
            (
                "webhook_disabled",
                json!({"webhook_id": "wh_1", "url": "https://hooks.example/q", "failures": 100,
                       "webhook_url": "https://q.example/v1/webhooks/wh_1"}),
            ),
        ];
        for (name, vars) in cases {
            let r = render(name, &vars).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!r.subject.is_empty() && !r.text.is_empty(), "{name}");
            assert!(r.html.contains("<p>"), "{name}");
        }
        let r = render("report_ready", &cases_report_attached()).unwrap();
        assert!(r.text.contains("attached"), "{}", r.text);
        assert!(!r.text.contains("Download"), "{}", r.text);
    }

    fn cases_report_attached() -> serde_json::Value {
        json!({"title": "T", "document_number": "D", "job_id": "j", "attached": true,
               "download_url": null})
    }

    #[test]
    fn html_part_escapes_and_text_part_does_not() {
        let r = render(
            "generic",
            &json!({"subject": "Q&A", "text": "<script>alert(1)</script> & \"x\"\n\nsecond"}),
        )
        .unwrap();
        assert!(
            r.html
                .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;x&quot;"),
            "{}",
            r.html
        );
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert_eq!(r.html.matches("<p>").count(), 2, "{}", r.html);
        assert!(r.text.contains("<script>alert(1)</script> & \"x\""));
        assert_eq!(r.subject, "Q&A");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_it() {
        let e = render("generic", &json!({"subject": "Hi"})).unwrap_err();
        assert_eq!(
            e,
            EmailError::MissingVariables {
                template: "generic".into(),
                names: vec!["text".into()],
            }
        );
        assert!(e.to_string().contains("text"), "{e}");
        let e = render("report_ready", &json!({"title": "T"})).unwrap_err();
        let EmailError::MissingVariables { names, .. } = e else {
            panic!("{e}")
        };
        assert!(names.contains(&"document_number".to_owned()), "{names:?}");
    }

    #[test]
    fn subjects_with_line_breaks_are_refused() {
        for subject in ["Hi\r\nBcc: victim@example.com", "Hi\nthere", "Hi\rthere"] {
            let e = render("generic", &json!({"subject": subject, "text": "x"})).unwrap_err();
            assert!(matches!(e, EmailError::SubjectLineBreak { .. }), "{e}");
        }
        let e = render("generic", &json!({"subject": " ", "text": "x"})).unwrap_err();
        assert!(matches!(e, EmailError::EmptySubject { .. }), "{e}");
    }

    #[test]
    fn unknown_templates_and_non_objects_are_refused() {
        let e = render("nope", &json!({})).unwrap_err();
        assert_eq!(e, EmailError::UnknownTemplate("nope".into()));
        let e = render("../generic", &json!({})).unwrap_err();
        assert!(matches!(e, EmailError::UnknownTemplate(_)), "{e}");
        assert_eq!(
            render("generic", &json!([1])).unwrap_err(),
            EmailError::VarsNotObject
        );
    }
}
