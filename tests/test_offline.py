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
from pathlib import Path

import pytest

from rag.config import Settings
from rag.library import Library
from tests.browser import FakeGenerator, make_engine, serve
from tests.fakes import FakeEmbedder

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
def no_network(monkeypatch) -> list[str]:
    """Refuse and record every connection or name lookup that could leave the machine."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(address: object) -> None:
        if not is_loopback(address):
            attempts.append(f"connect {address!r}")
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
            raise socket.gaierror(socket.EAI_NONAME, f"network is off in this test (tried to resolve {name!r})")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    return attempts


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


def test_the_app_starts_serves_and_answers_offline(no_network, tmp_path):
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


@pytest.mark.slow
def test_the_real_embedder_loads_without_the_offline_variables(no_network, monkeypatch):
    """Even with HF_HUB_OFFLINE unset the embedder comes from its registry package, never from the hub."""
    from rag.embedding import load_embedder

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    embedder = load_embedder(Settings(threads=1))
    assert embedder.encode(["offline"]).shape == (1, embedder.dim)
    assert no_network == [], no_network


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
