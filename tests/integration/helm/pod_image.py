"""Morgan's image on this machine, in a form the pods' uid (10001) can run.

The chart runs Morgan's containers as uid 10001. This checkout's interpreter may sit where that
uid cannot go (a pyenv Python under /root, mode 0700, while the tests run as root), and so may a
CI clone. So the parts of the "image" are assembled once per test session in a folder under the
system temp dir that every uid can read: the interpreter's prefix (binary, libpython, stdlib),
the virtualenv (its `pyvenv.cfg` home, interpreter links and script shebangs re-pointed at the
copy) and, where that uid cannot reach this checkout, the sources it installs in editable
mode (`src/`, `tui/`, `alembic/`; otherwise the live ones, so edits made mid-session count).
Files are hard links where the filesystem allows (a few seconds, no space), copies otherwise
and for any file that others cannot read, so the originals' permissions are never changed.

`Image.translate` maps this checkout's paths (what run_workload.IMAGE_ENV names) to the copy's;
`Image.env` adds what the copied interpreter needs to find its libpython.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import stat
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VENV = Path(sys.prefix)
SOURCES = ("src", "tui", "alembic")
# Parts of the stdlib folder Morgan never imports (the base interpreter's own packages included).
STDLIB_SKIP = frozenset({"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"})


@dataclass(frozen=True)
class Image:
    root: Path
    venv: Path
    app: Path
    libdir: Path | None  # the copied libpython's folder, when the interpreter links one

    def translate(self, text: str) -> str:
        """This checkout's venv and sources, as the copy's paths (venv first: it may be inside)."""
        return text.replace(str(VENV), str(self.venv)).replace(str(REPO), str(self.app))

    def env(self, env: dict[str, str]) -> dict[str, str]:
        out = {k: self.translate(v) for k, v in env.items()}
        if self.libdir is not None:
            # The interpreter's RUNPATH names the original prefix; the loader tries
            # LD_LIBRARY_PATH first, so the copied libpython is the one that loads.
            out["LD_LIBRARY_PATH"] = str(self.libdir)
        return out


def reachable_by_others(path: Path) -> bool:
    """Every folder down to `path` searchable by any uid, and `path` itself readable."""
    try:
        return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])
    except OSError:
        return False


@functools.cache
def pod_image() -> Image:
    """Built at the first call of the session, removed when the interpreter exits.

    Built under umask 022: an app started earlier in the session set the process umask to
    077 (`morgan.home.secure_home`), which would make every folder made here 0700, whatever
    `mkdir(mode=...)` asks, and the pods' uid could not enter them."""
    previous = os.umask(0o022)
    try:
        return _build_pod_image()
    finally:
        os.umask(previous)


def _build_pod_image() -> Image:
    root = Path(tempfile.mkdtemp(prefix="morgan-pod-image-", dir=_base_dir()))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    root.chmod(0o755)
    python_root, libdir = _copy_interpreter(root / "python")
    venv = root / "venv"
    _copy_venv(venv, python_root)
    sources = [REPO / name for name in SOURCES if (REPO / name).exists()]
    if all(reachable_by_others(path) for path in sources):
        app = REPO  # live sources: an edit made during the session is what the pods run
    else:  # e.g. a CI clone under /root: a snapshot the pods' uid can read
        app = root / "app"
        app.mkdir(mode=0o755)
        for path in sources:
            _mirror(path, app / path.name)
        _repoint_editable(venv, app)
    return Image(root=root, venv=venv, app=app, libdir=libdir)


def _base_dir() -> Path:
    """A folder every uid can traverse, on the venv's filesystem when one is (hard links
    instead of copying ~1 GB when /tmp is a tmpfs)."""
    candidates = [Path(tempfile.gettempdir()), Path("/var/tmp"), Path("/dev/shm")]
    usable = [c for c in candidates if c.is_dir() and reachable_by_others(c)]
    if not usable:
        raise RuntimeError("no temp folder other uids can traverse; set TMPDIR to one")
    device = os.stat(VENV).st_dev
    return next((c for c in usable if os.stat(c).st_dev == device), usable[0])


