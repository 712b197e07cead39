"""The hub download path, end to end through huggingface_hub, against a local imitation of the hub.

What is substituted: only the transport. A `http.server` on 127.0.0.1 (random port) answers the
three kinds of request `huggingface_hub.snapshot_download` (2.4) makes for a plain-HTTP (non-Xet)
repository, with the headers it checks:

- `GET /api/models/<repo>/revision/<rev>`: model info, `sha` (the commit) and `siblings`;
- `GET /api/models/<repo>/tree/<commit>?recursive=...`: the file listing (`oid`, `size`, `lfs`);
- `HEAD`/`GET /<repo>/resolve/<commit>/<file>`: `X-Repo-Commit`, `ETag` (git blob sha1), and for
  LFS files (`*.safetensors`) `X-Linked-Etag` (sha256) and `X-Linked-Size`, plus `Content-Length`.

Differences from the real hub, chosen to keep the test small: LFS files are served directly rather
than by a 302 redirect to a CDN host, and no file carries Xet metadata (no `xetHash` in the tree, no
`X-Xet-*` headers), so huggingface_hub takes its plain HTTP download path, as for any repo that is
not on Xet storage. Unknown repos get the hub's `404` + `X-Error-Code: RepoNotFound`.

huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE once at import, so the test points the
module constants (`ENDPOINT`, `HUGGINGFACE_CO_URL_TEMPLATE`, `HF_HUB_OFFLINE`) at the server; our
own code (`seal_engine.model_source.resolve`, `load_pipeline`) runs unchanged.
"""

from __future__ import annotations

from typing import Any

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

from seal_engine.errors import ModelError, OfflineError
from seal_engine.model_source import HUB_ALLOW_PATTERNS, SourceKind, is_cached, resolve

REPO = "org/tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# Files a real SD repo has that our allow patterns must skip (fp16 variants, safety checker, the
# original checkpoint, docs): served by the fake hub, never requested.
UNWANTED = {
    "README.md": b"# tiny\n",
    "v1-5-pruned-emaonly.ckpt": b"\x80\x04pickle" * 64,
    "unet/diffusion_pytorch_model.fp16.safetensors": b"\x00" * 512,
    "safety_checker/model.safetensors": b"\x00" * 512,
    "safety_checker/config.json": b"{}",
    "feature_extractor/preprocessor_config.json": b"{}",
}


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeHub:
    """The served repos (path -> bytes) and a log of (method, path) for every request."""

    repos: dict[str, dict[str, bytes]]
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fetched_files(self, repo: str = REPO) -> set[str]:
        prefix = f"/{repo}/resolve/{COMMIT}/"
        return {unquote(p[len(prefix):]) for m, p in self.requests if m == "GET" and p.startswith(prefix)}


def _is_lfs(path: str) -> bool:
    return path.endswith((".safetensors", ".ckpt", ".bin"))


def _make_handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, payload) -> None:
            self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})

        def _repo_not_found(self) -> None:
            self._send(404, b'{"error":"Repository not found"}',
                       {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})

        def _route(self) -> None:
            path = urlsplit(self.path).path
            hub.requests.append((self.command, path))
            parts = [unquote(p) for p in path.strip("/").split("/")]
            if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
                repo, kind = f"{parts[2]}/{parts[3]}", parts[4]
                files = hub.repos.get(repo)
                if files is None:
                    return self._repo_not_found()
                if kind == "revision":
                    return self._json({"id": repo, "sha": COMMIT, "private": False,
                                       "siblings": [{"rfilename": name} for name in sorted(files)]})
                return self._json(self._tree(files))
            if len(parts) >= 5 and parts[2] == "resolve":
                repo, filename = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
                files = hub.repos.get(repo)
                if files is None:
                    return self._repo_not_found()
                if filename not in files:
                    return self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
                data = files[filename]
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{_git_blob_sha1(data)}"',
                           "Content-Type": "application/octet-stream"}
                if _is_lfs(filename):
                    digest = hashlib.sha256(data).hexdigest()
                    headers.update({"ETag": f'"{digest}"', "X-Linked-Etag": f'"{digest}"',
                                    "X-Linked-Size": str(len(data))})
                return self._send(200, data, headers)
            return self._send(404)  # e.g. /api/agent-harnesses: the client copes with a 404

        @staticmethod
        def _tree(files: dict[str, bytes]) -> list[dict]:
            entries, folders = [], set()
            for name, data in sorted(files.items()):
                parents = name.split("/")[:-1]
                folders.update("/".join(parents[: i + 1]) for i in range(len(parents)))
                entry = {"type": "file", "path": name, "size": len(data), "oid": _git_blob_sha1(data)}
                if _is_lfs(name):
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entries.append(entry)
            return [{"type": "directory", "path": f, "size": 0, "oid": "0" * 40} for f in sorted(folders)] + entries

        do_GET = do_HEAD = _route

    return Handler


