#!/usr/bin/env python3
"""Print the PromQL expressions of Prometheus rule files and Grafana dashboards, one per line.

    python3 deploy/prometheus/exprs.py deploy/prometheus/alerts.yml deploy/grafana/quire.json
    python3 deploy/prometheus/exprs.py --with-source --var kind=certificate deploy/grafana/quire.json
    python3 deploy/prometheus/exprs.py --query http://127.0.0.1:9090 alerts.yml quire.json

Files: *.yml / *.yaml (every `expr:` value: rule files, promql_expr_test in test files) and
*.json (Grafana dashboards: every target's `expr`, annotation queries, and the selector of
`label_values(selector, label)` / the expression of `query_result(...)` in query variables).

Each expression is made one line (PromQL `#` comments removed, line breaks outside string
literals turned into spaces) with Grafana's variables replaced by concrete values:
$__rate_interval and $__interval 1m, $__range 1h (and their _ms/_s forms), a dashboard's custom
variable by all its options as a regex `(a|b)`, its other variables by `.*`; --var NAME=VALUE
overrides. Forms: $name, ${name}, ${name:format}, [[name]]. Like Grafana, a `$word` that names
no variable (`$1` in label_replace, a misspelt variable) is left as it is.

Output: the distinct expressions, one per line, in file order. --with-source prints every
occurrence as `FILE:WHERE<TAB>EXPRESSION` instead.

--query URL evaluates each expression (instant query, GET URL/api/v1/query) on that Prometheus
and prints `ok|ERROR|empty  N series  WHERE  EXPRESSION`; exits 1 if any answers status
"error". With --require-data it also exits 1 if an expression reads nothing: a dashboard's
expression must return series; a rule's expression (an alert is normally empty: its
threshold is not crossed) must have every series selector in it (`metric{labels}`) match
series, so a misspelt metric, label or value is caught without firing the alert.

Python standard library only: the YAML reader understands what rule files use (plain, quoted
and block scalars for `expr`), not all of YAML.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

BUILTINS = {
    "__rate_interval": "1m",
    "__rate_interval_ms": "60000",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}


# ------------------------------------------------------------------------------------ YAML
KEY_RE = re.compile(r"^(\s*)(-\s+)?([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$")


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _strip_plain_comment(value):
    # In a plain scalar, " #" starts a comment.
    m = re.search(r"\s#", value)
    return value[: m.start()] if m else value


def _read_quoted(lines, i, start_text, quote):
    """A quoted scalar starting at lines[i] (start_text begins after the key). Returns
    (value, index of the last line used)."""
    text = start_text[1:]
    out = []
    j = i
    while True:
        k = 0
        while k < len(text):
            c = text[k]
            if quote == "'" and c == "'":
                if text[k + 1 : k + 2] == "'":
                    out.append("'")
                    k += 2
                    continue
                return "".join(out), j
            if quote == '"' and c == "\\":
                nxt = text[k + 1 : k + 2]
                simple = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0",
                          " ": " ", "b": "\b", "f": "\f", "e": "\x1b"}
                if nxt in simple:
                    out.append(simple[nxt])
                    k += 2
                    continue
                if nxt in ("x", "u", "U"):
                    n = {"x": 2, "u": 4, "U": 8}[nxt]
                    out.append(chr(int(text[k + 2 : k + 2 + n], 16)))
                    k += 2 + n
                    continue
                if nxt == "":  # escaped line break: join without a space
                    break
                out.append(nxt)
                k += 2
                continue
            if quote == '"' and c == '"':
                return "".join(out), j
            out.append(c)
            k += 1
        else:
            out.append(" ")  # a line break inside a quoted scalar folds into a space
        j += 1
        if j >= len(lines):
            raise ValueError(f"line {i + 1}: unterminated {quote}-quoted scalar")
        text = lines[j].strip()


def yaml_exprs(text):
    """(line number, expression, name of the rule) for every `expr:` key."""
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if re.search(r"[{,]\s*expr\s*:", line.split("#", 1)[0]):
            raise SystemExit(f"line {n}: `expr` in a flow mapping ({{...}}) is not understood here")
    found = []
    i = 0
    while i < len(lines):
        m = KEY_RE.match(lines[i])
        if not m or m.group(3) != "expr":
            i += 1
            continue
        key_indent = len(m.group(1)) + len(m.group(2) or "")
        rest = (m.group(4) or "").rstrip()
        start = i
        if rest[:1] in ("|", ">"):
            body = []
            j = i + 1
            block_indent = None
            while j < len(lines):
                line = lines[j]
                if line.strip() == "":
                    body.append("")
                    j += 1
                    continue
                ind = _indent(line)
                if ind <= key_indent:
                    break
                if block_indent is None:
                    block_indent = ind
                body.append(line[block_indent:] if ind >= block_indent else line.strip())
                j += 1
            value = "\n".join(body).strip("\n")
            i = j
        elif rest[:1] in ("'", '"'):
            value, last = _read_quoted(lines, i, rest, rest[0])
            i = last + 1
        else:
            parts = [_strip_plain_comment(rest).strip()] if rest else []
            j = i + 1
            while j < len(lines):
                line = lines[j]
                if line.strip() == "":
                    j += 1
                    continue
                if _indent(line) <= key_indent or line.lstrip().startswith("#"):
                    break
                parts.append(_strip_plain_comment(line).strip())
                j += 1
            value = " ".join(p for p in parts if p)
            i = j
        found.append((start + 1, value, _rule_name(lines, start, key_indent)))
    return found


def _rule_name(lines, at, key_indent):
    """The alert/record name of the list item holding the `expr` key at lines[at]."""
    # Start of the item: the nearest line (at or above) with a "- " at key_indent - 2, or
    # whose key itself sits at key_indent after a "- ".
    lo = at
    while lo >= 0:
        m = KEY_RE.match(lines[lo])
        if m and m.group(2) and len(m.group(1)) + len(m.group(2)) == key_indent:
            break
        if lines[lo].strip() and _indent(lines[lo]) < key_indent and not m:
            break
        lo -= 1
    hi = at + 1
    while hi < len(lines):
        m = KEY_RE.match(lines[hi])
        if lines[hi].strip() and _indent(lines[hi]) < key_indent:
            break
        if m and m.group(2) and len(m.group(1)) + len(m.group(2)) == key_indent:
            break
        hi += 1
    for k in range(max(lo, 0), hi):
        m = KEY_RE.match(lines[k])
        if m and m.group(3) in ("alert", "record") and len(m.group(1)) + len(m.group(2) or "") == key_indent:
            return f"{m.group(3)} {(m.group(4) or '').strip()}"
    return ""


# ------------------------------------------------------------------------------------ Grafana
def grafana_exprs(dash):
    """(where, expression) for every query of a dashboard, and its variables' defaults."""
    found = []

    def walk_panels(panels, prefix=""):
        for p in panels or []:
            title = p.get("title") or f"panel {p.get('id')}"
            for t in p.get("targets") or []:
                if isinstance(t, dict) and t.get("expr"):
                    found.append((f'{prefix}panel "{title}" ref {t.get("refId", "?")}', t["expr"]))
            walk_panels(p.get("panels"), prefix)

    walk_panels(dash.get("panels"))
    for row in dash.get("rows") or []:  # very old dashboards
        walk_panels(row.get("panels"))
    for a in (dash.get("annotations") or {}).get("list") or []:
        if a.get("expr"):
            found.append((f'annotation "{a.get("name")}"', a["expr"]))

    defaults = {}
    for v in (dash.get("templating") or {}).get("list") or []:
        name, typ = v.get("name"), v.get("type")
        if not name:
            continue
        defaults[name] = ".*"
        if typ == "custom":
            values = [o.strip() for o in re.split(r"(?<!\\),", v.get("query") or "") if o.strip()]
            values = [o.split(" : ", 1)[-1] for o in values]
            if values:
                defaults[name] = values[0] if len(values) == 1 else "(" + "|".join(values) + ")"
        elif typ in ("constant", "textbox"):
            defaults[name] = v.get("query") or ".*"
        elif typ == "interval":
            first = (v.get("query") or "1m").split(",")[0].strip()
            defaults[name] = "1m" if first == "auto" else first
        if typ == "query":
            q = v.get("query")
            if isinstance(q, dict):
                q = q.get("query")
            q = (q or "").strip()
            m = re.fullmatch(r"label_values\((.*),\s*[\w.]+\s*\)", q, re.S)
            if m:
                found.append((f"variable ${name}", m.group(1)))
            m = re.fullmatch(r"query_result\((.*)\)", q, re.S)
            if m:
                found.append((f"variable ${name}", m.group(1)))
    return found, defaults


