//! One PDF from many, written as it goes: each part is parsed (lopdf), its objects renumbered
//! after the previous part's and written out at once, and only its pages' ids and the file
//! offsets are kept. So memory is one part plus a few bytes per object, whether there are
//! ten parts or ten thousand; the catalog, one page tree, the outline (an entry per part) and
//! the cross-reference table are written at the end. Synchronous and CPU-bound: callers run
//! it on the blocking pool.

use std::collections::HashSet;
use std::io::{self, Write};

use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};

/// The objects written before the parts: the catalog, the page tree, the outline.
const CATALOG: u32 = 1;
const PAGES: u32 = 2;
const OUTLINES: u32 = 3;
/// Page attributes a page may inherit from its page-tree ancestors (ISO 32000 7.7.3.4): the
/// merged tree is flat, so they are copied onto each page.
const INHERITED: [&[u8]; 4] = [b"Resources", b"MediaBox", b"CropBox", b"Rotate"];

/// A merged PDF being written to `W`.
pub struct Merger<W: Write> {
    out: Counted<W>,
    /// The offset of each object, by id - 1.
    offsets: Vec<u64>,
    pages: Vec<u32>,
    /// (title, first page) per part.
    outline: Vec<(String, u32)>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub pages: u32,
    pub parts: u32,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A part is not a PDF lopdf can read (or has no pages).
    #[error("part {part} ({title}): {message}")]
    Part {
        part: usize,
        title: String,
        message: String,
    },
    #[error("writing the merged PDF: {0}")]
    Io(#[from] io::Error),
}

impl<W: Write> Merger<W> {
    pub fn new(out: W) -> Result<Self, MergeError> {
        let mut out = Counted::new(out);
        out.write_all(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;
        Ok(Merger {
            out,
            // The catalog, page tree and outline are written last, under their fixed ids.
            offsets: vec![0; OUTLINES as usize],
            pages: Vec::new(),
            outline: Vec::new(),
        })
    }

    /// Appends every page of `pdf`, with one outline entry `title` at its first page.
    pub fn add(&mut self, title: &str, pdf: &[u8]) -> Result<(), MergeError> {
        let part = self.outline.len() + 1;
        let bad = |message: String| MergeError::Part {
            part,
            title: title.to_owned(),
            message,
        };
        let mut doc = Document::load_mem(pdf).map_err(|e| bad(e.to_string()))?;
        let first = self.offsets.len() as u32 + 1;
        doc.renumber_objects_with(first);
        let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if pages.is_empty() {
            return Err(bad("it has no pages".into()));
        }
        // Only what the pages use: not the part's catalog, page tree, outline or structure.
        let mut keep: HashSet<ObjectId> = HashSet::new();
        let mut todo: Vec<ObjectId> = pages.clone();
        while let Some(id) = todo.pop() {
            if !keep.insert(id) {
                continue;
            }
            if let Ok(object) = doc.get_object(id) {
                references(object, &mut todo);
            }
        }
        for id in &pages {
            let inherited = inherited_attributes(&doc, *id);
            if let Ok(Object::Dictionary(page)) = doc.get_object_mut(*id) {
                for (key, value) in inherited {
                    if !page.has(&key) {
                        page.set(key, value);
                    }
                }
                page.set("Parent", Object::Reference((PAGES, 0)));
            }
        }
        // Inherited attributes may name objects only the page tree used.
        for id in &pages {
            if let Ok(object) = doc.get_object(*id) {
                let mut more = Vec::new();
                references(object, &mut more);
                while let Some(id) = more.pop() {
                    if keep.insert(id)
                        && let Ok(object) = doc.get_object(id)
                    {
                        references(object, &mut more);
                    }
                }
            }
        }
        let last = doc.max_id;
        for n in first..=last {
            let offset = self.out.written;
            match doc.objects.get(&(n, 0)).filter(|_| keep.contains(&(n, 0))) {
                Some(object) => write_object(&mut self.out, n, object)?,
                // An id the part used for something it does not need here: a placeholder,
                // so the numbering has no holes.
                None => write_object(&mut self.out, n, &Object::Null)?,
            }
            self.offsets.push(offset);
        }
        self.outline.push((title.to_owned(), pages[0].0));
        self.pages.extend(pages.iter().map(|p| p.0));
        Ok(())
    }

    /// Parts added so far.
    pub fn parts(&self) -> usize {
        self.outline.len()
    }

    /// Writes the page tree, the outline, the catalog and the cross-reference table.
    pub fn finish(mut self) -> Result<(Merged, W), MergeError> {
        let outline_first = self.offsets.len() as u32 + 1;
        let n = self.outline.len() as u32;
        for (i, (title, page)) in self.outline.iter().enumerate() {
            let id = outline_first + i as u32;
            let mut item = Dictionary::new();
            item.set("Title", text_string(title));
            item.set("Parent", Object::Reference((OUTLINES, 0)));
            if i > 0 {
                item.set("Prev", Object::Reference((id - 1, 0)));
            }
            if (i as u32) + 1 < n {
                item.set("Next", Object::Reference((id + 1, 0)));
            }
            item.set(
                "Dest",
                Object::Array(vec![Object::Reference((*page, 0)), "Fit".into()]),
            );
            let offset = self.out.written;
            write_object(&mut self.out, id, &Object::Dictionary(item))?;
            self.offsets.push(offset);
        }
        let kids: Vec<Object> = self
            .pages
            .iter()
            .map(|p| Object::Reference((*p, 0)))
            .collect();
        let mut pages = Dictionary::new();
        pages.set("Type", "Pages");
        pages.set("Count", self.pages.len() as i64);
        pages.set("Kids", kids);
        self.offsets[PAGES as usize - 1] = self.out.written;
        write_object(&mut self.out, PAGES, &Object::Dictionary(pages))?;

        let mut outlines = Dictionary::new();
        outlines.set("Type", "Outlines");
        if n > 0 {
            outlines.set("First", Object::Reference((outline_first, 0)));
            outlines.set("Last", Object::Reference((outline_first + n - 1, 0)));
            outlines.set("Count", i64::from(n));
        }
        self.offsets[OUTLINES as usize - 1] = self.out.written;
        write_object(&mut self.out, OUTLINES, &Object::Dictionary(outlines))?;

        let mut catalog = Dictionary::new();
        catalog.set("Type", "Catalog");
        catalog.set("Pages", Object::Reference((PAGES, 0)));
        catalog.set("Outlines", Object::Reference((OUTLINES, 0)));
        catalog.set("PageMode", "UseOutlines");
        self.offsets[CATALOG as usize - 1] = self.out.written;
        write_object(&mut self.out, CATALOG, &Object::Dictionary(catalog))?;

        let xref = self.out.written;
        let size = self.offsets.len() + 1;
        write!(self.out, "xref\n0 {size}\n0000000000 65535 f \n")?;
        for offset in &self.offsets {
            writeln!(self.out, "{offset:010} 00000 n ")?;
        }
        write!(
            self.out,
            "trailer\n<< /Size {size} /Root {CATALOG} 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        )?;
        self.out.flush()?;
        let merged = Merged {
            pages: self.pages.len() as u32,
            parts: n,
            bytes: self.out.written,
            sha256: hex::encode(self.out.hash.finalize_reset()),
        };
        Ok((merged, self.out.inner))
    }
}

/// `id 0 obj … endobj`.
fn write_object(out: &mut dyn Write, id: u32, object: &Object) -> io::Result<()> {
    writeln!(out, "{id} 0 obj")?;
    write_value(out, object)?;
    out.write_all(b"\nendobj\n")
}

/// One object in PDF syntax (ISO 32000 7.3; lopdf keeps its own writer private). A stream's
/// `Length` is written as its content's length, whatever the part said.
fn write_value(out: &mut dyn Write, object: &Object) -> io::Result<()> {
    match object {
        Object::Null => out.write_all(b"null"),
        Object::Boolean(b) => out.write_all(if *b { &b"true"[..] } else { &b"false"[..] }),
        Object::Integer(i) => write!(out, "{i}"),
        Object::Real(r) => write!(out, "{r}"),
        Object::Name(name) => write_name(out, name),
        Object::String(text, StringFormat::Literal) => {
            out.write_all(b"(")?;
            for &byte in text {
                match byte {
                    b'(' | b')' | b'\\' => out.write_all(&[b'\\', byte])?,
                    b'\r' => out.write_all(b"\\r")?,
                    _ => out.write_all(&[byte])?,
                }
            }
            out.write_all(b")")
        }
        Object::String(text, StringFormat::Hexadecimal) => {
            out.write_all(b"<")?;
            for byte in text {
                write!(out, "{byte:02X}")?;
            }
            out.write_all(b">")
        }
        Object::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b" ")?;
                }
                write_value(out, item)?;
            }
            out.write_all(b"]")
        }
        Object::Dictionary(dict) => write_dictionary(out, dict, None),
        Object::Stream(stream) => {
            write_dictionary(out, &stream.dict, Some(stream.content.len()))?;
            out.write_all(b"\nstream\n")?;
            out.write_all(&stream.content)?;
            out.write_all(b"\nendstream")
        }
        Object::Reference((id, generation)) => write!(out, "{id} {generation} R"),
    }
}

