"""Checks the links of the built book and of the repository's top-level Markdown files.

Usage: docs_links.py BOOK_DIR FILE.md...  Exit 1 with every broken link listed.
"""
import html.parser
import os
import re
import sys
import urllib.parse


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for name in ("href", "src"):
            if a.get(name) and tag in ("a", "img"):
                self.links.append(a[name])


def external(link):
    return re.match(r"^[a-z][a-z0-9+.-]*:", link) is not None


def slug(heading):
    # GitHub's and mdBook's rule: lower case, drop punctuation but - and _, spaces to -.
    h = re.sub(r"`", "", heading.strip()).lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def markdown_anchors(path):
    anchors, fenced = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"^#+ (.*)", line)):
            anchors.add(slug(m.group(1)))
    return anchors


def check_book(root, broken):
    pages = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".html"):
                p = Page()
                p.feed(open(os.path.join(d, f), encoding="utf-8").read())
                pages[os.path.normpath(os.path.join(d, f))] = p
    if not pages:
        broken.append(f"{root}: no pages built")
    for path, page in pages.items():
        if os.path.basename(path) in ("print.html", "404.html", "toc.html"):
            continue
        for link in page.links:
            if external(link):
                continue
            target, _, frag = link.partition("#")
            target = urllib.parse.unquote(target)
            full = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
            if not os.path.exists(full):
                broken.append(f"{path}: {link}: no such file")
            elif frag and full in pages and frag not in pages[full].ids:
                broken.append(f"{path}: {link}: no such anchor")


def check_markdown(path, broken):
    text = re.sub(r"```.*?```", "", open(path, encoding="utf-8").read(), flags=re.S)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if external(link):
            continue
        target, _, frag = link.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
        if not os.path.exists(full):
            broken.append(f"{path}: {link}: no such file")
        elif frag and full.endswith(".md") and frag not in markdown_anchors(full):
            broken.append(f"{path}: {link}: no such heading")


def main():
    broken = []
    check_book(sys.argv[1], broken)
    for md in sys.argv[2:]:
        check_markdown(md, broken)
    for b in broken:
        print("broken link:", b)
    if broken:
        sys.exit(1)
    print(f"docs: every link of {sys.argv[1]} and {', '.join(sys.argv[2:])} resolves")


main()
