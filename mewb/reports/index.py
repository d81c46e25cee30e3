"""The index pages: ``reports/<name>/index.html`` (one report) and ``reports/index.html`` (all).

Plain static HTML with inline CSS and no script, so they open anywhere. A report folder also
holds ``report.json`` (title, creation time, dataset, variants, provenance, its pages), which
is what the top-level index lists and what a later reader or tool can parse.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from mewb import jsonio
from mewb.data.cache import format_size

REPORT_META = "report.json"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f4f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .params { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.88em; }
.meta { color: #555; font-size: 0.9em; } .failed { color: #b00020; font-weight: bold; }
"""


@dataclass
class ReportEntry:
    """One executed notebook of a report."""

    title: str  # what the reader clicks
    html: str | None  # page, relative to the report folder (None: export failed or not run)
    notebook: str | None = None  # the executed .ipynb, relative to the report folder
    description: str = ""  # one line on what the page shows
    parameters: dict[str, Any] = field(default_factory=dict)  # the injected papermill parameters
    duration_s: float | None = None  # execution time
    bytes: int | None = None  # size of the page on disk
    error: str | None = None  # why it failed, when it did


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _link(href: str | None, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>' if href else html.escape(text)


def _params(parameters: dict[str, Any]) -> str:
    return "<br>".join(f"{html.escape(str(k))} = {html.escape(repr(v))}" for k, v in parameters.items())


def _entries_table(entries: Sequence[ReportEntry]) -> str:
    rows = []
    for e in entries:
        files = " · ".join(x for x in (_link(e.html, "page") if e.html else "", _link(e.notebook, ".ipynb")
                                       if e.notebook else "") if x)
        status = (f'<span class="failed">failed: {html.escape(e.error)}</span>' if e.error
                  else html.escape(e.description))
        duration = f"{e.duration_s:.0f} s" if e.duration_s is not None else ""
        size = format_size(e.bytes) if e.bytes is not None else ""
        rows.append(f"<tr><td>{_link(e.html, e.title)}</td><td>{status}</td>"
                    f'<td class="params">{_params(e.parameters)}</td><td class="num">{duration}</td>'
                    f'<td class="num">{size}</td><td>{files}</td></tr>')
    return ("<table>\n<tr><th>page</th><th>what it shows</th><th>parameters</th><th>time</th><th>size</th>"
            "<th>files</th></tr>\n"
            + "\n".join(rows) + "\n</table>")


def write_index(
    report_dir: str | Path,
    entries: Sequence[ReportEntry],
    ablation_table_html: str | None = None,
    *,
    title: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``report_dir/index.html`` (and ``report.json``) and refresh the parent's index.

    Args:
        report_dir: ``reports/<name>``; its parent is the folder of all reports.
        entries: the report's pages, in reading order.
        ablation_table_html: an HTML ``<table>`` (e.g. ``DataFrame.to_html()``) shown first.
        title: the heading (default: the folder name).
        meta: provenance shown under the heading and stored in ``report.json``: e.g. ``created``,
            ``dataset``, ``variants``, ``command``, ``git_sha``, ``mewb_version``.

    Returns: the path of ``index.html``.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    meta = {"created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **(meta or {})}
    title = title or report_dir.name
    lines = [f"<h1>{html.escape(title)}</h1>", '<p class="meta"><a href="../index.html">all reports</a></p>',
             '<table class="meta">' + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
                                              for k, v in meta.items()) + "</table>"]
    if ablation_table_html:
        lines += ["<h2>Ablation</h2>", ablation_table_html]
    lines += ["<h2>Pages</h2>", _entries_table(entries),
              '<p class="meta">Every page opens offline, without Jupyter; the pages share this folder\'s one copy '
              "of plotly.js (<code>plotly-*.min.js</code>), so share the whole folder. The executed "
              "notebooks (.ipynb) hold the same outputs and the parameters they ran with "
              "(<code>metadata.papermill.parameters</code>).</p>"]
    index = report_dir / "index.html"
    index.write_text(_page(title, "\n".join(lines)), encoding="utf-8")
    record = {"title": title, **meta, "pages": [asdict(e) for e in entries]}
    (report_dir / REPORT_META).write_text(jsonio.dumps(record, indent=2) + "\n", encoding="utf-8")
    write_reports_index(report_dir.parent)
    return index


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def list_reports(reports_root: str | Path) -> list[dict[str, Any]]:
    """Every report under ``reports_root`` (folders with ``report.json``), newest first."""
    found = []
    for meta_file in Path(reports_root).glob(f"*/{REPORT_META}"):
        try:
            record = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a report being written, or damaged: not listed rather than fatal
        record["folder"] = meta_file.parent.name
        found.append(record)
    return sorted(found, key=lambda r: (str(r.get("created", "")), r["folder"]), reverse=True)


def write_reports_index(reports_root: str | Path) -> Path:
    """Write ``reports_root/index.html``: one row per report, newest first."""
    reports_root = Path(reports_root)
    reports_root.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in list_reports(reports_root):
        pages = r.get("pages", [])
        failed = sum(1 for p in pages if p.get("error"))
        state = f'<span class="failed">{failed} failed</span>' if failed else f"{len(pages)} pages"
        rows.append(f'<tr><td>{_link(r["folder"] + "/index.html", r["folder"])}</td><td>{html.escape(str(r.get("title", "")))}</td>'
                    f'<td>{html.escape(str(r.get("created", "")))}</td><td>{html.escape(str(r.get("dataset", "")))}</td>'
                    f'<td>{html.escape(_text(r.get("variants", "")))}</td><td>{state}</td></tr>')
    body = ["<h1>mewb reports</h1>",
            '<p class="meta">Generated by <code>mewb report</code> / <code>make demo</code>; each report is a '
            "folder of self-contained pages.</p>"]
    if rows:
        body.append("<table>\n<tr><th>report</th><th>title</th><th>created (UTC)</th><th>dataset</th>"
                    "<th>variants</th><th>pages</th></tr>\n" + "\n".join(rows) + "\n</table>")
    else:
        body.append("<p>No reports yet.</p>")
    index = reports_root / "index.html"
    index.write_text(_page("mewb reports", "\n".join(body)), encoding="utf-8")
    return index