fn write_dictionary(
    out: &mut dyn Write,
    dict: &Dictionary,
    length: Option<usize>,
) -> io::Result<()> {
    out.write_all(b"<<")?;
    for (key, value) in dict.iter() {
        if length.is_some() && key.as_slice() == b"Length" {
            continue;
        }
        write_name(out, key)?;
        out.write_all(b" ")?;
        write_value(out, value)?;
    }
    if let Some(length) = length {
        write!(out, "/Length {length}")?;
    }
    out.write_all(b">>")
}

/// A name, with delimiters, white space and bytes outside `!`..`~` as `#xx`.
fn write_name(out: &mut dyn Write, name: &[u8]) -> io::Result<()> {
    out.write_all(b"/")?;
    for &byte in name {
        if b" \t\n\r\x0C()<>[]{}/%#".contains(&byte) || !(33..=126).contains(&byte) {
            write!(out, "#{byte:02X}")?;
        } else {
            out.write_all(&[byte])?;
        }
    }
    Ok(())
}

/// The ids `object` refers to, except a page's `Parent` (the part's own page tree).
fn references(object: &Object, into: &mut Vec<ObjectId>) {
    match object {
        Object::Reference(id) => into.push(*id),
        Object::Array(items) => items.iter().for_each(|o| references(o, into)),
        Object::Dictionary(dict) => dict
            .iter()
            .filter(|(k, _)| k.as_slice() != b"Parent")
            .for_each(|(_, v)| references(v, into)),
        Object::Stream(stream) => stream
            .dict
            .iter()
            .filter(|(k, _)| k.as_slice() != b"Parent")
            .for_each(|(_, v)| references(v, into)),
        _ => {}
    }
}

