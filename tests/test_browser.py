"""Reports and notebooks in a real browser: Debian's headless Chromium driven by Playwright.

The pages are opened from disk (file://) with every network request recorded: a report must draw
its figures offline, without console errors. JupyterLab is started on 127.0.0.1 with a token and
driven the same way to run the saliency explorer and find its widgets.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run`` installs it); the
tests never download a browser and skip, saying why, when none is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from mewb.reports import execute_notebook, export_html
from mewb.reports.index import ReportEntry, write_index

CHROMIUM = next((p for p in (os.environ.get("MEWB_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser")) if p and Path(p).is_file()), None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (sudo apt-get install chromium)"),
]


@contextmanager
def browser_page(profile: Path, *, height: int = 900):
    """A fresh Chromium profile and page; collects console errors, page errors and network requests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                       headless=True, viewport={"width": 1280, "height": height})
        page = context.pages[0] if context.pages else context.new_page()
        page.problems, page.remote = [], []
        page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("request", lambda r: page.remote.append(r.url) if not r.url.startswith(("file:", "data:", "blob:",
                                                                                          "http://127.0.0.1")) else None)
        try:
            yield page
        finally:
            context.close()


def open_report_page(page, path: Path, screenshot: Path, *, figures: int) -> None:
    page.goto(path.as_uri())
    if figures:
        page.wait_for_function(f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {figures}",
                               timeout=30_000)
    page.screenshot(path=str(screenshot), full_page=True)
    assert not page.problems, page.problems
    assert not page.remote, f"{path.name} fetched from the network: {page.remote}"
    assert screenshot.stat().st_size > 10_000


def _tiny_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "mewb", "display_name": "Python (mewb)",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Browser check\nTwo figures follow."),
        nbformat.v4.new_code_cell("points: int = 4  # points in the line", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from mewb.reports import setup_notebook\nsetup_notebook()", metadata={"tags": ["hide_input"]}),
        nbformat.v4.new_code_cell("from mewb.viz import tour\ntour.loso_folds(['s1', 's2', 's3'])", metadata={"tags": ["hide_input"]}),
        nbformat.v4.new_code_cell("tour.selection_bias_figure(tour.simulate_test_selection(0.6, trials=50))",
                                  metadata={"tags": ["hide_input"]}),
    ]
    nbformat.write(nb, path)
    return path


def test_report_index_and_page_render_offline(tmp_path):
    report = tmp_path / "reports" / "browser-check"
    executed = execute_notebook(_tiny_notebook(tmp_path / "tiny.ipynb"), report / "tiny.ipynb", {"points": 5})
    export_html(executed, report / "tiny.html", shared_plotlyjs=True)  # as report pages are: plotly.js beside them
    assert list(report.glob("plotly-*.min.js"))
    index = write_index(report, [ReportEntry("Browser check", "tiny.html", "tiny.ipynb", "two figures", {"points": 5}, 1.0)],
                        "<table><tr><th>variant</th><th>UF1</th></tr><tr><td>full</td><td>0.9</td></tr></table>")
    with browser_page(tmp_path / "profile") as page:
        open_report_page(page, tmp_path / "reports" / "index.html", tmp_path / "all-reports.png", figures=0)
        page.click("text=browser-check")
        page.wait_for_url("**/browser-check/index.html")
        assert page.locator("table").first.is_visible()
        page.click("text=Browser check")  # the page link of the table
        page.wait_for_url("**/tiny.html")
        open_report_page(page, report / "tiny.html", tmp_path / "tiny.png", figures=2)
        assert page.locator(".main-svg").count() >= 2
        assert page.locator("text=Two figures follow.").is_visible()
        assert page.locator("text=setup_notebook").count() == 0  # hidden input stays hidden
    assert index.is_file()


@pytest.mark.slow
def test_tour_page_draws_every_figure(tmp_path):
    out = execute_notebook(REPO / "notebooks" / "01-micro-expressions-tour.ipynb", tmp_path / "tour.ipynb", {"size": 48})
    html = export_html(out, tmp_path / "tour.html")
    with browser_page(tmp_path / "profile") as page:
        open_report_page(page, html, tmp_path / "tour.png", figures=7)
        images = page.locator(".plotly-graph-div image").count()  # go.Image traces are <image> elements
        assert images >= 7


