"""Footnote never calls out: the key paths run with every non-loopback connection refused and recorded.

Two layers. In-process, `no_network` replaces `socket.socket.connect`/`connect_ex` and `socket.getaddrinfo`
so any attempt to reach a non-loopback address (or to resolve a non-local host name) raises and is recorded;
a test fails on any recorded attempt, even one the code caught and ignored (telemetry threads do that).
Out of process, `in_netns` runs a snippet in a fresh network namespace holding only a loopback interface
(`unshare -n`), which also covers child processes and C libraries. scripts/test can run the whole suite so.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.config import Settings
from rag.library import Library
from tests.browser import make_engine, serve
from tests.fakes import FakeEmbedder, FakeGenerator

ROOT = Path(__file__).resolve().parent.parent
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def is_loopback(address: object) -> bool:
    """True for 127.0.0.0/8, ::1, localhost and Unix sockets (str/bytes paths)."""
    if not isinstance(address, tuple):
        return True  # AF_UNIX path or abstract name: never leaves the machine
    host = str(address[0])
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name we were about to connect to without resolving it here


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return True


@pytest.fixture
def no_network(monkeypatch) -> Iterator[list[str]]:
    """Refuse and record every connection or name lookup that could leave the machine."""
    attempts: list[str] = []
    stacks: list[str] = []  # where each attempt came from, printed when a test fails
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(address: object) -> None:
        if not is_loopback(address):
            attempts.append(f"connect {address!r}")
            stacks.append("".join(traceback.format_stack(limit=25)))
            raise OSError(101, f"network is off in this test (tried {address!r})")

    def guarded_connect(self: socket.socket, address: object) -> None:
        guard(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name not in LOCAL_NAMES and not _is_ip(name):  # an IP literal needs no lookup; connect guards it
            attempts.append(f"resolve {name!r}")
            stacks.append("".join(traceback.format_stack(limit=25)))
            raise socket.gaierror(socket.EAI_NONAME, f"network is off in this test (tried to resolve {name!r})")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
    for stack in stacks:
        print(f"\nnetwork attempt from:\n{stack}")


def test_the_guard_really_blocks_and_records(no_network):
    with pytest.raises(OSError, match="network is off"), socket.create_connection(("192.0.2.1", 80), timeout=1):
        pass
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("huggingface.co", 443)
    assert no_network == ["connect ('192.0.2.1', 80)", "resolve 'huggingface.co'"]
    with socket.socket() as server:  # loopback still works
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass


def test_ingest_search_and_delete_stay_offline(no_network, tmp_path):
    note = tmp_path / "note.md"
    note.write_text("# Tides\n\nSpring tides happen at new and full moon.")
    with Library.open(Settings(data_dir=tmp_path / "data", threads=1), FakeEmbedder()) as library:
        assert library.ingest([note])[0].status == "indexed"
        assert library.search("spring tides moon", 1)[0].document == "note.md"
        library.delete("note.md")
    assert no_network == []


@pytest.fixture
def quiet_client(monkeypatch) -> None:
    """gradio_client (the *test's* client, not the app) sends telemetry and fetches an agent registry from the
    hub unless huggingface_hub was imported with HF_HUB_OFFLINE set; pytest may import it before conftest sets
    the variable, so set the frozen constants here. The app process is tested with a clean environment below."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)


def test_the_app_starts_serves_and_answers_offline(quiet_client, no_network, tmp_path):
    """Build and launch the Gradio app (public mode, sample library), then use every endpoint over loopback."""
    from gradio_client import Client, handle_file

    note = tmp_path / "ferns.txt"
    note.write_text("Ferns reproduce with spores, not seeds.")
    engine = make_engine(tmp_path, public=True, generator=FakeGenerator())
    with serve(engine) as url:
        assert url.startswith("http://127.0.0.1:")
        client = Client(url, verbose=False)
        assert client.predict([handle_file(str(note))], api_name="/upload")[0]["status"] == "indexed"
        final = client.submit("How do ferns reproduce?", api_name="/ask").result()
        assert "spores" in final["answer"]
        assert client.predict("ferns spores", 1, api_name="/search")[0]["document"] == "ferns.txt"
        import urllib.request

        with urllib.request.urlopen(url, timeout=30) as page:  # the page itself and its assets are local
            html = page.read().decode()
        assert "Footnote" in html
    assert no_network == [], no_network


def test_share_links_are_not_attempted_offline_by_default():
    """`--share` is the only feature that needs the internet, and it is off unless asked for."""
    import app

    settings, app_settings = app.configure(app.parse_args([]))
    assert app_settings.share is False and app_settings.host == "127.0.0.1"


# ---- in a network namespace with only loopback --------------------------------------------------------------
def in_netns(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run Python `code` in a new network namespace with loopback up; skip if namespaces are not permitted."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    prefix = ["unshare", "-n"] if probe.returncode == 0 else ["unshare", "-rn"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("creating a network namespace is not permitted here (needs root or user namespaces)")
    script = "import socket, fcntl, struct\n" + _LOOPBACK_UP + textwrap.dedent(code)
    return subprocess.run(
        [*prefix, sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


# Bring `lo` up without the `ip` tool: SIOCGIFFLAGS / SIOCSIFFLAGS on a datagram socket.
_LOOPBACK_UP = """
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    req = struct.pack("16sH14x", b"lo", 0)
    flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, req))[1]
    fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))
"""


def test_in_a_namespace_without_network_the_app_starts_and_answers(tmp_path):
    result = in_netns(
        f"""
        import sys, socket
        sys.path.insert(0, {str(ROOT)!r})
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=3)
            print("NETWORK-REACHABLE")
        except OSError as exc:
            print("no route out:", exc)
        from pathlib import Path
        from gradio_client import Client
        from tests.browser import make_engine, serve
        engine = make_engine(Path({str(tmp_path)!r}), public=True)
        with serve(engine) as url:
            final = Client(url, verbose=False).submit("How does multi-head attention work?", api_name="/ask").result()
            print("ANSWER", final["answer"][:80], final["citations"][0]["document"])
        """
    )
    print(result.stdout[-2000:], result.stderr[-2000:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NETWORK-REACHABLE" not in result.stdout and "no route out" in result.stdout
    assert "ANSWER" in result.stdout and "01-transformers.md" in result.stdout


# ---- the real entry point, in a fresh process with none of the offline variables set ----------------------------
_GUARD = """
import os, socket, ipaddress
_log = os.environ["FOOTNOTE_GUARD_LOG"]
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo
def _local(host):
    host = str(host or "")
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
def _record(what):
    with open(_log, "a") as f:
        f.write(what + "\\n")
def connect(self, address):
    if isinstance(address, tuple) and not _local(address[0]):
        _record(f"connect {address!r}")
        raise OSError(101, "network is off")
    return _connect(self, address)
def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if not _local(name):
        try:
            ipaddress.ip_address(name)
        except ValueError:
            _record(f"resolve {name!r}")
            raise socket.gaierror(socket.EAI_NONAME, "network is off")
    return _getaddrinfo(host, *args, **kwargs)
socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
"""

_SERVE = """
import sys, time
sys.path.insert(0, {root!r})
import app  # first, as `python app.py` does: it sets the offline variables before gradio is imported
from pathlib import Path
from tests.browser import make_engine
engine = make_engine(Path({work!r}), public=True)
url = app.launch(app.build_demo(engine), engine.app.replace(port={port}), block=False)
print("URL", url, flush=True)
time.sleep(600)
"""


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment without HF_*/TRANSFORMERS_*/GRADIO_* variables whose Python records network attempts
    to the returned log (via sitecustomize). Checks first that the guard really records and refuses."""
    import os

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(_GUARD)
    log = tmp_path / "attempts.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "GRADIO_"))}
    env.update(PYTHONPATH=f"{guard}{os.pathsep}{ROOT}", FOOTNOTE_GUARD_LOG=str(log))
    probe = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)"
    assert subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True).returncode != 0
    assert log.read_text() == "connect ('192.0.2.1', 80)\n"
    log.write_text("")
    return env, log


@pytest.mark.slow
def test_the_real_embedder_loads_in_a_fresh_process_without_offline_variables(tmp_path):
    """The embedder comes from its registry package, never from the hub, even with HF_HUB_OFFLINE unset."""
    env, log = guarded_env(tmp_path)
    code = "from rag.config import Settings; from rag.embedding import load_embedder; "
    code += "e = load_embedder(Settings(threads=1)); print('SHAPE', e.encode(['offline']).shape)"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "SHAPE (1, 384)" in result.stdout, result.stderr[-3000:]
    assert log.read_text().splitlines() == []


def test_the_app_process_never_calls_out_even_without_offline_variables(quiet_client, tmp_path):
    """`import app` in a fresh process whose environment has no HF_*/GRADIO_* variables: a sitecustomize guard
    records any non-loopback connection or lookup while it starts, serves the page, uploads and answers."""
    import signal
    import time
    import urllib.request

    from gradio_client import Client, handle_file

    from tests.browser import free_port

    env, log = guarded_env(tmp_path)
    port = free_port()
    code = _SERVE.format(root=str(ROOT), work=str(tmp_path / "work"), port=port)
    out = tmp_path / "server.log"
    with open(out, "w") as sink:
        server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while "URL " not in out.read_text() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "URL " in out.read_text(), out.read_text()[-3000:]
        url = f"http://127.0.0.1:{port}/"
        note = tmp_path / "moss.txt"
        note.write_text("Moss grows on the north side of trees in damp forests.")
        client = Client(url, verbose=False)
        assert client.predict([handle_file(str(note))], api_name="/upload")[0]["status"] == "indexed"
        final = client.submit("Where does moss grow?", ["moss.txt"], api_name="/ask").result()
        assert "north side" in final["answer"], final
        with urllib.request.urlopen(url, timeout=30) as page:
            assert "Footnote" in page.read().decode()
    finally:
        server.send_signal(signal.SIGTERM)  # the process we started, by its id
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    attempts = log.read_text().splitlines()
    print(f"\nnetwork attempts by the app process: {attempts}")
    assert attempts == []
