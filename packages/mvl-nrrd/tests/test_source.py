import copy
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np

from mvl.nrrd import NrrdSource


def test_a_pair_with_paths():
    source = NrrdSource(np.zeros((2, 3, 4)), OrderedDict(type="short"), Path("a.nhdr"), Path("a.raw"))
    data, header = source
    assert len(source) == 2 and source[1] is header and source.header is header and source.data is data
    assert source.path == Path("a.nhdr") and source.data_path == Path("a.raw") and source.detached
    assert repr(source).startswith("NrrdSource(data=array(")


def test_copies_keep_the_paths():
    source = NrrdSource(np.zeros(3), OrderedDict(), Path("a.nrrd"))
    for again in (pickle.loads(pickle.dumps(source)), copy.copy(source), copy.deepcopy(source)):
        assert again.path == Path("a.nrrd") and again.data_path is None and not again.detached
    assert source._replace(header={"x": 1}).path == Path("a.nrrd")
    assert NrrdSource._make([np.zeros(1), {}]).path is None
