"""The 48 anatomical world coordinate systems and the signed permutations between them.

A system is a three-letter code such as ``"RAS"`` or ``"LPS"``: one letter from each of
the pairs {L, R}, {A, P}, {S, I}, in any order. Each letter names the direction its axis
points towards: in ``"RAS"`` (written RAS+ in prose) x grows towards the subject's
Right, y towards Anterior, z towards Superior. "Right" is always the subject's right.
DICOM's patient system is LPS+, NIfTI's world is RAS+, NRRD states its system in the
header's ``space`` field.
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import AxisCodeError, GeometryError

__all__ = [
    "OPPOSITES",
    "SYSTEMS",
    "axcodes",
    "closest_permutation_matrix",
    "normalize_system",
    "opposite",
    "permutation_matrix",
]

#: The anatomical opposite of each direction letter.
OPPOSITES: Final[dict[str, str]] = {"L": "R", "R": "L", "A": "P", "P": "A", "S": "I", "I": "S"}

_PAIRS: Final = (("R", "L"), ("A", "P"), ("S", "I"))
_WORDS: Final[dict[str, str]] = {
    "right": "R",
    "left": "L",
    "anterior": "A",
    "posterior": "P",
    "superior": "S",
    "inferior": "I",
}
_RULE: Final = (
    "a system is three letters, one from each of {L,R}, {A,P} and {S,I} in any order "
    "(e.g. 'RAS', 'LPS', 'IAR'), or the same as words joined by '-' "
    "(e.g. 'right-anterior-superior')"
)

#: All 48 systems, upper case, in a fixed order (axis orders first, then signs).
SYSTEMS: Final[tuple[str, ...]] = tuple(
    "".join(letters) for order in itertools.permutations(_PAIRS) for letters in itertools.product(*order)
)

# The six orders in which three voxel axes can be assigned to three world axes; the
# identity comes first, which makes it the winner of every tie.
_ASSIGNMENTS: Final = tuple(itertools.permutations(range(3)))


def normalize_system(system: object) -> str:
    """Validate an anatomical system and return its upper-case three-letter code.

    Parameters
    ----------
    system : str
        A three-letter code in any case (``"ras"``, ``"LPS"``, ``"IAr"``), or the long
        form NRRD uses, words joined by hyphens (``"left-posterior-superior"``); any of
        the 48 orders is accepted in either form.

    Returns
    -------
    str
        The upper-case three-letter code.

    Raises
    ------
    AxisCodeError
        If `system` is not a string naming one of the 48 systems.

    Examples
    --------
    >>> normalize_system("ras")
    'RAS'
    >>> normalize_system("left-posterior-superior")
    'LPS'
    >>> normalize_system("RAR")
    Traceback (most recent call last):
    ...
    mvl.coords.errors.AxisCodeError: 'RAR' is not an anatomical system: a system is ...
    """
    if isinstance(system, str):
        text = system.strip()
        if "-" in text:
            words = text.lower().split("-")
            code = "".join(_WORDS.get(word, "?") for word in words)
        else:
            code = text.upper()
        if code in SYSTEMS:
            return code
    raise AxisCodeError(f"{system!r} is not an anatomical system: {_RULE}")


def opposite(system: str) -> str:
    """Return the system whose axes all point the opposite way.

    Parameters
    ----------
    system : str
        Any of the 48 systems.

    Returns
    -------
    str
        The code with every letter replaced by its opposite.

    Examples
    --------
    >>> opposite("RAS")
    'LPI'
    """
    return "".join(OPPOSITES[letter] for letter in normalize_system(system))


def permutation_matrix(src: str, dst: str) -> NDArray[np.int64]:
    """Return the signed permutation that maps coordinates in `src` to coordinates in `dst`.

    Parameters
    ----------
    src, dst : str
        Any of the 48 systems (see :func:`normalize_system`).

    Returns
    -------
    (3, 3) ndarray of int64
        `P` with exactly one ``+1`` or ``-1`` in each row and column, such that
        ``P @ p`` gives the `dst` coordinates of the point with `src` coordinates ``p``.
        A ``-1`` marks an axis whose direction flips (``"L"`` becomes ``"R"``). `P` is
        orthogonal: its inverse, the map from `dst` back to `src`, is ``P.T``.

    Raises
    ------
    AxisCodeError
        If `src` or `dst` is not one of the 48 systems.

    Examples
    --------
    >>> permutation_matrix("LPS", "RAS")
    array([[-1,  0,  0],
           [ 0, -1,  0],
           [ 0,  0,  1]])
    >>> permutation_matrix("RAS", "SRA") @ [10, 20, 30]
    array([30, 10, 20])
    """
    src, dst = normalize_system(src), normalize_system(dst)
    matrix = np.zeros((3, 3), dtype=np.int64)
    for row, letter in enumerate(dst):
        for column, src_letter in enumerate(src):
            if src_letter == letter:
                matrix[row, column] = 1
            elif src_letter == OPPOSITES[letter]:
                matrix[row, column] = -1
    return matrix


def closest_permutation_matrix(matrix: ArrayLike) -> NDArray[np.int64]:
    """Return the signed permutation closest to a 3x3 rotation and scaling matrix.

    Each column of `matrix` is the direction of one voxel axis in world coordinates
    (the upper left 3x3 block of a voxel-to-world transformation). The columns are
    normalised to unit length, and of the 48 signed permutations the one nearest to
    the result in the Frobenius norm is returned: equivalently, the assignment of
    voxel axes to world axes with the largest sum of absolute direction cosines, each
    signed like its cosine.

    Ties, such as an exact 45 degree rotation, are broken deterministically: the
    assignment that keeps voxel axis ``j`` on world axis ``j`` wins, then the other
    assignments in lexicographic order; a zero cosine counts as positive. Scores within
    ``1e-9`` of the best count as ties, so that rounding noise in a stored matrix does
    not flip the outcome.

    Parameters
    ----------
    matrix : (3, 3) array_like
        Voxel-to-world rotation and scaling; the columns must be non-zero.

    Returns
    -------
    (3, 3) ndarray of int64
        A signed permutation matrix: one ``+1`` or ``-1`` in each row and column.
        Entry ``[r, j]`` is non-zero when voxel axis ``j`` runs along world axis ``r``.

    Raises
    ------
    GeometryError
        If `matrix` is not 3x3, is not finite, or has a zero column.

    Examples
    --------
    >>> closest_permutation_matrix([[0, 0, 2.0], [0, -1.5, 0], [1, 0, 0]])
    array([[ 0,  0,  1],
           [ 0, -1,  0],
           [ 1,  0,  0]])

    An exact 45 degree rotation about z keeps the voxel axes in their order:

    >>> c = np.sqrt(0.5)
    >>> closest_permutation_matrix([[c, -c, 0], [c, c, 0], [0, 0, 1]])
    array([[1, 0, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    cosines = _unit_columns(matrix)
    magnitude = np.abs(cosines)
    scores = [sum(magnitude[rows[j], j] for j in range(3)) for rows in _ASSIGNMENTS]
    best = max(scores)
    winner = next(rows for rows, score in zip(_ASSIGNMENTS, scores, strict=True) if score >= best - 1e-9)
    result = np.zeros((3, 3), dtype=np.int64)
    for column, row in enumerate(winner):
        result[row, column] = -1 if cosines[row, column] < 0 else 1
    return result


def _unit_columns(matrix: ArrayLike, name: str | None = None) -> NDArray[np.float64]:
    """Return a 3x3 matrix with its columns scaled to unit length, or raise GeometryError.

    `name` (e.g. ``"src_transformation"``) starts the error messages when given.
    """
    prefix = f"{name} is unusable: " if name else ""
    block = np.asarray(matrix, dtype=np.float64)
    if block.shape != (3, 3):
        raise GeometryError(f"{prefix}expected a 3x3 matrix of voxel axis directions, got shape {block.shape}")
    if not np.all(np.isfinite(block)):
        raise GeometryError(f"{prefix}the voxel axis directions contain NaN or infinity:\n{block}")
    lengths = np.linalg.norm(block, axis=0)
    if np.any(lengths == 0):
        zero = [int(j) for j in np.flatnonzero(lengths == 0)]
        raise GeometryError(f"{prefix}voxel axes {zero} have zero length: the matrix maps them nowhere:\n{block}")
    unit: NDArray[np.float64] = block / lengths
    return unit


def axcodes(transformation: ArrayLike, system: str) -> str:
    """Return the direction each voxel axis points towards, as a three-letter code.

    Parameters
    ----------
    transformation : (4, 4) or (3, 3) array_like
        Voxel-to-world transformation into `system` (only its 3x3 part is used).
    system : str
        The world system of `transformation`, any of the 48.

    Returns
    -------
    str
        Letter ``j`` names the anatomical direction towards which voxel index ``j``
        grows, judged by the closest axis (:func:`closest_permutation_matrix`). The
        result is always one of the 48 systems, and it is the same whichever system
        the transformation is expressed in.

    Raises
    ------
    AxisCodeError
        If `system` is not one of the 48 systems.
    GeometryError
        If the transformation is malformed.

    Examples
    --------
    The DICOM identity matrix: i grows to the subject's left, j to the back, k up.

    >>> axcodes(np.eye(4), "LPS")
    'LPS'
    >>> axcodes(np.diag([-1.0, 1, -1, 1]), "RAS")
    'LAI'
    """
    system = normalize_system(system)
    block = np.asarray(transformation, dtype=np.float64)
    if block.shape == (4, 4):
        block = block[:3, :3]
    nearest = closest_permutation_matrix(block)
    letters = []
    for column in range(3):
        row = int(np.flatnonzero(nearest[:, column])[0])
        letter = system[row]
        letters.append(letter if nearest[row, column] > 0 else OPPOSITES[letter])
    return "".join(letters)
