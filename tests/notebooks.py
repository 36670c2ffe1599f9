"""Notebooks as students submit them: a .py file exported by Colab, with the cells a student leaves
around it."""

from __future__ import annotations

import base64
import json
import random

from autograder.harness import notebook

# A learning-curve plot as Colab keeps it in the notebook's outputs: base64 PNG bytes (not decoded
# by anyone).
IMAGE = base64.b64encode(random.Random(0).randbytes(3_000_000)).decode()


def lines(text: str) -> list[str]:
    """A cell's source as Colab stores it: a list of lines, each but the last ending in a
    newline."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def cell(kind: str, text: str, number: int, outputs: list | None = None) -> dict:
    metadata = {"id": f"colab{number:04d}"}
    if kind == "markdown":
        return {"cell_type": "markdown", "metadata": metadata, "source": lines(text)}
    metadata["colab"] = {"base_uri": "https://localhost:8080/", "height": 281}
    return {
        "cell_type": "code",
        "execution_count": number,
        "metadata": metadata,
        "outputs": outputs or [],
        "source": lines(text),
    }


def training_outputs() -> list[dict]:
    return [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": ["epoch 1/2  loss 0.52\n", "epoch 2/2  loss 0.41\n"],
        },
        {
            "output_type": "display_data",
            "metadata": {"needs_background": "light"},
            "data": {"image/png": IMAGE, "text/plain": ["<Figure size 1000x400 with 2 Axes>"]},
        },
    ]


# The training cell of a student whose .py has no __main__ block to make one from.
TRAINING = ("X_train, y_train, X_val, y_val, X_test, y_test = utils.load_data('flat')\n"
            "model = Model()\nhistory = model.fit(X_train, y_train, X_val, y_val)\n"
            "model.plot_train_val_metrics(history, 'curves.png')")


def colab(script: str, name: str, extra: bool = True) -> bytes:
    """`script` (a .py of the assignment) as Colab exports it: nbformat 4.0, no cell ids, Colab's
    metadata; with `extra`, the cells a student leaves: Markdown, a shell line and magics, a
    top-level training cell whose outputs hold a plot, and a cell that loads data and sleeps."""
    cells = [{"type": c.cell_type, "text": c.source} for c in notebook.as_notebook(script).cells]
    if extra:
        cells[:0] = [{"type": "markdown", "text": "# My Fashion-MNIST notebook\nRun in order."},
                     {"type": "code", "text": "!pip install -q torch torchvision\n"
                                              "%matplotlib inline\n%load_ext autoreload"}]
        if not any(".fit(" in c["text"] and "def " not in c["text"] for c in cells):
            cells.append({"type": "code", "text": TRAINING})
        cells += [{"type": "code", "text": "import time\nX_demo = utils.load_data('numpy')\n"
                                           "time.sleep(30)\nprint('done')"},
                  {"type": "code", "text": "%%time\nfor epoch in range(100):\n    pass"}]
    out = []
    for number, c in enumerate(cells, start=1):
        training = c["type"] == "code" and ".fit(" in c["text"] and "def " not in c["text"]
        out.append(
            cell(c["type"], c["text"], number, training_outputs() if training and extra else None)
        )
    document = {
        "nbformat": 4,
        "nbformat_minor": 0,
        "metadata": {
            "colab": {"provenance": [], "name": name, "collapsed_sections": []},
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
        },
        "cells": out,
    }
    return json.dumps(document, indent=2).encode()
