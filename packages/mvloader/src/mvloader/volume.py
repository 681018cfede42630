"""Compatibility: ``from mvloader.volume import Volume`` keeps working."""

from mvl.coords import Volume

__all__ = ["Volume"]
