"""Run a parameterised notebook with papermill on the ``mewb`` kernel.

papermill injects the parameters as a cell tagged ``injected-parameters`` right after the cell
tagged ``parameters`` and records them in the output's ``metadata.papermill.parameters``, so an
executed notebook says how it was made. A failing cell stops the run; the partial output (every
cell up to the error, with its traceback) is saved at ``out_ipynb`` for debugging and a
:class:`NotebookExecutionError` names the notebook, the cell and the error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from mewb import jsonio

KERNEL_NAME = "mewb"  # registered by `make install` (python -m ipykernel install --user --name mewb)


class NotebookExecutionError(RuntimeError):
    """A notebook cell raised. Attributes: ``notebook``, ``output``, ``cell_index``, ``ename``,
    ``evalue``, ``source`` (the failing cell's code)."""

    def __init__(self, notebook: Path, output: Path, cell_index: int, ename: str, evalue: str, source: str):
        self.notebook, self.output, self.cell_index = notebook, output, cell_index
        self.ename, self.evalue, self.source = ename, evalue, source
        first_line = next((line for line in source.splitlines() if line.strip()), "")
        super().__init__(
            f"notebook {notebook} failed in cell {cell_index} (counting from 0; it starts {first_line.strip()!r}): "
            f"{ename}: {evalue}\n"
            f"  the partial output, with the traceback, is in {output}"
        )


def check_kernel(kernel_name: str = KERNEL_NAME) -> None:
    """Raise a ``ValueError`` saying how to fix it when ``kernel_name`` cannot be started.

    ``mewb`` needs only ipykernel in this interpreter (see :func:`this_python_kernel`); any other
    name must be a registered Jupyter kernel.
    """
    if kernel_name == KERNEL_NAME:
        try:
            import ipykernel  # noqa: F401
        except ImportError:
            raise ValueError(f"ipykernel is not installed in {sys.executable}; run `make install`") from None
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise ValueError(
            f"no Jupyter kernel named {kernel_name!r}; register it with "
            f"`python -m ipykernel install --user --name {kernel_name}`"
        ) from None


@contextlib.contextmanager
def this_python_kernel(kernel_name: str = KERNEL_NAME) -> Iterator[None]:
    """Within the block, the Jupyter kernel ``kernel_name`` runs *this* interpreter.

    The registered ``mewb`` kernel lives in the user's Jupyter folder, shared by every checkout
    and virtual environment on the machine: ``make install`` elsewhere re-points it to another
    ``.venv``, and papermill would then run the notebooks against that copy of mewb. A report
    must run the code that asked for it, so the kernel spec is written to a temporary folder put
    first on ``JUPYTER_PATH`` (which Jupyter searches before the user folder) for the duration.
    """
    folder = Path(tempfile.mkdtemp(prefix="mewb-kernel-"))
    spec_dir = folder / "kernels" / kernel_name
    spec_dir.mkdir(parents=True)
    # The kernel's own log only from ERROR up: ipykernel >= 7.3 warns on every start that it talks
    # over TCP without CurveZMQ encryption. This kernel listens on 127.0.0.1 only and its messages
    # are HMAC-signed with the key in a user-only connection file; the warning told a `make demo`
    # user nothing they could act on. Cell output, warnings included, is untouched.
    spec = {"argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.log_level=ERROR"],
            "display_name": "Python (mewb)", "language": "python"}
    (spec_dir / "kernel.json").write_text(jsonio.dumps(spec, indent=1))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(folder), previous) if p)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous
        shutil.rmtree(folder, ignore_errors=True)


def notebook_parameters(path: str | Path, *, kernel_name: str = KERNEL_NAME) -> dict[str, dict[str, str]]:
    """The parameters a notebook declares in its ``parameters`` cell: name -> {type, default,
    help}, as ``papermill --help-notebook`` prints them."""
    from papermill.inspection import _infer_parameters
    from papermill.iorw import load_notebook_node

    # papermill's public inspect_notebook() insists on a kernelspec in the file; the private
    # helper it wraps takes the kernel name we run with anyway.
    params = _infer_parameters(load_notebook_node(str(path)), name=kernel_name, language="python")
    return {p.name: {"type": p.inferred_type_name, "default": p.default, "help": p.help} for p in params}


def execute_notebook(
    src: str | Path,
    out_ipynb: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel_name: str = KERNEL_NAME,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    strict_parameters: bool = True,
) -> Path:
    """Execute ``src`` with ``parameters`` injected and write the executed copy to ``out_ipynb``.

    Args:
        src: the notebook (``notebooks/NN-topic.ipynb``), committed without outputs.
        out_ipynb: where the executed notebook goes; its folder is created.
        parameters: values for names of the ``parameters`` cell (recorded by papermill in
            ``metadata.papermill.parameters``).
        kernel_name: the Jupyter kernel; ``mewb`` (default) is always this interpreter
            (:func:`this_python_kernel`), whatever kernel is registered under that name.
        cwd: working directory of the kernel (default: the caller's), against which relative
            paths in ``parameters`` resolve.
        timeout: per-cell limit in seconds (``None``: no limit).
        strict_parameters: reject a parameter the notebook does not declare (a typo would
            otherwise be injected and silently ignored).

    Returns: ``out_ipynb`` as a ``Path``.

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ValueError: unknown parameter names, or the kernel cannot be started.
        NotebookExecutionError: a cell raised; the partial output is at ``out_ipynb``.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    src, out_ipynb = Path(src), Path(out_ipynb)
    if not src.is_file():
        raise FileNotFoundError(f"notebook not found: {src}")
    parameters = dict(parameters or {})
    if strict_parameters and parameters:
        declared = notebook_parameters(src)
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise ValueError(f"{src.name} has no parameters {unknown}; valid: {', '.join(declared)}")
    check_kernel(kernel_name)
    out_ipynb.parent.mkdir(parents=True, exist_ok=True)
    kernel = this_python_kernel(kernel_name) if kernel_name == KERNEL_NAME else contextlib.nullcontext()
    try:
        with kernel:
            pm.execute_notebook(
                str(src),
                str(out_ipynb),
                parameters=parameters,
                kernel_name=kernel_name,
                language="python",
                cwd=str(cwd) if cwd is not None else None,
                execution_timeout=timeout,
                progress_bar=False,
                log_output=False,
                report_mode=False,
            )
    except PapermillExecutionError as error:
        raise NotebookExecutionError(src, out_ipynb, _source_cell_index(out_ipynb, error.cell_index),
                                     error.ename, error.evalue, error.source) from None
    return out_ipynb


def _source_cell_index(out_ipynb: Path, executed_index: int) -> int:
    """The failing cell's index in the *source* notebook (0-based).

    papermill counts cells of the executed notebook, which has the injected-parameters cell and,
    once saved, error banners of its own; find the failing cell in the saved copy and count only
    the cells that came from the source.
    """
    import nbformat

    try:
        cells = nbformat.read(str(out_ipynb), as_version=4).cells
    except (OSError, ValueError):
        return executed_index
    extra = {"injected-parameters", "papermill-error-cell-tag"}
    index = 0
    for cell in cells:
        if extra & set(cell.get("metadata", {}).get("tags", [])):
            continue
        failed = any(o.get("output_type") == "error" for o in cell.get("outputs", [])) or \
            cell.get("metadata", {}).get("papermill", {}).get("exception") is True
        if failed:
            return index
        index += 1
    return executed_index
