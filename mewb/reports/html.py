"""Executed notebook -> one self-contained HTML page that opens offline, without a kernel.

nbconvert does the work, configured rather than patched:

- ``TagRemovePreprocessor``: cells tagged ``remove_cell`` vanish, ``hide_input`` cells show only
  their outputs, ``remove_output`` cells only their code;
- the ``mewb_offline`` template (``templates/``) extends nbconvert's ``lab`` template and empties
  its CDN blocks (require.js, MathJax, Mermaid, the widget manager);
- ``embed_images``: markdown images are inlined as data URIs;
- plotly figures are ``text/html`` outputs written by the notebook's setup cell
  (:func:`mewb.reports.notebook.setup_notebook`), which embeds plotly.js once per notebook;
  in a report folder the pages share one local ``plotly-<version>.min.js`` instead
  (``shared_plotlyjs``), which keeps each page small (the library is 4.8 MB).

:func:`check_offline_html` then verifies the page: no script fetched from the network, plotly.js
at most once and present whenever a figure is. ``export_html`` refuses to write a page that fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "mewb_offline"
HIDE_INPUT_TAG = "hide_input"  # the reader sees the outputs (figures, tables) but not the code
REMOVE_CELL_TAG = "remove_cell"  # plumbing: gone from the page
REMOVE_OUTPUT_TAG = "remove_output"  # code worth reading whose output is noise

# plotly.js starts with this banner; counting it counts embedded copies of the library
_PLOTLYJS_BANNER = re.compile(r"\*\s*plotly\.js v\d+\.\d+\.\d+")
_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)
_PLOTLY_DIV = 'class="plotly-graph-div"'
# a page of a report folder may load the folder's one copy of plotly.js instead of embedding it
_LOCAL_PLOTLYJS = re.compile(r"^plotly-v?[\d.]+\.min\.js$")
_EMBEDDED_PLOTLYJS = re.compile(r"<script[^>]*>(/\*\*\s*\n?\*\s*plotly\.js v(\d+\.\d+\.\d+).*?)</script>", re.DOTALL)


class OfflineHTMLError(ValueError):
    """The page would not open offline (a network script, plotly.js missing or repeated)."""


@dataclass
class HTMLCheck:
    """What :func:`check_offline_html` found in a page."""

    remote_scripts: list[str] = field(default_factory=list)  # <script src=...> pointing at the network
    plotlyjs_copies: int = 0  # embedded copies of plotly.js
    figures: int = 0  # plotly figure divs

    @property
    def problems(self) -> list[str]:
        found = [f"script loaded from the network: {src}" for src in self.remote_scripts]
        if self.plotlyjs_copies > 1:
            found.append(f"plotly.js embedded {self.plotlyjs_copies} times (once per page is enough)")
        if self.figures and not self.plotlyjs_copies:
            found.append(f"{self.figures} plotly figure(s) but no plotly.js: was the notebook's setup cell "
                         f"removed (tag it {HIDE_INPUT_TAG!r}, not {REMOVE_CELL_TAG!r}) or not run?")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems


def check_offline_html(html: str) -> HTMLCheck:
    """Inspect a page: remote ``<script src>``, copies of plotly.js, plotly figures."""
    sources = _SCRIPT_SRC.findall(html)
    remote = [src for src in sources if _REMOTE.match(src)]
    local = [src for src in sources if _LOCAL_PLOTLYJS.match(src)]
    return HTMLCheck(remote_scripts=remote, plotlyjs_copies=len(_PLOTLYJS_BANNER.findall(html)) + len(local),
                     figures=html.count(_PLOTLY_DIV))


def share_plotlyjs(html: str, folder: Path) -> str:
    """``html`` with its embedded plotly.js replaced by ``<script src="plotly-<version>.min.js">``,
    the library written once into ``folder`` (next to the page): every page of a report loads
    the same local file, still offline, instead of carrying 4.8 MB each."""
    match = _EMBEDDED_PLOTLYJS.search(html)
    if match is None:
        return html
    name = f"plotly-{match.group(2)}.min.js"
    library = folder / name
    code = match.group(1)
    if not library.is_file() or library.read_text(encoding="utf-8") != code:
        library.write_text(code, encoding="utf-8")
    return html[:match.start()] + f'<script src="{name}"></script>' + html[match.end():]


def html_exporter():
    """nbconvert's ``HTMLExporter`` configured for mewb reports (see the module docstring)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {REMOVE_CELL_TAG}
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    config.TagRemovePreprocessor.remove_all_outputs_tags = {REMOVE_OUTPUT_TAG}
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.HTMLExporter.template_name = TEMPLATE_NAME
    config.HTMLExporter.embed_images = True
    config.HTMLExporter.exclude_input_prompt = True  # "In [3]:" means nothing to a reader
    config.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(config=config)


def export_html(executed_ipynb: str | Path, out_html: str | Path, *, title: str | None = None,
                shared_plotlyjs: bool = False) -> Path:
    """Write ``executed_ipynb`` as a self-contained offline page ``out_html``.

    ``title`` (default: the notebook's first markdown heading, else its file name) becomes the
    page's ``<title>``. ``shared_plotlyjs``: load plotly.js from one file next to the page
    (:func:`share_plotlyjs`; the pages of a report folder), instead of embedding it.
    Raises :class:`OfflineHTMLError` (a ``ValueError``) listing the problems
    when the page would need the network or misses plotly.js; nothing is written then.
    """
    import nbformat

    executed_ipynb, out_html = Path(executed_ipynb), Path(out_html)
    if not executed_ipynb.is_file():
        raise FileNotFoundError(f"executed notebook not found: {executed_ipynb}")
    nb = nbformat.read(str(executed_ipynb), as_version=4)
    nb.metadata["title"] = title or notebook_title(nb) or executed_ipynb.stem
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": executed_ipynb.stem}})
    check = check_offline_html(body)
    if not check.ok:
        raise OfflineHTMLError(f"{executed_ipynb}: the HTML would not work offline: " + "; ".join(check.problems))
    out_html.parent.mkdir(parents=True, exist_ok=True)
    if shared_plotlyjs:
        body = share_plotlyjs(body, out_html.parent)
    out_html.write_text(body, encoding="utf-8")
    return out_html


def notebook_title(nb) -> str | None:
    """The first markdown ``# heading`` of a notebook, without the hashes."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return None
