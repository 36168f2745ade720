"""Every relative link and #anchor in the README and docs/ resolves, as GitHub renders them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import REPO

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def documents() -> list[Path]:
    """The README and the pages under docs/ (not the docs/notes-*.md drafts, which are folded into pages)."""
    pages = [p for p in (REPO / "docs").rglob("*.md") if not p.name.startswith("notes-")]
    return [REPO / "README.md", *sorted(pages), *sorted((REPO / "tests" / "data").glob("*.md"))]


def without_code(text: str) -> str:
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: links and images become their text, markup and punctuation go, spaces
    become hyphens (github/cmark-gfm's anchor filter: lowercase, keep word characters, '-' and ' ')."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a page has; a repeated heading gets -1, -2... as on GitHub."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in HEADING.finditer(FENCE.sub("", path.read_text())):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(without_code(path.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:: not ours to check offline
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if REPO.resolve() not in linked.parents and linked != REPO.resolve():
            broken.append(f"{target} (outside the repository)")
        elif not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target} (no heading #{anchor} in {linked.name})")
    return broken


@pytest.mark.parametrize("page", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_the_pages_the_readme_promises_exist():
    for name in ("events", "home-assistant", "teaching", "web", "performance", "long-runs", "security",
                 "raspberry-pi", "development", "troubleshooting"):
        assert (REPO / "docs" / f"{name}.md").is_file(), name
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert len(readme.split()) <= 1800  # read in about five minutes: the details live in docs/


def test_github_style_anchors():
    assert slug("The `--window`") == "the---window"
    assert slug("Clips and snapshots (`--record`)") == "clips-and-snapshots---record"
    assert slug("The main job: over SSH, onto the HDMI monitor") == "the-main-job-over-ssh-onto-the-hdmi-monitor"
    assert slug("Headless: only the classified frames are decoded") == "headless-only-the-classified-frames-are-decoded"
    assert slug("[Events](docs/events.md) and more") == "events-and-more"


def test_a_broken_link_or_anchor_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n\n## A part\n")
    page.write_text("# Page\n\n[ok](other.md#a-part) [ok2](other.md#a-part-1) [self](#page)\n"
                    "[gone](missing.md) [no anchor](other.md#nope) [web](https://example.com/x#y)\n"
                    "`[in code](missing.md)`\n\n```\n[in a block](missing.md)\n```\n")
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nope (no heading #nope in other.md)"]
