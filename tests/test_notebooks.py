"""Notebook submissions: what is kept of a notebook, which form is graded, and bad notebooks failing
alone.

A notebook is student input: the grader parses it (never runs it), with caps,
and grades the code it keeps exactly as it grades a .py. The first test grades
the reference exported from Colab (magics, a shell line, Markdown cells, a
top-level training cell and a 3 MB plot among its outputs): it must score 100.
The rest check the extraction and intake on their own, without grading.
"""

from __future__ import annotations

import functools
import json
import shutil

import nbformat
import pytest

from autograder.core import config
from autograder.harness import intake, notebook
from tests.conftest import ROOT, failed
from tests.notebooks import colab

PNGS = list(config.PNG_FILES.values())


@functools.lru_cache
def reference(file: str, extra: bool = True) -> bytes:
    return colab((ROOT / "solutions" / f"{file}.py").read_text(), f"{file}.ipynb", extra)


def code_of(cells: list[str]) -> str:
    """The code the grader keeps of a notebook with these code cells."""
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    return notebook.read(nbformat.writes(document).encode()).code


def snapshot(tmp_path, files: dict[str, bytes]) -> intake.Snapshot:
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return intake.snapshot(folder, tmp_path / "taken")


def test_the_reference_exported_from_colab_scores_100(run_grader, tmp_path):
    folder = tmp_path / "colab"
    folder.mkdir()
    for file in config.FILES:
        (folder / f"{file}.ipynb").write_bytes(reference(file))
    for png in PNGS:
        shutil.copy(ROOT / "solutions" / png, folder / png)
    results = run_grader(folder)
    assert results["score"] == 100, failed(results)
    assert "cell 2 (shell line !pip; IPython magic %matplotlib" in results["output"]
    assert "top-level call to fit" in results["output"]


def test_imports_definitions_and_constants_are_kept():
    code = code_of(
        [
            "import torch\nfrom torch import nn\nimport numpy as np",
            "EPOCHS = 3\nSIZES = (784, 128, -10)\nLR: float = 1e-3",
            'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
            "criterion = nn.CrossEntropyLoss()",
            "@torch.no_grad()\ndef f(x):\n    # a comment\n    return x",
            "class Net(nn.Module):\n    pass",
        ]
    )
    for line in [
        "EPOCHS = 3",
        "LR: float = 1e-3",
        "criterion = nn.CrossEntropyLoss()",
        "@torch.no_grad()",
        "# a comment",
        "class Net(nn.Module):",
        'device = torch.device("cuda"',
    ]:
        assert line in code


@pytest.mark.parametrize(
    "cell, reason",
    [
        ("history = model.fit(X, y)", "top-level call to fit"),
        ("X_train, y_train = utils.load_data('numpy')", "top-level call to load_data"),
        ("import time\ntime.sleep(100)", "top-level call to sleep"),
        (
            "import os\nfrom os import system as System\nx = System('echo hi')",
            "top-level call to System",
        ),
        ("import builtins as B\nx = B.exec('1')", "top-level call to exec"),
        (
            "import torchvision\nds = torchvision.datasets.FashionMNIST('data', download=True)",
            "top-level call to FashionMNIST",
        ),
        (
            "from torch import nn\nloss = nn.CrossEntropyLoss(weight=undefined_name)",
            "top-level call to CrossEntropyLoss",
        ),
        ("for epoch in range(3):\n    pass", "top-level for loop"),
        ("if __name__ == '__main__':\n    main()", "top-level if statement"),
        ("import numpy as np; np.save('x', 1)", "top-level call to save"),
    ],
)
def test_top_level_work_is_left_out_and_named(cell, reason):
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    extracted = notebook.read(nbformat.writes(document).encode())
    assert extracted.left_out == [f"cell 1 ({reason})"]
    assert not any(
        word in extracted.code
        for word in (
            "fit(",
            "sleep(",
            "System(",
            "exec(",
            "FashionMNIST(",
            "CrossEntropyLoss(",
            "for ",
            "main()",
            "save(",
        )
    )


def test_magics_shell_lines_and_cells_that_do_not_parse_are_left_out():
    document = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%matplotlib inline\n!pip install torch\nimport numpy as np"),
            nbformat.v4.new_code_cell("%%bash\nrm -rf /"),
            nbformat.v4.new_code_cell("def broken(:\n    pass"),
            nbformat.v4.new_markdown_cell("import os\nos.system('x')"),
        ]
    )
    extracted = notebook.read(nbformat.writes(document).encode())
    assert extracted.code.strip().splitlines()[-1] == "import numpy as np"
    assert extracted.left_out[0] == "cell 1 (IPython magic %matplotlib; shell line !pip)"
    assert extracted.left_out[1] == "cell 2 (cell magic %%bash)"
    assert extracted.left_out[2].startswith("cell 3 (not valid Python")
    assert "os.system" not in extracted.code