@pytest.mark.slow
def test_quick_report_end_to_end(tmp_path):
    """`mewb report --quick` as a user runs it, then every page in the browser."""
    env = {**os.environ, "MEWB_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "reports" / "quick"
    done = subprocess.run([sys.executable, "-m", "mewb.cli", "report", "--quick", "--variants", "flow_only,dual",
                           "--out", str(out), "--data-root", str(tmp_path / "synth"), "--device", "cpu", "--no-explain"],
                          env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    index = Path(done.stdout.strip().splitlines()[-1])
    assert index == out / "index.html"
    pages = sorted(p.name for p in out.glob("*.html"))
    assert pages == ["01-micro-expressions-tour.html", "10-train-dual.html", "10-train-flow_only.html",
                     "20-ablation-report.html", "index.html"]
    # small enough to share: one local plotly.js, pages well under 1.5 MB, no weights (the default)
    assert len(list(out.glob("plotly-*.min.js"))) == 1
    assert all(p.stat().st_size < 1_500_000 for p in out.glob("*.html"))
    assert not list(out.rglob("checkpoint.pt")) and json.loads((out / "report.json").read_text())["weights"] == "none"
    timings = json.loads((out / "report.json").read_text())["timings"]
    assert set(timings) == {"generation_s", "tour_s", "training_s", "ablation_report_s", "html_export_s", "total_s"}
    assert timings["total_s"] >= timings["training_s"] + timings["tour_s"] + timings["ablation_report_s"] > 0
    again = subprocess.run([sys.executable, "-m", "mewb.cli", "report", "--quick", "--out", str(out),
                            "--data-root", str(tmp_path / "synth")], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "already exists" in again.stderr  # never overwritten silently
    with browser_page(tmp_path / "profile") as page:
        open_report_page(page, index, tmp_path / "index.png", figures=0)
        assert page.locator("text=flow_only").first.is_visible()
        open_report_page(page, out / "20-ablation-report.html", tmp_path / "ablation.png", figures=4)
        open_report_page(page, out / "10-train-dual.html", tmp_path / "train.png", figures=3)


def test_offline_explorer_page_switches_clip_method_and_frame(tmp_path):
    """The report's explorer page, from file:// with the network watched: every control changes the image."""
    from mewb.data.preprocess import PreprocessConfig
    from mewb.data.readers import class_names, read_dataset
    from mewb.reports.explorer_page import explorer_page
    from mewb.synth import SynthConfig, generate_dataset
    from mewb.train import Execution, TrainConfig, run_loso

    root = generate_dataset(tmp_path / "synth", SynthConfig(subjects=2, clips_per_subject=3, size=32, workers=1))
    samples, _ = read_dataset("synth", root)
    run = tmp_path / "runs" / "tiny"
    run_loso(samples, variant="flow_only", train_config=TrainConfig(epochs=1, batch_size=3),
             preprocess_config=PreprocessConfig(clip_length=4, size=32, flow_backend="farneback"), out=run,
             dataset_name="synth", data_root=root, class_names=class_names("synth", samples),
             execution=Execution(device="cpu", threads=1, progress=False, cache_dir=tmp_path / "cache"))
    page_path = explorer_page([run], tmp_path / "report" / "30-saliency-explorer.html", clips_per_class=1,
                              cache_dir=tmp_path / "cache")
    assert page_path.stat().st_size < 1_500_000
    with browser_page(tmp_path / "profile") as page:
        page.goto(page_path.as_uri())
        heat = page.locator("#heat")
        page.wait_for_function("document.getElementById('heat').complete && document.getElementById('heat').naturalWidth > 0")
        assert page.evaluate("document.getElementById('heat').naturalWidth") == 160  # drawn at display size
        seen = {heat.get_attribute("src")}
        clips = page.locator("#clip option").count()
        assert clips >= 2 and page.locator("#method option").count() >= 3
        page.select_option("#clip", index=1)
        seen.add(heat.get_attribute("src"))
        page.select_option("#method", "saliency")
        seen.add(heat.get_attribute("src"))
        page.locator("#frame").fill("0")
        seen.add(heat.get_attribute("src"))
        assert len(seen) == 4, "each control must change the saliency image"
        page.locator("#opacity").fill("20")
        assert heat.evaluate("e => e.style.opacity") == "0.2"
        assert "sub0" in page.locator("#title").inner_text()
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
        assert not page.problems, page.problems
        assert not page.remote, f"the explorer fetched from the network: {page.remote}"


@pytest.mark.parametrize("held", [False, True], ids=["spotted", "nothing-spotted"])
def test_predict_page_draws_offline(tmp_path, held):
    """`mewb predict`'s page from file://: the spotting curve and, when an interval was analysed,
    the probabilities and the saliency slider; when none was, the finding and its reasons."""
    import shutil as _shutil

    from fixtures.runs import write_fake_run

    from mewb.cli import main
    from mewb.data.preprocess import PreprocessConfig
    from mewb.predict.demo import synthetic_recording

    run = write_fake_run(tmp_path / "run", variant="flow_only",
                         preprocess=PreprocessConfig(clip_length=4, size=32, flow_backend="farneback")).path
    truth = synthetic_recording(tmp_path / "clip", seed=1, frames=200, fps=200.0, folder=True, blink_prob=0.0)
    if held:  # the apex held to the end: a macro-expression, nothing to analyse
        frames = sorted(truth.path.glob("img*.png"), key=lambda p: int(p.stem[3:]))
        for frame in frames[truth.apex + 1:]:
            _shutil.copyfile(frames[truth.apex], frame)
    out = tmp_path / "result"
    assert main(["predict", str(truth.path), "--run", str(run), "--fps", "200", "--out", str(out),
                 "--saliency", "saliency"]) == 0
    with browser_page(tmp_path / "profile") as page:
        open_report_page(page, out / "report.html", tmp_path / "predict.png", figures=1 if held else 3)
        if held:
            assert page.locator("text=No micro-expression interval spotted").is_visible()
            assert page.locator("text=rejected because").is_visible()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, log: Path):
    """JupyterLab on 127.0.0.1 (random free port, token) whose `mewb` kernel is this interpreter."""
    from mewb.reports.execute import this_python_kernel

    port, token = _free_port(), os.urandom(12).hex()
    state = log.parent / "jupyter-state"
    with this_python_kernel(), open(log, "w") as log_file:  # JUPYTER_PATH set for the server's environment
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             # offline and out of the user's folders: no news, update or PyPI checks, settings in tmp
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly", f"--LabApp.workspaces_dir={state / 'workspaces'}",
             f"--LabApp.user_settings_dir={state / 'settings'}"]
            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_RUNTIME_DIR": str(state / "runtime")})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 90
            while True:
                try:
                    urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        raise RuntimeError(f"JupyterLab did not start: {log.read_text()[-2000:]}")
                    time.sleep(0.5)
            yield base, token
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


@pytest.mark.slow
def test_explorer_runs_in_jupyterlab(tmp_path):
    """Train a tiny run, open 30-saliency-explorer in JupyterLab, run it, find the frame slider."""
    import papermill

    from mewb.data.preprocess import PreprocessConfig
    from mewb.data.readers import class_names, read_dataset
    from mewb.synth import SynthConfig, generate_dataset
    from mewb.train import Execution, TrainConfig, run_loso

    root = generate_dataset(tmp_path / "synth", SynthConfig(subjects=2, clips_per_subject=3, size=32, workers=1))
    samples, _ = read_dataset("synth", root)
    run_loso(samples, variant="flow_only", train_config=TrainConfig(epochs=1, batch_size=3),
             preprocess_config=PreprocessConfig(clip_length=4, size=32, flow_backend="farneback"), out=tmp_path / "runs" / "tiny",
             dataset_name="synth", data_root=root, class_names=class_names("synth", samples),
             execution=Execution(device="cpu", threads=1, progress=False, cache_dir=tmp_path / "cache"))
    lab_root = tmp_path / "lab"
    lab_root.mkdir()
    # The notebook with its parameters injected but not run: the browser runs it.
    papermill.execute_notebook(str(REPO / "notebooks" / "30-saliency-explorer.ipynb"), str(lab_root / "explorer.ipynb"),
                               parameters={"runs_dir": str(tmp_path / "runs"), "cache_dir": str(tmp_path / "cache")},
                               prepare_only=True, kernel_name="mewb", language="python")
    with jupyterlab(lab_root, tmp_path / "lab.log") as (base, token), \
            browser_page(tmp_path / "profile", height=1800) as page:
        page.goto(f"{base}/lab/tree/explorer.ipynb?token={token}")
        page.wait_for_selector(".jp-Notebook", timeout=90_000)
        page.wait_for_selector("text=Python (mewb) | Idle", timeout=120_000)  # kernel started
        page.locator(".jp-Notebook").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        slider = page.locator(".widget-slider, .jupyter-widgets.widget-hslider").first
        try:
            slider.wait_for(timeout=180_000)
            slider.scroll_into_view_if_needed()  # JupyterLab skips rendering what is off screen
            page.wait_for_selector(".jp-OutputArea .main-svg", timeout=120_000)
        finally:
            page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)  # also to debug a failure
            (tmp_path / "lab.html").write_text(page.content())
        assert page.locator("text=cannot explain").count() == 0
        assert page.locator(".widget-slider, .widget-hslider").count() >= 2  # frame and opacity
        assert page.locator(".widget-dropdown select").count() >= 3  # run, clip, method, target
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] >> text=Error")
        assert errors.count() == 0
