"""Outputs never destroy what the program did not write; interruptions leave no damage."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coverage import outputs
from coverage.cli import main
from coverage.outputs import MARKER, OutputError, write_folder

ROOT = Path(__file__).resolve().parents[1]
BEIBEI = ROOT / "regions" / "beibei"


def _tree(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes, to see that nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def pack(tmp_path):
    """A copy of the 北碚 pack (without its layers and caches) in tmp_path/pack."""
    copy = tmp_path / "pack"
    shutil.copytree(BEIBEI, copy, ignore=shutil.ignore_patterns("layers", "cache"))
    return copy


@pytest.fixture
def user_folder(tmp_path):
    docs = tmp_path / "mydocs"
    docs.mkdir()
    (docs / "notes.txt").write_text("my own notes\n", encoding="utf-8")
    (docs / "sub").mkdir()
    (docs / "sub" / "thesis.docx").write_bytes(b"PK\x03\x04 my thesis")
    return docs


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


# --- the three data-loss cases of the issue -------------------------------------------

@pytest.mark.parametrize("command", [
    ["layers", "{pack}", "--out", "{out}"],
    ["batch", "{pack}", "--out", "{out}"],
    ["scenario", "{pack}", "plan-2025", "--out-dir", "{out}"],
])
def test_a_folder_of_the_users_files_is_refused(command, pack, user_folder, capsys):
    before = _tree(user_folder)
    args = [a.format(pack=pack, out=user_folder) for a in command]
    assert main(args) == 2
    _one_line_error(capsys, "mydocs", "did not write")
    assert _tree(user_folder) == before


@pytest.mark.parametrize("command,outs", [
    ("layers", ["pack", ".", "pack/population", "pack/network", "pack/scenarios",
                "pack/population/new", "pack/..", "pack/facilities.geojson", "pack/region.toml"]),
    ("batch", ["pack", ".", "pack/population/new", "pack/.."]),
])
def test_the_pack_its_data_and_its_inputs_are_refused(command, outs, pack, monkeypatch, capsys):
    # The pack named by a relative path as well as the output: both must resolve.
    before = _tree(pack)
    for out in outs:
        monkeypatch.chdir(pack.parent if out != "." else pack)
        assert main([command, "pack" if out != "." else ".", "--out", out]) == 2, out
        _one_line_error(capsys, out)
    assert _tree(pack) == before


def test_scenario_out_dir_in_the_pack_is_refused(pack, capsys):
    before = _tree(pack)
    for out in (pack, pack / "scenarios", pack / "population"):
        assert main(["scenario", str(pack), "plan-2025", "--out-dir", str(out)]) == 2
        _one_line_error(capsys, str(out))
    assert _tree(pack) == before


def test_an_existing_file_where_a_folder_goes_is_refused(pack, tmp_path, capsys):
    report = tmp_path / "report.txt"
    report.write_text("my report\n", encoding="utf-8")
    for command in (["layers", str(pack), "--out"], ["batch", str(pack), "--out"],
                    ["scenario", str(pack), "plan-2025", "--out-dir"]):
        assert main([*command, str(report)]) == 2
        _one_line_error(capsys, "report.txt", "existing file")
        assert report.read_text(encoding="utf-8") == "my report\n"


def test_file_outputs_refuse_folders_inputs_and_missing_parents(pack, tmp_path, capsys):
    folder = tmp_path / "adir"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep\n")
    before = _tree(pack)
    cases = [(folder, "existing folder"), (tmp_path / "nowhere" / "x.csv", "does not exist"),
             (pack / "facilities.geojson", "input file"), (pack / "targets.toml", "input file"),
             (pack / "population" / "x.csv", "data folder")]
    for out, words in cases:
        assert main(["check", str(pack), "--format", "csv", "--out", str(out)]) == 2
        _one_line_error(capsys, words)
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\np1,106.4,29.8\n", encoding="utf-8")
    assert main(["traveltime", "--region", str(pack), "--mode", "walk", "--points", str(points),
                 "--out", str(points)]) == 2
    _one_line_error(capsys, "input file")
    assert points.read_text(encoding="utf-8") == "id,lon,lat\np1,106.4,29.8\n"
    assert (folder / "keep.txt").read_text() == "keep\n"
    assert _tree(pack) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_gives_one_line(pack, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["check", str(pack), "--format", "csv", "--out", str(locked / "t.csv")]) == 2
        _one_line_error(capsys, "read-only")
    finally:
        locked.chmod(0o755)


def test_a_read_only_folder_as_root_sees_it(tmp_path, monkeypatch, capsys):
    # Root ignores permissions, so the refusal the file system would give is simulated.
    out = tmp_path / "layers"
    write_folder(out, {"a.txt": "old\n"})

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outputs.tempfile, "mkdtemp", read_only)
    with pytest.raises(OutputError, match="read-only.*old output is unchanged"):
        write_folder(out, {"a.txt": "new\n"})
    monkeypatch.setattr(outputs, "write_text_atomic", read_only)
    assert main(["check", str(BEIBEI), "--format", "csv", "--out", str(tmp_path / "t.csv")]) == 2
    _one_line_error(capsys, "read-only")
    assert (out / "a.txt").read_text() == "old\n"


def test_a_full_disk_keeps_the_old_output(tmp_path, monkeypatch):
    out = tmp_path / "layers"
    write_folder(out, {"a.txt": "old\n"})
    real = os.replace

    def full(src, dst):  # the new copy cannot go in (the old one can come back)
        if Path(dst) == out and ".layers.new." in str(src):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", full)
    with pytest.raises(OutputError, match="disk is full.*old output is unchanged"):
        write_folder(out, {"a.txt": "new\n"})
    assert (out / "a.txt").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers"]


def test_folders_we_wrote_are_replaced_and_older_layers_too(tmp_path):
    out = tmp_path / "out"
    write_folder(out, {"a.txt": "1\n"})
    assert (out / MARKER).exists()
    write_folder(out, {"b.txt": "2\n"})  # marked: replaced whole
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.txt"]
    older = tmp_path / "layers"  # an unmarked folder of nothing but our own file names
    older.mkdir()
    (older / "townships.csv").write_text("old\n")
    write_folder(older, {"townships.csv": "new\n", "gaps.geojson": "{}\n"})
    assert (older / "townships.csv").read_text() == "new\n"
    (older / MARKER).unlink()
    (older / "mine.txt").write_text("mine\n")
    with pytest.raises(OutputError, match="did not write"):
        write_folder(older, {"townships.csv": "newer\n"})
    assert (older / "mine.txt").read_text() == "mine\n"


def test_scenario_out_dir_is_written_as_one_unit(pack, tmp_path, monkeypatch, capsys):
    out = tmp_path / "delta"
    assert main(["scenario", str(pack), "caijia-hospitals", "--out-dir", str(out)]) == 0
    first = _tree(out)
    assert sorted(first) == sorted([MARKER, "gained.geojson", "lost.geojson", "targets.csv",
                                    "townships.csv"])
    real = outputs.write_text_atomic
    written = []

    def disk_fills_up(path, text):  # the third file of the new run hits a full disk
        written.append(path)
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(outputs, "write_text_atomic", disk_fills_up)
    capsys.readouterr()
    assert main(["scenario", str(pack), "shuitu-hospital-delay", "--out-dir", str(out)]) == 2
    _one_line_error(capsys, "disk is full")
    assert _tree(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delta", "pack"]


# --- interruptions --------------------------------------------------------------------

def _python(code: str, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path):
    # The command is made to wait inside its work, then interrupted as a user would.
    proc = _python(f"""
        import sys, time
        import coverage.layers as layers
        from coverage import cli
        def slow(*a, **k):
            print("ready", flush=True)
            time.sleep(60)
        layers.coverage_gaps = slow
        sys.exit(cli.main(["layers", {str(BEIBEI)!r}, "--out", {str(tmp_path / "out")!r}]))
        """)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip()]
    # progress lines may come first; the interruption itself is one line, the last
    assert "interrupted" in lines[-1] and not any("interrupted" in l for l in lines[:-1])
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []


def test_internal_errors_are_one_line_unless_debugging(tmp_path):
    code = f"""
        import sys
        from coverage import cli
        def broken(args):
            raise RuntimeError("something inside broke\\nsecond line")
        cli._run_validate = broken
        sys.exit(cli.main(["validate", {str(BEIBEI)!r}]))
        """
    proc = _python(code)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.count("\n") == 1 and "RuntimeError: something inside broke" in err
    assert "Traceback" not in err and "COVERAGE_DEBUG=1" in err
    proc = _python(code, COVERAGE_DEBUG="1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Traceback" in err


def test_a_run_killed_between_the_two_renames_is_recovered(tmp_path):
    out = tmp_path / "layers"
    write_folder(out, {"a.txt": "old\n"})
    # Killed right after the old folder was moved aside, before the new one went in.
    proc = _python(f"""
        import os
        from pathlib import Path
        from coverage import outputs
        real = os.replace
        def replace(src, dst):
            if Path(dst) == Path({str(out)!r}).resolve():  # the new copy's rename
                os._exit(9)
            return real(src, dst)
        outputs.os.replace = replace
        outputs.write_folder({str(out)!r}, {{"a.txt": "new\\n"}})
        """)
    proc.communicate(timeout=60)
    assert proc.returncode == 9
    assert not out.exists()
    stranded = list(tmp_path.glob(".layers.old.*"))
    assert len(stranded) == 1 and (stranded[0] / "layers" / "a.txt").read_text() == "old\n"
    # The next run (or anyone checking) puts the old copy back first.
    with outputs.locked(tmp_path):
        outputs.recover(out)
    assert (out / "a.txt").read_text() == "old\n"
    write_folder(out, {"a.txt": "new\n"})
    assert (out / "a.txt").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers"]


def test_concurrent_runs_on_one_folder_take_turns(tmp_path):
    out = tmp_path / "layers"
    code = f"""
        from coverage.outputs import write_folder
        for i in range(30):
            write_folder({str(out)!r}, {{"a.txt": "%d\\n" % i, "b.txt": "x" * 10000}})
        print("done")
        """
    procs = [_python(code) for _ in range(2)]
    for proc in procs:
        stdout, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert stdout.strip() == "done"
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "a.txt", "b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layers"]


# --- the same bytes every run -----------------------------------------------------------

def test_batch_outputs_are_byte_identical_between_runs(tmp_path):
    from coverage.batch import batch_region
    from coverage.region import load_region

    region = load_region(BEIBEI)
    trees = []
    for name in ("one", "two"):
        out = tmp_path / name
        batch_region(region, out, "kind", minutes=(15,), progress=None)
        trees.append(_tree(out))
    # Run logs (times, memory, the folder) are the only files allowed to differ.
    logs = {"batch.json"} | {k for k in trees[0] if k.endswith(".done.json")}
    assert set(trees[0]) == set(trees[1])
    for name in sorted(set(trees[0]) - logs):
        assert trees[0][name] == trees[1][name], name
    gaps = json.loads(trees[0]["gaps.geojson"])
    assert gaps["type"] == "FeatureCollection" and gaps["features"]
    assert "name" not in gaps and b".gaps.geojson" not in trees[0]["gaps.geojson"]
