"""mewb.reports: papermill execution, offline HTML export, report folders and indexes.

Notebooks here are tiny ones written by the tests (a kernel start each, a few seconds); the
real notebooks are run in ``test_notebooks.py``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from mewb.reports import NotebookExecutionError, OfflineHTMLError, check_offline_html, execute_notebook, export_html
from mewb.reports.driver import ReportExistsError, build_report, default_report_name, prepare_report_dir
from mewb.reports.index import ReportEntry, list_reports, write_index, write_reports_index

KERNELSPEC = {"name": "mewb", "display_name": "Python (mewb)", "language": "python"}


def tiny_notebook(path: Path, *, setup_tag: str = "hide_input") -> Path:
    """Parameters, a setup cell, a hidden-input figure, a removed cell, a visible cell that can fail."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Tiny report\nSome prose."),
        nbformat.v4.new_code_cell("points: int = 3  # how many points\nfail: bool = False  # raise in the last cell",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from mewb.reports import setup_notebook\nsetup_notebook()", metadata={"tags": [setup_tag]}),
        nbformat.v4.new_code_cell("import sys\nimport plotly.graph_objects as go\nprint('interpreter:', sys.executable)\n"
                                  "go.Figure(go.Scatter(y=list(range(points))))  # HIDDEN_SOURCE_MARK",
                                  metadata={"tags": ["hide_input"]}),
        nbformat.v4.new_code_cell("print('REMOVED_OUTPUT_MARK')  # REMOVED_SOURCE_MARK", metadata={"tags": ["remove_cell"]}),
        nbformat.v4.new_code_cell("if fail:\n    raise RuntimeError('boom on purpose')\ngo.Figure(go.Bar(y=[1, 2]))  # VISIBLE_MARK"),
        nbformat.v4.new_code_cell("print('AFTER_FAILURE_MARK')"),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Path:
    """The tiny notebook run with a *foreign* `mewb` kernel registered (another checkout's venv)."""
    folder = tmp_path_factory.mktemp("executed")
    foreign = folder / "jupyter" / "kernels" / "mewb"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps(
        {"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "another checkout", "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(folder / "jupyter"))
        out = execute_notebook(tiny_notebook(folder / "tiny.ipynb"), folder / "out" / "tiny.ipynb", {"points": 5})
        assert os.environ["JUPYTER_PATH"] == str(folder / "jupyter")  # restored afterwards
    return out


@pytest.fixture(scope="module")
def page(executed) -> str:
    return export_html(executed, executed.with_suffix(".html")).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------- execution

def test_parameters_are_injected_and_recorded(executed):
    nb = nbformat.read(executed, as_version=4)
    assert nb.metadata["papermill"]["parameters"] == {"points": 5}
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "points = 5" in injected[0].source
    # the injected cell follows the parameters cell, so it wins
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags.index(["injected-parameters"]) == tags.index(["parameters"]) + 1


def test_notebook_runs_on_this_interpreter_whatever_is_registered(executed):
    """The `mewb` kernel is this Python, even when the registered spec points at another venv."""
    nb = nbformat.read(executed, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"interpreter: {sys.executable}" in printed


def test_failing_notebook_names_the_cell_and_keeps_partial_output(tmp_path):
    src = tiny_notebook(tmp_path / "tiny.ipynb")
    out = tmp_path / "out" / "failed.ipynb"
    with pytest.raises(NotebookExecutionError) as caught:
        execute_notebook(src, out, {"fail": True})
    error = caught.value
    assert error.cell_index == 5  # index in the source notebook, not papermill's
    assert error.ename == "RuntimeError" and "boom on purpose" in error.evalue
    message = str(error)
    assert "tiny.ipynb" in message and "cell 5" in message and "boom on purpose" in message and str(out) in message
    assert out.is_file()  # partial output for debugging
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "RuntimeError"
    assert "AFTER_FAILURE_MARK" not in json.dumps([c.get("outputs", []) for c in nb.cells])  # execution stopped


def test_unknown_parameter_is_rejected_before_running(tmp_path):
    src = tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(ValueError, match=r"no parameters \['pionts'\].*points, fail"):
        execute_notebook(src, tmp_path / "out.ipynb", {"pionts": 4})
    assert not (tmp_path / "out.ipynb").exists()


def test_missing_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.ipynb"):
        execute_notebook(tmp_path / "nowhere.ipynb", tmp_path / "out.ipynb")


# ---------------------------------------------------------------------------------- HTML

def test_html_has_no_network_scripts(page):
    sources = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", page, flags=re.I)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    links = re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?([^\"'\s>]+)", page, flags=re.I)
    assert not [h for h in links if h.startswith(("http:", "https:", "//"))]
    # the CDN loaders of nbconvert's template (plotly.js itself mentions a CDN for map icons only)
    assert "require.min.js" not in page and "MathJax.js" not in page and "html-manager" not in page
    assert "mermaid" not in page


def test_html_embeds_plotly_once_and_draws_figures(page):
    check = check_offline_html(page)
    assert check.ok, check.problems
    assert check.plotlyjs_copies == 1
    assert check.figures == 2
    assert page.count("Plotly.newPlot(") == 2


def test_pages_of_a_report_share_one_local_plotlyjs(executed, tmp_path):
    """Report pages load the folder's one plotly.js: small pages, still offline, library written once."""
    first = export_html(executed, tmp_path / "a.html", shared_plotlyjs=True)
    second = export_html(executed, tmp_path / "b.html", shared_plotlyjs=True)
    (library,) = tmp_path.glob("plotly-*.min.js")
    embedded = export_html(executed, tmp_path / "embedded" / "c.html").stat().st_size
    assert library.stat().st_size > 3_000_000 and embedded > library.stat().st_size
    for path in (first, second):
        html = path.read_text(encoding="utf-8")
        check = check_offline_html(html)
        assert check.ok and check.plotlyjs_copies == 1 and check.figures == 2, check.problems
        assert f'<script src="{library.name}"></script>' in html and "* plotly.js v" not in html
        assert path.stat().st_size < 1_500_000 and path.stat().st_size < embedded - 3_000_000


def test_html_hides_tagged_cells(page):
    assert "REMOVED_SOURCE_MARK" not in page and "REMOVED_OUTPUT_MARK" not in page  # remove_cell: gone
    assert "HIDDEN_SOURCE_MARK" not in page  # hide_input: code gone ...
    assert "interpreter:" in page  # ... its output kept
    assert "VISIBLE_MARK" in page  # untagged code stays
    assert "<title>Tiny report</title>" in page  # first heading is the page title


def test_removing_the_setup_cell_is_caught(tmp_path):
    """A removed setup cell takes plotly.js with it: the export refuses rather than ship blank figures."""
    src = tiny_notebook(tmp_path / "tiny.ipynb", setup_tag="remove_cell")
    out = execute_notebook(src, tmp_path / "out.ipynb")
    with pytest.raises(OfflineHTMLError, match="no plotly.js"):
        export_html(out, tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()


def test_check_offline_html_flags_cdn_and_duplicates():
    banner = "/**\n* plotly.js v4.1.1\n*/"
    page = (f'<script src="https://cdn.plot.ly/plotly.min.js"></script><script>{banner}</script>'
            f'<script>{banner}</script><div class="plotly-graph-div"></div>')
    check = check_offline_html(page)
    assert check.remote_scripts == ["https://cdn.plot.ly/plotly.min.js"]
    assert check.plotlyjs_copies == 2
    assert len(check.problems) == 2
    assert check_offline_html('<script src="local.js"></script>').ok


# ---------------------------------------------------------------------------------- folders and indexes

def test_write_index_links_pages_and_lists_reports(tmp_path):
    root = tmp_path / "reports"
    older = write_index(root / "a", [ReportEntry("Page A", "a.html", "a.ipynb", "first", {"seed": 1}, 2.0)],
                        meta={"created": "2026-01-01T00:00:00+00:00", "dataset": "synth", "variants": ["full"]})
    newer = write_index(root / "b", [ReportEntry("Page B", "b.html", "b.ipynb", "", {}, 1.0),
                                     ReportEntry("Broken", None, "c.ipynb", error="cell 3: ValueError: bad")],
                        "<table><tr><td>ABLATION_MARK</td></tr></table>", title="Report B",
                        meta={"created": "2026-02-01T00:00:00+00:00", "dataset": "synth"})
    page = newer.read_text()
    assert 'href="b.html"' in page and 'href="c.ipynb"' in page and "ABLATION_MARK" in page
    assert "failed: cell 3: ValueError: bad" in page and "<script" not in page
    assert json.loads((root / "b" / "report.json").read_text())["pages"][1]["error"].startswith("cell 3")
    assert 'href="a.html"' in older.read_text() and "seed = 1" in older.read_text()
    top = (root / "index.html").read_text()
    assert top.index('href="b/index.html"') < top.index('href="a/index.html"')  # newest first
    assert "1 failed" in top
    assert [r["folder"] for r in list_reports(root)] == ["b", "a"]
    assert "No reports yet" in write_reports_index(tmp_path / "empty").read_text()


def test_an_existing_report_is_never_overwritten_silently(tmp_path):
    out = tmp_path / "reports" / "mine"
    write_index(out, [])
    with pytest.raises(ReportExistsError, match="--overwrite"):
        prepare_report_dir(out, overwrite=False)
    (out / "keep.txt").write_text("x")
    prepare_report_dir(out, overwrite=True)  # a report folder: replaced
    assert out.is_dir() and not any(out.iterdir())
    other = tmp_path / "not-a-report"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(ReportExistsError, match="not a mewb report"):
        prepare_report_dir(other, overwrite=True)
    assert (other / "thesis.tex").read_text() == "precious"
    assert isinstance(ReportExistsError("x"), ValueError)  # the CLI prints it as one line


def test_default_report_names_are_timestamped():
    name = default_report_name("synth", quick=True)
    assert re.fullmatch(r"\d{8}-\d{6}-synth-quick", name)


def test_build_report_checks_its_arguments_before_working(tmp_path):
    with pytest.raises(ValueError, match="unknown variants.*valid"):
        build_report(tmp_path / "r", variants=["fulll"])
    with pytest.raises(ValueError, match="--root is required"):
        build_report(tmp_path / "r", dataset="casme2")
    existing = tmp_path / "r2"
    write_index(existing, [])
    with pytest.raises(ReportExistsError):
        build_report(existing, root=tmp_path / "data")
    assert not (tmp_path / "data").exists()  # nothing generated before the refusal


def test_cli_report_refuses_an_existing_folder(tmp_path, capsys):
    from mewb.cli import main

    out = tmp_path / "r"
    write_index(out, [])
    assert main(["report", "--quick", "--out", str(out), "--data-root", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and "Traceback" not in err


def test_scores_are_rounded_to_what_the_clip_count_supports():
    import pandas as pd

    from mewb.reports.runs import score_decimals, score_format

    assert score_decimals(96) == 2 and score_decimals(442) == 2 and score_decimals(10_000) == 3
    assert score_decimals(9) == 1  # +-0.17: one decimal is already generous
    assert score_format(pd.DataFrame({"n": [96, 480], "UF1": [0.9, 0.8]})) == "{:.2f}"


def test_the_ablation_sentences_follow_the_numbers():
    import pandas as pd

    from mewb.reports.runs import ablation_findings

    def table(scores: dict, n: int = 96):
        return pd.DataFrame([{"variant": v, "selection": "fixed epochs", "dataset": "synth", "n": n, "accuracy": u,
                              "UF1": u, "UAR": u} for v, u in scores.items()])

    lines = ablation_findings(table({"baseline": 0.30, "improved": 0.31, "flow_only": 0.95, "dual": 0.90, "full": 0.93}))
    text = " ".join(lines)
    assert "Highest UF1: flow_only (0.95); lowest: baseline (0.30)" in text
    assert "At chance level" in text and "baseline (0.30)" in text and "improved (0.31)" in text
    assert "optical-flow stream (improved -> dual) changes UF1 by +0.59" in text and "a gain" in text
    assert "CASANet attention and EVM magnification (dual -> full) changes UF1 by +0.03" in text
    assert "within what the clips can resolve (+-0.14)" in text  # 0.03 < 2 sqrt(2) 0.5 / sqrt(96)
    assert "flow_only and full differ by +0.02" in text
    # other numbers, other sentences
    lines = ablation_findings(table({"baseline": 0.70, "improved": 0.85, "flow_only": 0.90, "dual": 0.60, "full": 0.62},
                                    n=10000))
    text = " ".join(lines)
    assert "At chance level" not in text and "Highest UF1: flow_only (0.900)" in text
    assert "the frames stream (flow_only -> dual) changes UF1 by -0.300" in text and "a loss" in text
    assert "differ by" not in text
    leaky = table({"full [leaky]": 0.9, "full": 0.8})
    leaky.loc[0, "selection"] = "test-selected (leaky)"
    assert any("optimistic by construction" in line for line in ablation_findings(leaky))


def test_an_existing_synthme_folder_is_kept_and_a_stale_one_is_named(tmp_path):
    from mewb.reports.driver import ReportSettings, ensure_synth
    from mewb.synth import SynthConfig, generate_dataset

    settings = ReportSettings(synth=dict(subjects=2, clips_per_subject=3, size=32, frames=48, workers=1))
    lines: list[str] = []
    root = ensure_synth(tmp_path / "synthme", settings, lines.append)
    assert len(lines) == 1 and lines[0].startswith("generating SynthME")
    lines.clear()
    assert ensure_synth(root, settings, lines.append) == root and lines == []  # the same set: nothing to say

    old = generate_dataset(tmp_path / "old", SynthConfig(subjects=2, clips_per_subject=3, size=32, frames=48,
                                                          workers=1, amplitude_px=1.5))
    before = {p: p.stat().st_mtime_ns for p in old.rglob("*")}
    ensure_synth(old, settings, lines.append)
    assert len(lines) == 1 and "amplitude_px 1.5 (this mewb: 3.0)" in lines[0] and "move the folder away" in lines[0]
    assert {p: p.stat().st_mtime_ns for p in old.rglob("*")} == before  # the user's folder is left as it was
