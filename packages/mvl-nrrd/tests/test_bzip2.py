import bz2
import io

import pytest

from mvl.coords import FormatError, ResourceLimitError
from mvl.nrrd.bzip2 import Bzip2Reader


def test_bzip2_reader_members_and_garbage():
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"a" * 10) + bz2.compress(b"b" * 5)))
    assert reader.read(100) == b"a" * 10 + b"b" * 5
    assert reader.finish() == 0
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"abc") + b"trailing"), path="x.raw.bz2")
    with pytest.raises(FormatError, match=r"x.raw.bz2: corrupt bzip2 stream: unexpected bytes after the bzip2 data"):
        reader.read(10)
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"abcdef")[:-5]), path="x.raw.bz2")
    with pytest.raises(FormatError, match=r"x.raw.bz2: truncated bzip2 stream"):
        reader.read(10)


def test_bzip2_reader_stops_past_the_allowance():
    reader = Bzip2Reader(io.BytesIO(bz2.compress(bytes(1 << 20))), path="x.raw.bz2")
    assert reader.read(10) == bytes(10)
    with pytest.raises(ResourceLimitError, match=r"x\.raw\.bz2: the bzip2 stream decompresses beyond the 10 bytes"):
        reader.finish(allowed_extra=1000)