/// The inheritable attributes the page's ancestors give it (nearest first wins).
fn inherited_attributes(doc: &Document, page: ObjectId) -> Vec<(Vec<u8>, Object)> {
    let mut found: Vec<(Vec<u8>, Object)> = Vec::new();
    let mut node = doc
        .get_dictionary(page)
        .ok()
        .and_then(|d| d.get(b"Parent").ok())
        .and_then(|p| p.as_reference().ok());
    // A page tree is shallow; the bound only guards against a cycle.
    for _ in 0..64 {
        let Some(id) = node else { break };
        let Ok(dict) = doc.get_dictionary(id) else {
            break;
        };
        for key in INHERITED {
            if !found.iter().any(|(k, _)| k == key)
                && let Ok(value) = dict.get(key)
            {
                found.push((key.to_vec(), value.clone()));
            }
        }
        node = dict.get(b"Parent").ok().and_then(|p| p.as_reference().ok());
    }
    found
}

/// A PDF text string: PDFDocEncoding's ASCII subset as is, anything else UTF-16BE with its
/// byte-order mark.
fn text_string(text: &str) -> Object {
    if text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return Object::String(text.as_bytes().to_vec(), StringFormat::Literal);
    }
    let mut bytes = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

/// A writer that counts what went through it and hashes it.
struct Counted<W: Write> {
    inner: W,
    written: u64,
    hash: Sha256,
}

