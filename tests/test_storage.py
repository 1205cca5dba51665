import os

import pytest

from parrot.storage import atomic_write, data_dir


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    atomic_write(path, "一")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]


def test_mode_follows_umask_then_keeps_existing(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "f"
        atomic_write(path, "x")
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o600)
        atomic_write(path, "y")
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f"
    atomic_write(path, "old")

    def boom(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_data_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PARROT_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("PARROT_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x" / "parrot"
