"""setup.sh's decisions on faked machines: Raspberry Pi OS, Ubuntu on a Pi, 32-bit userlands, a PC.

The machine is faked from outside the script: SETUP_ROOT stands in for / (the device-tree model,
/etc/rpi-issue), and stand-ins for apt-get, apt-cache, dpkg-query, ldconfig, sudo and the Python
interpreter sit first on PATH and log what they are asked. A 32-bit interpreter cannot be run here, so
the fake one answers setup.sh's questions (version, pointer size, machine) as a real one would there.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

PI5_MODEL = "Raspberry Pi 5 Model B Rev 1.0"
RPI_ISSUE = ("Raspberry Pi reference 2024-11-19\n"
             "Generated using pi-gen, https://github.com/RPi-Distro/pi-gen, abc123, stage4\n")
OPENCV_LIBS = ("libGL.so.1", "libgthread-2.0.so.0", "libX11.so.6", "libxcb.so.1", "libXext.so.6", "libSM.so.6",
               "libICE.so.6")

FAKE_PYTHON = r"""#!/usr/bin/env bash
# A Python interpreter as setup.sh uses it, answering for the machine in FAKE_PYTHON_FACTS.
echo "python $*" >>"$FAKE_LOG"
case "$1" in
    -) cat >/dev/null; echo "$FAKE_PYTHON_FACTS" ;;  # the facts script (the import check just runs)
    -V) echo "Python ${FAKE_PYTHON_FACTS%% *}.2" ;;
    -c) case "$2" in
            *numpy.__version__*) echo "$FAKE_SYSTEM_NUMPY" ;;
            *version_info*print*) echo "${FAKE_PYTHON_FACTS%% *}" ;;
        esac ;;
    -m) if [[ $2 == venv ]]; then
            venv="${*: -1}"
            mkdir -p "$venv/bin"
            cp "$0" "$venv/bin/python"
            site=false
            [[ " $* " == *" --system-site-packages "* ]] && site=true
            echo "include-system-site-packages = $site" >"$venv/pyvenv.cfg"
        fi ;;
esac
exit 0
"""

FAKE_TOOLS = {
    # apt knows the packages in FAKE_APT; installing any other fails as apt does.
    "apt-cache": r"""
[[ $1 == policy ]] || exit 0
if [[ " $FAKE_APT " == *" $2 "* ]]; then echo "  Candidate: 1.0-1"; else echo "  Candidate: (none)"; fi
""",
    # FAKE_APT_UPDATE_FAILS="N:message" fails the first N updates with that message.
    "apt-get": r"""
echo "apt-get $*" >>"$FAKE_LOG"
if [[ $1 == update && -n ${FAKE_APT_UPDATE_FAILS:-} ]]; then
    (( $(grep -c '^apt-get update' "$FAKE_LOG") > ${FAKE_APT_UPDATE_FAILS%%:*} )) ||
        { echo "${FAKE_APT_UPDATE_FAILS#*:}" >&2; exit 100; }
fi
[[ $1 == install ]] || exit 0
option_value=0
for name in "$@"; do
    if [[ $option_value == 1 ]]; then option_value=0; continue; fi  # -o NAME=VALUE, as apt reads it
    [[ $name == -o ]] && { option_value=1; continue; }
    [[ $name == -* || $name == install ]] && continue
    [[ " $FAKE_APT " == *" $name "* ]] || { echo "E: Unable to locate package $name" >&2; exit 100; }
done
""",
    "dpkg-query": r"""
