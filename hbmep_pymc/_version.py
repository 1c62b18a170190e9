"""Installed version of hbmep-pymc."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hbmep-pymc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0.dev0"
