"""Batch conversion: every DICOM series, NIfTI and NRRD file of a folder tree, resumably.

:func:`convert_tree` (and ``mvl batch``) discovers the inputs (:mod:`.discovery`), names
the outputs (:mod:`.naming`), converts them on local worker processes or a Dask cluster
(:mod:`.runner`, :mod:`.items`) and records every input in a manifest (:mod:`.manifest`).
"""

from .manifest import Record
from .runner import BatchResult, convert_tree

__all__ = ["BatchResult", "Record", "convert_tree"]
