#!/usr/bin/env bash
# Builds the book in docs/ with mdBook (installed with cargo when missing) and checks every
# link: each relative link of the built pages must name a page that exists and, with a
# fragment, an id on that page; the Markdown files at the top of the repository must link
# only to files that exist and headings that exist. Fails loudly on the first run that finds
# a broken one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MDBOOK_VERSION=0.5.4
if ! command -v mdbook >/dev/null 2>&1; then
    echo "docs-check: installing mdbook $MDBOOK_VERSION with cargo"
    cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi
mdbook --version
rm -rf target/book
mdbook build docs
python3 deploy/docs_links.py target/book README.md CONTRIBUTING.md BENCHMARKS.md ARCHITECTURE.md
