"""The generated parts of README.md and docs/CONTRACT.md are current (`make docs`)."""

import importlib.util

from tests.conftest import ROOT


def docs_tool():
    spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "tools" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_generated_block_is_current():
    stale = docs_tool().stale()
    assert not stale, f"stale generated documentation ({', '.join(stale)}): run `make docs`"


def test_each_document_has_its_blocks():
    tool = docs_tool()
    names = {
        path.name: [m["name"] for m in tool.BLOCK.finditer(path.read_text())]
        for path in tool.DOCUMENTS
    }
    assert names == {
        "README.md": ["files", "gradescope-readme"],
        "CONTRACT.md": ["thresholds", "gradescope", "tests", "check-output"],
    }


def test_a_stale_block_is_named(tmp_path, monkeypatch):
    tool = docs_tool()
    text = (ROOT / "docs" / "CONTRACT.md").read_text()
    marker = "<!-- make docs: thresholds -->\n"
    text = text.replace(marker, marker + "NumPy ANN >= 1 %.\n", 1)
    rendered, changed = tool.render(text)
    assert changed == ["thresholds"] and ">= 1 %" not in rendered
