#!/usr/bin/env python3
"""An arm64 Debian bookworm userland with Python 3.11 under build/arm64-root/, run on x86 with
qemu-user, for the aarch64 end-to-end test (tests/test_aarch64_e2e.py) and by hand.

    python3 tools/arm64_userland.py                 # make (or check) everything, print each step
    python3 tools/arm64_userland.py --lce-wheel build/aarch64/dist/lce_convert-...whl
    python3 tools/arm64_userland.py --run -c 'import lce_convert; print(lce_convert.__file__)'

What it makes, each step once (a stamp file records it; a second call takes about a second):
  1. build/arm64-root/: `debootstrap --foreign --arch=arm64 --variant=minbase` with python3.11
     and python3-pip (Debian's default mirror, or $LCE_ARM64_MIRROR), every downloaded package
     unpacked with dpkg-deb (no second stage: nothing is configured, nothing runs as arm64
     during the set-up but Python itself), and qemu-aarch64-static copied into it;
  2. build/arm64-wheels/: the aarch64 wheels of the runtime's dependencies (pyproject.toml's
     [project] dependencies: numpy<2, flatbuffers, ai-edge-litert 2.3.0, and theirs), fetched
     by this machine's pip with `pip download --only-binary=:all: --platform ...` listing the
     accepted manylinux tags explicitly (pip does not fall back to older tags on its own);
  3. a virtualenv /opt/lce inside the userland, and those wheels installed into it by the arm64
     pip running under qemu, offline (`--no-index --find-links`), as a user on a Raspberry Pi
     installs into a venv;
  4. with --lce-wheel, or when build/aarch64/dist/ holds one: our runtime-only wheel
     (lce_convert + the aarch64 delegate), installed the same way; again only when it changed.

The arm64 Python runs as `chroot build/arm64-root /usr/bin/qemu-aarch64-static
/opt/lce/bin/python` (binfmt_misc is not needed: qemu is named explicitly; files the program
reads must be inside the userland). This needs root, or an unprivileged user namespace
(`unshare -r`), for chroot and for debootstrap.

The venv is made with --without-pip --system-site-packages, and Debian's pip installs into it:
`python3 -m venv` with pip runs ensurepip in a child interpreter, and without binfmt_misc an
emulated program cannot start another arm64 program. For the same reason nothing here runs
pip's build backends (all wheels are binary).

Errors: UserlandError (a step failed: no network, no debootstrap, a pip failure), with the
step and the tool's output; EmulatorUnavailable (qemu-aarch64-static is missing or cannot run
the userland, or no privileges for chroot), which the tests turn into a skip.
"""
import argparse
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, "build", "arm64-root")
WHEELS = os.path.join(REPO, "build", "arm64-wheels")
LCE_DIST = os.path.join(REPO, "build", "aarch64", "dist")

SUITE = "bookworm"
INCLUDE = ("python3.11", "python3-pip")
QEMU = "qemu-aarch64-static"
QEMU_IN_ROOT = "/usr/bin/qemu-aarch64-static"
VENV = "/opt/lce"                 # inside the userland
WHEELS_IN_ROOT = "/opt/lce-wheels"
PYTHON_VERSION = "3.11"
# Bookworm's glibc is 2.36: every manylinux tag it accepts, newest first (pip takes only the
# tags it is given), and the legacy alias of 2_17.
PLATFORMS = ["manylinux_2_%d_aarch64" % n for n in range(36, 16, -1)] + ["manylinux2014_aarch64", "linux_aarch64"]
# The userland's own environment: nothing of this machine's pip configuration or paths.
CHROOT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
              "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
# Bump when the recipe of step 1 changes: the userland is then made again.
RECIPE = 1


class UserlandError(RuntimeError):
    """A step of making the userland failed."""


class EmulatorUnavailable(UserlandError):
    """qemu-aarch64-static is missing or cannot run the userland (tests skip)."""


def _say(message):
    print("arm64_userland: " + message, flush=True)


def _tail(text, lines=25):
    text = (text or "").strip().splitlines()
    return "\n".join(text[-lines:])


