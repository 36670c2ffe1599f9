#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image
# (Ubuntu 22.04 with its system python3 3.10). It leaves that python and its
# packages alone: everything goes into the virtual environment /autograder/venv.
# Versions come from requirements.txt (`make gradescope` fills them in).
#
# Two settings, Gradescope's values by default, let a test run the script
# elsewhere with every other line as written: SETUP_TORCH_INDEX, the package
# index tried first for torch and torchvision (empty: pip's own configuration
# alone), and SETUP_APT_GET, the apt-get command (`true` skips the system packages).
set -euo pipefail
SOURCE=/autograder/source
VENV=/autograder/venv
TORCH_INDEX="${SETUP_TORCH_INDEX-https://download.pytorch.org/whl/cpu}"
APT_GET="${SETUP_APT_GET:-apt-get}"
cd "$SOURCE"

export DEBIAN_FRONTEND=noninteractive
$APT_GET update -q
$APT_GET install -y -q --no-install-recommends python3-venv python3-pip bubblewrap

python3 -m venv "$VENV"
# A short timeout and one retry: an index out of reach costs seconds, not pip's minutes.
PIP=("$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check
     --timeout 10 --retries 1)
"${PIP[@]}" --upgrade pip
# CPU builds of torch and torchvision (PyPI's Linux wheels carry CUDA: 5.6 GB in the venv,
# and three times the memory for `import torch`), from PyTorch's CPU index, tried first; only
# they come from it (--no-deps), their dependencies from PyPI next. Where that index fails,
# PyPI's build of the same version is installed instead, and grades the same.
if [ -n "$TORCH_INDEX" ]; then
  "${PIP[@]}" --no-deps --index-url "$TORCH_INDEX" torch==@TORCH@ torchvision==@TORCHVISION@ \
    || echo "No CPU build of torch from $TORCH_INDEX: PyPI's build instead"
fi
"${PIP[@]}" -r requirements.txt

# Fashion-MNIST, now, so that grading never needs the network.
$APT_GET install -y -q dataset-fashion-mnist || echo "dataset-fashion-mnist unavailable: torchvision will download"
# apt keeps the .deb it installed in its cache, readable by everyone, test labels inside: delete
# it (that package's alone: `apt-get clean` would empty the cache of a machine where
# tests/test_setup.py runs this script). The grader also closes that folder while it grades.
rm -f /var/cache/apt/archives/dataset-fashion-mnist_*.deb
"$VENV/bin/python" utils.py data
"$VENV/bin/python" -m autograder.runtime.datacache  # the float32 training images every worker maps

# The test labels are the grade: now that the cache is built, only root (the grader) may read any copy of them.
# Workers get the training data and the shuffled test images from the grader, never from these folders.
chmod -R go-rwx "$SOURCE/data"
# The training files stay readable, so that the grader can hand them to workers as hard links (their folder is
# closed: a worker reaches them only through the links).
chmod go+r "$SOURCE"/data/FashionMNIST/cache/train_*.npy "$SOURCE"/data/FashionMNIST/cache/*_float32_*.npy
if [ -d /usr/share/datasets/fashion-mnist ]; then chmod -R go-rwx /usr/share/datasets/fashion-mnist; fi

# This image's own salt for the test set's order (build/salt, root's alone): no student can recompute it.
"$VENV/bin/python" -c "from autograder.suite import fixtures; fixtures.salt()"

# Fail the build now, not at the first submission, if anything is missing.
"$VENV/bin/python" -c "import numpy, torch, matplotlib, PIL, pytest, pytest_timeout, gradescope_utils, utils; utils.load_fashion_mnist('test')"
"$VENV/bin/python" -c "import nbformat"  # notebook submissions are read with it
echo "autograder set up: $("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)')"
