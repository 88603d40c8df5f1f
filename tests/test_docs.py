"""The README is a front page and the docs hold together: every relative link in README.md and docs/*.md
reaches a file of the checkout, and an #anchor reaches a heading of that file as GitHub slugs it; the README
stays short; comments point only to docs inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LINE_LIMIT = 320

FENCE = re.compile(r"^(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks, where a link or a heading is one."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters, digits, spaces, - and _ kept),
    each space a hyphen; markup such as backticks goes with the punctuation."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return "".join(c for c in text.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in prose(page.read_text()):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    broken = []
    for line in prose(page.read_text()):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not the checkout's
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{target}: no heading of {resolved.name} has the anchor #{anchor}")
    return broken


def test_the_slugs_are_githubs() -> None:
    assert slug("2. CloudFormation, one account: `rules/heartbleed-rule.yaml`") == (
        "2-cloudformation-one-account-rulesheartbleed-ruleyaml"
    )
    assert slug("More Regions: ACM everywhere, IAM once") == "more-regions-acm-everywhere-iam-once"
    assert slug("The demo and `heartbleed-audit`") == "the-demo-and-heartbleed-audit"


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-section) [web](https://example.com/x.md)\n"
        "```\n[in code](nowhere.md)\n```\n"
        "[gone](missing.md) [bad anchor](other.md#no-section) [self](#nothing-here)\n"
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#no-section: no heading of other.md has the anchor #no-section",
        "#nothing-here: no heading of page.md has the anchor #nothing-here",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_LINE_LIMIT, f"README.md has {len(lines)} lines: move detail into docs/"
    assert "make demo" in "\n".join(lines) and "make test" in "\n".join(lines)


def test_comments_point_only_to_docs_in_the_repository() -> None:
    # Never an issue number or a numbered section of a document outside the repository.
    pattern = re.compile(r"design section \d|\bissue \d")
    offenders = []
    for folder in ("HeartbleedServerCertificate", "heartbleed_audit", "bench", "rules"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".yaml", ".json"} and path.is_file():
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if pattern.search(line):
                        offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
