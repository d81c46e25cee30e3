"""The notebooks in ``notebooks/``: their shape (thin, parameterised, committed clean) and papermill
runs with small parameters on a tiny SynthME set."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest

from mewb.reports import check_offline_html, execute_notebook, export_html, notebook_parameters

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))
HIDING_TAGS = {"hide_input", "remove_cell", "remove_output"}


def _cells(path: Path):
    return nbformat.read(path, as_version=4).cells


def test_the_notebooks_exist():
    names = {p.stem for p in ALL}
    assert {"01-micro-expressions-tour", "10-train-variant", "20-ablation-report"} <= names


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    for cell in _cells(path):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear outputs before committing"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_cell_two_holds_typed_documented_parameters(path):
    cells = _cells(path)
    assert cells[1].cell_type == "code" and "parameters" in cells[1].metadata.get("tags", [])
    assigned = []
    for line in cells[1].source.splitlines():
        node = ast.parse(line).body[0]
        assert isinstance(node, ast.AnnAssign), f"{path.name}: parameter line without a type: {line!r}"
        assert isinstance(node.value, ast.Constant), f"{path.name}: flat literal defaults only: {line!r}"
        assigned.append(node.target.id)
    documented = notebook_parameters(path)  # what `papermill --help-notebook` prints
    assert list(documented) == assigned, f"{path.name}: papermill could not parse some parameter lines"
    for name, info in documented.items():
        assert info["help"], f"{path.name}: parameter {name} has no trailing comment"
        assert info["type"] != "None", f"{path.name}: parameter {name} has no type"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_notebooks_are_thin(path):
    """Every code cell calls mewb; no function or class is defined in a notebook."""
    cells = _cells(path)
    trees = {i: ast.parse(c.source) for i, c in enumerate(cells) if c.cell_type == "code" and i != 1}
    from_mewb = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mewb"):
                from_mewb |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                from_mewb |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.startswith("mewb")}
    for i, tree in trees.items():
        defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{path.name} cell {i}: define functions in mewb/, not in a notebook"
        calls = {_root_name(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert calls & from_mewb, f"{path.name} cell {i}: every code cell should call mewb"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_plumbing_is_tagged_and_plotly_setup_survives_export(path):
    cells = _cells(path)
    setup = [c for c in cells if "setup_notebook()" in c.source]
    assert len(setup) == 1 and setup[0].metadata.get("tags") == ["hide_input"], \
        "setup_notebook() displays plotly.js: its cell must be hide_input, never remove_cell"
    assert nbformat.read(path, as_version=4).metadata["kernelspec"]["name"] == "mewb"
    code = [c for i, c in enumerate(cells) if c.cell_type == "code" and i != 1]
    tagged = [c for c in code if HIDING_TAGS & set(c.metadata.get("tags", []))]
    assert len(tagged) >= len(code) - 2, f"{path.name}: tag plumbing cells hide_input or remove_cell"


def _outputs(nb) -> str:
    return "".join(str(o.get("data", o.get("text", ""))) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_tour_runs_and_exports(tmp_path):
    src = NOTEBOOKS / "01-micro-expressions-tour.ipynb"
    out = execute_notebook(src, tmp_path / "tour.ipynb", {"size": 48, "emotion": "surprise", "loso_subjects": 4})
    nb = nbformat.read(out, as_version=4)
    assert nb.metadata["papermill"]["parameters"] == {"size": 48, "emotion": "surprise", "loso_subjects": 4}
    assert "application/vnd.plotly.v1+json" in _outputs(nb)  # JupyterLab draws these natively
    html = export_html(out, tmp_path / "tour.html").read_text()
    check = check_offline_html(html)
    assert check.ok and check.plotlyjs_copies == 1 and check.figures == 7
    assert "A tour of micro-expressions" in html and "example_clip(" not in html  # prose and figures, no plumbing


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory) -> Path:
    from mewb.synth import SynthConfig, generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth") / "synthme",
                            SynthConfig(subjects=3, clips_per_subject=6, size=32, workers=1))


@pytest.mark.slow
def test_train_and_ablation_notebooks(tiny_synth, tmp_path, monkeypatch):
    monkeypatch.setenv("MEWB_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    common = dict(data_root=str(tiny_synth), runs_dir=str(runs), recipe="quick",
                  overrides="execution.device=cpu; execution.threads=1")
    for variant in ("flow_only", "dual"):
        out = execute_notebook(NOTEBOOKS / "10-train-variant.ipynb", tmp_path / f"10-{variant}.ipynb",
                               {**common, "variant": variant, "run_name": variant})
        nb = nbformat.read(out, as_version=4)
        assert nb.metadata["papermill"]["parameters"]["variant"] == variant
        for name in ("config.yaml", "environment.json", "metrics.json", "predictions.csv"):
            assert (runs / variant / name).is_file()
        html = export_html(out, tmp_path / f"10-{variant}.html").read_text()
        assert check_offline_html(html).ok and check_offline_html(html).figures == 3
        assert ">run_recipe<" in html  # the one call that trained is shown (highlighted) ...
        assert "start loso run" not in html  # ... without its log (remove_output)

    out = execute_notebook(NOTEBOOKS / "20-ablation-report.ipynb", tmp_path / "20.ipynb",
                           {"runs_dir": str(runs), "runs": "flow_only,dual", "explain": True, "method": "gradcam",
                            "clips_per_class": 1, "localisation_clips": 1, "cache_dir": str(tmp_path / "cache")})
    html = export_html(out, tmp_path / "20.html").read_text()
    check = check_offline_html(html)
    # ablation bars, confusion grid, 2 error heatmaps, 2 UMAPs, saliency gallery, localisation bars
    assert check.ok and check.figures == 8, check
    assert "flow_only" in html and "dual" in html and "fixed epochs" in html
    assert "energy_share" in html and "skipped: explain=False" not in html
    assert html.count("localises best") == 2  # the scores in words, one sentence per variant
    assert "mewb / git" in html  # provenance table
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html  # no stray warnings for the reader

    # the explorer builds its widgets and explains the first clip without a browser
    out = execute_notebook(NOTEBOOKS / "30-saliency-explorer.ipynb", tmp_path / "30.ipynb",
                           {"runs_dir": str(runs), "cache_dir": str(tmp_path / "cache")})
    nb = nbformat.read(out, as_version=4)
    assert "application/vnd.jupyter.widget-view+json" in _outputs(nb)
    state = json.dumps(nb.metadata["widgets"])
    assert "IntSliderModel" in state and "FloatSliderModel" in state and "cannot explain" not in state


@pytest.mark.slow
def test_ablation_notebook_fails_clearly_on_a_missing_run(tmp_path):
    from mewb.reports import NotebookExecutionError

    (tmp_path / "runs").mkdir()
    with pytest.raises(NotebookExecutionError, match="FileNotFoundError.*no finished run"):
        execute_notebook(NOTEBOOKS / "20-ablation-report.ipynb", tmp_path / "20.ipynb",
                         {"runs_dir": str(tmp_path / "runs"), "runs": "ghost", "explain": False})
    assert (tmp_path / "20.ipynb").is_file()
