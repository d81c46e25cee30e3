"""The project's scaffolding: one dependency source of truth, output-free notebooks, the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from mewb import doctor
from mewb.cli import main
from mewb.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()] = version
    return pins


def test_environment_yml_installs_exactly_the_pyproject_dependencies():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    major_minor = python.split("=")[1]
    low, high = re.findall(r"(\d+\.\d+)", pyproject["project"]["requires-python"])
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(low) <= as_tuple(major_minor) < as_tuple(high)
    pip_lines = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # the conda env installs this project (so pyproject's list) with the same constraints file
    assert "-c constraints.txt" in pip_lines
    assert any(line.startswith("-e .") for line in pip_lines)
    # and nothing else: any other package line would be a second source of truth
    extra = [l for l in pip_lines if not l.startswith(("-c ", "-e ")) and l != "torch==2.13.0"]
    assert not extra, f"environment.yml lists packages outside pyproject: {extra}"


def test_constraints_pin_every_direct_dependency_and_torch_exactly():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins(ROOT / "constraints.txt")
    direct = pyproject["dependencies"] + pyproject["optional-dependencies"]["dev"]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=\[ ]", d)[0]).lower() for d in direct}
    assert not names - set(pins), f"unpinned in constraints.txt: {sorted(names - set(pins))}"
    assert pins["torch"] == "2.13.0" and "torch==2.13.0" in pyproject["dependencies"]
    major = int(pins["opencv-contrib-python-headless"].split(".")[0])
    assert major == 4, "OpenCV 5 dropped the bundled Haar cascades"
    assert not any(n.startswith("opencv") and n != "opencv-contrib-python-headless" for n in pins)


def notebook_output_problems(path: Path) -> list[str]:
    """What makes a notebook unfit to commit: outputs or execution counts in a code cell."""
    problems = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{path.name}: cell {index} has outputs; clear them before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"{path.name}: cell {index} has an execution count")
    return problems


def test_notebooks_are_committed_without_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert not notebook_output_problems(path)


def test_output_check_flags_an_executed_notebook(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1", execution_count=1, outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)])]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    assert len(notebook_output_problems(path)) == 2
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    nbformat.write(nb, path)
    assert notebook_output_problems(path) == []


def test_registry_rejects_duplicates_and_lists_valid_names():
    reg = Registry("widget")
    reg.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(lambda: 2)
    with pytest.raises(ValueError, match=r"unknown widget 'b'; valid names: a"):
        reg.get("b")


def test_cli_help_lists_verbs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "doctor" in out and "models" in out


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "mewb.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("mewb ")


def test_doctor_reports_each_problem_with_a_fix(monkeypatch, capsys):
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    checks = {c.name: c for c in doctor.run_checks()}
    assert checks["chromium"].ok is False and "apt-get install chromium" in checks["chromium"].fix
    assert checks["opencv"].ok, checks["opencv"].detail
    assert checks["haar cascades"].ok
    assert checks["device"].ok and ("cpu" in checks["device"].detail or "cuda" in checks["device"].detail)
    if "cpu" in checks["device"].detail:  # which precision `auto` becomes, and why
        import mewb.device

        for fast, precision in ((False, "fp32"), (True, "bf16")):
            monkeypatch.setattr(mewb.device, "cpu_has_fast_bf16", lambda fast=fast: fast)
            assert f"precision auto = {precision}" in {c.name: c for c in doctor.run_checks()}["device"].detail
    doctor.print_report(list(checks.values()))
    out = capsys.readouterr().out
    assert "[FAIL] chromium" in out and "fix: sudo apt-get" in out and "problem(s) found" in out


def test_doctor_reports_a_missing_kernel(monkeypatch):
    from jupyter_client import kernelspec

    monkeypatch.setattr(kernelspec.KernelSpecManager, "find_kernel_specs", lambda self: {"python3": "/x"})
    check = doctor._kernel()
    assert not check.ok and "no kernel named 'mewb'" in check.detail and "ipykernel install" in check.fix