# ------------------------------------------------------------------------------------ text
def one_line(expr):
    """Drop PromQL comments and make line breaks outside string literals spaces."""
    out = []
    quote = None
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\" and quote != "`" and i + 1 < len(expr):
                out.append(expr[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif c == "#":
            while i < len(expr) and expr[i] != "\n":
                i += 1
            continue
        elif c in "\r\n\t":
            out.append(" ")
        else:
            out.append(c)
        i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def substitute(expr, values):
    def value(m):
        return values.get(m.group(1), m.group(0))

    expr = re.sub(r"\$\{(\w+)(?::[^}]*)?\}", value, expr)
    expr = re.sub(r"\[\[(\w+)(?::[^\]]*)?\]\]", value, expr)
    return re.sub(r"\$(\w+)", value, expr)


def extract(path, overrides):
    """[(where, expression)] of one file, substituted and on one line."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        found, defaults = grafana_exprs(json.loads(text))
    elif path.endswith((".yml", ".yaml")):
        found = []
        for line, expr, name in yaml_exprs(text):
            found.append((f"line {line}" + (f" ({name})" if name else ""), expr))
        defaults = {}
    else:
        raise SystemExit(f"{path}: not .json, .yml or .yaml")
    values = dict(BUILTINS)
    values.update(defaults)
    values.update(overrides)
    return [(f"{path}:{where}", substitute(one_line(expr), values)) for where, expr in found]


KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "atan2", "start", "end"}
LABEL_LIST = {"by", "without", "on", "ignoring", "group_left", "group_right"}


def _skip_brackets(expr, i, open_c, close_c):
    """Index after the bracket that closes expr[i] (an open_c), skipping string literals."""
    depth = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_c} in {expr}")


def _skip_string(expr, i):
    quote = expr[i]
    i += 1
    while i < len(expr) and expr[i] != quote:
        i += 2 if expr[i] == "\\" and quote != "`" else 1
    return i + 1


