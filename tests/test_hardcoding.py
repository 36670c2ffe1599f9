"""The static check for embedded answers: honest files pass, tables pass neither whole nor in chunks, and it is fast."""

import base64
import random
import time
import warnings

import pytest

from autograder.suite import hardcoding
from tests.conftest import ROOT

HONEST = sorted([*ROOT.glob("solutions/*.py"), *ROOT.glob("student/*.py"), *ROOT.glob("tests/submissions/*/*.py")])


def labels(n=10_000):
    return [random.Random(0).randrange(10) for _ in range(n)]


@pytest.mark.parametrize("path", HONEST, ids=lambda p: str(p.relative_to(ROOT)))
def test_honest_files_have_no_findings(path):
    assert hardcoding.findings(path.read_bytes(), path.name) == []


@pytest.mark.parametrize("path", HONEST, ids=lambda p: str(p.relative_to(ROOT)))
def test_honest_files_pass_caps_four_times_lower(path, monkeypatch):
    """The caps leave honest code a margin of at least 4x."""
    for cap in ("STRINGS_IN_ALL", "NUMBERS_IN_ALL", "SOURCE_BYTES", "COMMENTS_IN_ALL", "NAMES_IN_ALL", "LAYOUT_IN_ALL"):
        monkeypatch.setattr(hardcoding, cap, getattr(hardcoding, cap) // 4)
    assert hardcoding.findings(path.read_bytes(), path.name) == []


def test_a_table_split_into_short_strings_is_flagged():
    table = base64.b64encode(random.Random(0).randbytes(22_500)).decode()  # 30,000 characters
    chunks = [table[i:i + 18_000] for i in range(0, len(table), 18_000)]
    source = "import numpy as np\nTABLE = [\n" + "".join(f"    {c!r},\n" for c in chunks) + "]\n"
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert found == ["numpy_ann.py: 30,000 bytes of string and bytes literals in all "
                     "(more than the 20,000 a model needs): that looks like embedded data"]


def test_docstrings_count_towards_the_total():
    source = "".join(f'def f{i}():\n    """{"x" * 9_000}"""\n' for i in range(3))
    assert any("27,000 bytes of string" in f for f in hardcoding.findings(source.encode(), "numpy_ann.py"))


def test_labels_split_into_short_lists_are_flagged():
    values = labels()
    parts = [values[i:i + 150] for i in range(0, len(values), 150)]
    source = "".join(f"L{i} = {part}\n" for i, part in enumerate(parts))
    source += "LABELS = " + " + ".join(f"L{i}" for i in range(len(parts))) + "\n"
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert found == ["numpy_ann.py: 10,000 numbers written as literals in all "
                     "(more than the 1,000 a model needs): that looks like embedded data",
                     "numpy_ann.py: 10,000 elements of list, tuple, set and dict literals in all "
                     "(more than the 5,000 a model needs): that looks like embedded data"]


def test_one_wide_integer_is_flagged():
    digits = "".join(str(v) for v in labels(2_000))
    source = f"LABELS = 0x{int(digits):x}\n"
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert len(found) == 1 and "line 1: an integer literal of" in found[0]
    assert hardcoding.findings(b"SEED = 0xFFFFFFFFFFFFFFFF\nBIG = 2**64\n", "numpy_ann.py") == []


def test_the_per_literal_findings_keep_their_messages(monkeypatch):
    monkeypatch.setattr(hardcoding, "SOURCE_BYTES", 1 << 20)  # four literals of their own caps: about 80 KB
    source = (f"A = {labels()}\n"
              f"B = np.array([{', '.join(['0.5'] * 5_000)}])\n"
              f"C = {'x' * 25_000!r}\n"
              f"D = [{labels(300)}, {labels(300)}]\n")  # reported once, as the outer literal
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert {"numpy_ann.py, line 1: a literal of 10000 class indices",
            "numpy_ann.py, line 2: a literal array of 5000 numbers",
            "numpy_ann.py, line 3: a str literal of 25000 bytes",
            "numpy_ann.py, line 4: a literal of 600 class indices"} <= set(found)
    assert sum("line 4" in f for f in found) == 1


def test_a_source_over_the_size_cap_is_flagged():
    source = b"import numpy as np\n" + b"# a comment a model does not need\n" * 7_000  # 238,019 bytes
    assert hardcoding.findings(source, "numpy_ann.py") == [
        "numpy_ann.py: 238,019 bytes of source (more than the 50,000 a model needs): that looks like embedded data"]


def nested(size):
    """`x = [[[...]], [[...]], ...]`: literals nested as deep as the tokenizer allows, about `size` bytes in all."""
    chunk = "[" * 199 + "]" * 199
    return ("x = [" + ",".join([chunk] * (size // (len(chunk) + 1))) + "]\n").encode()


def test_a_deeply_nested_literal_of_2_4_mb_is_checked_at_once():
    """The old check walked every literal's subtree again: 2.4 MB of nesting took about 100 s."""
    source = nested(2_400_000)
    start = time.perf_counter()
    found = hardcoding.findings(source, "numpy_ann.py")
    assert time.perf_counter() - start < 2
    assert found and "bytes of source (more than the 50,000" in found[0]


def test_a_deeply_nested_literal_just_under_the_size_cap_is_scanned_in_linear_time():
    """Parsed and scanned in about 1 s (the old check: about 9 s)."""
    source = nested(hardcoding.SOURCE_BYTES - 1_000)
    assert len(source) <= hardcoding.SOURCE_BYTES
    start = time.perf_counter()
    found = hardcoding.findings(source, "numpy_ann.py")
    assert time.perf_counter() - start < 4
    assert [f for f in found if "elements of list" not in f] == []  # its empty lists are elements, and many


@pytest.mark.parametrize("source", [b"x = " + b"-" * 20_000 + b"1\n", b"x = " + b"1+" * 20_000 + b"1\n"],
                         ids=["MemoryError", "RecursionError"])
def test_a_source_too_deep_to_parse_is_flagged(source):
    found = hardcoding.findings(source, "numpy_ann.py")
    assert len(found) == 1 and found[0].startswith("numpy_ann.py: could not be parsed safely")


def test_a_syntax_error_has_no_findings():
    assert hardcoding.findings(b"def f(:\n    return [" + b"1, " * 300 + b"]\n", "numpy_ann.py") == []


def test_warnings_raised_as_errors_do_not_hide_a_table():
    source = f'PATTERN = "\\d"\nLABELS = {labels()}\n'.encode()  # "\d": an invalid escape, a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = hardcoding.findings(source, "numpy_ann.py")
    assert found[:1] == ["numpy_ann.py, line 2: a literal of 10000 class indices"]


def test_a_literal_of_class_indices_is_flagged_from_200_on():
    values = [i % 10 for i in range(200)]
    assert hardcoding.findings(f"import numpy as np\nY = {values[:199]}\n".encode(), "numpy_ann.py") == []
    assert hardcoding.findings(f"import numpy as np\nY = {values}\n".encode(), "numpy_ann.py") == [
        "numpy_ann.py, line 2: a literal of 200 class indices"]


def test_class_indices_are_flagged_as_a_tuple_a_set_or_inside_a_call():
    values = ", ".join(str(i % 10) for i in range(250))
    source = f"A = ({values})\n\nB = np.array([{values}], dtype=np.int64)\nC = {{{values}}}\n"
    assert hardcoding.findings(source.encode(), "pytorch_cnn.py") == [
        "pytorch_cnn.py, line 1: a literal of 250 class indices",
        "pytorch_cnn.py, line 3: a literal of 250 class indices",
        "pytorch_cnn.py, line 4: a literal of 250 class indices"]


@pytest.mark.parametrize("odd", ["10", "1.0", "255", "0.5", "-1", "-3"])
def test_a_literal_with_a_value_that_is_no_class_index_is_not_labels(odd):
    """300 numbers, one of them not an int in 0..9: under both the labels rule and the data caps."""
    values = [str(i % 10) for i in range(299)] + [odd]
    assert hardcoding.findings(f"Y = [{', '.join(values)}]\n".encode(), "numpy_ann.py") == []


def test_ordinary_model_code_with_small_literals_has_no_findings():
    source = '''
import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SIZES = (784, 128, 10)
LR, EPOCHS, SEED = 0.1, 10, 0x5EED


class NumpyANN:
    def __init__(self, sizes=SIZES, seed=SEED):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, np.sqrt(2 / sizes[0]), (sizes[0], sizes[1]))
        self.b1 = np.zeros(sizes[1])
        self.confusion = [[0] * 10 for _ in range(10)]
        self.eye = [[1 if i == j else 0 for j in range(10)] for i in range(10)]

    def predict(self, X):
        return np.argmax(np.maximum(0, X @ self.W1 + self.b1), axis=1)
'''
    assert hardcoding.findings(source.encode(), "numpy_ann.py") == []


def test_negative_numbers_count_as_numbers_towards_the_total():
    half = ", ".join(f"-{i % 10}" for i in range(hardcoding.NUMBERS_IN_ALL // 2 + 1))  # two literals under ELEMENTS
    found = hardcoding.findings(f"W = [{half}]\nV = [{half}]\n".encode(), "numpy_ann.py")
    assert found == [f"numpy_ann.py: {hardcoding.NUMBERS_IN_ALL + 2:,} numbers written as literals in all "
                     f"(more than the {hardcoding.NUMBERS_IN_ALL:,} a model needs): that looks like embedded data"]


# A file that reads its own source (open(__file__)) can keep a table outside the literals.
READ_ITSELF = "import numpy as np\n\nSOURCE = open(__file__).read()\n"


def test_a_table_in_comments_is_flagged():
    table = base64.b64encode(random.Random(0).randbytes(22_500)).decode()  # 30,000 characters
    source = READ_ITSELF + "".join(f"# {table[i:i + 76]}\n" for i in range(0, len(table), 76))
    assert hardcoding.findings(source.encode(), "numpy_ann.py") == [
        "numpy_ann.py: 30,790 bytes of comments in all (more than the 20,000 a model needs): "
        "that looks like embedded data"]


def test_a_table_in_names_is_flagged():
    rng = random.Random(0)
    source = READ_ITSELF + "".join(f"def _{rng.randbytes(16).hex()}():\n    pass\n" for _ in range(400))
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert len(found) == 1 and found[0].startswith("numpy_ann.py: 13,") and "bytes of distinct names" in found[0]


@pytest.mark.parametrize("where", ["trailing", "between tokens", "blank lines"])
def test_a_table_in_whitespace_is_flagged(where):
    """Bits as spaces and tabs: after each line, between the tokens of a line, or as blank lines."""
    bits = [random.Random(0).choice(" \t") for _ in range(12_000)]
    lines = ["".join(bits[i:i + 60]) for i in range(0, len(bits), 60)]
    if where == "trailing":
        body = "".join(f"x = 1{line}\n" for line in lines)
    elif where == "between tokens":
        body = "".join(f"x ={line.replace(chr(9), ' ')}1\n" for line in lines)
    else:
        body = "".join(f"{line}\n" for line in lines)
    found = hardcoding.findings((READ_ITSELF + body).encode(), "numpy_ann.py")
    assert len(found) == 1 and "characters of blank lines and extra spaces in all (more than the 10,000" in found[0]


def test_ordinary_comments_names_and_layout_have_no_findings():
    """A well-commented, loosely laid out file: a comment on every line, blank lines, aligned assignments."""
    body = "".join(f"weight_{i}    = {i % 7}      # the weight of layer {i}, set by hand for now   \n\n\n"
                   for i in range(150))
    assert hardcoding.findings((READ_ITSELF + body).encode(), "numpy_ann.py") == []


def test_a_table_in_astral_characters_is_counted_in_bytes():
    """10,000 characters of 20 bits each hold 25 KB: counted as characters they passed the 20,000 cap."""
    rng = random.Random(0)
    table = "".join(chr(0x10000 + rng.randrange(0xF0000)) for _ in range(10_000))  # 4 bytes each in UTF-8
    found = hardcoding.findings(f"T = '{table}'\n".encode(), "numpy_ann.py")
    assert "numpy_ann.py, line 1: a str literal of 40000 bytes" in found, found


@pytest.mark.parametrize("element", ["d3", "True", "None", "..."])
def test_a_table_of_names_or_constants_is_flagged(element):
    """A tuple of 2,000 references to ten names (d0..d9) or of True/False/None: no number, no string, a table."""
    source = f"T = ({', '.join([element] * 2_000)})\n"
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert "numpy_ann.py, line 1: a literal of 2,000 elements" in found, found


def test_strings_comments_and_names_are_capped_together():
    table = base64.b64encode(random.Random(0).randbytes(12_000)).decode()  # 16,000 characters each
    source = f"S = {table!r}\n" + "".join(f"# {table[i:i + 76]}\n" for i in range(0, len(table), 76))
    found = hardcoding.findings(source.encode(), "numpy_ann.py")
    assert len(found) == 1 and "bytes of strings, comments and names in all (more than the 24,000" in found[0]
