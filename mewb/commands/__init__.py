"""The command-line layer: each module turns one group of ``mewb`` verbs' arguments into library calls.

``argparse.Namespace`` objects stop here: the library (``mewb.train``, ``mewb.predict``,
``mewb.explain``, ...) takes plain values, recipes and dataclasses, so a notebook can make the
same call as the command line.
"""
