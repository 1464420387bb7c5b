"""
Undo Twisted's process-wide pickle reducer for bound methods.

Importing daphne imports ``twisted.persisted.styles``, which registers
``pickleMethod`` for ``types.MethodType`` in ``copyreg.dispatch_table``.
Task specifications that a scheduler or client in this process pickles then
refer to Twisted's ``unpickleMethod``, and workers fail to load them (seen
with dask.dataframe graphs on the embedded cluster: "type object 'type' has
no attribute ..."). Python 3 pickles bound methods by itself, so dropping
Twisted's entry restores the standard behaviour. Twisted needs the entry
only for its own persistence module, which the site does not use.
"""

from __future__ import annotations

import copyreg
import logging
import types

logger = logging.getLogger(__name__)


def restore_method_pickling() -> None:
    """Remove a bound-method reducer that Twisted registered, if present."""
    reducer = copyreg.dispatch_table.get(types.MethodType)
    if reducer is None:
        return
    if getattr(reducer, "__module__", "").startswith("twisted."):
        del copyreg.dispatch_table[types.MethodType]
        logger.debug("Removed Twisted's pickle reducer for bound methods")