@pytest.fixture
def fake_hub(tiny_sd15_dir, monkeypatch):
    """Serve the tiny model as `org/tiny` and point huggingface_hub (online) at the server."""
    files = {p.relative_to(tiny_sd15_dir).as_posix(): p.read_bytes()
             for p in sorted(tiny_sd15_dir.rglob("*")) if p.is_file()}
    hub = FakeHub(repos={REPO: {**files, **UNWANTED}})
    hub.model_files = files  # type: ignore[attr-defined]
    yield from _serve(hub, monkeypatch)


def _serve(hub: "FakeHub", monkeypatch: Any) -> Any:
    """Serve `hub` on loopback and point huggingface_hub (online) at it until the test ends."""
    import huggingface_hub.constants as hf_constants

    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(hub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(hf_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # tests/conftest.py sets it for the whole suite
    hub.stop = lambda: (server.shutdown(), server.server_close())  # type: ignore[attr-defined]
    try:
        yield hub
    finally:
        hub.stop()
        thread.join(timeout=5)


def test_hub_model_downloads_once_with_progress_then_loads_offline(fake_hub, monkeypatch, capfd):
    import huggingface_hub.constants as hf_constants
    from huggingface_hub.utils import filter_repo_objects

    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.paths import models_cache_dir

    cache = models_cache_dir()  # our cache (under the test's own SEAL_HOME), where load_pipeline looks
    events = []
    resolved = resolve(REPO, cache_dir=cache, progress=events.append)

    assert resolved.kind is SourceKind.HUB and resolved.repo_id == REPO
    assert resolved.path == cache / "models--org--tiny" / "snapshots" / COMMIT
    wanted = set(filter_repo_objects(fake_hub.model_files, allow_patterns=HUB_ALLOW_PATTERNS))
    assert "unet/diffusion_pytorch_model.safetensors" in wanted and "model_index.json" in wanted
    assert fake_hub.fetched_files() == wanted, "only the allowed patterns are downloaded"
    on_disk = {p.relative_to(resolved.path).as_posix() for p in resolved.path.rglob("*") if p.is_file()}
    assert on_disk == wanted
    for name in wanted:
        assert (resolved.path / name).read_bytes() == fake_hub.model_files[name]
    assert (cache / "models--org--tiny" / "refs" / "main").read_text() == COMMIT

    downloads = [e for e in events if e.phase == "download"]
    assert downloads and "Downloading org/tiny" in downloads[0].message
    counted = [(e.step, e.total) for e in downloads[1:]]
    assert len(counted) >= 2, "progress is reported while downloading, not only at the end"
    assert [s for s, _ in counted] == sorted(s for s, _ in counted), "one counter that only grows"
    total_bytes = sum(len(fake_hub.model_files[n]) for n in wanted)
    assert counted[-1] == (total_bytes, total_bytes), "the byte counter ends at the size of the allowed files"
    assert capfd.readouterr().err == "", "our callback is the only progress display (no tqdm bars on stderr)"

    # Second time: the server is gone, hub access is off, the cache answers.
    fake_hub.stop()
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    events.clear()
    again = resolve(REPO, cache_dir=cache, offline=True, progress=events.append)
    assert again.path == resolved.path and not [e for e in events if e.phase == "download"]
    assert is_cached(REPO, cache)

    model = load_pipeline(REPO, RuntimeOptions(offline=True))
    assert model.model_id == REPO and type(model.pipe).__name__ == "StableDiffusionPipeline"


def test_unknown_repo_is_a_model_error(fake_hub, tmp_path):
    with pytest.raises(ModelError, match="no model 'org/absent'") as info:
        resolve("org/absent", cache_dir=tmp_path)
    assert "\n" not in str(info.value)
    assert ("GET", "/api/models/org/absent/revision/main") in fake_hub.requests
    assert not (tmp_path / "models--org--absent" / "snapshots").exists()


def test_unreachable_hub_is_an_offline_error(fake_hub, tmp_path, monkeypatch):
    import huggingface_hub.constants as hf_constants

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setattr(hf_constants, "ENDPOINT", dead)
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", dead + "/{repo_id}/resolve/{revision}/{filename}")
    with pytest.raises(OfflineError) as info:
        resolve(REPO, cache_dir=tmp_path)
    message = str(info.value)
    assert "cannot be reached" in message and "seal tiny-model" in message and "\n" not in message
    assert not fake_hub.requests


def test_cancelled_download_is_not_mistaken_for_a_cached_model(fake_hub):
    from seal_engine.errors import Cancelled
    from seal_engine.paths import models_cache_dir
    from seal_engine.progress import CancelToken

    cache, cancel = models_cache_dir(), CancelToken()

    def cancel_on_first_bytes(event) -> None:
        if event.step > 0:
            cancel.cancel()

    with pytest.raises(Cancelled):
        resolve(REPO, cache_dir=cache, progress=cancel_on_first_bytes, cancel=cancel)
    assert not is_cached(REPO, cache), "a partial snapshot must not count as downloaded"
    with pytest.raises(OfflineError):
        resolve(REPO, cache_dir=cache, offline=True)
    resolved = resolve(REPO, cache_dir=cache)  # reconnecting finishes the download
    assert (resolved.path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert is_cached(REPO, cache)


FP16_REPO, PLAIN_REPO = "org/tiny-fp16", "org/plain"


@pytest.fixture
def fp16_hub(tiny_sd15_dir, tmp_path_factory, monkeypatch):
    """`org/tiny-fp16`: the tiny model's fp32 files AND real fp16 variant files (as SD1.5's repo has);
    `org/plain`: fp32 files only."""
    import torch
    from diffusers import StableDiffusionPipeline

    fp16_dir = tmp_path_factory.mktemp("fp16")
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd15_dir), local_files_only=True)
    pipe.to(torch.float16).save_pretrained(fp16_dir, variant="fp16", safe_serialization=True)
    files = {p.relative_to(tiny_sd15_dir).as_posix(): p.read_bytes()
             for p in sorted(tiny_sd15_dir.rglob("*")) if p.is_file()}
    variant_files = {p.relative_to(fp16_dir).as_posix(): p.read_bytes()
                     for p in sorted(fp16_dir.rglob("*.fp16.safetensors"))}
    assert {"unet/diffusion_pytorch_model.fp16.safetensors", "text_encoder/model.fp16.safetensors",
            "vae/diffusion_pytorch_model.fp16.safetensors"} <= set(variant_files)
    hub = FakeHub(repos={FP16_REPO: {**files, **variant_files}, PLAIN_REPO: dict(files)})
    hub.model_files = {**files, **variant_files}  # type: ignore[attr-defined]
    yield from _serve(hub, monkeypatch)


@pytest.fixture
def fake_gpu(monkeypatch):
    """Make device choice see a CUDA GPU (bf16-capable) and record how pipelines are loaded.

    Placement on the device is skipped (there is no GPU): everything up to `pipe.to(device)` runs."""
    import torch
    from diffusers import StableDiffusionPipeline

    import seal_engine.devices as devices
    import seal_engine.loading as loading

    monkeypatch.setattr(devices, "cuda_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(loading, "_place", lambda pipe, device, options: None)
    calls: list[dict] = []
    original = StableDiffusionPipeline.from_pretrained.__func__

    def recording(cls, *args, **kwargs):
        calls.append(kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionPipeline, "from_pretrained", classmethod(recording))
    return calls


def _weights(names: set[str]) -> set[str]:
    return {n for n in names if n.endswith(".safetensors")}


def test_gpu_choice_downloads_only_the_fp16_files_and_loads_them(fp16_hub, fake_gpu):
    import torch

    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline
    from seal_engine.model_source import download_size_gb, hub_allow_patterns, preferred_variant
    from seal_engine.paths import models_cache_dir

    assert preferred_variant() == "fp16" and preferred_variant(dtype="fp32") is None
    assert download_size_gb("fp16") < download_size_gb(None)
    model = load_pipeline(FP16_REPO, RuntimeOptions(device="auto"))
    fetched = fp16_hub.fetched_files(FP16_REPO)
    assert _weights(fetched) == {"unet/diffusion_pytorch_model.fp16.safetensors",
                                 "text_encoder/model.fp16.safetensors",
                                 "vae/diffusion_pytorch_model.fp16.safetensors"}, "no fp32 weights fetched"
    from huggingface_hub.utils import filter_repo_objects

    assert fetched == set(filter_repo_objects(fp16_hub.model_files, allow_patterns=hub_allow_patterns("fp16")))
    assert fake_gpu[-1]["variant"] == "fp16" and model.source.variant == "fp16"
    assert model.device == "cuda" and model.dtype is torch.bfloat16
    assert next(model.pipe.unet.parameters()).dtype is torch.bfloat16
    assert is_cached(FP16_REPO, models_cache_dir(), variant="fp16")
    assert not is_cached(FP16_REPO, models_cache_dir()), "fp16 files alone are not the fp32 model"


def test_cpu_choice_keeps_fp32_files(fp16_hub, fake_gpu):
    import torch

    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline

    model = load_pipeline(FP16_REPO, RuntimeOptions(device="cpu"))
    assert _weights(fp16_hub.fetched_files(FP16_REPO)) == {"unet/diffusion_pytorch_model.safetensors",
                                                           "text_encoder/model.safetensors",
                                                           "vae/diffusion_pytorch_model.safetensors"}
    assert "variant" not in fake_gpu[-1] and model.source.variant is None and model.dtype is torch.float32
    # A GPU run afterwards can use the cached fp32 files: nothing more is downloaded.
    fp16_hub.requests.clear()
    again = load_pipeline(FP16_REPO, RuntimeOptions(device="cuda"))
    assert not fp16_hub.fetched_files(FP16_REPO) and again.source.variant is None


def test_gpu_choice_falls_back_to_fp32_when_the_repo_has_no_fp16_files(fp16_hub, fake_gpu):
    from seal_engine.devices import RuntimeOptions
    from seal_engine.loading import load_pipeline

    model = load_pipeline(PLAIN_REPO, RuntimeOptions(device="cuda"))
    assert model.source.variant is None and "variant" not in fake_gpu[-1]
    assert "unet/diffusion_pytorch_model.safetensors" in fp16_hub.fetched_files(PLAIN_REPO)
