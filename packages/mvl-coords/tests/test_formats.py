import json

from mvl.coords.formats import ENTRY_POINT_GROUP, Format


def test_format_resolves_its_functions_lazily():
    fmt = Format("toy", "toy", (".toy.gz", ".toy"), lambda path: False, "json:loads", "json:dumps", (".toy",))
    assert fmt.loader() is json.loads
    assert fmt.saver() is json.dumps
    assert fmt.matches_suffix("a/B.TOY.GZ")
    assert not fmt.matches_suffix("a/b.toy.gz", saving=True)
    assert fmt.matches_suffix("b.toy", saving=True)
    assert Format("ro", "read only", (".ro",), lambda path: True, "json:loads").saver() is None
    assert ENTRY_POINT_GROUP == "mvl.formats"
