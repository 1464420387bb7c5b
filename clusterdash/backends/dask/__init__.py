"""Backends that read a Dask cluster through ``distributed``."""

from .backend import DaskBackend
from .embedded import EmbeddedBackend

__all__ = ["DaskBackend", "EmbeddedBackend"]
