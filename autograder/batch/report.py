"""What a batch's grades say: grades.csv, report.md (totals, pass rates, failures), report.png.

Students choose the names of their folders and, on Gradescope, their names and emails, and their
code chooses its failure messages. Such text enters grades.csv only through core.text.csv_cell (no
cell is a formula to a spreadsheet) and report.md only through core.text.markdown (no newline, tag,
link or heading of theirs acts); report.png draws the grader's own text alone (counts, test names).
"""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from pathlib import Path

from autograder.batch import similarity
from autograder.batch.run import batch_info, is_graded, read_json
from autograder.batch.submissions import Submission
from autograder.core import config
from autograder.core.atomic import write_bytes_atomically, write_text_atomically
from autograder.core.text import csv_table, markdown
from autograder.suite.results import in_order, number_key, plain

# Leaderboard names of the three test accuracies, as the accuracy tests report them.
ACCURACIES = {spec.file: f"{spec.label} accuracy" for spec in config.SPECS}


TESTS = in_order(config.POINTS)


def rows(subs: list[Submission], out: Path) -> list[tuple[Submission, dict]]:
    """(submission, its results) for every submission graded in `out`."""
    found = []
    for sub in subs:
        if is_graded(out, sub):
            found.append((sub, read_json(out / sub.key / "results.json")))
    return found


def accuracies(results: dict) -> dict[str, float]:
    """file -> test accuracy in percent, for the accuracies the grader could measure."""
    board = {entry["name"]: entry["value"] for entry in results.get("leaderboard", [])}
    return {file: float(board[name]) for file, name in ACCURACIES.items() if name in board}


def status(results: dict) -> tuple[str, str]:
    info = batch_info(results)
    return info.get("status", "graded"), info.get("reason", "")


def csv_text(graded: list[tuple[Submission, dict]]) -> str:
    """grades.csv: one row per student (per submitter of a group submission), through csv_cell."""
    table = [["student", "email", "sid", "submission", "status", "reason", "total",
              *(f"{name} (%)" for name in ACCURACIES.values()),
              *(f"{config.POINTS[name][0]} {name}" for name in TESTS)]]
    for sub, results in graded:
        scores = {t["name"]: t["score"] for t in results["tests"]}
        acc = accuracies(results)
        for student in sub.students or [{"name": sub.key}]:
            table.append([student.get("name", ""), student.get("email", ""), student.get("sid", ""),
                          sub.key, *status(results), f"{results['score']:g}",
                          *(f"{acc[file]:g}" if file in acc else "" for file in ACCURACIES),
                          *(f"{scores[name]:g}" if name in scores else "" for name in TESTS)])
    return csv_table(table)


def message_pattern(output: str) -> str:
    """A failure message with its numbers blanked, so that the same mistake groups together."""
    text = " ".join(output.split())
    text = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", text)
    return text if len(text) <= 200 else text[:197] + "..."


def spread(values: list[float]) -> str:
    if not values:
        return "| - | - | - | - | - |"
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return (f"| {statistics.mean(values):.1f} | {statistics.median(values):.1f} | {sd:.1f} | {min(values):g} | "
            f"{max(values):g} |")


