"""Text from students made safe to show: on a terminal, in results.json, grades.csv and report.md.

Student code chooses its exception messages and what it prints; a student chooses the
names of submitted files and folders, and Gradescope's submission_metadata.yml carries the
names and emails students typed in. Shown as they are, such text can forge what a person
reads: an ANSI escape sequence redraws a terminal line (a FAIL painted over as PASS), a bidi
override reorders the characters of a line, a cell beginning with = is a formula to a
spreadsheet, and a newline, HTML or a link rewrites a Markdown report. Every output that a
person reads passes such text through one of these functions where it is written or printed:

- `printable(text)`: control characters (C0 but newline and tab, DEL, C1), Unicode's
  invisible format characters (bidi embeddings, overrides, isolates and marks, zero-width
  spaces, tag characters), lone surrogates and line or paragraph separators are written as
  Python-style escapes (`\\x1b`, `\\u202e`), so that they show instead of acting. With
  `lines=False`, newline and tab are escaped too: a name or a table cell stays one line.
- `csv_cell(value)` and `csv_table(rows)`: one line of printable text per cell; a cell
  that begins with =, +, -, @, tab or carriage return gets a leading single quote (OWASP's
  recommendation against CSV injection); the csv module quotes the rest.
- `markdown(text)`: printable text whose HTML is escaped as entities and whose Markdown
  punctuation is escaped with backslashes, so that tags, links, images and emphasis stay
  inert and no line of it can begin a heading, a list or a quote.
- `markdown_output(text)`: a failure message for Gradescope's Markdown: values after
  "expected" and "got", code (calls, dotted and snake_case names), and URLs and e-mail
  addresses, which GFM would make links of (`http://1.2.3.4/x`), as code spans,
  indented or traceback lines as a fenced block, the rest (the hints) as `markdown` text. A
  fence is always longer than any run of backticks inside it (`code_span`, `code_block`),
  so nothing a student wrote can close it; code is literal in Markdown, so links and HTML
  in it stay text.

`printable` changes nothing in its own output (an escape is printable ASCII), so text that
passed through it once, as results.json's outputs have, can pass again where it is shown.
Workers receive this package, so this module needs only the standard library.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable

# Unicode's "other" categories that act instead of showing: control, format, surrogate; and the
# line and paragraph separators, which break a line where a reader expects none.
ACTING = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Format characters that belong to writing, not to layout: the zero-width non-joiner and joiner
# shape Persian, Indic scripts and emoji sequences, and reorder nothing.
JOINERS = {"\u200c", "\u200d"}
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what makes a cell a formula to a spreadsheet


def escaped(ch: str) -> str:
    """One character as Python writes it in a string literal: \\n, \\x1b, \\u202e, \\U000e0041."""
    if ch in NAMED:
        return NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def acts(ch: str, lines: bool) -> bool:
    """Whether `ch` would act on the display rather than show: a control or format character."""
    if lines and ch in "\n\t":
        return False
    return unicodedata.category(ch) in ACTING and ch not in JOINERS


def printable(text, lines: bool = True) -> str:
    """`text`, its control and invisible format characters escaped; newline, tab kept if `lines`."""
    text = str(text)
    if text.isprintable():  # the common case: nothing of Unicode's "other" or "separator" kinds
        return text
    return "".join(escaped(ch) if not ch.isprintable() and acts(ch, lines) else ch for ch in text)


def csv_cell(value) -> str:
    """One cell of a CSV file: one line of printable text that no spreadsheet reads as a formula.

    Numbers are cells too: a negative one would gain the quote, and the grader writes none.
    """
    text = printable(value, lines=False)
    return "'" + text if text.startswith(FORMULA) else text


def csv_table(rows: Iterable[Iterable]) -> str:
    """A whole CSV file, every cell through `csv_cell`, quoted by the csv module where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()


HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}  # entities: inert in every Markdown dialect
# Punctuation that makes inline Markdown anywhere in a line: code, emphasis, links and images,
# table cells, strikethrough, math; and the backslash itself. An underscore inside a word
# (numpy_ann) starts no emphasis, so it is left as it is.
INLINE = re.compile(r"[\\`*\[\]|~$]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What begins a block at the start of a line: a heading, a list item, a setext underline
# (# + - =, a quote's > is an entity by then), or the number of an ordered list ("1." "1)").
BLOCK = re.compile(r"^([ \t]*)([#+\-=]|\d+(?=[.)]))")


def markdown_line(line: str) -> str:
    """One line of inert Markdown (no newline in it)."""
    line = INLINE.sub(lambda m: "\\" + m[0], "".join(HTML.get(ch, ch) for ch in line))
    block = BLOCK.match(line)
    if block is None:
        return line
    if block[2][0].isdigit():  # "1." or "1)": escape the punctuation after the number
        return line[:block.end()] + "\\" + line[block.end():]
    return f"{block[1]}\\{line[len(block[1]):]}"


def markdown(text, lines: bool = False) -> str:
    """`text` as inert Markdown: printable, HTML escaped, Markdown punctuation escaped.

    By default newlines are escaped too (`printable(lines=False)`), for a table cell or a run
    of words; with `lines`, each line is escaped on its own and none can begin a block.
    """
    return "\n".join(markdown_line(line) for line in printable(text, lines).split("\n"))


# What a failure message shows as code: a URL, a www. name or an e-mail address (which GFM makes
# links of in prose, escaped or not: in a code span they stay text), the value after "expected"
# or "got" (a bracketed group, a quoted string or one word), a call (`relu_prime(0)`), a dotted
# name (`self.lr`, `numpy_ann.py`) or a snake_case name (`train_acc`). The rest is prose.
BRACKETS = r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]|\([^()]*\)"
END = r"(?=[.,;:!?]?(?:\s|$))"  # a sentence's punctuation after a word is not part of it
LINKS = rf"\b[A-Za-z][A-Za-z0-9+.-]*:/+\S*?{END}|\bwww\.\S+?{END}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
CODE = re.compile(rf"{LINKS}|(?P<lead>\b(?:expected|got|returned|gave) (?:shape )?)"
                  rf"(?P<value>{BRACKETS}|'[^'\n]*'|\"[^\"\n]*\"|[^\s,;]+?(?=[.,;:]?(?:\s|$)))"
                  rf"|\b[A-Za-z_][\w.]*\((?:[^()]|\([^()]*\))*\)"
                  rf"|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b|\b[A-Za-z]\w*_\w+\b")
BLOCK_LINE = re.compile(r"^(?: {4}|\t|Traceback \(|  File \"|E  )")


def code_span(text: str) -> str:
    """`text` as one inline code span: fenced by more backticks than its longest run, padded."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def code_block(lines: list[str]) -> str:
    """Lines as a fenced code block whose fence no line can close (longer than any backtick run)."""
    text = "\n".join(lines)
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def markdown_prose(line: str) -> str:
    """One line of a message: its values and code as code spans, the rest as inert Markdown."""
    out, at = [], 0
    for match in CODE.finditer(line):
        before = line[at:match.start()] + (match["lead"] or "")
        out += [markdown_line(before) if before else "", code_span(match["value"] or match[0])]
        at = match.end()
    out.append(markdown_line(line[at:]) if at < len(line) else "")
    text = "".join(out)
    # A leading space must not indent the line into a code block.
    return text if not text.startswith(" ") else "&#32;" + text[1:]


def markdown_output(text) -> str:
    """A failure message as Gradescope's Markdown: prose, code spans and fenced blocks, inert."""
    lines, out, block = printable(text).split("\n"), [], []
    for line in lines + [None]:
        if line is not None and BLOCK_LINE.match(line):
            block.append(line)
            continue
        if block:
            out.append(code_block(block))
            block = []
        if line is not None:
            out.append(markdown_prose(line))
    return "  \n".join(out)  # two spaces: a line break inside the paragraph, as the text had
