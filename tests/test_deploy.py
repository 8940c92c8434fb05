"""deploy/ checked statically: it cannot run here (no Docker), so its wiring is checked against the code it drives.

The important check: every RAG_* variable the compose file sets is a real setting with a valid value, so renaming
a setting (or a value like RAG_INDEX=qdrant-cluster) breaks this test instead of a deployment.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml

from rag.config import OTHER_VARIABLES, Settings
from rag.errors import ConfigError
from rag.index.qdrant_engines import DENSE, INTEGER_FIELDS, KEYWORD_FIELDS, SPARSE

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
QDRANT_NODES = ("qdrant1", "qdrant2", "qdrant3")
REPLICAS = ("app1", "app2")
PLACEHOLDER = re.compile(r"\$\{[^}]*\}")  # ${VAR} or ${VAR:?message}: the operator's value, unknown here


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a dict (compose allows a mapping or a list of NAME=value)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def rag_variables(services: dict) -> dict[str, dict[str, str]]:
    """Service name -> its RAG_* variables, ${...} placeholders replaced by "x"."""
    return {
        name: {k: PLACEHOLDER.sub("x", v) for k, v in environment(service).items() if k.startswith("RAG_")}
        for name, service in services.items()
    }


def check_settings(variables: dict[str, str]) -> Settings:
    """Raise AssertionError for an unknown RAG_* name; ConfigError (from Settings) for a bad value."""
    known = {"RAG_" + f.name.upper() for f in dataclasses.fields(Settings)} | OTHER_VARIABLES
    assert not set(variables) - known, f"not settings: {sorted(set(variables) - known)}"
    return Settings.from_env(variables)


def test_every_rag_variable_is_a_real_setting_with_a_valid_value(services):
    for variables in rag_variables(services).values():
        check_settings(variables)
    app = check_settings(rag_variables(services)["app1"])
    assert (app.index, app.generator, str(app.data_dir)) == ("qdrant", "openai", "/data")
    assert app.qdrant_url == "http://qdrant1:6333" and app.openai_base_url == "http://llm:8080/v1"


def test_the_check_catches_a_renamed_setting_and_a_bad_value():
    with pytest.raises(AssertionError, match="RAG_QDRANT_ADDRESS"):
        check_settings({"RAG_QDRANT_ADDRESS": "http://qdrant1:6333"})
    with pytest.raises(ConfigError, match="RAG_INDEX='qdrant-cluster'"):
        check_settings({"RAG_INDEX": "qdrant-cluster"})


def flags(command: str | list) -> dict[str, str]:
    words = command.split() if isinstance(command, str) else command
    return {w: words[i + 1] for i, w in enumerate(words) if w.startswith("--") and i + 1 < len(words)}


def test_three_qdrant_nodes_in_cluster_mode_with_one_bootstrap_node(services):
    bootstrap = [n for n in QDRANT_NODES if "--bootstrap" not in flags(services[n]["command"])]
    assert bootstrap == ["qdrant1"]
    for node in QDRANT_NODES:
        service, given = services[node], flags(services[node]["command"])
        assert environment(service)["QDRANT__CLUSTER__ENABLED"] == "true"
        assert "QDRANT_API_KEY" in environment(service)["QDRANT__SERVICE__API_KEY"]
        assert given["--uri"] == f"http://{node}:6335"  # how the others reach it
        assert given.get("--bootstrap", "http://qdrant1:6335") == "http://qdrant1:6335"
        assert service["volumes"] == [f"{node}:/qdrant/storage"]  # its own named volume
        assert not any("6335" in str(port) for port in service.get("ports", []))  # peer port: no auth, never published
    assert set(QDRANT_NODES) <= set(yaml.safe_load((DEPLOY / "compose.yaml").read_text())["volumes"])


def test_init_creates_the_collection_the_app_expects(services):
    init = environment(services["qdrant-init"])
    config = json.loads(init["COLLECTION_CONFIG"])
    assert (config["shard_number"], config["replication_factor"]) == (6, 2)
    assert config["vectors"] == {DENSE: {"size": 384, "distance": "Cosine"}}  # all-MiniLM-L6-v2: 384 dims
    assert config["sparse_vectors"] == {SPARSE: {"modifier": "idf"}}
    assert tuple(init["KEYWORD_FIELDS"].split()) == KEYWORD_FIELDS
    assert tuple(init["INTEGER_FIELDS"].split()) == INTEGER_FIELDS
    assert init["COLLECTION"] == environment(services["app1"])["RAG_QDRANT_COLLECTION"]
    for replica in REPLICAS:  # else a replica could create the collection itself first, unsharded
        assert services[replica]["depends_on"]["qdrant-init"]["condition"] == "service_completed_successfully"


def test_two_replicas_share_one_data_volume_and_one_library(services):
    mounts = [{m for m in services[r]["volumes"] if m.split(":")[1] == "/data"} for r in REPLICAS]
    assert mounts[0] == mounts[1] and len(mounts[0]) == 1
    volume = next(iter(mounts[0])).split(":")[0]
    assert not volume.startswith((".", "/"))  # a named volume, not a folder of one host
    assert environment(services["app1"]) == environment(services["app2"])


def test_the_proxy_is_sticky_over_both_replicas_and_streams(services):
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", conf, re.S)
    assert upstream and "ip_hash;" in upstream.group(2)
    assert re.findall(r"server\s+(\S+);", upstream.group(2)) == [f"{r}:7860" for r in REPLICAS]
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    for directive in ("proxy_http_version 1.1;", "proxy_set_header Upgrade", "proxy_buffering off;"):
        assert directive in conf
    proxy = services["proxy"]
    assert proxy["ports"] == ["8000:80"] and "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in proxy["volumes"]
    published = {n for n, s in services.items() if s.get("ports")}
    assert published == {"proxy", "qdrant1"}


def test_the_image_installs_the_requirements_and_runs_the_app_with_real_flags(services):
    build = services["app1"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    dockerfile = (context / build["dockerfile"]).read_text()
    assert "pip install -r requirements.txt" in dockerfile
    for source in re.findall(r"^COPY\s+(\S+)\s", dockerfile, re.M):
        assert (context / source).exists(), source
    command = json.loads(re.search(r"^CMD\s+(\[.*\])", dockerfile, re.M).group(1))
    assert command[:2] == ["python", "app.py"]
    real_flags = set(re.findall(r'add_argument\(\s*"(--[a-z-]+)"', (ROOT / "app.py").read_text()))
    assert {w for w in command if w.startswith("--")} <= real_flags
    assert flags(command)["--host"] == "0.0.0.0"


def test_every_referenced_file_exists_or_is_documented_as_yours(services):
    readme = (DEPLOY / "README.md").read_text()
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists() or (source.startswith("./models") and "user-provided" in readme)
    model = next(w for w in services["llm"]["command"] if w.startswith("/models/"))
    assert f"deploy/models/{model.removeprefix('/models/')}" in readme
    assert "have not been run here" in readme and "tests/test_deploy.py" in readme


def test_debian_packages_are_installed_wherever_the_app_is():
    """packages.txt (read by Hugging Face Spaces) is also what scripts/run, scripts/test and the image install."""
    packages = (ROOT / "packages.txt").read_text().split()
    assert packages == ["tesseract-ocr"]  # one name per line, nothing else: Spaces hands each line to apt
    for installer in ("scripts/run", "scripts/test", "deploy/Dockerfile"):
        assert "xargs -a packages.txt" in (ROOT / installer).read_text(), installer
