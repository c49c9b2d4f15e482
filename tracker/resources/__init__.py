"""Files the service applies and serves, found wherever the package is installed.

They live at the top of the repository (``migrations/``, ``dashboards/``, ``js/dist/``: the
product card fixes those places). This folder links to them (``migrations``, ``dashboards``
and ``snippet``), so they are package data of ``tracker.resources``: a wheel carries copies,
and an editable install (``make install``) reads them in place through the links.

Links rather than setuptools' ``package-dir`` mapping: an editable install cannot import a
mapped folder without an ``__init__.py`` below a regular package, and the product's folders
are no Python packages.
"""
from importlib.resources import files


def migrations_dir():
    """The numbered SQL files (``migrations/``)."""
    return files(__name__) / "migrations"


def dashboards_dir():
    """The web UI's ``templates/`` and ``static/`` (``dashboards/``)."""
    return files(__name__) / "dashboards"


def snippet_path():
    """The built tracking snippet (``js/dist/t.js``)."""
    return files(__name__) / "snippet" / "t.js"
