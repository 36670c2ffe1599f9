"""Does a source file embed the answers? A static look for test labels or data written into the code.

A real model has no use for thousands of numbers written out in its source.
Shapes that give away a lookup table, each one literal: a long literal of
class indices (0..9), a large literal array of numbers, a long string or
bytes literal (an encoded array), and an integer literal too wide for any
weight or seed (an encoded array as one number). Chunking a table into many
small literals does not help: the totals over the whole file are capped too
(bytes of str/bytes literals in UTF-8, docstrings included; count of
numbers, booleans and None written as literals; elements of container
literals; bytes of source). Nor does moving the table out of the
literals, for a file that reads its own source: bytes of comments, of
distinct names, of the three kinds of text together, and characters of
layout beyond what code needs (blank lines, trailing and repeated spaces)
are capped as well. Sizes are counted in bytes, not characters: a
character outside ASCII holds up to four. The grader fails the accuracy test of
a file that holds any of these; it never runs the file to find out.

The scan is one iterative pass over the syntax tree, linear in the size of
the source however deeply it nests; a source over SOURCE_BYTES is reported
without being parsed, so parsing time and memory stay bounded too. An
instructor may change the constants below; the honest files measured
(solutions/*.py, student/*.py, tests/submissions/*/*.py) hold at most 4,622
characters of strings, 51 numbers, 7,153 bytes, 819 characters of comments, 734
of names and 130 of layout (the last from the grader's own files).
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings

# One literal.
LABELS = 200  # a literal of this many integers in 0..9 looks like labels
NUMBERS = 5_000  # a literal holding this many numbers looks like data
BLOB = 20_000  # a string or bytes literal of this many bytes (UTF-8) looks like an encoded array
ELEMENTS = 1_000  # a list, tuple, set or dict literal of this many elements, of any kind, looks like a table
INT_BITS = 64  # an integer literal wider than this many bits looks like an encoded array

# The whole file, summed over every literal: honest files stay far below these.
STRINGS_IN_ALL = 20_000  # bytes of str/bytes literals (UTF-8), docstrings included (honest: at most 4,622, the numpy stub)
NUMBERS_IN_ALL = 1_000  # numbers written as literals (honest: at most 51); 10,000 labels need 10,000
SOURCE_BYTES = 50_000  # bytes of source (honest: at most 7,153); a larger file is reported, not parsed
COMMENTS_IN_ALL = 20_000  # bytes of comments (honest: at most 819)
NAMES_IN_ALL = 10_000  # bytes of distinct names: variables, attributes, functions, arguments (honest: at most 734)
TEXT_IN_ALL = 24_000  # bytes of the three above together, where none is over its own cap (honest: at most 5,822)
ELEMENTS_IN_ALL = 5_000  # elements of every container literal together (a table split into small ones)
LAYOUT_IN_ALL = 10_000  # characters of blank lines, trailing spaces and spaces beyond one between tokens (honest: 130)

_CONTAINERS = (ast.List, ast.Tuple, ast.Set, ast.Dict)


def findings(source: bytes, filename: str) -> list[str]:
    """What in `source` looks like embedded labels or data; empty when nothing does (or it has a syntax error).

    Per-literal findings come first, in source order; a literal inside one already
    reported is not reported again. The per-file totals follow.
    """
    if len(source) > SOURCE_BYTES:
        return [f"{filename}: {len(source):,} bytes of source (more than the {SOURCE_BYTES:,} a model needs): "
                "that looks like embedded data"]
    try:
        with warnings.catch_warnings():  # an invalid escape must not turn into an error that hides the file
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the grader reports syntax errors elsewhere
    except (RecursionError, MemoryError) as e:
        return [f"{filename}: could not be parsed safely ({type(e).__name__}: nested too deeply): "
                "that looks like hidden data"]
    found, strings, names = _scan(tree, filename)
    more, comments = _beside_the_code(source, filename)
    found += more
    text = strings + names + comments
    if strings <= STRINGS_IN_ALL and names <= NAMES_IN_ALL and comments <= COMMENTS_IN_ALL:  # else reported
        found += _over(filename, text, "bytes of strings, comments and names", TEXT_IN_ALL)
    return found


def _over(filename: str, amount: int, what: str, cap: int) -> list[str]:
    """The finding for a total over its cap, or none."""
    if amount <= cap:
        return []
    return [f"{filename}: {amount:,} {what} in all (more than the {cap:,} a model needs): that looks like embedded data"]


def _utf8(text: str) -> int:
    """Bytes of `text` in UTF-8: what it can hold, whatever characters it is written in."""
    return len(text.encode("utf-8", "surrogatepass"))


def _beside_the_code(source: bytes, filename: str) -> tuple[list[str], int]:
    """The totals of what the syntax tree does not hold: comments, and layout beyond what code needs."""
    comments = layout = 0
    previous = None
    try:
        for token in tokenize.tokenize(io.BytesIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments += _utf8(token.string)
            elif token.type == tokenize.NL and not token.line.strip():
                layout += len(token.line)  # a blank line, with whatever whitespace it holds
            if previous is not None and token.start[0] == previous.end[0] and token.type != tokenize.DEDENT:
                layout += max(0, token.start[1] - previous.end[1] - 1)  # spaces beyond one before a token
            previous = token
    except (tokenize.TokenError, SyntaxError, ValueError):
        return [], 0  # parsed as a whole, so this does not happen; if it does, the literal checks stand
    found = _over(filename, comments, "bytes of comments", COMMENTS_IN_ALL)
    found += _over(filename, layout, "characters of blank lines and extra spaces", LAYOUT_IN_ALL)
    return found, comments


def _scan(tree: ast.AST, filename: str) -> tuple[list[str], int, int]:
    """One depth-first pass with an explicit stack, so no depth of nesting can exhaust Python's own.

    Running totals stand in for per-subtree counts: what a container holds is the
    difference between the totals when its subtree ends and when it began.
    """
    found: list[str] = []
    numbers = 0  # numbers written as literals, so far
    not_labels = 0  # of those, the ones that are not an int in 0..9
    characters = 0  # bytes of str/bytes literals, so far
    elements = 0  # elements of container literals, so far
    names: set[str] = set()  # every identifier: Name.id, attributes, definitions, arguments, imports
    # (node, None) enters a node; (node, (numbers, not_labels, len(found))) leaves a container.
    stack: list = [(tree, None)]
    while stack:
        node, entered = stack.pop()
        if entered is not None:
            held = numbers - entered[0]
            if held >= LABELS and not_labels == entered[1]:
                message = f"{filename}, line {node.lineno}: a literal of {held} class indices"
            elif held >= NUMBERS:
                message = f"{filename}, line {node.lineno}: a literal array of {held} numbers"
            elif (count := len(node.keys) if isinstance(node, ast.Dict) else len(node.elts)) >= ELEMENTS:
                message = f"{filename}, line {node.lineno}: a literal of {count:,} elements"
            else:
                continue
            del found[entered[2]:]  # what was found inside is part of this literal
            found.append(message)
            continue
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, (str, bytes)):
                size = _utf8(value) if isinstance(value, str) else len(value)
                characters += size
                if size >= BLOB:
                    found.append(f"{filename}, line {node.lineno}: a {type(value).__name__} literal of "
                                 f"{size} bytes")
            elif not isinstance(value, (int, float, complex)) or isinstance(value, bool):
                numbers += 1  # True, False, None, ...: a bit each, but never a class index
                not_labels += 1
            else:
                numbers += 1
                if not (isinstance(value, int) and 0 <= value <= 9):
                    not_labels += 1
                if isinstance(value, int) and value.bit_length() > INT_BITS:
                    found.append(f"{filename}, line {node.lineno}: an integer literal of {value.bit_length():,} bits "
                                 f"(more than the {INT_BITS} a model needs)")
            continue
        if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float, complex))
                and not isinstance(node.operand.value, bool)):
            numbers += 1  # -1 or +3: one number, and never a class index (-1 is not one, +3 is not written so)
            not_labels += 1
            continue
        for _, value in ast.iter_fields(node):  # a Constant's fields were handled above
            if isinstance(value, str):
                names.add(value)
            elif isinstance(value, list):
                names.update(v for v in value if isinstance(v, str))  # global and nonlocal names
        if isinstance(node, _CONTAINERS):
            elements += len(node.keys) if isinstance(node, ast.Dict) else len(node.elts)
            stack.append((node, (numbers, not_labels, len(found))))
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, None) for child in reversed(children))  # reversed: visited in source order
    named = sum(map(_utf8, names))
    found += _over(filename, characters, "bytes of string and bytes literals", STRINGS_IN_ALL)
    found += _over(filename, numbers, "numbers written as literals", NUMBERS_IN_ALL)
    found += _over(filename, named, "bytes of distinct names", NAMES_IN_ALL)
    found += _over(filename, elements, "elements of list, tuple, set and dict literals", ELEMENTS_IN_ALL)
    return found, characters, named
