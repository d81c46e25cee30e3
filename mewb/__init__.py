"""mewb: the micro-expression workbench.

A notebook-first library for facial micro-expression recognition (MER): dataset readers, the
IM3DR-MFER model family, leave-one-subject-out evaluation, explanations and reports.
See README.md for the two commands and DESIGN.md (in ../shared) for the data flow.
"""

__version__ = "0.1.0"
