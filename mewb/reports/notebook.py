"""What a mewb notebook calls in its setup cell, so that its figures survive HTML export.

``setup_notebook()`` registers and selects the ``mewb`` plotly renderer. Each figure is then
written twice into the notebook: as plotly's own mimetype (JupyterLab draws it natively) and as
``text/html`` that nbconvert keeps. The renderer, when activated, displays one copy of plotly.js
in the setup cell's output, which every later figure of the page uses: plotly.js once per page,
no CDN. The setup cell must therefore be tagged ``hide_input``, never ``remove_cell``.

Why a renderer of our own: plotly's ``notebook`` renderer adds a MathJax ``<script src>`` from a
CDN to every figure (``include_mathjax="cdn"``); ours is the same renderer without it.
"""

from __future__ import annotations

RENDERER_NAME = "mewb"
RENDERERS = f"plotly_mimetype+{RENDERER_NAME}"


_activated = False  # plotly.js already displayed in this kernel


def _offline_renderer():
    from plotly.io import to_html
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        """plotly's notebook renderer (plotly.js embedded once at activation), without MathJax.

        plotly activates a default renderer lazily, at the first figure, so plotly.js would land
        in whichever cell shows the first figure. ``setup_notebook`` activates it at once instead
        (plotly.js goes to the setup cell's output) and later activations are no-ops.
        """

        def activate(self):
            global _activated
            if not _activated:
                super().activate()
                _activated = True

        def to_mimebundle(self, fig_dict):
            html = to_html(fig_dict, config=self.config, auto_play=self.auto_play, include_plotlyjs=False,
                           include_mathjax=False, full_html=False, animation_opts=self.animation_opts,
                           default_width="100%", default_height=525, validate=False)
            return {"text/html": html}

    return OfflineNotebookRenderer(connected=False)


def setup_notebook(*, template: str = "plotly_white") -> None:
    """Select the offline plotly renderer (and a plain figure template) for this kernel.

    Call it once, in a cell tagged ``hide_input``: its output is the page's only copy of plotly.js.
    """
    import plotly.io as pio

    global _activated
    _activated = False  # a re-run setup cell replaces its output: display plotly.js again
    renderer = _offline_renderer()
    pio.renderers[RENDERER_NAME] = renderer
    pio.renderers.default = RENDERERS
    renderer.activate()  # displays plotly.js here, in the setup cell's output
    pio.templates.default = template


def show_table(frame, *, caption: str | None = None, float_format: str = "{:.3f}"):
    """A pandas table as a compact HTML display object (no index column, floats rounded)."""
    from IPython.display import HTML

    styler = frame.style.format(float_format, subset=frame.select_dtypes("float").columns).hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return HTML(styler.to_html())