def selectors(expr):
    """The series selectors of a PromQL expression: `name{matchers}`, `name`, `{matchers}`."""
    found = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _skip_string(expr, i)
        elif c == "[":  # a range or a subquery's range
            i = _skip_brackets(expr, i, "[", "]")
        elif c == "{":
            end = _skip_brackets(expr, i, "{", "}")
            found.append(expr[i:end])
            i = end
        elif c.isdigit() or (c == "." and expr[i + 1 : i + 2].isdigit()):
            m = re.match(r"[0-9.]+(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])\d*)*", expr[i:])
            i += len(m.group(0))
        elif c.isalpha() or c in "_:":
            m = re.match(r"[A-Za-z_:][\w:]*", expr[i:])
            word = m.group(0)
            i += len(word)
            j = i
            while j < len(expr) and expr[j] == " ":
                j += 1
            nxt = expr[j : j + 1]
            if word.lower() in LABEL_LIST and nxt == "(":
                i = _skip_brackets(expr, j, "(", ")")
            elif word.lower() in KEYWORDS or nxt == "(" or re.match(r"(by|without)\s*\(", expr[j:]):
                continue  # an operator keyword, a function or an aggregation (`sum by (k) (...)`)
            elif nxt == "{":
                end = _skip_brackets(expr, j, "{", "}")
                found.append(word + expr[j:end])
                i = end
            else:
                found.append(word)
        else:
            i += 1
    return found


def present(selector):
    """What must have data for `selector` to be read correctly: its metric, its equality
    matchers as written, and, for a regex or negative matcher, only its label (a `5..` status
    or a value left out appears only after a failure; the alert's unit tests cover those)."""
    m = re.fullmatch(r"([A-Za-z_:][\w:]*)?(?:\{(.*)\})?", selector, re.S)
    name, body = m.group(1) or "", m.group(2) or ""
    kept = []
    for label, op, value in re.findall(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)', body):
        kept.append(f"{label}{op}{value}" if op == "=" else f'{label}=~".+"')
    return name + ("{" + ", ".join(kept) + "}" if kept else "")


def query(url, expr):
    """(status, number of series or error message)."""
    q = urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v1/query?{q}", timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            return "error", f"HTTP {e.code}"
    if body.get("status") != "success":
        return "error", f'{body.get("errorType")}: {body.get("error")}'
    result = body["data"]["result"]
    return "success", (len(result) if isinstance(result, list) else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                    help="value of a Grafana variable (default: see above)")
    ap.add_argument("--with-source", action="store_true",
                    help="print FILE:WHERE<TAB>EXPRESSION for every occurrence")
    ap.add_argument("--query", metavar="URL", help="evaluate each expression on this Prometheus")
    ap.add_argument("--require-data", action="store_true",
                    help="with --query: an expression that returns no series fails too")
    args = ap.parse_args()
    overrides = {}
    for v in args.var:
        name, sep, value = v.partition("=")
        if not sep:
            ap.error(f"--var {v}: expected NAME=VALUE")
        overrides[name.lstrip("$")] = value

    items = []
    for path in args.files:
        items.extend(extract(path, overrides))

    if args.query:
        bad = empty = 0
        for where, expr in items:
            status, info = query(args.query, expr)
            if status != "success":
                bad += 1
                print(f"ERROR  {where}  {info}  {expr}")
                continue
            if where.split(":", 1)[0].endswith(".json"):
                unread = [] if info else [expr]
            else:
                unread = [sel for sel in dict.fromkeys(selectors(expr))
                          if query(args.query, f"count({present(sel)})")[1] in (0, "")]
            if info == 0:
                print(f"empty  0 series  {where}  {expr}")
            else:
                print(f"ok     {info} series  {where}  {expr}")
            for sel in unread:
                empty += 1
                print(f"  no data: {sel}")
        print(f"{len(items)} expressions: {len(items) - bad} parse, {bad} errors, {empty} read no data")
        sys.exit(1 if bad or (args.require_data and empty) else 0)

    if args.with_source:
        for where, expr in items:
            print(f"{where}\t{expr}")
    else:
        seen = set()
        for _, expr in items:
            if expr not in seen:
                seen.add(expr)
                print(expr)


if __name__ == "__main__":
    main()