def _run(what, argv, log=None, **kw):
    """Run argv; a failure raises UserlandError naming the step, with the output's tail."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    except FileNotFoundError as e:
        raise UserlandError("%s: cannot start %s (%s)" % (what, argv[0], e)) from None
    if log:
        with open(log, "a") as f:
            f.write("$ %s\n%s\n" % (" ".join(argv), p.stdout))
    if p.returncode != 0:
        raise UserlandError("%s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(argv), _tail(p.stdout)))
    return p.stdout


@contextlib.contextmanager
def _locked(path):
    """One maker at a time (tests and a user may call this concurrently)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _wheel_digest(path):
    """A wheel's contents (names, sizes, CRCs), not its zip timestamps: a rebuilt but unchanged
    wheel is not installed again."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            return _digest(sorted((i.filename, i.file_size, i.CRC) for i in z.infolist()))
    except zipfile.BadZipFile:
        raise UserlandError("%s is not a wheel (not a zip file)" % path) from None


def requirements():
    """The runtime's dependencies, as pyproject.toml pins them."""
    import tomllib
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def _privilege_prefix():
    """[] as root; ["unshare", "-r"] for a user with unprivileged user namespaces; else
    EmulatorUnavailable (chroot needs one of them)."""
    if os.geteuid() == 0:
        return []
    if shutil.which("unshare"):
        p = subprocess.run(["unshare", "-r", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if p.returncode == 0:
            return ["unshare", "-r"]
    raise EmulatorUnavailable("running the arm64 userland needs chroot: run as root, or enable unprivileged user "
                              "namespaces (unshare -r)")


def chroot_argv(root, argv):
    """The command line that runs the arm64 program argv[0] (a path inside the userland)."""
    return _privilege_prefix() + [shutil.which("chroot") or "/usr/sbin/chroot", root, QEMU_IN_ROOT] + list(argv)


def python_argv(root=ROOT, venv=True):
    """The command line of the userland's arm64 Python (the venv's by default)."""
    return chroot_argv(root, [VENV + "/bin/python" if venv else "/usr/bin/python3.11"])


def run_python(args, root=ROOT, venv=True, timeout=None, check=True):
    """Run the arm64 Python with args; returns the CompletedProcess (text stdout/stderr)."""
    p = subprocess.run(python_argv(root, venv) + list(args), env=CHROOT_ENV, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise UserlandError("the arm64 python failed (exit %d): %s\n%s" % (p.returncode, " ".join(args),
                                                                          _tail(p.stderr + p.stdout)))
    return p


def _copy_qemu(root):
    """The emulator inside the userland (chroot hides the host's), refreshed when it changed."""
    host = shutil.which(QEMU)
    if host is None:
        raise EmulatorUnavailable("%s is not installed (Debian: apt-get install qemu-user-static)" % QEMU)
    dest = root + QEMU_IN_ROOT
    st = os.stat(host)
    if not os.path.exists(dest) or os.path.getsize(dest) != st.st_size or _file_digest(dest) != _file_digest(host):
        shutil.copy2(host, dest)


def check_emulator(root=ROOT):
    """Raise EmulatorUnavailable unless qemu runs the userland's Python as aarch64."""
    _copy_qemu(root)
    try:
        argv = chroot_argv(root, ["/usr/bin/python3.11", "-c", "import platform; print(platform.machine())"])
        p = subprocess.run(argv, env=CHROOT_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EmulatorUnavailable("%s cannot run the arm64 userland's python3.11: %s" % (QEMU, e)) from None
    if p.returncode != 0 or p.stdout.split()[-1:] != ["aarch64"]:
        raise EmulatorUnavailable("%s cannot run the arm64 userland's python3.11 (exit %d): %s"
                                  % (QEMU, p.returncode, _tail(p.stdout, 10)))


def _unpack_all(tmp, log):
    """Unpack every package debootstrap downloaded (its first stage unpacked only the required
    ones), keeping the merged-/usr symlinks (/lib -> usr/lib) that some packages' own /lib
    entries would otherwise replace with directories."""
    with open(os.path.join(tmp, "debootstrap", "debpaths")) as f:
        debs = [line.split()[1] for line in f if len(line.split()) == 2]
    for deb in debs:
        path = tmp + deb
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "--keep-directory-symlink", "-C", tmp], stdin=fsys.stdout,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        fsys.stdout.close()
        if fsys.wait() != 0 or tar.returncode != 0:
            raise UserlandError("unpacking %s failed: %s" % (os.path.basename(deb), _tail(tar.stdout)))
        os.unlink(path)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("sbin", "usr/sbin")):
        if os.readlink(os.path.join(tmp, link)) != target:
            raise UserlandError("the userland's /%s is no longer a symlink to %s" % (link, target))
    with open(log, "a") as f:
        f.write("unpacked %d packages\n" % len(debs))


def ensure_root(root=ROOT):
    """Step 1: the arm64 Debian userland with python3.11 (made once)."""
    stamp = os.path.join(root, ".lce-userland")
    want = {"suite": SUITE, "include": list(INCLUDE), "recipe": RECIPE}
    if os.path.exists(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                _copy_qemu(root)
                return False
    if shutil.which(QEMU) is None:
        raise EmulatorUnavailable("%s is not installed (Debian: apt-get install qemu-user-static)" % QEMU)
    debootstrap = shutil.which("debootstrap") or next(
        (path for path in ("/usr/sbin/debootstrap",) if os.path.exists(path)), None)  # not on a user's PATH
    if debootstrap is None:
        raise EmulatorUnavailable("debootstrap is not installed (Debian: apt-get install debootstrap); it makes the "
                                  "arm64 userland under %s" % root)
    if os.geteuid() != 0:
        raise EmulatorUnavailable("making the arm64 userland needs root (debootstrap creates device nodes and "
                                  "files owned by root); run tools/arm64_userland.py once as root")
    tmp = root + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    log = root + ".log"
    open(log, "w").close()
    argv = [debootstrap, "--foreign", "--arch=arm64", "--variant=minbase", "--include=" + ",".join(INCLUDE), SUITE, tmp]
    if os.environ.get("LCE_ARM64_MIRROR"):
        argv.append(os.environ["LCE_ARM64_MIRROR"])
    _say("debootstrap (first stage) of Debian %s arm64 with %s into %s (about 30 MB to download)"
         % (SUITE, ", ".join(INCLUDE), os.path.relpath(root, REPO)))
    t = time.time()
    try:
        _run("debootstrap (network: the Debian mirror must be reachable; log in %s)" % log, argv, log=log)
        _say("unpacking the packages")
        _unpack_all(tmp, log)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(os.path.join(tmp, "debootstrap"), ignore_errors=True)
    _copy_qemu(tmp)
    check_emulator(tmp)
    shutil.rmtree(root, ignore_errors=True)
    os.rename(tmp, root)
    with open(stamp, "w") as f:
        json.dump(want, f)
    _say("userland ready in %.0f s" % (time.time() - t))
    return True


def _host_pip():
    """This machine's pip: the running Python's, else the project's .venv."""
    for python in (sys.executable, os.path.join(REPO, ".venv", "bin", "python")):
        if not python or not os.path.exists(python):
            continue
        check = subprocess.run([python, "-m", "pip", "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if check.returncode == 0:
            return [python, "-m", "pip"]
    raise UserlandError("downloading the aarch64 wheels needs pip on this machine: run this script with the "
                        "project's .venv/bin/python (make setup makes it)")


def ensure_wheels(wheels=WHEELS):
    """Step 2: the aarch64 wheels of the runtime's dependencies (downloaded once)."""
    reqs = requirements()
    stamp = os.path.join(wheels, ".stamp-" + _digest(reqs, PLATFORMS, PYTHON_VERSION))
    if os.path.exists(stamp):
        return False
    os.makedirs(wheels, exist_ok=True)
    _say("downloading the cp311 aarch64 wheels of %s into %s" % (", ".join(reqs), os.path.relpath(wheels, REPO)))
    argv = _host_pip() + ["download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
                          "--python-version", PYTHON_VERSION, "--implementation", "cp", "--abi", "cp311",
                          "--abi", "abi3", "--abi", "none", "-d", wheels]
    for platform in PLATFORMS:
        argv += ["--platform", platform]
    _run("pip download of the aarch64 wheels (network: PyPI must be reachable)", argv + reqs)
    for old in glob.glob(os.path.join(wheels, ".stamp-*")):
        os.unlink(old)
    open(stamp, "w").close()
    _say("wheels: " + ", ".join(sorted(os.path.basename(w) for w in glob.glob(os.path.join(wheels, "*.whl")))))
    return True


def _stage_wheels(root, paths):
    """Hard links (or copies) of the wheels inside the userland, where its pip can read them."""
    dest = root + WHEELS_IN_ROOT
    os.makedirs(dest, exist_ok=True)
    for path in paths:
        target = os.path.join(dest, os.path.basename(path))
        if os.path.exists(target):
            os.unlink(target)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
    return dest


def _pip_install(root, args, what):
    p = subprocess.run(python_argv(root) + ["-m", "pip", "install", "--no-index", "--find-links", WHEELS_IN_ROOT]
                       + list(args), env=CHROOT_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise UserlandError("%s: the arm64 pip failed (exit %d):\n%s" % (what, p.returncode, _tail(p.stdout)))
    return p.stdout


def ensure_deps(root=ROOT, wheels=WHEELS):
    """Step 3: the venv /opt/lce in the userland, with the dependency wheels installed."""
    reqs = requirements()
    files = sorted(glob.glob(os.path.join(wheels, "*.whl")))
    stamp = os.path.join(root + VENV, ".stamp-deps-" + _digest(reqs, [os.path.basename(w) for w in files]))
    if os.path.exists(stamp):
        return False
    check_emulator(root)
    if not os.path.exists(root + VENV + "/pyvenv.cfg"):
        _say("making the venv %s in the userland (arm64 python3.11 under qemu)" % VENV)
        p = subprocess.run(chroot_argv(root, ["/usr/bin/python3.11", "-m", "venv", "--without-pip",
                                              "--system-site-packages", VENV]),
                           env=CHROOT_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            raise UserlandError("python3.11 -m venv %s in the userland failed:\n%s" % (VENV, _tail(p.stdout)))
    _stage_wheels(root, files)
    _say("installing %s into %s with the arm64 pip (offline)" % (", ".join(reqs), VENV))
    t = time.time()
    _pip_install(root, reqs, "installing the dependency wheels")
    for old in glob.glob(os.path.join(root + VENV, ".stamp-deps-*")):
        os.unlink(old)
    open(stamp, "w").close()
    _say("dependencies installed in %.0f s" % (time.time() - t))
    return True


def default_lce_wheel():
    """The newest cross-built runtime wheel in build/aarch64/dist/, or None."""
    found = glob.glob(os.path.join(LCE_DIST, "lce_convert-*-linux_aarch64.whl"))
    return max(found, key=os.path.getmtime) if found else None


_CHECK_REQUIRES = """
import importlib.metadata as md, sys
from pip._vendor.packaging.requirements import Requirement
missing = []
for text in md.requires("lce_convert") or ():
    r = Requirement(text)
    if r.marker is not None and not r.marker.evaluate({"extra": ""}):
        continue
    try:
        version = md.version(r.name)
    except md.PackageNotFoundError:
        version = None
    if version is None or not r.specifier.contains(version, prereleases=True):
        missing.append("%s (installed: %s)" % (text, version))
sys.exit("unmet: " + ", ".join(missing) if missing else 0)
"""


def ensure_lce(wheel, root=ROOT):
    """Step 4: our runtime-only wheel installed into the venv (again whenever it changed)."""
    if not os.path.exists(wheel):
        raise UserlandError("the lce_convert aarch64 wheel %s does not exist (tools/build_aarch64.sh makes it)" % wheel)
    stamp = os.path.join(root + VENV, ".stamp-lce-" + _wheel_digest(wheel))
    if os.path.exists(stamp):
        return False
    check_emulator(root)
    _stage_wheels(root, [wheel])
    _say("installing %s into %s with the arm64 pip (offline)" % (os.path.basename(wheel), VENV))
    _pip_install(root, ["--force-reinstall", "--no-deps", WHEELS_IN_ROOT + "/" + os.path.basename(wheel)],
                 "installing %s" % os.path.basename(wheel))
    # Its dependencies are step 3's (pyproject.toml's); checked here rather than by a second pip
    # run (pip takes ~15 s to start under qemu).
    p = run_python(["-c", _CHECK_REQUIRES], root=root, check=False)
    if p.returncode != 0:
        raise UserlandError("%s is installed, but its dependencies are not: %s" % (os.path.basename(wheel),
                                                                               _tail(p.stderr + p.stdout)))
    for old in glob.glob(os.path.join(root + VENV, ".stamp-lce-*")):
        os.unlink(old)
    open(stamp, "w").close()
    return True


def ensure(lce_wheel=None, root=ROOT, wheels=WHEELS):
    """Every step (each skipped when done). lce_wheel: a path, None for the default (if any),
    or False for none. Returns the installed lce_convert wheel's path, or None."""
    with _locked(root + ".lock"):
        made = ensure_root(root)
        if not made:
            check_emulator(root)
        ensure_wheels(wheels)
        ensure_deps(root, wheels)
        if lce_wheel is None:
            lce_wheel = default_lce_wheel()
        if lce_wheel:
            ensure_lce(lce_wheel, root)
        return lce_wheel or None


def _shown(path):
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO) if path.startswith(REPO + os.sep) else path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lce-wheel", help="our cross-built wheel to install (default: the newest in build/aarch64/dist/)")
    ap.add_argument("--no-lce", action="store_true", help="do not install lce_convert")
    ap.add_argument("--run", nargs=argparse.REMAINDER, metavar="ARGS",
                    help="then run the userland's arm64 python with ARGS (paths inside the userland)")
    args = ap.parse_args(argv)
    t = time.time()
    try:
        wheel = ensure(False if args.no_lce else args.lce_wheel)
    except UserlandError as e:
        print("arm64_userland: error: %s" % e, file=sys.stderr)
        return 2
    _say("ready in %.1f s: %s (python: %s)%s" % (time.time() - t, os.path.relpath(ROOT, REPO),
                                                 " ".join(python_argv()),
                                                 "; lce_convert from " + _shown(wheel) if wheel else
                                                 "; lce_convert: not installed by this call"))
    if args.run is not None:
        return subprocess.run(python_argv() + args.run, env=CHROOT_ENV).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
