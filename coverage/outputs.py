"""Where outputs may go: never over what the program did not write.

Every folder output (``layers``, ``batch``, ``scenario --out-dir``) and every file
output goes through this module. The rules, as the README states them:

* A folder is replaced only if it is missing, empty, marked as written by this
  program (:data:`MARKER` inside) or holds nothing but the files the same command
  writes (layers folders from before the marker). Anything else is refused.
* The pack itself, a folder holding any of its input files, a path inside one of
  its data folders (``population/``, ``network/``, ``scenarios/`` …) and any input
  file are refused as outputs.
* A file where a folder goes, a folder where a file goes, a missing parent folder,
  a read-only folder or a full disk give one line (:class:`OutputError`, exit
  status 2) and leave the old output as it was.

A folder is replaced by writing a fresh copy beside it and swapping the two with
two renames, under an exclusive ``flock`` on the parent folder so that concurrent
runs on one pack take turns. A run killed between the two renames leaves the old
copy in ``.<name>.old.<pid>.<random>/<name>``; the next run puts it back first
(and removes the half-written ``.<name>.new.<pid>.<random>`` of killed runs).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from coverage.errors import InputError, write_bytes_atomic, write_text_atomic

#: The file inside every folder this program writes; its presence allows a rewrite.
MARKER = ".written-by-coverage"
MARKER_TEXT = ("This folder was written by the coverage program and is replaced as a whole "
               "each time it runs.\n本文件夹由 coverage 程序生成，每次运行整体替换。\n")

#: Folders of a pack that hold its inputs even when the manifest names no file there.
DATA_FOLDERS = ("population", "network", "scenarios", "cache")


class OutputError(InputError):
    """An output path that cannot or must not be written (exit status 2)."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(None, f"{path}: {problem}")
        self.path = str(path)


