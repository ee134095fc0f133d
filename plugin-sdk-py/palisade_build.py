#!/usr/bin/env python3
"""Builds Python Palisade plugins into WebAssembly components with componentize-py.

    python3 plugin-sdk-py/palisade_build.py PLUGIN_DIR [PLUGIN_DIR ...] --out-dir DIR

Each PLUGIN_DIR holds ``plugin.py`` (the module that ends with
``Interceptor = palisade_sdk.export(...)``) and ``manifest.toml``; the component is
written to ``DIR/<directory name with - as _>.wasm``.

What it does, per plugin:

- writes a WIT world that imports ``call``, ``metadata`` and exactly the
  capabilities under the manifest's ``[capabilities]``, so the component imports
  nothing the operator would have to grant beyond what the manifest requests;
- runs ``componentize-py --stub-wasi``: Python's runtime imports all of WASI
  (files, sockets, clocks), which the host refuses; stubbed, the component imports
  no WASI at all, and anything that would have reached it traps or fails inside the
  plugin;
- skips the build when nothing it reads changed since the last one (the sources, the
  SDK, the WIT, the manifest, this script and componentize-py's version, hashed into
  ``DIR/<name>.wasm.inputs``), and never leaves a stale component: the old one is
  replaced only by a finished build.

Needs componentize-py 0.25.x (``pip install componentize-py==0.25.1``; the
repository's ``scripts/setup.sh`` installs it in ``target/python-venv``) and
Python 3.11 or newer to run this script.
"""

import argparse
import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The componentize-py releases this SDK is built and tested with.
COMPONENTIZE_PY_SERIES = "0.25."
COMPONENTIZE_PY_PIN = "0.25.1"

#: The capabilities a manifest may request, each one interface of the contract.
CAPABILITIES = ("log", "clock", "config", "kv", "crypto", "metrics")

SDK_DIR = Path(__file__).resolve().parent
DEFAULT_WIT = SDK_DIR.parent / "wit"
WORLD = "python-plugin"
MODULE = "plugin"


class BuildError(Exception):
    """A build that cannot go on; the message says what to do."""


def capabilities(manifest: Path):
    """The capabilities the manifest requests, in the contract's order."""
    try:
        import tomllib
    except ImportError:
        raise BuildError(
            f"Python {sys.version.split()[0]} has no tomllib; run this script with Python 3.11 or newer"
        ) from None
    try:
        with manifest.open("rb") as f:
            parsed = tomllib.load(f)
    except FileNotFoundError:
        raise BuildError(f"{manifest}: no manifest (a plugin directory needs manifest.toml)") from None
    except tomllib.TOMLDecodeError as err:
        raise BuildError(f"{manifest}: not valid TOML: {err}") from None
    requested = parsed.get("capabilities", {})
    if not isinstance(requested, dict):
        raise BuildError(f"{manifest}: [capabilities] must be a table")
    unknown = sorted(set(requested) - set(CAPABILITIES))
    if unknown:
        raise BuildError(
            f"{manifest}: unknown capability `{unknown[0]}` (known: {', '.join(CAPABILITIES)})"
        )
    return [c for c in CAPABILITIES if c in requested]


def world(caps) -> str:
    """The WIT world for a plugin with capabilities ``caps``, in the contract's package."""
    imports = "".join(f"  import {c};\n" for c in ["call", "metadata", *caps])
    return (
        "// Written by palisade_build.py: the world of one Python plugin, importing only\n"
        "// the capabilities its manifest requests.\n"
        f"package palisade:plugin@0.2.0;\n\nworld {WORLD} {{\n{imports}  export interceptor;\n}}\n"
    )


def find_componentize_py(explicit):
    """The componentize-py executable: ``explicit``, else beside this interpreter (a
    venv), else on PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "componentize-py"
    if beside.exists():
        return str(beside)
    found = shutil.which("componentize-py")
    if found:
        return found
    raise BuildError(
        f"componentize-py is not installed: pip install componentize-py=={COMPONENTIZE_PY_PIN} "
        "(in the Palisade repository, scripts/setup.sh installs it into target/python-venv)"
    )


def componentize_py_version(exe) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise BuildError(f"cannot run {exe} --version: {err}") from None
    version = out.stdout.strip().removeprefix("componentize-py").strip()
    if not version.startswith(COMPONENTIZE_PY_SERIES):
        raise BuildError(
            f"{exe} is componentize-py {version}; this SDK needs {COMPONENTIZE_PY_SERIES}x "
            f"(pip install componentize-py=={COMPONENTIZE_PY_PIN})"
        )
    return version


def _files(root: Path, suffixes):
    """The sources under ``root`` that go into a component (unit tests do not)."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in suffixes
        and "__pycache__" not in p.parts
        and not p.name.startswith("test_")
    )


