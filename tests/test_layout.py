"""Every Python file of the project opens with a docstring that says what it owns."""

import ast
import subprocess

from tests.conftest import ROOT


def test_every_python_file_opens_with_a_docstring():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert files, "git lists no Python file"
    missing = [name for name in files if not ast.get_docstring(ast.parse((ROOT / name).read_text(), name))]
    assert not missing, f"files without an opening docstring: {missing}"