def bad(kind: str) -> bytes:
    good = json.loads(reference("numpy_ann", extra=False))
    if kind == "not JSON":
        return b'{"nbformat": 4, "cells": [' + b"x" * 100
    if kind == "not UTF-8":
        return b'{"nbformat": 4, "cells": ["\xff\xfe"]}'
    if kind == "nbformat 3":
        return json.dumps(
            {"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}
        ).encode()
    if kind == "nested 100,000 deep":
        return b'{"nbformat": 4, "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    if kind == "millions of numbers":
        return b'{"nbformat": 4, "metadata": {"x": [' + b"1," * 3_000_000 + b"1]}}"
    if kind == "a string that never ends, of escaped quotes":
        return b'{"nbformat": 4, "metadata": "' + b'\\"' * 5_000_000
    if kind == "a JSON list":
        return b"[1, 2, 3]"
    if kind == "invalid under the schema":
        good["cells"][0]["cell_type"] = "spreadsheet"
        return json.dumps(good).encode()
    if kind == "too much code":
        good["cells"].append(
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": "x = 1\n" * 400_000,
            }
        )
        return json.dumps(good).encode()
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("not JSON", "it is not valid JSON"),
        ("not UTF-8", "it is not UTF-8 text"),
        ("nbformat 3", "not an nbformat 4 notebook (it says nbformat 3)"),
        ("millions of numbers", "over 1 MB outside strings"),
        ("a string that never ends, of escaped quotes", "a string does not end"),
        ("nested 100,000 deep", "nests deeper than 64 levels"),
        ("a JSON list", "it has no nbformat field"),
        ("invalid under the schema", "not a valid nbformat 4 notebook"),
        ("too much code", "without their outputs, over the limit of 2 MB"),
    ],
)
def test_a_bad_notebook_fails_its_own_file_with_a_clear_message_and_the_others_are_taken(
    tmp_path, kind, message
):
    taken = snapshot(
        tmp_path,
        {
            "numpy_ann.ipynb": bad(kind),
            "pytorch_ann.ipynb": reference("pytorch_ann"),
            "pytorch_cnn.py": (ROOT / "solutions" / "pytorch_cnn.py").read_bytes(),
        },
    )
    assert "numpy_ann.py" not in taken.files and message in taken.skipped["numpy_ann.py"]
    assert any(n.startswith("Skipped numpy_ann.ipynb: ") and message in n for n in taken.notes)
    assert {"pytorch_ann.py", "pytorch_cnn.py"} <= set(taken.files)


def test_outputs_are_stripped_before_the_size_cap(tmp_path):
    data = reference("pytorch_cnn")
    assert len(data) > 3 * notebook.MAX_STRIPPED_BYTES // 2  # its plot alone is over the cap
    assert "pytorch_cnn.py" in snapshot(tmp_path, {"pytorch_cnn.ipynb": data}).files


def test_a_notebook_over_the_upload_cap_is_skipped_unread(tmp_path):
    taken = snapshot(tmp_path, {"pytorch_ann.ipynb": b" " * (notebook.MAX_NOTEBOOK_BYTES + 1)})
    assert "over the limit of 20 MB" in taken.skipped["pytorch_ann.py"]


def test_the_notebook_is_graded_when_the_py_is_the_untouched_stub(tmp_path):
    taken = snapshot(
        tmp_path,
        {
            "numpy_ann.py": (ROOT / "student" / "numpy_ann.py").read_bytes(),
            "numpy_ann.ipynb": reference("numpy_ann"),
        },
    )
    assert "def relu(z):" in taken.files["numpy_ann.py"].read_text()
    assert "np.maximum" in taken.files["numpy_ann.py"].read_text()


@pytest.mark.parametrize("save", [lambda b: b"\xef\xbb\xbf" + b, lambda b: b.replace(b"\n", b"\r")],
                         ids=["byte order mark", "old Mac line endings"])
def test_a_stub_py_saved_by_an_editor_is_still_the_untouched_stub(tmp_path, save):
    # Saved untouched with a BOM (Notepad) or \r line endings, the stub counted as edited: it was
    # graded (0 points) in place of the student's notebook.
    stub = (ROOT / "student" / "numpy_ann.py").read_bytes()
    taken = snapshot(tmp_path, {"numpy_ann.py": save(stub), "numpy_ann.ipynb": reference("numpy_ann")})
    assert "np.maximum" in taken.files["numpy_ann.py"].read_text()
    assert not any(note.startswith("Both") for note in taken.notes)


