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
