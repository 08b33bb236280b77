"""The contract test's exemptions, by error code (deploy/contract-rules.toml).

schemathesis's `positive_data_acceptance` check wants every request the document allows to be
accepted. A few rules of the API cannot be written in JSON Schema (a template that exists, a
target that resolves to public addresses, ...); a request the document allows may break one and
be refused. Its configuration can only exempt whole statuses of an operation, which would hide
any other refusal too, so:

- as a schemathesis hooks module (SCHEMATHESIS_HOOKS=contract_checks, with deploy/ on
  PYTHONPATH) it registers `positive_data_acceptance_by_code`, the same check that accepts a
  refusal only when every problem the error body lists has one of the codes the rules name for
  that operation (deploy/contract-test.sh disables the built-in check in that run);
- as a script, `python3 deploy/contract_checks.py explain JUNIT_XML OPENAPI_JSON` reads the
  report of a run with no exemptions at all, prints each failure with the rule behind it, and
  exits 1 if a failure is not one of the listed rules.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

RULES_FILE = Path(__file__).with_name("contract-rules.toml")


@dataclass(frozen=True)
class Rule:
    rule: str
    operations: tuple[str, ...]
    status: int
    codes: frozenset[str]
    media_type: str | None


def load_rules(path: Path = RULES_FILE) -> list[Rule]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    rules = []
    for entry in data.get("rule", []):
        unknown = set(entry) - {"rule", "operations", "status", "codes", "media_type"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)} in {entry}")
        if not entry.get("codes"):
            raise ValueError(f"{path}: a rule must name its error codes: {entry}")
        rules.append(
            Rule(
                rule=entry["rule"],
                operations=tuple(entry["operations"]),
                status=int(entry["status"]),
                codes=frozenset(entry["codes"]),
                media_type=entry.get("media_type"),
            )
        )
    return rules


def problem_codes(body: object) -> list[str] | None:
    """Every problem's code in an error body: each of `errors`, else the one `code`."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    listed = error.get("errors")
    if isinstance(listed, list) and listed:
        codes = [e.get("code") for e in listed if isinstance(e, dict)]
        return codes if all(isinstance(c, str) for c in codes) else None
    code = error.get("code")
    return [code] if isinstance(code, str) else None


def explaining_rule(
    rules: list[Rule], operation: str, status: int, media_type: str | None, codes: list[str] | None
) -> Rule | None:
    """The rule that explains this refusal: one whose codes cover every problem listed."""
    if not codes:
        return None
    for rule in rules:
        if operation not in rule.operations or status != rule.status:
            continue
        if rule.media_type is not None and (media_type or "").split(";")[0].strip() != rule.media_type:
            continue
        if all(code in rule.codes for code in codes):
            return rule
    # Several problems at once may come from different rules of the same operation.
    covering = [
        r
        for r in rules
        if operation in r.operations
        and status == r.status
        and (r.media_type is None or (media_type or "").split(";")[0].strip() == r.media_type)
    ]
    if covering and all(any(code in r.codes for r in covering) for code in codes):
        return Rule(
            rule="; ".join(sorted({r.rule for r in covering if r.codes & set(codes)})),
            operations=(operation,),
            status=status,
            codes=frozenset(codes),
            media_type=media_type,
        )
    return None


# --- as a schemathesis hooks module -----------------------------------------------------------

if __name__ != "__main__":
    import schemathesis
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    _RULES = load_rules()

    @schemathesis.check
    def positive_data_acceptance_by_code(ctx, response, case):  # type: ignore[no-untyped-def]
        """`positive_data_acceptance`, except for refusals a listed rule explains."""
        meta = case.meta
        if meta is not None and meta.generation.mode.is_positive:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
            rule = explaining_rule(
                _RULES,
                case.operation.label,
                response.status_code,
                case.media_type,
                problem_codes(body),
            )
            if rule is not None:
                return None
        return positive_data_acceptance(ctx, response, case)


# --- as a script: explain the failures of a run without exemptions ----------------------------

CURL = re.compile(r"curl -X (?P<method>[A-Z]+) (?P<args>.*?)'?(?P<url>https?://[^\s']+)'?\s*$", re.M)
STATUS = re.compile(r"^\[(?P<status>\d{3})\] [^\n]*:\n\s*\n?\s*`(?P<body>.*?)`\s*$", re.M | re.S)


def operation_of(paths: list[str], method: str, url: str) -> str:
    """The `METHOD /template` whose path template matches the request's URL."""
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    for template in paths:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return f"{method} {template}"
    return f"{method} {path}"


def explain(junit: Path, document: Path, rules: list[Rule]) -> int:
    import xml.etree.ElementTree as ET

    paths = sorted(json.loads(document.read_text())["paths"], key=lambda p: p.count("{"))
    failures = []
    for testcase in ET.parse(junit).getroot().iter("testcase"):
        for failure in testcase.iter("failure"):
            # One block per failing test case: "1. Test Case ID: ...".
            for block in re.split(r"^\d+\. Test Case ID: \S+\s*$", failure.text or "", flags=re.M)[1:]:
                checks = re.findall(r"^- (ST\d+) (.*)$", block, re.M)
                requests = list(CURL.finditer(block))
                answer = STATUS.search(block)
                failures.append((testcase.get("name"), checks, requests[-1] if requests else None, answer, block))
    unexplained = 0
    print(f"contract-test: {len(failures)} failure(s) without exemptions:")
    for name, checks, request, answer, block in failures:
        labels = ", ".join(f"{code} {title}" for code, title in checks) or "no check named"
        operation = operation_of(paths, request["method"], request["url"]) if request else name
        rule = None
        if request and answer and [code for code, _ in checks] == ["ST202"]:
            media_type = None
            header = re.search(r"-H 'Content-Type: ([^']+)'", request["args"])
            if header:
                media_type = header.group(1)
            try:
                body = json.loads(answer["body"])
            except ValueError:
                # Shortened in the report: the top code, then those of the problems still shown.
                codes = re.findall(r'"code":"([a-z_]+)"', answer["body"])
                body = {"error": {"code": codes[0], "errors": [{"code": c} for c in codes[1:]]}} if codes else None
            rule = explaining_rule(rules, operation, int(answer["status"]), media_type, problem_codes(body))
        status = answer["status"] if answer else "?"
        if rule is None:
            unexplained += 1
            print(f"  - {operation}: {labels} [{status}] NOT A LISTED RULE\n{block}")
        else:
            print(f"  - {operation}: {labels} [{status}] {sorted(problem_codes(body) or [])}: {rule.rule}")
    if unexplained:
        print(f"contract-test: {unexplained} failure(s) not explained by deploy/contract-rules.toml")
        return 1
    print("contract-test: every failure is one of the listed rules")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "explain":
        sys.exit("usage: contract_checks.py explain JUNIT_XML OPENAPI_JSON")
    sys.exit(explain(Path(sys.argv[2]), Path(sys.argv[3]), load_rules()))