[[ " $FAKE_INSTALLED " == *" ${*: -1} "* ]] && echo "install ok installed"
""",
    "ldconfig": "".join(f'echo "\t{lib} (libc6) => /usr/lib/{lib}"\n' for lib in OPENCV_LIBS),
    "sudo": 'exec "$@"\n',
}

UBUNTU_APT = ("python3-venv python3-numpy python3-opencv python3-psutil "
              "libgl1 libglib2.0-0 libx11-6 libxcb1 libxext6 libsm6 libice6")
PI_OS_APT = UBUNTU_APT + " python3-picamera2 python3-kms++"


def fake_machine(tmp_path: Path, *, model: str | None = PI5_MODEL, rpi_issue: bool = True,
                 python: str = "3.11 64 aarch64 yes", apt: str = PI_OS_APT, installed: str = "",
                 system_numpy: str = "1.24.2") -> tuple[Path, dict[str, str]]:
    """A copy of the setup files, and the environment that makes setup.sh see the machine described."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    for path in [REPO / "setup.sh", *REPO.glob("requirements*.txt")]:
        shutil.copy(path, repo)
    shutil.copytree(REPO / "scripts", repo / "scripts")
    (repo / "download_models.sh").write_text("#!/usr/bin/env bash\necho models: \"$@\"\n")
    root = tmp_path / "root"
    if model:
        (root / "proc/device-tree").mkdir(parents=True)
        (root / "proc/device-tree/model").write_text(model + "\0")
    if rpi_issue:
        (root / "etc").mkdir(parents=True)
        (root / "etc/rpi-issue").write_text(RPI_ISSUE)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {name: "#!/usr/bin/env bash\n" + body for name, body in FAKE_TOOLS.items()}
    for name, text in {**tools, "python3": FAKE_PYTHON}.items():
        (bin_dir / name).write_text(text)
    for path in [*bin_dir.iterdir(), repo / "download_models.sh"]:
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "SETUP_ROOT": str(root),
           "PYTHON": str(bin_dir / "python3"), "FAKE_LOG": str(tmp_path / "log"), "FAKE_PYTHON_FACTS": python,
           "FAKE_APT": apt, "FAKE_INSTALLED": installed, "FAKE_SYSTEM_NUMPY": system_numpy}
    (tmp_path / "log").touch()
    return repo, env


