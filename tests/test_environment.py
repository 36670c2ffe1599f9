"""requirements.txt and environment.yml pin the same packages."""

import re

from tests.conftest import ROOT


def pins(text):
    return dict(re.findall(r"^\s*(?:-\s+)?([A-Za-z0-9_.-]+)==([^\s#]+)", text, re.M))


def test_environment_yml_pins_what_requirements_txt_pins():
    requirements = pins((ROOT / "requirements.txt").read_text())
    environment = pins((ROOT / "environment.yml").read_text())
    assert requirements == environment
    assert {"torch", "torchvision", "numpy", "matplotlib", "Pillow", "pytest", "pytest-timeout",
            "gradescope-utils", "nbformat", "copydetect"} <= set(requirements)


def test_environment_yml_uses_the_oldest_supported_python():
    assert re.search(r"^\s*-\s+python=3\.10\s*$", (ROOT / "environment.yml").read_text(), re.M)


def test_every_install_of_torch_takes_the_pins_of_requirements_txt():
    """The Makefiles read torch's and torchvision's pins from requirements.txt (the handout's holds
    the same pins), setup.sh has them filled in from it: one version everywhere."""
    import subprocess
    import sys

    from autograder.packaging import gradescope, handout

    wanted = pins((ROOT / "requirements.txt").read_text())
    torch = f"torch=={wanted['torch']} torchvision=={wanted['torchvision']}"
    assert pins(handout.requirements()) == wanted
    for makefile in (ROOT / "Makefile", ROOT / "autograder/packaging/handout_files/Makefile"):
        planned = subprocess.run(["make", "-n", "-f", str(makefile), "venv", "VENV=/nonexistent/v",
                                  "PY=/nonexistent/v/bin/python", f"PYTHON3={sys.executable}"],
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
        assert torch in planned, makefile
    assert torch in gradescope.setup_sh()
