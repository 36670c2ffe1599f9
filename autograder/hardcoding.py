"""Does a source file embed the answers? A static look for test labels or data written into the code.

A real model has no use for thousands of numbers written out in its source.
Three shapes give away a lookup table: a long literal of class indices
(0..9), a large literal array of numbers, and a long string or bytes
literal (an encoded array). The grader fails the accuracy test of a file
that holds one; it never runs the file to find out.
"""

from __future__ import annotations

import ast

LABELS = 200  # a literal of this many integers in 0..9 looks like labels
NUMBERS = 5_000  # a literal holding this many numbers looks like data
BLOB = 20_000  # a string or bytes literal this long looks like an encoded array


def _numbers(node: ast.AST) -> list:
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)]


def findings(source: bytes, filename: str) -> list[str]:
    """What in `source` looks like embedded labels or data; empty when nothing does (or it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found = []
    seen_inside = set()
    for node in ast.walk(tree):
        if id(node) in seen_inside:
            continue
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            numbers = _numbers(node)
            if len(numbers) >= LABELS and all(isinstance(v, int) and 0 <= v <= 9 for v in numbers):
                found.append(f"{filename}, line {node.lineno}: a literal of {len(numbers)} class indices")
            elif len(numbers) >= NUMBERS:
                found.append(f"{filename}, line {node.lineno}: a literal array of {len(numbers)} numbers")
            else:
                continue
            seen_inside.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and len(node.value) >= BLOB:
            found.append(f"{filename}, line {node.lineno}: a {type(node.value).__name__} literal of "
                         f"{len(node.value)} characters")
    return found