def test_the_py_is_graded_when_the_notebook_is_the_untouched_stub(tmp_path):
    solution = (ROOT / "solutions" / "numpy_ann.py").read_bytes()
    taken = snapshot(
        tmp_path,
        {"numpy_ann.py": solution, "numpy_ann.ipynb": notebook.stub_notebook("numpy_ann").encode()},
    )
    assert taken.files["numpy_ann.py"].read_bytes() == solution and not taken.notes


def test_when_both_were_edited_the_py_is_graded_and_the_grader_says_so(tmp_path):
    solution = (ROOT / "solutions" / "numpy_ann.py").read_bytes()
    taken = snapshot(
        tmp_path, {"numpy_ann.py": solution, "numpy_ann.ipynb": reference("numpy_ann")}
    )
    assert taken.files["numpy_ann.py"].read_bytes() == solution
    assert taken.notes == [
        "Both numpy_ann.py and numpy_ann.ipynb were edited: numpy_ann.py is graded, "
        "numpy_ann.ipynb is not."
    ]


def test_the_stub_notebooks_hold_the_stubs_code_and_run_without_file():
    for file in config.FILES:
        document = nbformat.reads(notebook.stub_notebook(file), as_version=4)
        nbformat.validate(document)
        code = "\n".join(c.source for c in document.cells if c.cell_type == "code")
        assert "__file__" not in code and "YOUR CODE HERE" in code
        assert notebook.stub_notebook(file) == notebook.stub_notebook(
            file
        )  # the same bytes every time


def run_kept(code: str, tmp_path) -> str:
    """What Python prints when it imports the kept code as a file, as the worker does."""
    import subprocess
    import sys

    path = tmp_path / "kept.py"
    path.write_bytes(code.encode())
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def test_a_lone_carriage_return_does_not_shift_the_kept_lines(tmp_path):
    # Python ends a line at a lone "\r": the statements after it were cut out of the wrong lines,
    # so that a dropped call stood where a kept assignment was counted.
    code = code_of(["import os\rprint('RAN AT IMPORT')\nx = 1\nfit()"])
    assert "print(" not in code and "fit(" not in code and "x = 1" in code
    assert "RAN AT IMPORT" not in run_kept(code, tmp_path)


def test_a_coding_declaration_in_a_cell_does_not_change_what_python_reads(tmp_path):
    # On the file's second line, `# coding: utf_7` made Python decode "+AAo-" as a newline: a call
    # hidden in a comment, which the grader parsed as one, ran at import.
    code = code_of(["# coding: utf_7\nimport os  # +AAo-print('RAN AT IMPORT')"])
    assert "RAN AT IMPORT" not in run_kept(code, tmp_path)


def test_a_call_in_a_module_annotation_is_left_out():
    # A module's annotations are evaluated at import: `x: fit()` is a top-level call.
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x: print('RAN AT IMPORT')\ny: int = 3\nz: list[int]")])
    extracted = notebook.read(nbformat.writes(document).encode())
    assert "print(" not in extracted.code and "y: int = 3" in extracted.code
    assert "z: list[int]" in extracted.code
    assert extracted.left_out == ["cell 1 (top-level call to print)"]


def test_a_cell_of_many_calls_is_read_in_linear_time_and_noted_in_one_short_line():
    # Each distinct call was one more reason, looked up in a list: 60,000 calls took 29 s, and
    # the note listed every one of them (1.5 MB).
    import time

    source = "".join(f"a{i}()\n%m{i}\n" for i in range(60_000))
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    start = time.process_time()
    choice = notebook.choose("numpy_ann", None, nbformat.writes(document).encode())
    assert time.process_time() - start < 15
    assert len(" ".join(choice.notes)) < 1000
    assert "and 119997 more" in choice.notes[0]


def test_a_cell_too_deep_for_the_parser_is_left_out_with_a_reason():
    # The parser gives up on 100,000 nested `not` with a MemoryError without a message: the note
    # said "not valid Python: " and nothing more.
    document = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "x = " + "not " * 100_000 + "1")])
    extracted = notebook.read(nbformat.writes(document).encode())
    assert extracted.left_out == ["cell 1 (not valid Python: it nests too deeply for the parser)"]


def test_a_future_import_in_a_later_cell_is_moved_to_the_top(tmp_path):
    # Jupyter takes `from __future__ import annotations` in any cell; in the kept code, after
    # the imports of an earlier cell, it was a SyntaxError that failed the whole file.
    code = code_of(["import os", "from __future__ import annotations; import sys\n"
                                 "def f(x: Undefined) -> int:\n    return 1",
                    "from __future__ import annotations\nprint('done')"])
    assert code.count("from __future__ import annotations") == 1
    assert "import sys" in code and "print(" not in code
    path = tmp_path / "kept.py"
    path.write_text(code + "\nprint(f(1), 'imported')\n")
    assert "1 imported" in run_kept(path.read_text(), tmp_path)
