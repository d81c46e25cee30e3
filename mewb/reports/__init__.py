"""Reports: parameterised notebooks executed with papermill, exported to offline HTML, indexed.

The last step of the flow in DESIGN.md (run dirs -> notebooks/reports):

- :func:`execute_notebook` runs ``notebooks/NN-topic.ipynb`` on the ``mewb`` kernel with
  injected parameters (``execute.py``);
- :func:`export_html` writes a self-contained page: plotly.js once, no CDN, tagged cells hidden
  (``html.py``, template in ``templates/mewb_offline``);
- :func:`write_index` links a report's pages with its ablation table, and
  :func:`write_reports_index` lists every report (``index.py``);
- :func:`build_report` is the driver behind ``mewb report`` and ``mewb demo`` (``driver.py``);
- :func:`setup_notebook` is what a notebook's setup cell calls (``notebook.py``).
"""

from mewb.reports.execute import KERNEL_NAME, NotebookExecutionError, check_kernel, execute_notebook, notebook_parameters
from mewb.reports.html import OfflineHTMLError, check_offline_html, export_html
from mewb.reports.notebook import setup_notebook, show_table

__all__ = [
    "KERNEL_NAME",
    "NotebookExecutionError",
    "OfflineHTMLError",
    "check_kernel",
    "check_offline_html",
    "execute_notebook",
    "export_html",
    "notebook_parameters",
    "setup_notebook",
    "show_table",
]
