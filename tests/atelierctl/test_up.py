"""`atelier up` end to end (slow), plus the CLI's small pure helpers (fast)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import psutil
import pytest

from atelierctl import registry, state
from atelierctl.children import MAX_QUICK_CRASHES, QUICK_CRASH_SECONDS, Backoff, terminal_form
from atelierctl.embedded import free_port, port_is_free
from atelierctl.token import (
    ROLES,
    TokenError,
    atelier_command,
    default_subject,
    mint_for_state,
    parse_duration,
    token_command,
)
from atelierctl.up import database_url_for
from tests.atelierctl.support import ATELIER, REPO, Up, clean_env, client, needs_mesh, path_without_venv

# ------------------------------------------------------------------- end to end


@pytest.mark.slow
@needs_mesh
def test_up_serves_healthz_mints_tokens_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    gateway_port = free_port()
    up = Up("--gateway-port", str(gateway_port), state_dir=state_dir).start()
    descendants: list[psutil.Process] = []
    try:
        url = up.wait_ready(timeout=180)
        assert url == f"http://127.0.0.1:{gateway_port}"
        response = httpx.get(f"{url}/healthz", timeout=5, trust_env=False)
        assert response.status_code == 200, response.text

        token = subprocess.run(
            [str(ATELIER), "token", "--role", "hq", "--state-dir", str(state_dir)],
            env=clean_env(), capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        secret = json.loads((state_dir / "secrets.json").read_text())["ATELIER_JWT_SECRET"]
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience="atelier", issuer="atelier-dev")
        assert claims["role"] == "hq"

        descendants = up.descendants()
        assert descendants, "up should have child processes"
    finally:
        code = up.stop(timeout=90)
    assert code == 0, up.tail()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in descendants):
        time.sleep(0.2)
    leftovers = [p for p in descendants if _alive(p)]
    leftovers += [p for p in psutil.process_iter() if _serves_from(p, state_dir)]
    assert not leftovers, f"processes left behind: {leftovers}"
    assert port_is_free(gateway_port)
    assert (state_dir / "postgres" / "PG_VERSION").exists()  # data stays for the next run


@pytest.mark.slow
@needs_mesh
def test_up_is_quiet_keeps_full_logs_per_process_and_prints_a_sign_in_command_that_works(tmp_path: Path) -> None:
    """Issue 8 items 33 and 34: the terminal shows progress, warnings and errors only (no
    INFO line per request), each process's whole log is in STATE/logs/<process>.log, and
    the sign-in command `atelier up` prints works verbatim in a shell where `atelier` is
    not on PATH."""
    state_dir = tmp_path / "state"
    with Up("--gateway-port", str(free_port()), state_dir=state_dir) as up:
        url = up.wait_ready()
        logs_line = up.wait_for(r"logs: (\S+)/<process>\.log", 5).group(1)
        assert Path(REPO, logs_line).resolve() == (state_dir / "logs").resolve()
        for expected in ("starting PostgreSQL", "starting NATS", "starting customer"):
            assert any(expected in line for line in up.lines), f"no progress line {expected!r}:\n{up.tail()}"

        sign_in = up.wait_for(r"sign in:\s+(TOKEN=\$\(.*\))$", 5).group(1)
        assert not sign_in.startswith("TOKEN=$(atelier "), "atelier is not on PATH here: print what works"
        shell = subprocess.run(
            ["bash", "-c", f'{sign_in} && printf %s "$TOKEN"'],
            cwd=REPO, env=clean_env(PATH=path_without_venv()), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert shell.returncode == 0, shell.stderr
        with client(url, shell.stdout) as api:
            for _ in range(20):
                assert api.get("/v1/stores").status_code == 200
            missing = api.get("/v1/customers/no-such-customer")
            assert missing.status_code in (403, 404)
        time.sleep(1.0)  # let the access log reach the files
        terminal = "\n".join(up.lines)

    logs = state_dir / "logs"
    for process in ("postgres", "nats", "customer", "associate", "gateway"):
        assert (logs / f"{process}.log").is_file(), f"no log for {process}"
    gateway_log = (logs / "gateway.log").read_text()
    assert gateway_log.count("GET /v1/stores") >= 20, "the gateway's full log goes to its file"
    assert '"INFO"' in (logs / "customer.log").read_text()
    assert "GET /v1/stores" not in terminal, "request lines belong in the log files, not the terminal"
    assert '"level"' not in terminal and " INFO " not in terminal
    assert len(up.lines) < 40, f"too chatty for a quiet start:\n{terminal}"


def _serves_from(proc: psutil.Process, directory: Path) -> bool:
    try:
        if any(str(directory) in part for part in proc.cmdline()):
            return True
        return Path(proc.cwd()).is_relative_to(directory)  # postgres as root: -D /proc/self/cwd
    except (psutil.Error, OSError):
        return False


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# ---------------------------------------------------------------- fast helpers


def test_registry_names_each_service_once_with_its_own_database() -> None:
    names = [spec.name for spec in registry.SERVICES]
    assert names[0] == "customer"
    assert len(set(names)) == len(names)
    assert len({spec.database for spec in registry.SERVICES}) == len(names)
    assert registry.SERVICES[0].address_env == "ATELIER_CUSTOMER_ADDRESS"


def test_registry_skips_modules_that_cannot_run() -> None:
    assert not registry.module_runnable("atelier_no_such_module")
    assert not registry.module_runnable("servicekit")  # a package without __main__.py
    assert registry.module_runnable("atelierctl")  # a package with one
    assert registry.module_runnable("atelierctl.main")


def test_database_url_for_replaces_only_the_database() -> None:
    assert (
        database_url_for("postgresql://u:p%40ss@db.example:6432/postgres?sslmode=require", "atelier_customer")
        == "postgresql://u:p%40ss@db.example:6432/atelier_customer?sslmode=require"
    )
    assert database_url_for("postgresql://postgres@127.0.0.1:5433", "x") == "postgresql://postgres@127.0.0.1:5433/x"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("30m", 1800), ("8h", 28800), ("1h30m", 5400), ("7d", 604800)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "8x", "h", "0", "1h 30m"])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(TokenError):
        parse_duration(text)


def test_secrets_are_generated_once_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in state.SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)
    first = state.ensure_secrets(tmp_path)
    assert set(first) == set(state.SECRET_NAMES) and all(first.values())
    assert state.ensure_secrets(tmp_path) == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("ATELIER_JWT_SECRET", "from-env")
    assert state.load_secrets(tmp_path)["ATELIER_JWT_SECRET"] == "from-env"


def test_fresh_refuses_to_wipe_a_directory_that_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(state.StateError, match="refusing"):
        state.wipe_state_dir(tmp_path)
    assert (tmp_path / "thesis.tex").exists()


def test_fresh_wipes_our_state_but_keeps_the_lock(tmp_path: Path) -> None:
    lock = state.lock_state_dir(tmp_path)
    try:
        (tmp_path / "postgres").mkdir()
        (tmp_path / "postgres" / "PG_VERSION").write_text("18")
        (tmp_path / "secrets.json").write_text("{}")
        state.start_logs(tmp_path)
        (tmp_path / "logs" / "customer.log").write_text("a line\n")
        state.record_demo(tmp_path, "3 stores")
        state.wipe_state_dir(tmp_path)
        assert sorted(p.name for p in tmp_path.iterdir()) == [state.LOCK_FILE]
    finally:
        lock.close()


def test_each_run_starts_its_logs_afresh(tmp_path: Path) -> None:
    logs = state.start_logs(tmp_path)
    (logs / "gateway.log").write_text("yesterday\n")
    assert state.start_logs(tmp_path) == logs
    assert list(logs.iterdir()) == []


def test_one_up_per_state_dir(tmp_path: Path) -> None:
    lock = state.lock_state_dir(tmp_path)
    try:
        with pytest.raises(state.StateError, match="already running"):
            state.lock_state_dir(tmp_path)
    finally:
        lock.close()
    state.lock_state_dir(tmp_path).close()  # free again once released


def test_token_without_secrets_explains_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ATELIER), "token", "--role", "hq", "--state-dir", str(tmp_path)],
        env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "atelier up" in result.stderr


def test_user_tokens_carry_staff_roles_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATELIER_JWT_SECRET", "s" * 40)
    assert "service" not in ROLES  # the internal identity never comes from a user token
    with pytest.raises(TokenError):
        mint_for_state(tmp_path, role="service")
    with pytest.raises(TokenError, match="store"):
        mint_for_state(tmp_path, role="associate", associate_id="paris-camille")
    claims = jwt.decode(
        mint_for_state(tmp_path, role="associate", store="stores/paris", associate_id="paris-camille"),
        "s" * 40, algorithms=["HS256"], audience="atelier", issuer="atelier-dev",
    )  # fmt: skip
    assert claims["sub"] == "associates/paris-camille" == f"associates/{claims['associate_id']}"
    assert default_subject("hq", "") == "dev-hq"


# -------------------------------------------------- what `atelier up` prints (item 33)


def test_atelier_command_is_the_venv_script_relative_to_where_you_stand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Path(sys.executable).absolute().parent / "atelier"
    monkeypatch.setenv("PATH", path_without_venv())
    venv_root = script.parent.parent
    assert atelier_command(venv_root.parent) == f"{venv_root.name}/bin/atelier"
    assert atelier_command(tmp_path) == shlex.quote(str(script))  # elsewhere: the absolute path
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{path_without_venv()}")
    assert atelier_command(tmp_path) == "atelier"  # on PATH (an activated venv): the bare name


def test_token_command_names_role_store_associate_and_state_dir() -> None:
    assert token_command(".venv/bin/atelier", "", role="hq") == "TOKEN=$(.venv/bin/atelier token --role hq)"
    assert (
        token_command("atelier", " --state-dir /tmp/s", role="associate", store="stores/paris", associate_id="a-1")
        == "TOKEN=$(atelier token --role associate --store stores/paris --associate-id a-1 --state-dir /tmp/s)"
    )


# ------------------------------------------------- the terminal and restarts (items 25, 34)


def test_terminal_shows_warnings_and_errors_and_keeps_info_for_the_log_file() -> None:
    def line(level: str, **extra: str) -> str:
        return json.dumps({"time": "t", "level": level, "logger": "x", "message": "hello", **extra})

    assert terminal_form(line("INFO")) is None
    assert terminal_form(line("DEBUG")) is None
    assert terminal_form(line("WARNING")) == "WARNING hello"
    shown = terminal_form(line("ERROR", exception="Traceback (most recent call last):\n  ...\nKeyError: 'x'"))
    assert shown == "ERROR hello (KeyError: 'x')"
    # Anything that is not a structured log line (a traceback as a process dies) is shown.
    assert terminal_form("Traceback (most recent call last):") == "Traceback (most recent call last):"
    assert terminal_form("{not json") == "{not json"
    assert terminal_form("   ") is None


def test_backoff_doubles_gives_up_on_a_crash_loop_and_forgives_a_long_run() -> None:
    backoff = Backoff()
    now = 1000.0
    delays = []
    for _ in range(MAX_QUICK_CRASHES - 1):
        backoff.started(now)
        now += 1
        delays.append(backoff.crashed(now))
    assert delays == [1.0, 2.0, 4.0, 8.0]
    backoff.started(now)
    assert backoff.crashed(now + 1) is None  # broken, not unlucky: give up
    assert backoff.crashed(now + 1, may_give_up=False) is not None  # e.g. while NATS itself restarts
    backoff.started(now)
    assert backoff.crashed(now + QUICK_CRASH_SECONDS + 1) == 1.0  # it ran fine a while: count afresh
    assert backoff.restart_at is not None and not backoff.due(now) and backoff.due(backoff.restart_at)


# ------------------------------------------------------ a newcomer's machine (item 30)


def test_makefile_python_probe_is_silent_and_make_up_says_what_it_does(tmp_path: Path) -> None:
    """A pyenv shim for a Python that is not installed answers `command -v` and then prints
    "command not found"; the Makefile's probe must keep that off the terminal."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("python3.13", "python3.12"):
        shim = fake_bin / name
        shim.write_text(f"#!/bin/sh\necho 'pyenv: {name}: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
    (fake_bin / "python3").symlink_to(sys.executable)
    project = tmp_path / "project"
    project.mkdir()
    (project / "Makefile").write_text((REPO / "Makefile").read_text())
    (project / "pyproject.toml").write_text("")
    result = subprocess.run(
        ["make", "-n", "up"],
        cwd=project, env=dict(os.environ, PATH=f"{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "command not found" not in result.stdout
    # The probe skipped the broken shims and found a working Python 3.11+.
    assert re.search(r"python3(\.1[1-9])? -m venv \.venv", result.stdout), result.stdout
    assert "python3.13 -m venv" not in result.stdout and "python3.12 -m venv" not in result.stdout
    assert "installing dependencies" in result.stdout
    assert "pip install -q" in result.stdout and "ignore:Editable installation" in result.stdout
    assert "starting Atelier" in result.stdout


def test_packaging_metadata_raises_no_deprecation_warnings() -> None:
    """setuptools>=77 warns (at length, several times per install) about a licence given
    as a TOML table; the SPDX string is the supported form."""
    script = (
        "import warnings\n"
        "from setuptools.dist import Distribution\n"
        "from setuptools.config.pyprojecttoml import apply_configuration\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    dist = apply_configuration(Distribution(), 'pyproject.toml')\n"
        "print(dist.metadata.license_expression)\n"
        "for w in caught: print('WARNING', w.category.__name__, str(w.message).splitlines()[0])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Apache-2.0"
    assert "WARNING" not in result.stdout, result.stdout


# ------------------------------------------------------------------------ CI (item 35)


def _fake_ci_bin(tmp_path: Path, *, chromium: bool) -> tuple[Path, Path]:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "apt-get.calls"
    # apt-get records its arguments and "installs" chromium into the fake PATH.
    (fake_bin / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n'
        f'case "$*" in *install*chromium*) printf "#!/bin/sh\\n" > {fake_bin}/chromium; chmod +x {fake_bin}/chromium;; esac\n'
    )
    (fake_bin / "id").write_text("#!/bin/sh\necho 0\n")  # CI runs as root
    if chromium:
        (fake_bin / "chromium").write_text("#!/bin/sh\n")
    for tool in fake_bin.iterdir():
        tool.chmod(0o755)
    return fake_bin, calls


@pytest.mark.parametrize("present", [False, True])
def test_ci_installs_chromium_when_missing_and_tolerates_it_present(tmp_path: Path, present: bool) -> None:
    fake_bin, calls = _fake_ci_bin(tmp_path, chromium=present)
    # Only the fake tools and the shell's basics: no system chromium may leak in.
    basics = tmp_path / "basics"
    basics.mkdir()
    for tool in ("bash", "dirname", "cat", "chmod", "printf"):
        found = next(Path(d, tool) for d in ("/usr/bin", "/bin") if Path(d, tool).exists())
        (basics / tool).symlink_to(found)
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "run"), "prepare"],
        env={"PATH": f"{fake_bin}{os.pathsep}{basics}", "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if present:
        assert not calls.exists(), "chromium was there: nothing to install"
    else:
        recorded = calls.read_text().splitlines()
        assert recorded[0].startswith("update")
        assert re.fullmatch(r"install -y .*chromium", recorded[1]), recorded
        assert (fake_bin / "chromium").exists()


@pytest.mark.parametrize(("ci", "skipped"), [("true", False), ("", True)])
def test_browser_tests_fail_rather_than_skip_under_ci(tmp_path: Path, ci: str, skipped: bool) -> None:
    """Without Chromium on PATH, the browser test module skips on a laptop but not in CI."""
    script = "import tests.gateway.e2e.test_docs_browser as t; print(bool(t.pytestmark.args[0]))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO, env=dict(os.environ, PATH=str(tmp_path), CI=ci), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(skipped)


def test_ci_stays_well_under_45_minutes() -> None:
    text = (REPO / ".ci" / "run").read_text()
    limits = [int(m) for m in re.findall(r"_MINUTES:-(\d+)\}", text)]
    assert limits and sum(limits) <= 40, limits
    assert text.count("timeout ") >= 2  # every pass is bounded
    assert '-m "integration and not slow"' in text  # the second pass: integration tests only
