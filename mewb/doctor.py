"""``mewb doctor``: is this installation ready? One line per check, with the fix for each problem."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KERNEL_NAME = "mewb"
CORE_PACKAGES = (
    "torch",
    "captum",
    "plotly",
    "umap-learn",
    "opencv-contrib-python-headless",
    "ipywidgets",
    "jupyterlab",
    "papermill",
    "numpy",
    "pandas",
    "scikit-learn",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _versions() -> Check:
    found, missing = [], []
    for package in CORE_PACKAGES:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    detail = f"python {sys.version.split()[0]}; " + ", ".join(found)
    if missing:
        return Check("packages", False, f"missing: {', '.join(missing)}", "run `make install` (or `make test`)")
    return Check("packages", True, detail)


def _device() -> Check:
    import torch

    from mewb.device import cpu_threads, resolve_device, resolve_precision

    device = resolve_device("auto")
    auto = resolve_precision("auto", device)
    if device.type == "cuda":
        detail = f"cuda ({torch.cuda.get_device_name(0)}), torch {torch.__version__}, precision auto = {auto}"
    else:
        why = "native bf16 instructions" if auto == "bf16" else "no native bf16 instructions"
        detail = (f"cpu, {cpu_threads()} threads, torch {torch.__version__}, precision auto = {auto} ({why}) "
                  "(no CUDA: training runs on the CPU)")
    return Check("device", True, detail)


def _opencv() -> Check:
    try:
        import cv2
    except ImportError as error:
        return Check("opencv", False, f"cv2 cannot be imported: {error}", "pip install -c constraints.txt opencv-contrib-python-headless")
    problems = []
    if not hasattr(cv2, "optflow"):
        problems.append("cv2.optflow (contrib, TV-L1 flow) is missing")
    variants = [
        d.metadata["Name"]
        for d in importlib.metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].lower().startswith("opencv")
    ]
    if len(variants) > 1:
        problems.append(f"several OpenCV packages installed side by side: {', '.join(variants)}")
    if problems:
        return Check(
            "opencv",
            False,
            "; ".join(problems),
            "pip uninstall the other opencv-* packages, then pip install -c constraints.txt opencv-contrib-python-headless",
        )
    return Check("opencv", True, f"OpenCV {cv2.__version__} with contrib (cv2.optflow)")


def _haar_cascades() -> Check:
    import cv2

    folder = Path(cv2.data.haarcascades)
    needed = ["haarcascade_frontalface_default.xml", "haarcascade_eye.xml"]
    missing = [n for n in needed if not (folder / n).is_file()]
    if missing:
        return Check("haar cascades", False, f"{', '.join(missing)} not in {folder}", "use opencv-contrib-python-headless 4.x (5.0 dropped them)")
    return Check("haar cascades", True, f"face and eye cascades in {folder}")


def _chromium() -> Check:
    path = next((shutil.which(n) for n in CHROMIUM_NAMES if shutil.which(n)), None)
    if not path:
        return Check(
            "chromium",
            False,
            "no chromium on PATH (needed by browser tests and image export)",
            "sudo apt-get update && sudo apt-get install chromium",
        )
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = path
    return Check("chromium", True, version or path)


def _kernel() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return Check("jupyter kernel", False, "jupyter_client is not installed", "run `make install`")
    specs = KernelSpecManager().find_kernel_specs()
    if KERNEL_NAME not in specs:
        return Check(
            "jupyter kernel",
            False,
            f"no kernel named {KERNEL_NAME!r} (found: {', '.join(sorted(specs)) or 'none'})",
            f"python -m ipykernel install --user --name {KERNEL_NAME}",
        )
    return Check("jupyter kernel", True, f"{KERNEL_NAME!r} at {specs[KERNEL_NAME]}")


CHECKS = (_versions, _device, _opencv, _haar_cascades, _chromium, _kernel)


def run_checks() -> list[Check]:
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as error:  # a doctor must report every check, even one that crashes
            results.append(Check(check.__name__.strip("_"), False, f"check failed: {error!r}"))
    return results


def print_report(checks: list[Check]) -> None:
    for c in checks:
        mark = "ok  " if c.ok else "FAIL"
        print(f"[{mark}] {c.name}: {c.detail}")
        if not c.ok and c.fix:
            print(f"       fix: {c.fix}")
    problems = sum(not c.ok for c in checks)
    print("all checks passed" if not problems else f"{problems} problem(s) found")
