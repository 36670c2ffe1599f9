"""Gradescope's stop holds the worst case: every budget used whole, everything else, a margin.

All of it comes from one setting, config.GRADESCOPE_TIMEOUT (the assignment's
autograder timeout); tools/docs.py writes the numbers into the documents.
"""

from autograder.core import config


def wall(cpu_seconds: float) -> float:
    """Wall-clock seconds that CPU-seconds take on Gradescope's machine, at its CPU share."""
    return cpu_seconds / config.GRADESCOPE_CPUS


def test_every_files_training_at_its_whole_budget_fits_beside_everything_else():
    training = sum(
        wall(config.TRAIN_DEADLINE_ON_GRADESCOPE * share) for share in config.TRAIN_SHARE.values()
    )
    worst = training + config.OVERHEAD_ON_GRADESCOPE + config.MARGIN
    assert worst <= config.GRADING_DEADLINE_ON_GRADESCOPE, (
        f"on Gradescope, training at its budgets takes {training:.0f} s and everything else "
        f"{config.OVERHEAD_ON_GRADESCOPE:.0f} s: {worst:.0f} s with the margin, "
        "past the grading's deadline "
        f"({config.GRADING_DEADLINE_ON_GRADESCOPE:.0f} s)"
    )


def test_the_shares_share_out_the_whole_budget():
    assert abs(sum(config.TRAIN_SHARE.values()) - 1) < 1e-9


def test_each_file_keeps_its_reserve_and_results_are_written_before_gradescope_stops():
    assert config.FILE_RESERVE * len(config.FILES) < config.GRADING_DEADLINE_ON_GRADESCOPE
    assert config.GRADING_DEADLINE_ON_GRADESCOPE + config.FILE_RESERVE <= config.GRADESCOPE_DEADLINE
    assert config.GRADESCOPE_DEADLINE + config.RESULTS_MARGIN <= config.GRADESCOPE_TIMEOUT


def test_run_autograder_takes_its_deadlines_from_the_timeout(monkeypatch):
    from autograder.packaging import gradescope

    assert gradescope.DEADLINE == config.GRADESCOPE_DEADLINE
    assert config.TRAIN_DEADLINE_ON_GRADESCOPE > 0
