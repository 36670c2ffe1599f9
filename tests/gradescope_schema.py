"""Gradescope's results.json format, as a checker (from Gradescope's autograder specification)."""

from __future__ import annotations

VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
       "visibility": str, "stdout_visibility": str, "tests": list, "leaderboard": list}
TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "number": str,
        "output": str, "tags": list, "visibility": str}


def problems(results: dict) -> list[str]:
    """Everything that makes `results` unacceptable to Gradescope (empty when it is valid)."""
    out = []
    for key, kind in TOP.items():
        if not isinstance(results.get(key), kind):
            out.append(f"top-level {key!r} missing or not {kind}")
    for key in ("visibility", "stdout_visibility"):
        if results.get(key) not in VISIBILITIES:
            out.append(f"top-level {key} {results.get(key)!r} is not one of {sorted(VISIBILITIES)}")
    if results.get("output_format") not in {"text", "html", "simple_format", "md", "ansi"}:
        out.append(f"output_format {results.get('output_format')!r} is not a Gradescope format")
    for t in results.get("tests", []):
        for key, kind in TEST.items():
            if not isinstance(t.get(key), kind):
                out.append(f"test {t.get('name')!r}: {key!r} missing or not {kind}")
        if t.get("status") not in {"passed", "failed"}:
            out.append(f"test {t.get('name')!r}: status {t.get('status')!r}")
        if t.get("visibility") not in VISIBILITIES:
            out.append(f"test {t.get('name')!r}: visibility {t.get('visibility')!r}")
        if isinstance(t.get("score"), (int, float)) and not 0 <= t["score"] <= t.get("max_score", 0):
            out.append(f"test {t.get('name')!r}: score {t['score']} outside 0..{t.get('max_score')}")
    for entry in results.get("leaderboard", []):
        if not (isinstance(entry.get("name"), str) and isinstance(entry.get("value"), (int, float, str))):
            out.append(f"leaderboard entry {entry} lacks a name or a value")
        if entry.get("order", "desc") not in {"asc", "desc"}:
            out.append(f"leaderboard entry {entry}: order must be asc or desc")
    if isinstance(results.get("tests"), list) and isinstance(results.get("score"), (int, float)):
        total = sum(t.get("score", 0) for t in results["tests"])
        if abs(total - results["score"]) > 1e-9:
            out.append(f"score {results['score']} is not the sum of the test scores {total}")
    return out
