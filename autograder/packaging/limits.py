"""A limit on graded submissions per student per day, on Gradescope (off unless config sets it).

`config.SUBMISSIONS_PER_DAY` graded submissions are allowed in any 24 hours.
Gradescope's submission_metadata.json lists the student's earlier submissions
(`previous_submissions`: each one's time and its results.json). A submission
that comes when that many were graded in the 24 hours before it is not graded:
its result is the last graded one's (score and tests), with a line saying that
the limit was reached and from when the next submission is graded. Such a
result is marked (`extra_data.limit.graded` false), so it never counts towards
the limit itself; nor does a grader error (`extra_data.grader_error`), whose 0
is never shown as the last graded score. Metadata that cannot be read limits
nothing.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def when(text) -> datetime | None:
    """A time of Gradescope's metadata (ISO 8601 with its offset), or None."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def graded_before(meta: dict, now: datetime) -> list[tuple[datetime, dict]]:
    """(time, results) of the submissions graded in the 24 hours before `now`, the oldest first."""
    graded = []
    earlier_ones = meta.get("previous_submissions")
    for earlier in earlier_ones if isinstance(earlier_ones, list) else []:
        if not isinstance(earlier, dict):
            continue
        moment, results = when(earlier.get("submission_time")), earlier.get("results")
        if moment is None or not isinstance(results, dict) or not now - WINDOW <= moment <= now:
            continue
        extra = results.get("extra_data") if isinstance(results.get("extra_data"), dict) else {}
        mark = extra.get("limit")
        if isinstance(mark, dict) and mark.get("graded") is False:
            continue  # itself refused by the limit: it was not graded
        if extra.get("grader_error") is True:
            continue  # the grader failed (results.error_results): nothing was graded
        graded.append((moment, results))
    return sorted(graded, key=lambda pair: pair[0])


def refusal(meta, limit: int | None) -> dict | None:
    """None if this submission is to be graded; else its result: the last graded one's, and why.

    Metadata of any shape is read without failing: a field of another type, a time at the end of
    the calendar (one day added overflows), limits nothing."""
    try:
        return refused(meta, limit)
    except Exception:  # noqa: BLE001  (odd metadata must never stop the grading)
        return None


def refused(meta, limit: int | None) -> dict | None:
    if not limit or not isinstance(meta, dict):
        return None
    now = when(meta.get("created_at"))
    if now is None:
        return None
    graded = graded_before(meta, now)
    if len(graded) < limit:
        return None
    last = graded[-1][1]
    if not isinstance(last.get("tests"), list):
        return None
    # In the time zone of the submission's own time, which is the course's on Gradescope.
    next_time = (graded[-limit][0] + WINDOW).astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M %Z")
    result = copy.deepcopy(last)
    line = (f"This submission was not graded: {limit} submission(s) in 24 hours are graded, and "
            f"you have used them. The score shown is that of your last graded submission. Your "
            f"next submission is graded from {next_time}.")
    result["output"] = line + ("\n\n" + str(last.get("output", "")) if last.get("output") else "")
    extra = result.get("extra_data") if isinstance(result.get("extra_data"), dict) else {}
    result["extra_data"] = {**extra, "limit": {"graded": False, "next": next_time}}
    return result