def _resolved(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected_paths(region=None, inputs: Iterable[str | os.PathLike | None] = ()
                    ) -> tuple[Path | None, list[Path], list[Path]]:
    """The pack folder, the input files and the data folders an output must spare.

    Parameters
    ----------
    region
        A :class:`coverage.region.Region` (its folder, manifest, every file it
        names, ``targets.toml``, ``statistics.toml`` and its data folders), or None.
    inputs
        Other input files of the command (``--points``, ``--raster`` …).
    """
    files: list[Path] = []
    folders: list[Path] = []
    root = None
    if region is not None:
        root = _resolved(region.path)
        files += [_resolved(p) for p in region.files.values()]
        files += [root / name for name in ("region.toml", "targets.toml", "statistics.toml")]
        folders += [root / name for name in DATA_FOLDERS]
        folders += [f.parent for f in files if f.parent != root and _inside(f, root)]
    files += [_resolved(p) for p in inputs if p]
    return root, sorted(set(files)), sorted(set(folders))


def check_target(path: str | os.PathLike, *, folder: bool, region=None,
                 inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Refuse an output path that is the pack, holds or is one of its inputs, or lies
    inside its data folders; also a missing parent and the wrong kind of thing there.

    Returns the resolved path. Raises :class:`OutputError`.
    """
    target = _resolved(path)
    root, files, folders = protected_paths(region, inputs)
    if root is not None and target == root:
        raise OutputError(path, "is the region pack itself; choose another output folder "
                          "(输出不能是数据包本身)")
    for file in files:
        if target == file:
            raise OutputError(path, "is an input file; choose another output path "
                              "(输出不能覆盖输入文件)")
        if folder and _inside(file, target):
            raise OutputError(path, f"holds the input file {file.name}; choose another output "
                              "folder (输出文件夹不能包含输入数据)")
    for data in folders:
        if _inside(target, data):
            raise OutputError(path, f"is inside the pack's data folder {data.name}/; choose "
                              "another output path (输出不能放在数据文件夹内)")
    if not target.parent.is_dir():
        raise OutputError(path, f"the parent folder {target.parent} does not exist; create it "
                          "first (上级文件夹不存在)")
    if not os.access(target.parent, os.W_OK):
        raise OutputError(path, f"cannot write: the folder {target.parent} is read-only "
                          "(无写入权限)")
    # one stat: a folder a concurrent run swaps away meanwhile is not "a file"
    if folder and target.is_file():
        raise OutputError(path, "is an existing file, not a folder; give a folder path "
                          "(此处已有文件)")
    if not folder and target.is_dir():
        raise OutputError(path, "is an existing folder, not a file; give a file path "
                          "(此处已有文件夹)")
    return target


def replaceable(folder: Path, own_names: Iterable[str] = ()) -> bool:
    """Whether ``folder`` may be replaced: missing, empty, marked, or only our files."""
    try:
        names = {p.name for p in folder.iterdir()}
    except FileNotFoundError:  # missing, or swapped away by a concurrent run just now
        return True
    return not names or MARKER in names or names <= set(own_names)


def check_folder(path: str | os.PathLike, *, region=None, own_names: Iterable[str] = (),
                 inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """:func:`check_target` for a folder, then refuse one holding the user's own files."""
    target = check_target(path, folder=True, region=region, inputs=inputs)
    if not replaceable(target, own_names):
        raise OutputError(path, f"holds files this program did not write (no {MARKER}); "
                          "give an empty or new folder (文件夹中有其他文件，不会覆盖)")
    return target


def check_file(path: str | os.PathLike, *, region=None,
               inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """:func:`check_target` for a single-file output."""
    return check_target(path, folder=False, region=region, inputs=inputs)


@contextlib.contextmanager
def os_errors(path: str | os.PathLike) -> Iterator[None]:
    """Turn a read-only folder, a full disk and the like into one :class:`OutputError`."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        reasons = {errno.ENOSPC: "the disk is full (磁盘已满)",
                   errno.EDQUOT: "the disk quota is exceeded (磁盘配额已满)",
                   errno.EACCES: "permission denied: the folder is read-only (无写入权限)",
                   errno.EPERM: "permission denied (无写入权限)",
                   errno.EROFS: "the file system is read-only (只读文件系统)",
                   errno.EISDIR: "is an existing folder, not a file (此处已有文件夹)",
                   errno.ENOTDIR: "a parent is a file, not a folder (上级不是文件夹)",
                   errno.ENOENT: "the folder does not exist (文件夹不存在)"}
        reason = reasons.get(exc.errno, exc.strerror or str(exc))
        raise OutputError(path, f"cannot write: {reason}; the old output is unchanged") from None


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` (a directory), held for the block."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _old_copies(out_dir: Path) -> list[Path]:
    return sorted(out_dir.parent.glob(f".{out_dir.name}.old.*"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(out_dir: Path) -> None:
    """Put back a copy stranded by a run killed between its two renames, clear
    finished ones and the half-written copies of killed runs. Call with the parent's
    lock held (old copies exist only under it)."""
    for old in _old_copies(out_dir):
        stranded = old / out_dir.name
        if not out_dir.exists() and stranded.is_dir():
            os.replace(stranded, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    for staging in out_dir.parent.glob(f".{out_dir.name}.new.*"):
        pid = staging.name.split(".")[-2]  # .<name>.new.<pid>.<random>
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def write_folder(out_dir: str | os.PathLike, files: Mapping[str, str | bytes], *, region=None,
                 inputs: Iterable[str | os.PathLike | None] = ()) -> list[Path]:
    """Write ``files`` (name -> text or bytes) as a folder that replaces ``out_dir``.

    The folder is checked (:func:`check_folder`; a folder holding only names of
    ``files`` counts as ours), written in full beside ``out_dir`` with
    :data:`MARKER`, then swapped in under the parent's lock. On any failure the
    old folder is left as it was.

    Returns
    -------
    list of pathlib.Path
        The files written, sorted (the marker not included).
    """
    given = out_dir
    out_dir = check_folder(out_dir, region=region, own_names=files, inputs=inputs)
    with os_errors(given):
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new.{os.getpid()}.",
                                        dir=out_dir.parent))
        try:
            for name, data in sorted({**files, MARKER: MARKER_TEXT}.items()):
                if isinstance(data, bytes):
                    write_bytes_atomic(staging / name, data)
                else:
                    write_text_atomic(staging / name, data)
            os.chmod(staging, 0o777 & ~_umask())
            with locked(out_dir.parent):
                recover(out_dir)
                if not replaceable(out_dir, files):  # another run may have written since
                    raise OutputError(given, f"holds files this program did not write (no "
                                      f"{MARKER}); give an empty or new folder")
                old = None
                if out_dir.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.{os.getpid()}.",
                                                dir=out_dir.parent))
                    os.replace(out_dir, old / out_dir.name)
                try:
                    os.replace(staging, out_dir)
                except BaseException:
                    if old is not None:
                        os.replace(old / out_dir.name, out_dir)
                    raise
                finally:
                    if old is not None and out_dir.exists():  # else recover() puts it back
                        shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return sorted(out_dir / name for name in files)


def claim_folder(out_dir: str | os.PathLike, *, region=None, own_names: Iterable[str] = (),
                 inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Check a folder that is filled piece by piece (``batch``), create it if
    missing and mark it as ours. Returns the resolved folder."""
    given = out_dir
    out_dir = check_folder(out_dir, region=region, own_names=own_names, inputs=inputs)
    with os_errors(given):
        out_dir.mkdir(exist_ok=True)
        if not (out_dir / MARKER).exists():
            write_text_atomic(out_dir / MARKER, MARKER_TEXT)
    return out_dir


def write_file(path: str | os.PathLike, data: str | bytes, *, region=None,
               inputs: Iterable[str | os.PathLike | None] = ()) -> Path:
    """Write one output file atomically after :func:`check_file`."""
    target = check_file(path, region=region, inputs=inputs)
    with os_errors(path):
        if isinstance(data, bytes):
            write_bytes_atomic(target, data)
        else:
            write_text_atomic(target, data)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
