import os
from pathlib import Path

from certkeeper.localmode.scan import DirectoryScanner


def test_scanner_reports_added_changed_removed_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text("b: 1\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    (tmp_path / ".certkeeper").mkdir()
    (tmp_path / ".certkeeper" / "state.yaml").write_text("ignored\n")
    (tmp_path / ".a.yaml.swp").write_text("ignored\n")
    scanner = DirectoryScanner(tmp_path)
    first = scanner.scan()
    assert sorted(p.name for p in first.added) == ["a.yaml", "b.yml"]
    assert not first.changed
    assert not first.removed
    assert not scanner.scan()

    a = tmp_path / "a.yaml"
    a.write_text("a: 2\nlonger: true\n")
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    (tmp_path / "sub" / "b.yml").unlink()
    (tmp_path / "c.json").write_text("{}")
    second = scanner.scan()
    assert [p.name for p in second.changed] == ["a.yaml"]
    assert [p.name for p in second.removed] == ["b.yml"]
    assert [p.name for p in second.added] == ["c.json"]
    assert [p.name for p in scanner.files] == ["a.yaml", "c.json"]
