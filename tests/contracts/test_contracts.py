"""The contracts: committed stubs match the protos, buf lint is clean, every RPC has an
HTTP binding."""

from __future__ import annotations

import filecmp
import importlib
import subprocess
import sys
from pathlib import Path

from google.api import annotations_pb2

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "protos.py"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_committed_stubs_match_a_fresh_generation(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "generate", "--out", str(tmp_path)], check=True, capture_output=True)
    committed, fresh = ROOT / "genproto", tmp_path
    assert _files(committed) == _files(fresh), "run `make protos` and commit the result"
    different = [f for f in sorted(_files(fresh)) if not filecmp.cmp(committed / f, fresh / f, shallow=False)]
    assert different == [], f"stale generated files (run `make protos`): {different}"


def test_buf_lint_is_clean():
    result = subprocess.run([sys.executable, str(SCRIPT), "lint"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rpc_has_an_http_binding():
    services = []
    for path in (ROOT / "protos").rglob("*_service.proto"):
        module = ".".join(path.relative_to(ROOT / "protos").with_suffix("").parts) + "_pb2"
        services += importlib.import_module(module).DESCRIPTOR.services_by_name.values()
    assert services
    for service in services:
        for method in service.methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            assert rule.WhichOneof("pattern"), f"{method.full_name} has no google.api.http"
