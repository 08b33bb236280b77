#!/usr/bin/env python3
"""What a PDF declares and carries for PDF/A and PDF/UA, read with pypdf (not typst, which
wrote it): `python3 deploy/pdf-conformance.py FILE.pdf` prints one JSON object.

- pdfa_part, pdfa_conformance, pdfua_part: the XMP identification (pdfaid:*, pdfuaid:part)
- output_intent: the catalog has an /OutputIntents entry (PDF/A needs one)
- tagged: /MarkInfo /Marked true; struct_tree: a /StructTreeRoot; lang: the catalog's /Lang
- title: dc:title from XMP; display_doc_title: /ViewerPreferences /DisplayDocTitle (UA)
- fonts: every font the pages use, with whether its program is embedded
- figures_without_alt: /Figure structure elements with no /Alt text
"""

import json
import re
import sys

from pypdf import PdfReader
from pypdf.generic import IndirectObject


def resolve(obj):
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def xmp_value(xmp: str, key: str):
    """`<key>v</key>` or `key="v"` in the XMP packet."""
    m = re.search(rf"<{key}>([^<]*)</{key}>", xmp) or re.search(rf'{key}="([^"]*)"', xmp)
    return m.group(1).strip() if m else None


def fonts_of(reader):
    seen = {}
    for page in reader.pages:
        resources = resolve(page.get("/Resources")) or {}
        fonts = resolve(resources.get("/Font")) or {}
        for ref in fonts.values():
            font = resolve(ref)
            name = str(font.get("/BaseFont", "?"))
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descendant = resolve(resolve(font["/DescendantFonts"])[0])
                descriptor = descendant.get("/FontDescriptor")
            descriptor = resolve(descriptor) or {}
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            # Type 3 fonts are drawn by the PDF itself: nothing to embed.
            if str(font.get("/Subtype")) == "/Type3":
                embedded = True
            seen[name] = seen.get(name, True) and embedded
    return [{"name": n, "embedded": e} for n, e in sorted(seen.items())]


def figures_without_alt(root):
    missing = 0
    stack = [root.get("/StructTreeRoot")]
    while stack:
        node = resolve(stack.pop())
        if node is None:
            continue
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not hasattr(node, "get"):
            continue
        if str(node.get("/S")) == "/Figure" and not node.get("/Alt"):
            missing += 1
        kids = node.get("/K")
        if kids is not None:
            stack.append(kids)
    return missing


def main(path):
    reader = PdfReader(path)
    root = reader.trailer["/Root"].get_object()
    metadata = root.get("/Metadata")
    xmp = resolve(metadata).get_data().decode("utf-8", "replace") if metadata else ""
    mark_info = resolve(root.get("/MarkInfo")) or {}
    prefs = resolve(root.get("/ViewerPreferences")) or {}
    title = None
    m = re.search(r"<dc:title>.*?<rdf:li[^>]*>([^<]*)</rdf:li>", xmp, re.S)
    if m:
        title = m.group(1).strip()
    report = {
        "pdfa_part": xmp_value(xmp, "pdfaid:part"),
        "pdfa_conformance": xmp_value(xmp, "pdfaid:conformance"),
        "pdfua_part": xmp_value(xmp, "pdfuaid:part"),
        "output_intent": "/OutputIntents" in root,
        "tagged": bool(mark_info.get("/Marked", False)),
        "struct_tree": "/StructTreeRoot" in root,
        "lang": str(root["/Lang"]) if "/Lang" in root else None,
        "title": title,
        "display_doc_title": bool(prefs.get("/DisplayDocTitle", False)),
        "fonts": fonts_of(reader),
        "figures_without_alt": figures_without_alt(root) if "/StructTreeRoot" in root else None,
        "pages": len(reader.pages),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pdf-conformance.py FILE.pdf")
    main(sys.argv[1])