def _mirror(src: Path, dst: Path, *, skip: frozenset[str] = frozenset()) -> None:
    """A tree copy made of hard links; copies where linking fails or others cannot read."""
    dst.mkdir(mode=0o755, parents=True, exist_ok=True)
    dst.chmod(0o755)
    same_fs = os.stat(src).st_dev == os.stat(dst).st_dev
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if d not in skip]
        rel = Path(folder).relative_to(src)
        target_dir = dst / rel
        for d in dirs:
            source = Path(folder) / d
            if source.is_symlink():
                continue  # handled as a file entry below (os.walk lists symlinks as dirs)
            (target_dir / d).mkdir(mode=0o755, exist_ok=True)
            (target_dir / d).chmod(0o755)
        for name in [*files, *(d for d in dirs if (Path(folder) / d).is_symlink())]:
            _place(Path(folder) / name, target_dir / name, same_fs=same_fs)
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]


def _place(source: Path, target: Path, *, same_fs: bool) -> None:
    info = os.lstat(source)
    if stat.S_ISLNK(info.st_mode):
        os.symlink(os.readlink(source), target)
        return
    if not stat.S_ISREG(info.st_mode):
        return
    wanted = 0o004 | (0o001 if info.st_mode & 0o100 else 0)
    if same_fs and info.st_mode & wanted == wanted:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # protected_hardlinks, EXDEV: copy instead
    shutil.copy2(source, target)
    extra = 0o044 | (0o011 if info.st_mode & 0o100 else 0)  # group and others read (and run)
    os.chmod(target, stat.S_IMODE(info.st_mode) | extra)


def _copy_interpreter(dst: Path) -> tuple[Path, Path | None]:
    """bin/python3.X, its libpython and the stdlib of the interpreter behind this venv."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (dst / "bin").mkdir(mode=0o755, parents=True)
    dst.chmod(0o755)
    real = Path(os.path.realpath(sys._base_executable))  # type: ignore[attr-defined]
    _place(real, dst / "bin" / version, same_fs=os.stat(real).st_dev == os.stat(dst).st_dev)
    os.symlink(version, dst / "bin" / "python3")
    stdlib = Path(os.path.realpath(os.path.dirname(os.__file__)))
    _mirror(stdlib, dst / "lib" / version, skip=STDLIB_SKIP)
    libdir: Path | None = None
    ldlibrary = sysconfig.get_config_var("LDLIBRARY") or ""
    shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
    if shared and ldlibrary:
        libdir = dst / "lib"
        for lib in Path(sysconfig.get_config_var("LIBDIR")).glob(f"lib{version}*.so*"):
            _place(lib, libdir / lib.name, same_fs=os.stat(lib).st_dev == os.stat(libdir).st_dev)
    return dst, libdir


def _copy_venv(dst: Path, python_root: Path) -> None:
    """The venv with its home, interpreter links and shebangs pointing at the copies."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    dst.mkdir(mode=0o755)
    site = Path(sysconfig.get_paths()["purelib"])
    _mirror(site, dst / "lib" / version / "site-packages")
    if (VENV / "lib64").is_symlink():
        os.symlink("lib", dst / "lib64")
    cfg = []
    for line in (VENV / "pyvenv.cfg").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "home":
            line = f"home = {python_root / 'bin'}"
        elif key in ("executable", "command"):
            continue
        cfg.append(line)
    (dst / "pyvenv.cfg").write_text("\n".join(cfg) + "\n")
    (dst / "pyvenv.cfg").chmod(0o644)
    bin_dir = dst / "bin"
    bin_dir.mkdir(mode=0o755)
    os.symlink(python_root / "bin" / version, bin_dir / "python3")
    for alias in ("python", version):
        os.symlink("python3", bin_dir / alias)
    old = str(VENV / "bin")
    for script in (VENV / "bin").iterdir():
        if script.name in ("python", "python3", version) or not script.is_file():
            continue
        if script.is_symlink():
            os.symlink(os.readlink(script), bin_dir / script.name)
            continue
        data = script.read_bytes()
        first, _, rest = data.partition(b"\n")
        if first.startswith(b"#!") and old.encode() in first:
            data = first.replace(old.encode(), str(bin_dir).encode()) + b"\n" + rest
        (bin_dir / script.name).write_bytes(data)
        (bin_dir / script.name).chmod(0o755)


def _repoint_editable(venv: Path, app: Path) -> None:
    """`pip install -e .` leaves .pth files / import finders naming this checkout; the copy's
    name the copied sources instead (a fresh file, never written through a hard link)."""
    site = next((venv / "lib").glob("python*/site-packages"))
    for path in [*site.glob("*.pth"), *site.glob("__editable__*")]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if str(REPO) not in text:
            continue
        path.unlink()
        path.write_text(text.replace(str(REPO), str(app)))
        path.chmod(0o644)
