"""Build the rule's Lambda code: a zip for CloudFormation, or a vendored rule folder for rdk.

The Lambda Python runtime (Amazon Linux 2023, glibc 2.34) carries boto3 and
botocore only. The rule also imports cryptography, a compiled package, so pip
fetches its wheels for the runtime's Python version and the target architecture,
and rdklib, unless the rdklib layer provides it. Versions are the ones pinned in
pyproject.toml, read from this environment, so the Lambda runs what the tests ran.

    python -m build_tools.bundle                       dist/HeartbleedServerCertificate-x86_64.zip
    python -m build_tools.bundle --arch arm64          dist/HeartbleedServerCertificate-arm64.zip
    python -m build_tools.bundle --rdklib-layer        leave rdklib to the rdklib layer
    python -m build_tools.bundle --rdk-folder          build/rdk/HeartbleedServerCertificate/ for `rdk deploy`
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE = "HeartbleedServerCertificate"
ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}  # Lambda's name -> the wheel tag's
# manylinux levels the runtime's glibc 2.34 satisfies; pip picks the best wheel among them.
MANYLINUX = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
# Only what the handler imports; tests, metadata and caches stay out of the Lambda.
RULE_FILES = (f"{RULE}.py", "heartbleed")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*_test.py")
EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: the same inputs give the same bytes


def runtime_python() -> str:
    """The Lambda runtime's Python version ("3.13"): pyproject.toml's requires-python, "==3.N.*".

    Read from there rather than from the running interpreter, so that the wheels fit the runtime; the byte
    code (compile_bytecode) needs that very Python to build the bundle, and says so otherwise.
    """
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    exact = re.fullmatch(r"==(3\.\d+)\.\*", requires)
    if exact is None:
        raise SystemExit(f"pyproject.toml: requires-python is {requires!r}; the bundle needs one version, '==3.N.*'")
    return exact.group(1)


def _pip_install(target: Path, *requirements: str, platform_machine: str | None = None) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--only-binary=:all:"]
    command += ["--target", str(target), "--python-version", runtime_python(), "--implementation", "cp"]
    if platform_machine:
        command += [arg for level in MANYLINUX for arg in ("--platform", f"{level}_{platform_machine}")]
    else:
        command.append("--no-deps")  # pure-Python rdklib: boto3 and botocore come with the runtime
    subprocess.run([*command, *requirements], check=True)


def vendor(target: Path, arch: str, with_rdklib: bool) -> None:
    """Install the rule's third-party imports for the Lambda architecture into target."""
    _pip_install(target, f"cryptography=={version('cryptography')}", platform_machine=ARCHITECTURES[arch])
    if with_rdklib:
        _pip_install(target, f"rdklib=={version('rdklib')}")
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: useless in Lambda


def compile_bytecode(folder: Path) -> None:
    """Byte code for every module in folder, for the runtime's Python. /var/task is read-only, so without it
    every cold start compiles the rule, rdklib and cryptography's Python again (docs/lean-start.md). Hash-based
    and unchecked: the zip's fixed timestamps would make timestamp-checked byte code look stale."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != runtime_python():
        raise SystemExit(f"byte code for the Lambda's Python {runtime_python()} needs that Python to build the bundle")
    if not compileall.compile_dir(
        folder, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=0
    ):
        raise SystemExit(f"could not compile every module in {folder}")


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def build_zip(arch: str, with_rdklib: bool = True, out: Path = ROOT / "dist") -> Path:
    staging = _fresh(ROOT / "build" / f"bundle-{arch}")
    for name in RULE_FILES:
        source = ROOT / RULE / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=SKIP)
        else:
            shutil.copy2(source, staging / name)
    vendor(staging, arch, with_rdklib)
    compile_bytecode(staging)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{RULE}-{arch}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(staging)), EPOCH)
            info.external_attr = 0o644 << 16  # readable by the Lambda's runtime user
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, path.read_bytes())
    return archive


def build_rdk_folder(arch: str) -> Path:
    """A copy of the rule folder with cryptography vendored in, for `rdk deploy` to zip as it is.

    rdk's python3.13-lib runtime (parameters.json) attaches the rdklib layer, so rdklib is not copied.
    """
    folder = ROOT / "build" / "rdk" / RULE
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / RULE, folder, ignore=SKIP)
    vendor(folder, arch, with_rdklib=False)
    compile_bytecode(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="heartbleed-bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="x86_64", help="Lambda architecture")
    parser.add_argument("--rdklib-layer", action="store_true", help="leave rdklib out: the rdklib layer provides it")
    parser.add_argument("--rdk-folder", action="store_true", help="build build/rdk/HeartbleedServerCertificate/")
    args = parser.parse_args(argv)
    if args.rdk_folder:
        print(build_rdk_folder(args.arch))
    else:
        archive = build_zip(args.arch, with_rdklib=not args.rdklib_layer)
        print(f"{archive} ({archive.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
