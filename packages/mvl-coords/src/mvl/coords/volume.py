"""`Volume`: voxel data, its voxel-to-world transformation, and views aligned to any system."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import DataError
from .reorientation import index_transformation, normalize_spatial_dimensions, reorient_array
from .systems import axcodes, closest_permutation_matrix, normalize_system, permutation_matrix
from .transformations import (
    apply_transformation,
    change_system,
    homogeneous,
    obliquity,
    spacing,
    validate_transformation,
)

__all__ = ["Volume"]


@dataclass(frozen=True)
class _Alignment:
    """Everything that depends on the chosen system; replaced as a whole on a change."""

    system: str
    data: np.ndarray[Any, Any]
    aligned_to_src_index: NDArray[np.int64]
    src_to_world: NDArray[np.float64]
    aligned_to_world: NDArray[np.float64]
    spacing: tuple[float, float, float]


def _inverse_index_transformation(forward: NDArray[np.int64]) -> NDArray[np.int64]:
    """Invert a signed-permutation index map exactly, in integers."""
    inverse = np.eye(4, dtype=np.int64)
    inverse[:3, :3] = forward[:3, :3].T
    inverse[:3, 3] = -(forward[:3, :3].T @ forward[:3, 3])
    return inverse


_Matrix = TypeVar("_Matrix", bound=np.ndarray[Any, Any])


def _readonly(matrix: _Matrix) -> _Matrix:
    matrix.flags.writeable = False
    return matrix


class Volume:
    """An image volume whose voxels can be viewed aligned to any anatomical system.

    Parameters
    ----------
    src_voxel_data : array_like
        Voxel data with at least three dimensions, as the imaging library returned it.
        Not copied: arrays, including :class:`numpy.memmap`, are kept as they are.
    src_transformation : (4, 4) array_like
        Maps the voxel indices of the spatial axes of `src_voxel_data` (in increasing
        axis order) to world coordinates in `src_system`.
    src_system : str
        The world system of `src_transformation`: ``"LPS"`` for DICOM, ``"RAS"`` for
        NIfTI, the ``space`` of an NRRD header; any of the 48 systems.
    src_spatial_dimensions : sequence of 3 int, optional
        Which axes of `src_voxel_data` are spatial; the others (time, vector
        components, ...) are carried along. Default ``(0, 1, 2)``.
    system : str, optional
        The system the user wants to work in; default ``"RAS"``. Settable later.
    src_object : object, optional
        Whatever the imaging library returned, kept for reference.

    Raises
    ------
    AxisCodeError
        If `src_system` or `system` is not one of the 48 systems.
    GeometryError
        If `src_transformation` is not a finite 4x4 affine with last row
        ``[0, 0, 0, 1]`` and an invertible 3x3 part.
    DataError
        If the data has fewer than three dimensions, or the spatial dimensions are not
        three distinct axes of it.

    Notes
    -----
    :attr:`aligned_data` is `src_voxel_data` flipped and transposed, never resampled,
    so that axis 0 runs towards the first letter of :attr:`system`, axis 1 towards the
    second and axis 2 towards the third, as closely as the rotation allows (see
    :func:`~mvl.coords.closest_permutation_matrix`). It is a view: no voxel is copied,
    and changing :attr:`system` costs the same for any number of voxels.

    Examples
    --------
    >>> volume = Volume(np.arange(1000).reshape(10, 10, 10), np.eye(4), "LPS", system="RAS")
    >>> volume.aligned_transformation
    array([[ 1.,  0.,  0., -9.],
           [ 0.,  1.,  0., -9.],
           [ 0.,  0.,  1.,  0.],
           [ 0.,  0.,  0.,  1.]])
    >>> bool(volume.src_data[0, 0, 0] == volume.aligned_data[9, 9, 0])
    True
    >>> volume.system = "IAR"
    >>> bool(volume.src_data[0, 0, 0] == volume.aligned_data[9, 9, 9])
    True
    """

    def __init__(
        self,
        src_voxel_data: ArrayLike,
        src_transformation: ArrayLike,
        src_system: str,
        src_spatial_dimensions: Sequence[int] = (0, 1, 2),
        system: str = "RAS",
        src_object: Any = None,
    ) -> None:
        data = np.asanyarray(src_voxel_data)
        if data.ndim < 3:
            raise DataError(
                f"voxel data needs at least 3 dimensions, got shape {data.shape}; "
                "add an axis of length 1 (data[..., np.newaxis]) for a single slice"
            )
        self._src_data = data
        self._src_spatial_dimensions = normalize_spatial_dimensions(src_spatial_dimensions, data.ndim)
        self._src_system = normalize_system(src_system)
        self._src_transformation = _readonly(validate_transformation(src_transformation, name="src_transformation"))
        self._src_spacing = spacing(self._src_transformation)
        # Which src world axis each voxel axis runs along (signed); independent of `system`.
        self._voxel_to_src_axes = closest_permutation_matrix(self._src_transformation[:3, :3])
        self._src_object = src_object
        self._alignment = self._align(normalize_system(system))

    def _align(self, system: str) -> _Alignment:
        src_axes_to_system = permutation_matrix(self._src_system, system)
        voxel_to_aligned = src_axes_to_system @ self._voxel_to_src_axes
        spatial_shape = [self._src_data.shape[axis] for axis in self._src_spatial_dimensions]
        src_to_aligned_index = index_transformation(voxel_to_aligned, spatial_shape)
        aligned_to_src_index = _inverse_index_transformation(src_to_aligned_index)
        src_to_world = homogeneous(src_axes_to_system) @ self._src_transformation
        src_axis_of = np.abs(voxel_to_aligned).argmax(axis=1)
        return _Alignment(
            system=system,
            data=reorient_array(self._src_data, voxel_to_aligned, self._src_spatial_dimensions),
            aligned_to_src_index=_readonly(aligned_to_src_index),
            src_to_world=_readonly(src_to_world),
            aligned_to_world=_readonly(src_to_world @ aligned_to_src_index),
            spacing=(
                self._src_spacing[src_axis_of[0]],
                self._src_spacing[src_axis_of[1]],
                self._src_spacing[src_axis_of[2]],
            ),
        )

    # -- the chosen system and what depends on it --------------------------------------

    @property
    def system(self) -> str:
        """str: The anatomical system the user works in (upper case).

        Setting it (any of the 48 systems, any case) updates :attr:`aligned_data`,
        :attr:`aligned_spacing`, :attr:`aligned_transformation` and
        :attr:`src_to_aligned_transformation` together; a rejected value raises
        :class:`~mvl.coords.AxisCodeError` and leaves the volume unchanged.
        """
        return self._alignment.system

    @system.setter
    def system(self, value: str) -> None:
        system = normalize_system(value)
        if system != self._alignment.system:
            self._alignment = self._align(system)

    @property
    def aligned_data(self) -> np.ndarray[Any, Any]:
        """ndarray: A view of :attr:`src_data` with its axes aligned to :attr:`system`.

        The three spatial axes come first, axis ``n`` running towards letter ``n`` of
        :attr:`system` as closely as the rotation allows; the other axes follow in their
        original order. Memory-mapped data stays memory-mapped.
        """
        return self._alignment.data

    @property
    def aligned_transformation(self) -> NDArray[np.float64]:
        """(4, 4) ndarray: Maps indices of :attr:`aligned_data` to :attr:`system` (a copy)."""
        return self._alignment.aligned_to_world.copy()

    @property
    def src_to_aligned_transformation(self) -> NDArray[np.float64]:
        """(4, 4) ndarray: Maps indices of :attr:`src_data` to :attr:`system` (a copy).

        The name is historical: it starts from the source voxel order and ends in the
        aligned (user's) world system.
        """
        return self._alignment.src_to_world.copy()

    @property
    def aligned_to_src_axes(self) -> tuple[int, ...]:
        """tuple of int: For each axis of :attr:`aligned_data`, the axis of :attr:`src_data` it comes from.

        Useful to reorder per-axis metadata (kinds, labels) along with the voxels.

        Examples
        --------
        >>> Volume(np.zeros((2, 3, 4, 5)), np.eye(4), "RAS", (1, 2, 3), system="SAR").aligned_to_src_axes
        (3, 2, 1, 0)
        """
        spatial = self._src_spatial_dimensions
        rows = np.abs(self._alignment.aligned_to_src_index[:3, :3]).argmax(axis=0)
        others = tuple(axis for axis in range(self._src_data.ndim) if axis not in spatial)
        return tuple(spatial[int(row)] for row in rows) + others

    @property
    def aligned_spacing(self) -> tuple[float, float, float]:
        """tuple of 3 float: World units per voxel along each axis of :attr:`aligned_data`."""
        return self._alignment.spacing

    # -- the source, as loaded ----------------------------------------------------------

    @property
    def src_data(self) -> np.ndarray[Any, Any]:
        """ndarray: The voxel data as the imaging library returned it (not a copy)."""
        return self._src_data

    @property
    def src_system(self) -> str:
        """str: The world system of :attr:`src_transformation`, as the format defines it."""
        return self._src_system

    @property
    def src_transformation(self) -> NDArray[np.float64]:
        """(4, 4) ndarray: Maps indices of :attr:`src_data` to :attr:`src_system` (a copy)."""
        return self._src_transformation.copy()

    @property
    def src_spacing(self) -> tuple[float, float, float]:
        """tuple of 3 float: World units per voxel along the spatial axes of :attr:`src_data`."""
        return self._src_spacing

    @property
    def src_spatial_dimensions(self) -> tuple[int, int, int]:
        """tuple of 3 int: The spatial axes of :attr:`src_data`, in increasing order."""
        return self._src_spatial_dimensions

    @property
    def src_object(self) -> Any:
        """object: What the imaging library returned (header, image object), or None."""
        return self._src_object

    @property
    def src_volume(self) -> np.ndarray[Any, Any]:
        """Deprecated alias of :attr:`src_data`."""
        warnings.warn("Volume.src_volume is deprecated; use Volume.src_data", DeprecationWarning, stacklevel=2)
        return self._src_data

    @property
    def aligned_volume(self) -> np.ndarray[Any, Any]:
        """Deprecated alias of :attr:`aligned_data`."""
        warnings.warn("Volume.aligned_volume is deprecated; use Volume.aligned_data", DeprecationWarning, stacklevel=2)
        return self._alignment.data

    # -- geometry in any system -----------------------------------------------------------

    def get_src_transformation(self, system: str) -> NDArray[np.float64]:
        """Return the map from indices of :attr:`src_data` to world coordinates in `system`.

        Parameters
        ----------
        system : str
            Any of the 48 systems.

        Returns
        -------
        (4, 4) ndarray of float64

        Examples
        --------
        >>> Volume(np.zeros((2, 2, 2)), np.eye(4), "LPS").get_src_transformation("RAS")[0, 0]
        np.float64(-1.0)
        """
        return change_system(self._src_transformation, self._src_system, system)

    def get_aligned_transformation(self, system: str) -> NDArray[np.float64]:
        """Return the map from indices of :attr:`aligned_data` to world coordinates in `system`.

        Parameters
        ----------
        system : str
            Any of the 48 systems.

        Returns
        -------
        (4, 4) ndarray of float64

        Examples
        --------
        >>> volume = Volume(np.zeros((10, 10, 10)), np.eye(4), "LPS", system="RAS")
        >>> volume.get_aligned_transformation("LPS")[:3, 3]
        array([9., 9., 0.])
        """
        result: NDArray[np.float64] = self.get_src_transformation(system) @ self._alignment.aligned_to_src_index
        return result

    def _transformation(self, src_order: bool, system: str | None) -> NDArray[np.float64]:
        if system is None:
            return self._alignment.src_to_world if src_order else self._alignment.aligned_to_world
        return self.get_src_transformation(system) if src_order else self.get_aligned_transformation(system)

    def voxel_to_world(
        self, indices: ArrayLike, *, src_order: bool = False, system: str | None = None
    ) -> NDArray[np.float64]:
        """Return the world coordinates of voxel indices.

        Parameters
        ----------
        indices : (3,) or (N, 3) array_like
            Spatial voxel indices, one voxel per row; fractional indices are fine.
        src_order : bool, optional
            If True, the indices are into :attr:`src_data` (its spatial axes in
            increasing order); by default into :attr:`aligned_data`.
        system : str, optional
            The world system of the result; :attr:`system` by default.

        Returns
        -------
        (3,) or (N, 3) ndarray of float64

        Examples
        --------
        >>> volume = Volume(np.zeros((10, 10, 10)), np.eye(4), "LPS", system="RAS")
        >>> volume.voxel_to_world([[9, 9, 0], [0, 0, 0]])
        array([[ 0.,  0.,  0.],
               [-9., -9.,  0.]])
        """
        return apply_transformation(self._transformation(src_order, system), indices)

    def world_to_voxel(
        self, points: ArrayLike, *, src_order: bool = False, system: str | None = None
    ) -> NDArray[np.float64]:
        """Return the (fractional) voxel indices of world points; the inverse of :meth:`voxel_to_world`.

        Parameters
        ----------
        points : (3,) or (N, 3) array_like
            World coordinates, one point per row.
        src_order : bool, optional
            If True, return indices into :attr:`src_data`; by default into :attr:`aligned_data`.
        system : str, optional
            The world system of `points`; :attr:`system` by default.

        Returns
        -------
        (3,) or (N, 3) ndarray of float64
            Round them to get the nearest voxel; they may lie outside the array.

        Examples
        --------
        >>> volume = Volume(np.zeros((10, 10, 10)), np.eye(4), "LPS", system="RAS")
        >>> volume.world_to_voxel([0, 0, 0])
        array([9., 9., 0.])
        """
        inverse = np.linalg.inv(self._transformation(src_order, system))
        return apply_transformation(inverse, points)

    @property
    def obliquity(self) -> float:
        """float: Largest angle, in degrees, between an aligned voxel axis and its world axis.

        ``0.0`` when the voxel axes run exactly along the world axes; above zero the
        aligned view is only the closest approximation of the system's axes.
        """
        return obliquity(self._src_transformation)

    # -- copies -------------------------------------------------------------------------

    def copy(self, deep: bool = True) -> Volume:
        """Return a copy of this volume in the same system.

        Parameters
        ----------
        deep : bool, optional
            If True (default), the voxel data is copied into a new in-memory array; if
            False, the copy shares :attr:`src_data` with this volume. Matrices are
            always independent; :attr:`src_object` is always shared.

        Returns
        -------
        Volume
        """
        data = np.array(self._src_data, copy=True) if deep else self._src_data
        return Volume(
            data,
            self._src_transformation,
            self._src_system,
            self._src_spatial_dimensions,
            self.system,
            self._src_object,
        )

    def copy_like(
        self, template: Volume, src_spatial_dimensions: Sequence[int] | None = None, deep: bool = True
    ) -> Volume:
        """Return this volume rearranged into the voxel order and systems of `template`.

        Useful to write a result (a segmentation, a filtered image) computed on
        :attr:`aligned_data` back in the layout the template was loaded in: the copy's
        :attr:`src_data` has its spatial axes in the order and directions of the
        template's source data, its :attr:`src_system` and :attr:`system` are the
        template's, and every voxel keeps its world position.

        Parameters
        ----------
        template : Volume
            The volume whose source layout and systems to adopt; its shape need not match.
        src_spatial_dimensions : sequence of 3 int, optional
            Where the spatial axes go in the copy's :attr:`src_data`; the other axes
            fill the remaining positions in their order. By default the template's
            spatial dimensions when the copy has as many dimensions as the template,
            else ``(0, 1, 2)``.
        deep : bool, optional
            If True (default), the voxel data is copied; if False, it is a view of this
            volume's data.

        Returns
        -------
        Volume

        Examples
        --------
        >>> template = Volume(np.zeros((4, 5, 6)), np.eye(4), "LPS", system="RAS")
        >>> mask = Volume(template.aligned_data > 0, template.aligned_transformation, "RAS")
        >>> back = mask.copy_like(template)
        >>> back.src_data.shape, back.src_system
        ((4, 5, 6), 'LPS')
        >>> np.allclose(back.src_transformation, template.src_transformation)
        True
        """
        aligned_to_template_aligned = permutation_matrix(self.system, template.system)
        template_aligned_to_src = template._alignment.aligned_to_src_index[:3, :3]
        permutation = template_aligned_to_src @ aligned_to_template_aligned
        aligned = self._alignment.data
        data = reorient_array(aligned, permutation)
        index_map = index_transformation(permutation, aligned.shape[:3])
        to_world = self._alignment.aligned_to_world @ _inverse_index_transformation(index_map)
        if src_spatial_dimensions is None:
            same_rank = data.ndim == template._src_data.ndim
            src_spatial_dimensions = template._src_spatial_dimensions if same_rank else (0, 1, 2)
        spatial = normalize_spatial_dimensions(src_spatial_dimensions, data.ndim)
        data = np.moveaxis(data, (0, 1, 2), spatial)
        return Volume(
            np.array(data, copy=True) if deep else data,
            change_system(to_world, self.system, template.src_system),
            template.src_system,
            spatial,
            template.system,
            self._src_object,
        )

    def __repr__(self) -> str:
        data = self._src_data
        kind = "memmap" if isinstance(data, np.memmap) else type(data).__name__
        spacing_text = ", ".join(f"{value:.4g}" for value in self.aligned_spacing)
        return (
            f"<Volume {kind} {data.shape} {data.dtype}\n"
            f"  src_system {self._src_system} -> system {self.system}, "
            f"src_spatial_dimensions {self._src_spatial_dimensions}\n"
            f"  src voxel axes point towards {axcodes(self._src_transformation, self._src_system)}, "
            f"aligned shape {self.aligned_data.shape}\n"
            f"  aligned spacing ({spacing_text}) mm, obliquity {self.obliquity:.3g} degrees>"
        )
