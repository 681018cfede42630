import json
from pathlib import Path

from mvl.coords.formats import (
    ALLOW_INCOMPLETE_VOLUMES,
    ALLOW_MIXED_ORIENTATIONS,
    ALLOW_NONUNIFORM_SPACING,
    ENTRY_POINT_GROUP,
    LOAD_OPTIONS,
    PHILIPS_SCALING,
    PROGRESS,
    RECURSIVE,
    SAVE_OPTIONS,
    SELECT,
    SERIES_UID,
    SKIP_BROKEN,
    SPACING_TOLERANCE,
    SRC_SYSTEM,
    THREADS,
    Format,
    Inventory,
    Part,
)


def test_format_resolves_its_functions_lazily():
    fmt = Format("toy", "toy", (".toy.gz", ".toy"), lambda path: False, "json:loads", "json:dumps", (".toy",))
    assert fmt.loader() is json.loads
    assert fmt.saver() is json.dumps
    assert fmt.matches_suffix("a/B.TOY.GZ")
    assert not fmt.matches_suffix("a/b.toy.gz", saving=True)
    assert fmt.matches_suffix("b.toy", saving=True)
    assert Format("ro", "read only", (".ro",), lambda path: True, "json:loads").saver() is None
    assert ENTRY_POINT_GROUP == "mvl.formats"


def test_records_written_for_the_first_release_keep_working():
    # Third-party formats construct the record with the first eight fields, positionally.
    fmt = Format("toy", "toy", (".toy",), bool, "json:loads", "json:dumps", (".toy",), "toy-dist")
    assert (fmt.distribution, fmt.extra, fmt.parts) == ("toy-dist", "", None)
    assert fmt.save_options == frozenset() and fmt.load_options == frozenset()
    assert hash(fmt) == hash(Format("toy", "toy", (".toy",), bool, "json:loads", "json:dumps", (".toy",), "toy-dist"))


def test_declared_options_filter_what_callers_pass():
    fmt = Format("toy", "toy", (".toy",), bool, "json:loads", save_options={SRC_SYSTEM}, load_options=[SERIES_UID])
    assert isinstance(fmt.save_options, frozenset) and isinstance(fmt.load_options, frozenset)
    assert fmt.accepts({SRC_SYSTEM: False, THREADS: 2}, saving=True) == {SRC_SYSTEM: False}
    assert fmt.accepts({SERIES_UID: "1.2", RECURSIVE: True, PROGRESS: print}) == {SERIES_UID: "1.2"}
    assert {SRC_SYSTEM, THREADS} == SAVE_OPTIONS
    assert {
        SERIES_UID,
        RECURSIVE,
        PROGRESS,
        SELECT,
        SKIP_BROKEN,
        ALLOW_INCOMPLETE_VOLUMES,
        ALLOW_MIXED_ORIENTATIONS,
        ALLOW_NONUNIFORM_SPACING,
        SPACING_TOLERANCE,
        PHILIPS_SCALING,
    } == LOAD_OPTIONS


def test_parts_default_to_the_path_itself_and_resolve_lazily(tmp_path, monkeypatch):
    assert Format("toy", "toy", (".toy",), bool, "json:loads").find_parts("a/b.toy") == Inventory(
        (Part(Path("a/b.toy")),)
    )
    (tmp_path / "toyparts.py").write_text(
        "from mvl.coords.formats import Inventory, Part\n"
        "def parts(path, *, recursive=True):\n"
        "    return Inventory(tuple(Part(path, uid=str(n), recursive=recursive) for n in (1, 2)))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fmt = Format("toy", "toy", (".toy",), bool, "json:loads", parts="toyparts:parts")
    found = fmt.find_parts(tmp_path, recursive=False)
    assert [(part.path, part.uid, part.recursive) for part in found.parts] == [
        (tmp_path, "1", False),
        (tmp_path, "2", False),
    ]
    assert found.other_files == ()
