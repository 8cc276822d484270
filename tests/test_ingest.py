"""Ingestion: what is kept from a hand-in, what is dropped, and the messages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from autograder._exceptions import SubmissionError
from autograder.ingest import extract, strip_ipython
from tests.conftest import write_notebook


def kept(ex) -> str:
    return "\n".join(c["source"] for c in ex.cells)


def test_extract_keeps_definitions_and_drops_top_level_calls(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "a.ipynb",
        [
            "import torch\nfrom torch import nn",
            "def f(x):\n    return x + OFFSET\n\nf(1)\nprint('hi')",
            "OFFSET = 3\nUNUSED = 4\nmodel = nn.Linear(2, 2)\ntrain(model)",
            ("markdown", "# prose"),
        ],
    )
    ex = extract(nb)
    text = kept(ex)
    assert "def f(x)" in text and "import torch" in text
    assert "OFFSET = 3" in text  # a constant a definition uses
    assert "UNUSED" not in text and "train(model)" not in text and "f(1)" not in text
    assert "nn.Linear(2, 2)" not in text  # not a safe constant
    assert ex.defined == {"f": [1]}


def test_extract_keeps_line_numbers_of_each_cell(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", ["x()\ny()\ndef g():\n    return 1"])
    cell = extract(nb).cells[0]
    assert cell["source"].split("\n")[2] == "def g():"
    assert cell["name"] == "cell[0]"


def test_extract_ignores_parameters_when_resolving_constants(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "a.ipynb",
        [
            "def show(img_batch):\n    return img_batch",
            "img_batch = img_batch[:4]",
        ],
    )
    assert "img_batch[:4]" not in kept(extract(nb))


@pytest.mark.parametrize(
    "source",
    [
        "%load_ext autoreload\n%autoreload 2\nimport os",
        "!pip install torch\nimport os",
        "files = !ls\nimport os",
        "import os\nos?",
    ],
)
def test_strip_ipython_blanks_magics_and_shell(source: str) -> None:
    out = strip_ipython(source)
    assert out is not None
    assert out.count("\n") == source.count("\n")
    compile(out, "cell", "exec")


def test_strip_ipython_skips_foreign_cell_magics_and_keeps_time() -> None:
    assert strip_ipython("%%bash\nls -l") is None
    assert strip_ipython("%%time\nx = 1") == "\nx = 1"


def test_extract_reports_duplicated_definitions_last_wins(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "a.ipynb", ["def f():\n    return 1", "def f():\n    return 2"]
    )
    ex = extract(nb)
    assert ex.defined["f"] == [0, 1]
    assert any("defined in cells 0, 1" in n for n in ex.notes)


def test_extract_skips_a_cell_with_a_syntax_error_and_names_its_losses(
    tmp_path: Path,
) -> None:
    nb = write_notebook(
        tmp_path / "a.ipynb",
        ["def ok():\n    return 1", "def broken(:\n    pass\nclass Lost: pass"],
    )
    ex = extract(nb)
    assert "ok" in ex.defined and "broken" not in ex.defined
    assert any(
        "cell[1] has a syntax error" in n and "broken, Lost" in n for n in ex.notes
    )


def test_extract_refuses_broken_json_with_a_hint(tmp_path: Path) -> None:
    bad = tmp_path / "a.ipynb"
    bad.write_text('{"cells": [ {"cell_type": "code", ')
    with pytest.raises(SubmissionError) as info:
        extract(bad)
    assert "not a readable notebook" in info.value.message
    assert info.value.hint and "save it again" in info.value.hint


def test_extract_survives_non_utf8_bytes(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "a.ipynb", ["def f():\n    return 'caf\u00e9'"])
    raw = path.read_bytes().replace("caf\u00e9".encode(), b"caf\xe9")
    path.write_bytes(raw)
    ex = extract(path)
    assert "f" in ex.defined
    assert any("not valid UTF-8" in n for n in ex.notes)


def test_extract_reads_outputs_and_stderr_without_caring(tmp_path: Path) -> None:
    import nbformat

    path = write_notebook(tmp_path / "a.ipynb", ["def f():\n    return 1"])
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: x"),
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}),
    ]
    nbformat.write(nb, path)
    assert "f" in extract(path).defined


def test_extract_reads_jupytext_percent_and_plain_scripts(tmp_path: Path) -> None:
    percent = tmp_path / "a.py"
    percent.write_text(
        "# %%\nimport os\n\n# %% [markdown]\n# text\n\n# %%\n"
        "def f():\n    return os.sep\n\nf()\n"
    )
    assert "f" in extract(percent).defined
    plain = tmp_path / "b.py"
    plain.write_text("import os\n\ndef g():\n    return 1\n\ng()\n")
    ex = extract(plain)
    assert "g" in ex.defined and "g()" not in kept(ex).replace("def g()", "")


def test_resolve_folder_and_zip(tmp_path: Path) -> None:
    folder = tmp_path / "hand-in"
    (folder / ".ipynb_checkpoints").mkdir(parents=True)
    write_notebook(folder / "A01.ipynb", ["def f():\n    return 1"])
    write_notebook(
        folder / ".ipynb_checkpoints" / "A01-checkpoint.ipynb", ["def f(): pass"]
    )
    (folder / "utils.py").write_text("def helper(): pass\n")
    assert "f" in extract(folder).defined
    archive = tmp_path / "hand-in.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "A01.ipynb", "sub/A01.ipynb")
    assert "f" in extract(archive).defined


def test_resolve_refuses_zip_slip_and_ambiguity(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escape.ipynb", "{}")
    with pytest.raises(SubmissionError, match="unsafe path"):
        extract(archive)
    folder = tmp_path / "two"
    folder.mkdir()
    write_notebook(folder / "a.ipynb", ["x = 1"])
    write_notebook(folder / "b.ipynb", ["x = 1"])
    with pytest.raises(SubmissionError, match="several notebooks"):
        extract(folder)
    assert extract(folder, preferred_name="b.ipynb").sha256


def test_resolve_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="does not exist"):
        extract(tmp_path / "nope.ipynb")
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF")
    with pytest.raises(SubmissionError, match="unsupported file type"):
        extract(pdf)
    with pytest.raises(SubmissionError, match="not a valid zip"):
        bad = tmp_path / "a.zip"
        bad.write_bytes(b"PK\x03\x04garbage")
        extract(bad)


@pytest.mark.parametrize(
    "source",
    [
        'def f(n):\n    msg = ("%d layers"\n           % n)\n    return msg',
        "def f(model):\n    model.train()  # is this needed?\n    return model",
        'def f():\n    """Why?"""\n    return 1',
    ],
)
def test_strip_ipython_leaves_plain_python_alone(source: str) -> None:
    assert strip_ipython(source) == source


def test_extract_normalises_lone_carriage_returns(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", ["def f():\r    return 1\r\rf()"])
    assert "f" in extract(nb).defined


def test_extract_resolves_aliases_before_trusting_a_call(tmp_path: Path) -> None:
    nb = write_notebook(
        tmp_path / "a.ipynb",
        [
            "import os as T\nfrom subprocess import getoutput as Path",
            "A = T.system('touch /tmp/x')\nB = Path('id')\nlist = print\nC = list('x')",
            "from torchvision import transforms as tf\nD = tf.ToTensor()",
            "def uses():\n    return A, B, C, D",
        ],
    )
    text = kept(extract(nb))
    assert (
        "T.system" not in text and "Path('id')" not in text and "C = list" not in text
    )
    assert "D = tf.ToTensor()" in text


def test_extract_notes_a_malformed_cell_source(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "a.ipynb", ["def f():\n    return 1", "x = 2"])
    raw = json.loads(path.read_text())
    raw["cells"][1]["source"] = 5
    path.write_text(json.dumps(raw))
    ex = extract(path)
    assert "f" in ex.defined and any("malformed source" in n for n in ex.notes)


def test_extract_zip_leaves_no_temporary_folder(tmp_path: Path) -> None:
    import glob
    import tempfile

    before = set(glob.glob(f"{tempfile.gettempdir()}/rlgrade-zip-*"))
    folder = tmp_path / "in"
    folder.mkdir()
    write_notebook(folder / "A01.ipynb", ["def f():\n    return 1"])
    archive = tmp_path / "hand-in.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "A01.ipynb", "A01.ipynb")
        zf.writestr("../evil.py", "x = 1")
    with pytest.raises(SubmissionError):
        extract(archive)
    assert set(glob.glob(f"{tempfile.gettempdir()}/rlgrade-zip-*")) == before
