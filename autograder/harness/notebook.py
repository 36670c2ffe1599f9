"""A submitted notebook turned into the .py file the grader grades, by parsing alone.

Nothing in a notebook runs here.

Students who write in Jupyter or Colab may submit `numpy_ann.ipynb` (and the
others) instead of the .py file. The notebook is student input like any other:
`intake` reads at most MAX_NOTEBOOK_BYTES of it, and here it is checked before
anything trusts it: UTF-8; JSON nested at most MAX_DEPTH deep, with at most
MAX_STRUCTURE_BYTES outside its strings (`check_shape`, before `json.loads`
builds anything); nbformat 4; its outputs (Colab's images) stripped, then at
most MAX_STRIPPED_BYTES; valid under nbformat's own schema. Whatever goes wrong
becomes a `NotebookError` naming the cause.

Its code is then reduced to what a module defines (`keep`, the contract's rule):
imports; function and class definitions; assignments whose value is a literal
or a call of a library constructor (a capitalised name of an imported module,
`nn.CrossEntropyLoss()`, or one of LOWER_CASE_CONSTRUCTORS, `torch.device`),
using only names the kept code defines. Magics (`%matplotlib`), shell lines
(`!pip`) and all other top-level work (training, plotting, data loading) are
left out and listed, one line per file, so that the student knows. The rule is
for fairness, not for safety: the code it keeps is graded exactly as a .py is,
in the sandbox, where a .py runs whatever it does at import anyway.

`choose` decides between a .py and a notebook of the same file: an untouched
stub (the handout's, `stub`) gives way to the other; when both were
edited, the .py is graded and the note says so.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass, field

import nbformat

from autograder import ROOT

MAX_NOTEBOOK_BYTES = 20_000_000  # as uploaded, outputs included: Colab's plots are a few MB
MAX_STRIPPED_BYTES = 2_000_000  # once its outputs are stripped: cells of code and text only
MAX_DEPTH = 64  # arrays and objects nested in the JSON (a notebook needs 6)
LIST_CELLS = 8  # cells named in the note of what was left out, before "and N more"
LIST_REASONS = 3  # reasons named for one cell, before "and N more": a cell may hold 100k calls
# The first line of the code kept of a notebook: a coding declaration on line 1 settles the file's
# encoding, so none that a cell holds (`# coding: utf_7`, on line 2) makes Python read the file as
# other code than the grader parsed.
HEADER = "# -*- coding: utf-8 -*-\n"

# Library callables in lower case that build a value and do no work; capitalised names are classes.
LOWER_CASE_CONSTRUCTORS = {
    "torch.device",
    "torch.dtype",
    "torch.cuda.is_available",
    "torch.backends.mps.is_available",
    "numpy.dtype",
    "numpy.random.default_rng",
    "numpy.array",
    "numpy.zeros",
    "numpy.ones",
    "torch.tensor",
    "collections.namedtuple",
}
# Modules whose constructors load or download data: left out like any other data loading.
DATA_MODULES = (
    "torchvision.datasets",
    "torch.utils.data",
    "datasets",
    "tensorflow",
    "keras",
    "sklearn.datasets",
)
# The JSON outside its strings (structure, numbers, true/false/null): a notebook's is a few kB
# per 100 cells, and it bounds how many values json.loads builds.
MAX_STRUCTURE_BYTES = 1_000_000
STRUCTURAL = re.compile(r'["\[\]{}]')  # where a string, an array or an object begins or ends


class NotebookError(ValueError):
    """Why a notebook cannot be graded, in words for the student."""


@dataclass
class Extracted:
    code: str  # the module the grader grades in place of the .py
    left_out: list[str] = field(default_factory=list)  # "cell 12 (top-level call to fit)"


def check_shape(text: str) -> None:
    """NotebookError if the JSON in `text` holds over MAX_STRUCTURE_BYTES outside its strings or
    nests deeper than MAX_DEPTH; checked before json.loads builds anything, in one pass (each
    string is skipped by the json module's own scanner, so no input makes it slower)."""
    depth = outside = at = 0
    while True:
        found = STRUCTURAL.search(text, at)
        outside += (found.start() if found else len(text)) - at
        if outside > MAX_STRUCTURE_BYTES:
            raise NotebookError(f"it is not a notebook: its JSON holds over "
                                f"{MAX_STRUCTURE_BYTES // 1_000_000} MB outside strings")
        if found is None:
            return
        if found[0] == '"':
            try:
                at = json.decoder.scanstring(text, found.end())[1]
            except ValueError:
                raise NotebookError("it is not a notebook: it is not valid JSON (a string "
                                    "does not end)") from None
            continue
        depth += 1 if found[0] in "[{" else -1
        if depth > MAX_DEPTH:
            raise NotebookError(f"it is not a notebook: its JSON nests deeper than "
                                f"{MAX_DEPTH} levels")
        outside, at = outside + 1, found.end()


def strip_outputs(notebook: dict) -> None:
    """Remove what Jupyter and Colab keep beside the code: outputs, counts, attachments."""
    for cell in notebook.get("cells") or []:
        if isinstance(cell, dict):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
            cell.pop("attachments", None)


def parse(data: bytes) -> nbformat.NotebookNode:
    """The notebook in `data`, checked as untrusted input; NotebookError says what is wrong."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"it is {len(data):,} bytes, over the limit of {MAX_NOTEBOOK_BYTES // 1_000_000} MB"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError("it is not a notebook: it is not UTF-8 text") from None
    check_shape(text)
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotebookError(
            f"it is not a notebook: it is not valid JSON ({str(e)[:100]})"
        ) from None
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        version = raw.get("nbformat") if isinstance(raw, dict) else None
        said = (
            f"it says nbformat {version!r}" if version is not None else "it has no nbformat field"
        )
        raise NotebookError(
            f"it is not an nbformat 4 notebook ({str(said)[:80]}); save it again from "
            "Jupyter or Colab (File > Download > .ipynb)"
        )
    strip_outputs(raw)
    stripped = len(json.dumps(raw).encode())
    if stripped > MAX_STRIPPED_BYTES:
        raise NotebookError(
            f"its cells hold {stripped:,} bytes without their outputs, over the limit of "
            f"{MAX_STRIPPED_BYTES // 1_000_000} MB"
        )
    notebook = nbformat.from_dict(raw)
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as e:
        raise NotebookError(
            f"it is not a valid nbformat 4 notebook: {str(e.message)[:200]}"
        ) from None
    return notebook


def source_of(cell) -> str:
    """A cell's source, which nbformat stores as one string or as a list of lines, with "\n"
    ending every line: Python also ends a line at a lone "\r", and the kept statements are
    cut out by the lines that the parser counted."""
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    return source.replace("\r\n", "\n").replace("\r", "\n")


def without_magics(source: str) -> tuple[str, list[str]]:
    """`source` with its IPython magics and shell lines blanked (line numbers kept), and those."""
    lines, dropped = source.split("\n"), {}  # dropped: a dict, an ordered set
    if lines and lines[0].lstrip().startswith("%%"):
        return "", [f"cell magic {lines[0].split()[0][:30]}"]
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            kind = "IPython magic" if stripped[0] == "%" else "shell line"
            dropped[f"{kind} {stripped.split()[0][:30]}"] = None
            lines[i] = ""
    return "\n".join(lines), list(dropped)


def dotted(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


class Module:
    """What the kept code defines so far: imported names (-> what they stand for), and all."""

    def __init__(self):
        self.imported: dict[str, str] = {}
        self.defined: set[str] = set(dir(builtins))

    def add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if isinstance(node, ast.Import):
                bound = alias.asname or alias.name.split(".")[0]
                self.imported[bound] = alias.name if alias.asname else bound
            elif alias.name != "*":
                self.imported[alias.asname or alias.name] = (
                    f"{'.' * node.level}{node.module or ''}.{alias.name}"
                )
        self.defined |= set(self.imported)

    def resolve(self, name: str) -> str | None:
        """The full name of an imported callable (`nn.Linear` -> `torch.nn.Linear`), or None."""
        root, _, rest = name.partition(".")
        if root not in self.imported:
            return None
        return self.imported[root] + ("." + rest if rest else "")

    def is_constructor(self, func: ast.AST) -> bool:
        full = self.resolve(dotted(func) or "")
        if full is None or full.startswith(DATA_MODULES):
            return False
        return full.rsplit(".", 1)[-1][:1].isupper() or full in LOWER_CASE_CONSTRUCTORS

    def is_value(self, node: ast.AST) -> bool:
        """A literal, a name the kept code defines, or a library constructor called on such."""
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = dotted(node)
            return name is not None and name.split(".")[0] in self.defined
        if isinstance(node, ast.Call):
            return (
                self.is_constructor(node.func)
                and all(self.is_value(a) for a in node.args)
                and all(self.is_value(k.value) for k in node.keywords)
            )
        children = {
            ast.Tuple: lambda n: n.elts,
            ast.List: lambda n: n.elts,
            ast.Set: lambda n: n.elts,
            ast.Dict: lambda n: [*filter(None, n.keys), *n.values],
            ast.UnaryOp: lambda n: [n.operand],
            ast.BinOp: lambda n: [n.left, n.right],
            ast.BoolOp: lambda n: n.values,
            ast.Compare: lambda n: [n.left, *n.comparators],
            ast.IfExp: lambda n: [n.test, n.body, n.orelse],
        }
        parts = children.get(type(node))
        return parts is not None and all(self.is_value(part) for part in parts(node))

    def is_target(self, node: ast.AST) -> bool:
        if isinstance(node, (ast.Tuple, ast.List)):
            return all(self.is_target(e) for e in node.elts)
        name = dotted(node)
        return name is not None and ("." not in name or name.split(".")[0] in self.imported)

    def bind(self, node: ast.AST) -> None:
        for target in ast.walk(node):
            if isinstance(target, ast.Name):
                self.defined.add(target.id)


def called(node: ast.AST) -> str:
    """The last name of the first function called in `node`: `model.fit(...)` -> fit."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            name = dotted(inner.func)
            return name.rsplit(".", 1)[-1] if name else "a function"
    return ""


KINDS = {
    ast.For: "for loop",
    ast.AsyncFor: "for loop",
    ast.While: "while loop",
    ast.If: "if statement",
    ast.With: "with statement",
    ast.AsyncWith: "with statement",
    ast.Try: "try statement",
    ast.AugAssign: "augmented assignment",
    ast.Delete: "del statement",
    ast.Assert: "assert",
}


def keep(node: ast.stmt, module: Module) -> str | None:
    """None if the contract's rule keeps this top-level statement (`module` learns what it
    binds), else why not."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        module.add_import(node)
        return None
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        module.defined.add(node.name)
        return None
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return None  # a string standing alone, as a docstring does
    if isinstance(node, ast.AnnAssign) and called(node.annotation):
        return f"top-level call to {called(node.annotation)}"  # a module's annotation runs
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if all(module.is_target(t) for t in targets) and module.is_value(node.value):
            for target in targets:
                module.bind(target)
            return None
        what = called(node.value)
        return (
            f"top-level call to {what}"
            if what
            else "assignment of a value the kept code does not define"
        )
    if isinstance(node, ast.AnnAssign):
        return None
    if isinstance(node, ast.Expr):
        what = called(node)
        return f"top-level call to {what}" if what else "top-level expression"
    return f"top-level {KINDS.get(type(node), type(node).__name__.lower())}"


def segment(lines: list[str], node: ast.stmt, shared: bool) -> str:
    """The source of a kept statement: its own lines (decorators and comments inside it kept),
    or, when it shares a line with another statement (`import x; fit()`), the statement alone,
    unparsed."""
    if shared:
        return ast.unparse(node)
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[first - 1 : node.end_lineno])


def is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__" and not node.level


def kept_code(source: str, module: Module, futures: dict | None = None
              ) -> tuple[list[str], list[str]]:
    """(the kept statements' source, why each other one is left out) of one cell's parsed source.
    Its `from __future__` imports go to `futures`, which the kept code begins with: Jupyter takes
    them in any cell, a module only before its other statements."""
    tree = ast.parse(source)
    lines = source.split("\n")
    body, kept, reasons = tree.body, [], {}  # reasons: a dict, an ordered set
    future = [node for node in body if is_future(node)] if futures is not None else []
    for node in future:
        futures[ast.unparse(node)] = None
    # A cell of definitions alone is kept as written, its comments too.
    if not future and all(keep(node, module) is None for node in body):
        return ([source.strip("\n")] if body else []), []
    for i, node in enumerate(body):
        why = keep(node, module)
        if why is None and node in future:
            continue
        if why is None:
            shared = (i > 0 and body[i - 1].end_lineno >= node.lineno) or (
                i + 1 < len(body) and body[i + 1].lineno <= node.end_lineno
            )
            kept.append(segment(lines, node, shared))
        else:
            reasons[why] = None
    return kept, list(reasons)


def extract(notebook) -> Extracted:
    """The module a notebook defines, by the contract's rule, and what was left out, by cell."""
    module, parts, left_out, futures = Module(), [], [], {}
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source, reasons = without_magics(source_of(cell))
        try:
            kept, more = kept_code(source, module, futures)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            why = getattr(e, "msg", None) or str(e) or "it nests too deeply for the parser"
            kept, more = [], [f"not valid Python: {why[:80]}"]
        reasons = list(dict.fromkeys(reasons + more))
        if kept:
            parts.append(f"# cell {number}\n" + "\n\n".join(kept))
        if reasons:
            listed = "; ".join(reasons[:LIST_REASONS]) + (
                f"; and {len(reasons) - LIST_REASONS} more" if len(reasons) > LIST_REASONS else "")
            left_out.append(f"cell {number} ({listed})")
    parts = ["\n".join(futures)] * bool(futures) + parts
    return Extracted(HEADER + "\n\n\n".join(parts) + "\n", left_out)


def note(name: str, extracted: Extracted) -> str:
    """The one line telling the student what of their notebook was not run while grading."""
    if not extracted.left_out:
        return f"{name}: graded as its code; every cell's code is kept."
    cells = extracted.left_out[:LIST_CELLS]
    more = len(extracted.left_out) - len(cells)
    listed = ", ".join(cells) + (f" and {more} more cell(s)" if more > 0 else "")
    return (
        f"{name}: graded as the imports, definitions and constants of its code cells; "
        f"not run while grading: {listed}."
    )


def read(data: bytes) -> Extracted:
    """Parse and extract; NotebookError for a notebook that cannot be graded, whatever broke."""
    try:
        return extract(parse(data))
    except NotebookError:
        raise
    # Untrusted JSON must never stop the grader: whatever else breaks is this file's failure.
    except Exception as e:
        raise NotebookError(f"it could not be read as a notebook ({type(e).__name__})") from None


# --- the stubs, as .py and as notebooks ---------------------------------------------------------

# Where the stubs are: the repository's student/; the copies in the Gradescope zip and the
# handout, named so that nothing there is a file of the assignment (autograder/stubs/FILE.stub).
STUB_PLACES = ["student/{}.py", "autograder/stubs/{}.stub"]


def stub(file: str) -> bytes | None:
    """The handout's stub FILE.py, where this copy of the grader has it."""
    for place in STUB_PLACES:
        if (ROOT / place.format(file)).is_file():
            return (ROOT / place.format(file)).read_bytes()
    return None


def normal(text: str) -> str:
    """Text compared without a byte order mark, line endings (\\n, \\r\\n or \\r), trailing spaces
    or blank lines: what an editor's save may change."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n") if line.strip())


def code_cells(notebook) -> str:
    return normal(
        "\n".join(source_of(c) for c in notebook.get("cells", []) if c.get("cell_type") == "code")
    )


def is_stub_py(file: str, data: bytes) -> bool:
    original = stub(file)
    return original is not None and normal(data.decode("utf-8", "replace")) == normal(
        original.decode())


def is_stub_notebook(file: str, notebook) -> bool:
    original = stub(file)
    return original is not None and code_cells(notebook) == code_cells(
        as_notebook(original.decode()))


def as_notebook(script: str) -> nbformat.NotebookNode:
    """A stub .py as a notebook: its docstring as text, its imports, each definition in a cell of
    its own, and the `__main__` block as the cell that trains. Lines that need `__file__`, which
    a notebook lacks, are adapted."""
    tree = ast.parse(script)
    lines = script.split("\n")
    new_code, cells, body, start = nbformat.v4.new_code_cell, [], list(tree.body), 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        cells.append(nbformat.v4.new_markdown_cell(ast.get_docstring(tree)))
        start = body.pop(0).end_lineno
    imports = [n for n in body if not isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.If))]
    if imports:
        text = lines[start:imports[-1].end_lineno]
        cells.append(new_code("\n".join(line for line in text if "__file__" not in line).strip()))
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            cells.append(new_code("\n".join(lines[node.lineno - 1:node.end_lineno])))
        elif isinstance(node, ast.If):
            main = "\n".join(line[4:] for line in lines[node.body[0].lineno - 1:node.end_lineno])
            cells.append(nbformat.v4.new_markdown_cell("Train with your defaults and check the "
                                                       "test accuracy."))
            cells.append(new_code(main.replace("Path(__file__).with_name(", "Path(")))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for number, cell in enumerate(notebook.cells, start=1):
        cell.id = f"cell-{number}"  # fixed ids: the handout's bytes are the same for one commit
    return notebook


def stub_notebook(file: str) -> str:
    """The handout's FILE.ipynb: the stub .py as a notebook, as nbformat writes it."""
    return nbformat.writes(as_notebook(stub(file).decode()))


@dataclass
class Choice:
    code: bytes | None  # graded as FILE.py; None: nothing (the file fails, `why` says why)
    notes: list[str] = field(default_factory=list)
    why: str | None = None  # the file's failure, when the notebook meant to be graded cannot be
    from_notebook: bool = False  # the code is the notebook's


def choose(file: str, py: bytes | None, ipynb: bytes | None) -> Choice:
    """What is graded as FILE.py when the submission holds the .py, the notebook, or both."""
    name = f"{file}.ipynb"
    if ipynb is None:
        return Choice(py)
    py_edited = py is not None and not is_stub_py(file, py)
    try:
        notebook = parse(ipynb)
        extracted = extract(notebook)
    except Exception as e:  # untrusted JSON must never stop the grader: this file fails alone
        why = str(e) if isinstance(e, NotebookError) else \
            f"it could not be read as a notebook ({type(e).__name__})"
        if py_edited:
            return Choice(py, [f"Ignored {name}: {why}; {file}.py is graded."])
        return Choice(None, [f"Skipped {name}: {why}."], why=f"{name} cannot be graded: {why}",
                      from_notebook=True)
    if py_edited:
        if is_stub_notebook(file, notebook):
            return Choice(py)
        return Choice(py, [f"Both {file}.py and {name} were edited: {file}.py is graded, "
                           f"{name} is not."])
    if py is not None and is_stub_notebook(file, notebook):
        return Choice(py)  # both untouched: the stub is graded, and scores what a stub scores
    return Choice(extracted.code.encode(), [note(name, extracted)], from_notebook=True)
