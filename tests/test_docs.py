"""The documentation agrees with the code: config/README.md is what the schema generates, every
schema key is described, every relative link resolves, and the README stays a front page."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from galaxy_cnn import configdoc

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def schema() -> dict:
    return yaml.safe_load((ROOT / configdoc.SCHEMA).read_text())


def test_config_readme_is_what_the_schema_generates():
    committed = (ROOT / "config" / "README.md").read_text()
    assert committed == configdoc.read_reference(ROOT), (
        "config/README.md is out of date: run "
        "`.venv/bin/python -m galaxy_cnn.configdoc > config/README.md`"
    )


def test_every_schema_key_has_a_description():
    assert configdoc.undescribed(schema()) == []


def test_the_reference_has_a_row_per_key_showing_each_configs_value():
    rows = {}
    for line in configdoc.read_reference(ROOT).splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells
    for path, _, _ in configdoc.schema_keys(schema()):
        assert ".".join(path) in rows or len(path) == 1, ".".join(path)
    for column, name in ((3, "config.yaml"), (4, "demo.yaml")):
        cfg = yaml.safe_load((ROOT / "config" / name).read_text())
        for key, cells in rows.items():
            if "{" in key:
                continue
            value = cfg
            for part in key.split("."):
                value = value.get(part, "not set") if isinstance(value, dict) else "not set"
            shown = cells[column]
            assert (yaml.safe_load(shown.strip("`")) if shown != "not set" else shown) == value, key


def test_a_key_without_description_is_found():
    bare = {
        "properties": {
            "a": {"description": "x", "properties": {"b": {"type": "integer"}}},
            "m": {"description": "y", "additionalProperties": {"type": "array"}},
        }
    }
    assert configdoc.undescribed(bare) == ["a.b", "m.{name}"]
    with pytest.raises(ValueError, match=r"without a description: a\.b, m\.\{name\}"):
        configdoc.config_reference(bare, {"demo": {}})


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    body = FENCE.sub("", page.read_text())
    return {github_slug(m[1]) for m in re.finditer(r"^#+\s+(.*)$", body, re.M)}


def relative_links(page: Path) -> list[str]:
    body = FENCE.sub("", page.read_text())
    body = re.sub(r"`[^`\n]*`", "", body)
    targets = LINK.findall(body) + re.findall(r"<img [^>]*src=\"([^\"]+)\"", body)
    return [t for t in targets if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert broken == []


def test_the_link_checker_sees_a_broken_link(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "# Top\n\n[a](p.md#top) [b](missing.md) `[c](in-code.md)` [d](https://x.org/y)\n"
        '<img src="img/a.png" width="9">\n'
    )
    assert relative_links(page) == ["p.md#top", "missing.md", "img/a.png"]
    assert anchors(page) == {"top"}


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    first_block = FENCE.search(text)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    commands = [c for c in commands if c]
    assert len(commands) == 2, commands
    targets = set(re.findall(r"^([A-Za-z][\w.-]*):", (ROOT / "Makefile").read_text(), re.M))
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "make" and words[1] in targets, f"{command}: not a Makefile target"


def test_conda_commands_also_show_the_snakemake_9_spelling():
    for page in PAGES:
        text = page.read_text()
        if "--use-conda" in text:
            assert "--sdm conda" in text, (
                f"{page.relative_to(ROOT)} shows --use-conda without --sdm conda"
            )
