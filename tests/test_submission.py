"""`make submission` zips exactly the five files (a notebook for a .py where that is the form
edited), refuses when one is missing, warns on a stale PNG."""

import os
import shutil
import zipfile

import pytest

from autograder.harness import notebook
from autograder.packaging import submission
from tests.conftest import ROOT
from tests.notebooks import colab


@pytest.fixture
def folder(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "student", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "student" / "notes.txt").write_text("not submitted")
    return tmp_path / "student"


def test_zips_the_three_files_and_the_two_pngs(folder, tmp_path):
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 0
    assert sorted(zipfile.ZipFile(tmp_path / "s.zip").namelist()) == sorted(submission.submission_files())


def test_refuses_and_names_a_missing_png(folder, tmp_path, capsys):
    (folder / "pytorch_cnn_train_val_metrics.png").unlink()
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 1
    assert "pytorch_cnn_train_val_metrics.png" in capsys.readouterr().err
    assert not (tmp_path / "s.zip").exists()


def test_warns_when_a_png_is_older_than_its_code(folder, tmp_path, capsys):
    png = folder / "pytorch_ann_train_val_metrics.png"
    os.utime(png, (1_000_000, 1_000_000))
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 0
    assert "pytorch_ann_train_val_metrics.png is older than pytorch_ann.py" in capsys.readouterr().err


def test_takes_what_make_check_takes_other_capitalisation_and_one_sub_folder(folder, tmp_path):
    nested = tmp_path / "zipped" / "my work"
    shutil.copytree(folder, nested)
    (nested / "numpy_ann.py").rename(nested / "Numpy_ANN.py")
    assert submission.main([str(tmp_path / "zipped"), "--out", str(tmp_path / "s.zip")]) == 0
    assert sorted(zipfile.ZipFile(tmp_path / "s.zip").namelist()) == sorted(submission.submission_files())


def test_a_refusal_says_what_was_meant_and_removes_the_older_zip(folder, tmp_path, capsys):
    out = tmp_path / "s.zip"
    assert submission.main([str(folder), "--out", str(out)]) == 0
    (folder / "pytorch_ann.py").rename(folder / "pytorch-ann.py")
    assert submission.main([str(folder), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "did you mean pytorch-ann.py" in err and "older one is removed" in err
    assert not out.exists()


def test_refuses_a_symlink_as_the_grader_would_skip_it(folder, tmp_path, capsys):
    real = tmp_path / "elsewhere.py"
    (folder / "numpy_ann.py").rename(real)
    (folder / "numpy_ann.py").symlink_to(real)
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 1
    err = capsys.readouterr().err
    assert "numpy_ann.py: it is a symbolic link; only regular files are graded" in err
    assert "a copy, not a link" in err and "did you mean" not in err
    assert not (tmp_path / "s.zip").exists()


def test_refuses_an_oversized_png_without_reading_it(folder, tmp_path, capsys):
    os.truncate(folder / "pytorch_cnn_train_val_metrics.png", 1 << 30)  # sparse: 1 GB that takes no disk
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 1
    assert "pytorch_cnn_train_val_metrics.png: it is 1,073,741,824 bytes, over the limit of 5 MB" in capsys.readouterr().err
    assert not (tmp_path / "s.zip").exists()


def test_zips_the_notebook_the_student_edited_beside_the_untouched_py(folder, tmp_path):
    code = (folder / "numpy_ann.py").read_text()
    (folder / "numpy_ann.ipynb").write_bytes(colab(code, "numpy_ann.ipynb"))
    shutil.copy(ROOT / "student" / "numpy_ann.py", folder / "numpy_ann.py")
    (folder / "pytorch_ann.ipynb").write_text(notebook.stub_notebook("pytorch_ann"))
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 0
    names = zipfile.ZipFile(tmp_path / "s.zip").namelist()
    assert sorted(names) == sorted(["numpy_ann.ipynb", "pytorch_ann.py", "pytorch_cnn.py",
                                    *submission.submission_files()[3:]])


def test_when_both_forms_were_edited_zips_the_py_and_says_so(folder, tmp_path, capsys):
    (folder / "numpy_ann.ipynb").write_bytes(colab((folder / "numpy_ann.py").read_text(), "x"))
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 0
    assert "numpy_ann.py" in zipfile.ZipFile(tmp_path / "s.zip").namelist()
    assert "Both numpy_ann.py and numpy_ann.ipynb were edited" in capsys.readouterr().err


def test_refuses_a_notebook_the_grader_could_not_read(folder, tmp_path, capsys):
    (folder / "numpy_ann.py").unlink()
    (folder / "numpy_ann.ipynb").write_text("{not json")
    assert submission.main([str(folder), "--out", str(tmp_path / "s.zip")]) == 1
    assert "numpy_ann.ipynb cannot be graded: it is not a notebook" in capsys.readouterr().err
    assert not (tmp_path / "s.zip").exists()