impl<W: Write> Counted<W> {
    fn new(inner: W) -> Self {
        Counted {
            inner,
            written: 0,
            hash: Sha256::new(),
        }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    /// A PDF of `pages` pages, each saying `label` and its number.
    fn part(label: &str, pages: usize) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        let resources = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font },
        });
        let mut kids = Vec::new();
        for n in 1..=pages {
            let content = Content {
                operations: vec![
                    Operation::new("BT", vec![]),
                    Operation::new("Tf", vec!["F1".into(), 24.into()]),
                    Operation::new("Td", vec![100.into(), 600.into()]),
                    Operation::new(
                        "Tj",
                        vec![Object::string_literal(format!("{label} page {n}"))],
                    ),
                    Operation::new("ET", vec![]),
                ],
            };
            let stream = doc.add_object(lopdf::Stream::new(
                Dictionary::new(),
                content.encode().unwrap(),
            ));
            kids.push(Object::from(doc.add_object(dictionary! {
                "Type" => "Page", "Parent" => pages_id, "Contents" => stream,
            })));
        }
        // Resources and MediaBox on the page tree: inherited, as the merge must keep them.
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => kids, "Count" => pages as i64,
                "Resources" => resources,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog = doc.add_object(dictionary! {
            "Type" => "Catalog", "Pages" => pages_id,
        });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn pages_keep_their_order_and_each_part_gets_an_outline_entry() {
        let mut merger = Merger::new(Vec::new()).unwrap();
        merger.add("Ana", &part("ana", 1)).unwrap();
        merger.add("Bea", &part("bea", 2)).unwrap();
        merger.add("Zoë", &part("zoe", 1)).unwrap();
        let (merged, bytes) = merger.finish().unwrap();
        assert_eq!((merged.pages, merged.parts), (4, 3));
        assert_eq!(merged.bytes, bytes.len() as u64);
        assert_eq!(merged.sha256, hex::encode(Sha256::digest(&bytes)));

        let doc = Document::load_mem(&bytes).unwrap();
        let texts: Vec<String> = (1..=4).map(|n| doc.extract_text(&[n]).unwrap()).collect();
        let order: Vec<&str> = texts.iter().map(|t| t.trim()).collect();
        assert_eq!(
            order,
            ["ana page 1", "bea page 1", "bea page 2", "zoe page 1"]
        );
        // Every page has what its part's page tree gave it.
        for (_, id) in doc.get_pages() {
            let page = doc.get_dictionary(id).unwrap();
            assert!(page.has(b"Resources") && page.has(b"MediaBox"));
        }
        let outlines = doc
            .catalog()
            .unwrap()
            .get(b"Outlines")
            .unwrap()
            .as_reference()
            .unwrap();
        let outlines = doc.get_dictionary(outlines).unwrap();
        assert_eq!(outlines.get(b"Count").unwrap().as_i64().unwrap(), 3);
        let mut titles = Vec::new();
        let mut item = outlines
            .get(b"First")
            .ok()
            .map(|o| o.as_reference().unwrap());
        while let Some(id) = item {
            let dict = doc.get_dictionary(id).unwrap();
            titles.push(dict.get(b"Title").unwrap().as_str().unwrap().to_vec());
            item = dict.get(b"Next").ok().map(|o| o.as_reference().unwrap());
        }
        assert_eq!(titles[0], b"Ana");
        assert_eq!(titles[1], b"Bea");
        // Non-ASCII titles are UTF-16BE with a byte-order mark.
        assert_eq!(&titles[2][..2], &[0xFE, 0xFF]);
    }

    #[test]
    fn a_part_that_is_not_a_pdf_is_named() {
        let mut merger = Merger::new(Vec::new()).unwrap();
        merger.add("one", &part("one", 1)).unwrap();
        let err = merger.add("two", b"not a pdf").unwrap_err();
        assert!(err.to_string().starts_with("part 2 (two):"), "{err}");
    }
}