def inputs_digest(plugin_dir: Path, wit_dir: Path, world_text: str, version: str) -> str:
    """A digest of everything the component is made from."""
    h = hashlib.sha256()

    def add(label, data: bytes):
        h.update(label.encode() + b"\0" + len(data).to_bytes(8, "little") + data)

    add("componentize-py", version.encode())
    add("world", world_text.encode())
    add("script", Path(__file__).read_bytes())
    for root, suffixes in (
        (plugin_dir, {".py", ".toml"}),
        (SDK_DIR / "palisade_sdk", {".py"}),
        (wit_dir, {".wit"}),
    ):
        for path in _files(root, suffixes):
            add(f"{root.name}/{path.relative_to(root)}", path.read_bytes())
    return h.hexdigest()


def build(plugin_dir: Path, out_dir: Path, wit_dir: Path, exe: str, version: str, quiet: bool):
    """Builds one plugin; returns the component's path and whether it was rebuilt."""
    plugin_dir = plugin_dir.resolve()
    if not (plugin_dir / f"{MODULE}.py").is_file():
        raise BuildError(f"{plugin_dir}: no {MODULE}.py (the module componentize-py wraps)")
    caps = capabilities(plugin_dir / "manifest.toml")
    world_text = world(caps)
    out = out_dir / (plugin_dir.name.replace("-", "_") + ".wasm")
    stamp = out.with_name(out.name + ".inputs")
    digest = inputs_digest(plugin_dir, wit_dir, world_text, version)
    if out.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return out, False
    with tempfile.TemporaryDirectory(prefix="palisade-py-build-") as tmp:
        tmp = Path(tmp)
        wit = tmp / "wit"
        wit.mkdir()
        for path in wit_dir.glob("*.wit"):
            shutil.copy(path, wit / path.name)
        (wit / "zz-python-world.wit").write_text(world_text)
        # componentize-py compiles the sources at build time and writes __pycache__
        # beside them: it gets copies (without unit tests), so the source tree stays
        # as it was.
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "test_*")
        plugin_copy = tmp / "plugin"
        shutil.copytree(plugin_dir, plugin_copy, ignore=ignore)
        sdk_copy = tmp / "sdk" / "palisade_sdk"
        shutil.copytree(SDK_DIR / "palisade_sdk", sdk_copy, ignore=ignore)
        partial = out_dir / f".{out.name}.partial"
        cmd = [
            exe,
            "-d", str(wit),
            "-w", WORLD,
            "componentize",
            "--stub-wasi",
            "-p", str(plugin_copy),
            "-p", str(sdk_copy.parent),
            MODULE,
            "-o", str(partial),
        ]  # fmt: skip
        # An empty environment for the build: componentize-py runs the module's top
        # level at build time and snapshots it, and nothing of the builder's
        # environment belongs in a plugin.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp)}
        result = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BuildError(
                f"componentize-py failed for {plugin_dir}:\n{_trim(result.stdout + result.stderr)}"
            )
    stamp.unlink(missing_ok=True)
    os.replace(partial, out)
    stamp.write_text(digest + "\n")
    if not quiet:
        print(f"built {out} ({out.stat().st_size / 1e6:.1f} MB; imports: call, metadata"
              f"{''.join(', ' + c for c in caps)})")
    return out, True


def _trim(text: str) -> str:
    """componentize-py's error without the Rust backtrace that follows it."""
    return text.split("\nStack backtrace:")[0].strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plugins", nargs="+", type=Path, help="plugin directories")
    parser.add_argument("--out-dir", type=Path, required=True, help="where the components go")
    parser.add_argument("--wit", type=Path, default=DEFAULT_WIT, help="the contract (default: %(default)s)")
    parser.add_argument("--componentize-py", dest="exe", help="the componentize-py executable")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="builds at once")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        exe = find_componentize_py(args.exe)
        version = componentize_py_version(exe)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            jobs = [
                pool.submit(build, p, args.out_dir, args.wit, exe, version, args.quiet)
                for p in args.plugins
            ]
            for job in jobs:
                job.result()
    except BuildError as err:
        print(f"palisade_build: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