def setup(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(repo / "setup.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def plan(tmp_path: Path, *args: str, **machine) -> dict[str, str]:
    repo, env = fake_machine(tmp_path, **machine)
    done = setup(repo, env, "--print-plan", *args)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "log").read_text().count("apt-get") == 0 and not (repo / ".venv").exists()
    lines = [line.split("=", 1) for line in done.stdout.splitlines() if not line.startswith("==>")]
    return {key: value for key, value in lines} | {"stderr": done.stderr}


def log(env: dict[str, str]) -> list[str]:
    return Path(env["FAKE_LOG"]).read_text().splitlines()


def test_raspberry_pi_os_64_bit(tmp_path):
    found = plan(tmp_path)
    assert (found["bits"], found["pi_hardware"], found["picamera2"]) == ("64", "yes", "yes")
    assert found["apt"].split() == ["python3-picamera2", "python3-venv"]
    assert found["system_site_packages"] == "true" and found["requirements"] == "requirements-dev.txt"


def test_an_os_with_the_pi_archive_but_no_rpi_issue_gets_picamera2(tmp_path):
    """DietPi on a Pi uses Raspberry Pi's apt archive but is not a pi-gen image."""
    assert plan(tmp_path, rpi_issue=False)["picamera2"] == "yes"


def test_ubuntu_on_a_pi_warns_and_sets_up_for_usb_cameras_and_files(tmp_path):
    """picamera2 issue #1337: Ubuntu's apt has no python3-picamera2, and asking for it ended the setup."""
    repo, env = fake_machine(tmp_path, rpi_issue=False, apt=UBUNTU_APT)
    done = setup(repo, env, "--no-dev")
    assert done.returncode == 0, done.stderr
    assert "python3-picamera2 is not in this OS's apt sources" in done.stderr and "USB cameras" in done.stderr
    assert not any("python3-picamera2" in line for line in log(env) if line.startswith("apt-get install"))
    assert (repo / ".venv/pyvenv.cfg").read_text().strip() == "include-system-site-packages = false"
    assert "Done." in done.stdout


@pytest.mark.parametrize("machine", ["aarch64", "armv7l"])  # a Pi 4/5's 64-bit kernel, a Pi 3's 32-bit one
def test_32_bit_pi_os_takes_numpy_opencv_and_psutil_from_apt(tmp_path, machine):
    found = plan(tmp_path, python=f"3.11 32 {machine} yes")
    assert found["bits"] == "32"
    assert found["apt"].split() == ["python3-numpy", "python3-opencv", "python3-picamera2", "python3-psutil",
                                    "python3-venv"]
    assert found["system_site_packages"] == "true"
    assert (found["requirements"], found["constraints"]) == ("requirements-arm32.txt", ""), "--no-dev by default"
    with_dev = plan(tmp_path / "dev", "--dev", python=f"3.11 32 {machine} yes")
    assert with_dev["requirements"] == "requirements-arm32.txt requirements-tools.txt"
    assert with_dev["constraints"] == "mypy<2"


def test_32_bit_setup_installs_from_apt_and_requirements_arm32(tmp_path):
    repo, env = fake_machine(tmp_path, python="3.11 32 aarch64 yes")
    done = setup(repo, env)
    assert done.returncode == 0, done.stderr
    installs = [line for line in log(env) if line.startswith("apt-get install")]
    assert len(installs) == 1 and all(name in installs[0].split() for name in (
        "python3-numpy", "python3-opencv", "python3-psutil", "python3-picamera2"))
    assert (repo / ".venv/pyvenv.cfg").read_text().strip() == "include-system-site-packages = true"
    pip = [line for line in log(env) if " pip install " in f" {line} " and "--upgrade" not in line]
    assert len(pip) == 1 and "--requirement=requirements-arm32.txt" in pip[0]
    assert "requirements.txt" not in pip[0] and "requirements-dev.txt" not in pip[0]
    assert (repo / ".venv/setup-constraints.txt").read_text().split() == ["numpy<2"]


@pytest.mark.parametrize("python, why", [
    ("3.13 32 aarch64 yes", "supported with Python 3.11 .* only; with Python 3.13 there is no TFLite runtime"),
    ("3.9 32 armv7l yes", "supported with Python 3.11 .* only; with Python 3.9"),
    ("3.11 32 armv6l yes", "no TFLite runtime has wheels for 32-bit armv6l"),
])
def test_32_bit_without_a_runtime_stops_before_installing_anything(tmp_path, python, why):
    repo, env = fake_machine(tmp_path, python=python)
    done = setup(repo, env)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert re.search(why, done.stderr), done.stderr
    assert not any(line.startswith("apt-get") for line in log(env)) and not (repo / ".venv").exists()


def test_a_pc_is_unchanged(tmp_path):
    found = plan(tmp_path, model=None, rpi_issue=False, python="3.11 64 x86_64 yes")
    assert (found["pi_hardware"], found["picamera2"], found["apt"]) == ("no", "no", "")
    assert found["system_site_packages"] == "false" and found["requirements"] == "requirements-dev.txt"
    assert plan(tmp_path / "b", "--no-dev", model=None, python="3.11 64 x86_64 yes")["requirements"] == (
        "requirements.txt")



@pytest.mark.parametrize("args, fetched", [((), "a0"), (("a2",), "a0 a2"), (("a1", "a0"), "a1 a0"), (("all",), "all")])
def test_named_models_come_beside_the_default_one(tmp_path, args, fetched):
    """classify.py's default model is A0, so `./setup.sh a2` must not leave it out."""
    repo, env = fake_machine(tmp_path, python="3.11 32 aarch64 yes")
    done = setup(repo, env, *args)
    assert done.returncode == 0, done.stderr
    assert f"models: {fetched}\n" in done.stdout


# apt's own message when another program holds a lock (apt-pkg/contrib/fileutl.cc, GetLock).
LISTS_LOCKED = "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 812 (apt-get)"


def test_apt_waits_for_a_lock_held_by_another_program(tmp_path):
    repo, env = fake_machine(tmp_path, python="3.11 32 aarch64 yes")
    env["FAKE_APT_UPDATE_FAILS"] = f"1:{LISTS_LOCKED}"
    done = setup(repo, env)
    assert done.returncode == 0, done.stderr
    assert "Waiting for another program to finish with apt" in done.stdout
    updates = [line for line in log(env) if line.startswith("apt-get update")]
    installs = [line for line in log(env) if line.startswith("apt-get install")]
    assert len(updates) == 2 and installs and "-o DPkg::Lock::Timeout=600" in installs[0]


def test_apt_update_failing_for_another_reason_stops_at_once(tmp_path):
    repo, env = fake_machine(tmp_path, python="3.11 32 aarch64 yes")
    env["FAKE_APT_UPDATE_FAILS"] = "9:E: The repository 'http://deb.example bookworm Release' has no Release file"
    done = setup(repo, env)
    assert done.returncode == 1
    assert "has no Release file" in done.stderr and "apt-get update failed" in done.stderr
    assert len([line for line in log(env) if line.startswith("apt-get update")]) == 1
    assert not any(line.startswith("apt-get install") for line in log(env))


@pytest.mark.parametrize("mirror", ["", "/media/usb/models"])
def test_a_failed_download_points_to_models_mirror_for_a_machine_without_a_network(tmp_path, mirror):
    repo, env = fake_machine(tmp_path, python="3.11 32 aarch64 yes")
    (repo / "download_models.sh").write_text(
        "#!/usr/bin/env bash\necho 'download_models.sh: error: could not get x: cannot reach y' >&2\nexit 1\n")
    if mirror:  # a mirror given already: nothing more to suggest
        env["MODELS_MIRROR"] = mirror
    done = setup(repo, env)
    assert done.returncode == 1
    last = done.stderr.splitlines()[-1]
    assert last.startswith("setup.sh: error: could not download the model files (see above)"), last
    assert ("without a network, MODELS_MIRROR=DIR ./setup.sh copies them from DIR, a folder holding the model files"
            in last) == (not mirror), last
