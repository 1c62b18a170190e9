"""Sphinx configuration of the hbmep-pymc documentation.

Build from the repository root:

    HBMEP_PYMC_TUTORIAL_QUICK=1 .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

The tutorials are jupytext percent-format scripts in ``tutorials/``, reached
through the ``docs/tutorials`` link. myst-nb converts and executes them
during the build and caches the results in ``docs/_build/.jupyter_cache``.
"""

import hbmep_pymc

project = "hbmep-pymc"
author = "hbmep-pymc developers"
copyright = "hbmep-pymc developers"
release = hbmep_pymc.__version__
version = release

extensions = [
    "myst_nb",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = [
    "_build",
    "conf.py",
    "**/hbmep-pymc-output",
    "**/hbmep-getting-started",
    "**/.ipynb_checkpoints",
    "tutorials/data",
]

# --- tutorials ---------------------------------------------------------------
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# Executed notebooks are cached, so a rebuild re-runs only changed tutorials.
# Delete docs/_build to force a fresh run (the CI script does).
nb_execution_mode = "cache"
nb_execution_timeout = 1800
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# --- API reference -------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# --- HTML ------------------------------------------------------------------------
html_theme = "furo"
html_title = f"hbmep-pymc {release}"