def report_md(graded: list[tuple[Submission, dict]], source: Path) -> str:
    """report.md: totals, pass rates from the hardest test, common failures, spread of the accuracies."""
    totals = [results["score"] for _, results in graded]
    full = [(sub, r) for sub, r in graded if status(r)[0] == "graded"]
    top = sum(p for _, p, _ in config.POINTS.values())
    lines = [f"# Grade report: {len(graded)} submissions", "",
             f"From {markdown(source)}. A submission that was empty, hung or broke the grader "
             "scores 0 and is listed under *Not graded*; pass rates, failure messages and "
             f"accuracies are over the {len(full)} submissions graded to the end.", "",
             f"## Totals (out of {top:g})", "",
             "| submissions | mean | median | sd | min | max |", "| --- | --- | --- | --- | --- | --- |",
             f"| {len(totals)} " + spread(totals), "",
             "| total | submissions | |", "| --- | --- | --- |"]
    for low in range(0, int(top), 10):
        last = low + 10 >= top  # the last bin holds the full score too
        count = sum(low <= t < low + 10 or (last and t >= low) for t in totals)
        lines.append(f"| {f'{low}-{top:g}' if last else f'{low}-{low + 9}'} | {count} | {'#' * count} |")
    broken = [(sub, r) for sub, r in graded if status(r)[0] != "graded"]
    lines += ["", "## Not graded", ""]
    if broken:
        lines += ["| submission | status | reason |", "| --- | --- | --- |"]
        lines += [f"| {markdown(sub.key)} | {markdown(status(r)[0])} | {markdown(status(r)[1])} |"
                  for sub, r in broken]
    else:
        lines.append("Every submission was graded to the end.")
    lines += ["", "## Pass rate of every test, hardest first", ""]
    rates = pass_rates(full)
    if rates:
        lines += ["| test | points | passed | pass rate |", "| --- | --- | --- | --- |"]
        for name, passed, rate in rates:
            lines.append(f"| {label(name)} | {config.POINTS[name][1]:g} | {passed}/{len(full)} | {rate:.0%} |")
    else:
        lines.append("No submission was graded to the end.")
    failures: Counter = Counter()
    where: dict[str, set] = {}
    who: dict[str, set] = {}
    for sub, results in full:
        for t in results["tests"]:
            if t["status"] != "passed":
                pattern = message_pattern(plain(t) or "(no message)")
                failures[pattern] += 1
                where.setdefault(pattern, set()).add(t["name"])
                who.setdefault(pattern, set()).add(sub.key)
    lines += ["", "## Most common failure messages", "",
              "Numbers are blanked (#) so that one mistake groups together.", ""]
    if failures:
        lines += ["| failures | submissions | message | tests |", "| --- | --- | --- | --- |"]
        for pattern in sorted(failures, key=lambda p: (-len(who[p]), -failures[p], p))[:15]:
            count = failures[pattern]
            tests = sorted(where[pattern], key=lambda n: number_key(config.POINTS.get(n, ("0",))[0]))
            shown = ", ".join(config.POINTS[n][0] if n in config.POINTS else markdown(n)
                              for n in tests)
            lines.append(f"| {count} | {len(who[pattern])} | {markdown(pattern)} | {shown} |")
    else:
        lines.append("No test failed.")
    lines += ["", "## Test accuracy (%)", "",
              "| model | threshold | measured | at or above | mean | median | sd | min | max |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for file, name in ACCURACIES.items():
        values = [accuracies(r)[file] for _, r in full if file in accuracies(r)]
        threshold = 100 * config.THRESHOLDS[file]
        above = sum(v >= threshold for v in values)
        lines.append(f"| {name.removesuffix(' accuracy')} | {threshold:g} | {len(values)}/{len(full)} | {above} "
                     + spread(values))
    return "\n".join(lines) + "\n"


def label(name: str, width: int = 200) -> str:
    """A test as the report shows it: its number, its name, and whether students see it."""
    text = f"{config.POINTS[name][0]} {name}"
    text = text if len(text) <= width else text[:width - 3] + "..."
    return text + (" (hidden)" if config.POINTS[name][2] != "visible" else "")


def pass_rates(full: list[tuple[Submission, dict]]) -> list[tuple[str, int, float]]:
    """(test, submissions passing it, pass rate) for every test, the hardest first."""
    if not full:
        return []
    passed = Counter(t["name"] for _, r in full for t in r["tests"] if t["status"] == "passed")
    rates = [(name, passed[name], passed[name] / len(full)) for name in TESTS]
    return sorted(rates, key=lambda row: (row[2], number_key(config.POINTS[row[0]][0])))


def report_png(graded: list[tuple[Submission, dict]], path: Path) -> None:
    """report.png: a histogram of totals, and a bar of the pass rate of every test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    full = [(sub, r) for sub, r in graded if status(r)[0] == "graded"]
    by_number = sorted(pass_rates(full), key=lambda row: number_key(config.POINTS[row[0]][0]), reverse=True)
    fig, (hist, bars) = plt.subplots(2, 1, figsize=(11, 4 + 0.17 * len(TESTS)),
                                     gridspec_kw={"height_ratios": [4, 0.17 * len(TESTS)]})
    top = sum(p for _, p, _ in config.POINTS.values())
    hist.hist([r["score"] for _, r in graded], bins=range(0, int(top) + 1, 5), color="#4c72b0", edgecolor="white")
    hist.set(title=f"Totals of {len(graded)} submissions (bins of 5 points, the last one holds the full score)",
             xlabel=f"total (out of {top:g})", ylabel="submissions", xlim=(0, top))
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    if by_number:
        labels = [label(n, 80) for n, _, _ in by_number]
        rates = [100 * rate for _, _, rate in by_number]
        colours = ["#c44e52" if r < 50 else "#dd8452" if r < 80 else "#55a868" for r in rates]
        bars.barh(range(len(rates)), rates, color=colours)
        bars.set_yticks(range(len(rates)), labels, fontsize=6.5)
        bars.set(xlim=(0, 100), xlabel="pass rate (%)",
                 title=f"Pass rate of every test over {len(full)} submissions graded to the end")
        bars.set_ylim(-0.7, len(rates) - 0.3)
    else:
        bars.text(0.5, 0.5, "no submission was graded to the end", ha="center", transform=bars.transAxes)
        bars.set_axis_off()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    write_bytes_atomically(path, png.getvalue())  # not utils.save_figure: its temporary file has a predictable name


def write_reports(subs: list[Submission], out: Path, source: Path, pairs: list | None = None
                  ) -> list[tuple[Submission, dict]]:
    """grades.csv, report.md and report.png in `out`, from the results.json there; report.md
    with the most similar pairs of `pairs` (similarity.scan) when given."""
    graded = rows(subs, out)
    write_text_atomically(out / "grades.csv", csv_text(graded))
    section = "" if pairs is None else "\n" + similarity.report_section(pairs)
    write_text_atomically(out / "report.md", report_md(graded, source) + section)
    report_png(graded, out / "report.png")
    return graded
