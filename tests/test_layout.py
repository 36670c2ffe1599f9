"""Every Python file of the project opens with a docstring that says what it owns."""

import ast
import re
import subprocess

from tests.conftest import ROOT


def test_every_python_file_opens_with_a_docstring():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert files, "git lists no Python file"
    missing = [name for name in files if not ast.get_docstring(ast.parse((ROOT / name).read_text(), name))]
    assert not missing, f"files without an opening docstring: {missing}"


def test_the_readme_layout_table_lists_every_folder_of_the_grader():
    """Each folder of autograder/ has its row in the README's Layout table, and no row names a folder that is gone."""
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Layout"):]
    rows = set(re.findall(r"^\| `(autograder/[a-z_]+/)` \|", table, re.MULTILINE))
    folders = {f"autograder/{p.parent.name}/" for p in (ROOT / "autograder").glob("*/__init__.py")}
    assert rows == folders, f"README rows {sorted(rows)} != packages {sorted(folders)}"


def test_a_worker_imports_only_what_it_receives():
    """Everything the worker runtime imports from the project, transitively, is in the folders a worker gets."""
    from autograder.harness import sandbox
    from autograder.packaging import handout

    received = set(sandbox.lib_files())
    todo, seen = [str(p.relative_to(ROOT)) for p in (ROOT / "autograder" / "runtime").glob("*.py")], set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        for node in ast.walk(ast.parse((ROOT / rel).read_text(), rel)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            todo += [f for f in map(handout.module_file, names) if f]
    assert seen - received == set(), f"imported by the worker runtime but not handed to workers: {seen - received}"
    assert "autograder/runtime/worker.py" in seen and "utils.py" in seen
