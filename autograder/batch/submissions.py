"""Which submissions a batch holds: one folder per student, or Gradescope's export with submission_metadata.yml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

METADATA = "submission_metadata.yml"


class InputError(Exception):
    """The submissions folder is not one this tool can grade; the message says why."""


@dataclass
class Submission:
    key: str  # the name of its folder, here and in the output folder
    path: Path
    students: list[dict] = field(default_factory=list)  # {"name", "email", "sid"}, from Gradescope's metadata


def read_metadata(path: Path) -> dict[str, list[dict]]:
    """Submission folder -> its submitters ({"name", "sid", "email"}, as text), from Gradescope's submission_metadata.yml.

    Its keys are Ruby symbols, which YAML reads as text with a leading colon: each submission's
    `:submitters:` lists `- :name: ...`, `:sid: ...`, `:email: ...`. Whatever else it holds is ignored.
    """
    try:
        data = yaml.safe_load(path.read_text(errors="replace"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{path} is not readable YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path} is not Gradescope's submission metadata: it should map each submission's folder "
                         "to its submitters")
    out: dict[str, list[dict]] = {}
    for key, entry in data.items():
        submitters = entry.get(":submitters") if isinstance(entry, dict) else None
        out[str(key)] = []
        for person in submitters if isinstance(submitters, list) else []:
            if isinstance(person, dict):  # `:sid: 1001`, unquoted, is read as a number: every value becomes text
                out[str(key)].append({str(name).lstrip(":"): "" if value is None else str(value)
                                      for name, value in person.items()})
    return out


def folders(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def discover(path: Path, out: Path | None = None) -> tuple[Path, list[Submission]]:
    """(the folder graded, its submissions): one per sub-folder but `out`, with Gradescope's submitters if known."""
    if not path.exists():
        raise InputError(f"the submissions folder {path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder: give the folder that holds one sub-folder per student "
                         "(unzip Gradescope's export first)")
    if not (path / METADATA).is_file():
        inner = [p for p in folders(path) if (p / METADATA).is_file()]
        path = inner[0] if len(inner) == 1 else path
    metadata = read_metadata(path / METADATA) if (path / METADATA).is_file() else {}
    odd = [key for key in metadata if key in ("", ".", "..") or "/" in key or "\0" in key]
    if odd:  # the name of its folder in the output folder, too: never a path elsewhere
        raise InputError(f"{path / METADATA} lists a submission {odd[0]!r}, which is no folder name")
    skip = out.resolve() if out else None
    subs = {p.name: Submission(p.name, p, metadata.get(p.name, [])) for p in folders(path) if p.resolve() != skip}
    for key, students in metadata.items():
        subs.setdefault(key, Submission(key, path / key, students))  # listed, but its folder is missing
    if not subs:
        raise InputError(f"{path} holds no sub-folder: it should hold one folder per student, or be Gradescope's "
                         f"export ({METADATA} and one folder per submission)")
    return path, [subs[key] for key in sorted(subs)]
