"""Container images built here, with the devstack's Docker engine, from the registries we reach.

No registry serves images to this machine, so every image starts from a Debian root file system
made with ``debootstrap`` and imported into the engine. Each image's tag carries a hash of its
inputs (recipe folder, base image, build arguments, staged binaries): an image whose tag exists
is never rebuilt, and a changed input makes a new tag, so nothing stale is ever reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fileserver.devstack.config import PROJECT_ROOT, DevstackSettings
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.install import build_in_module
from fileserver.devstack.jmeter import ensure_jmeter
from fileserver.devstack.report import info, stage
from fileserver.devstack.versions import Versions

RECIPES = PROJECT_ROOT / "images"
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"


def tree_hash(paths: Iterable[Path], *extra: str) -> str:
    """A short sha256 over the files under ``paths`` (names, modes, bytes, link targets)."""
    digest = hashlib.sha256("\0".join(extra).encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if not p.is_dir()) if root.is_dir() else [root]
        for path in files:
            rel = path.relative_to(root if root.is_dir() else root.parent)
            digest.update(f"\0{rel}\0{path.lstat().st_mode & 0o111:o}\0".encode())
            if path.is_symlink():
                digest.update(str(path.readlink()).encode())
                continue
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()[:12]


class Engine:
    """The docker CLI, pointed at one engine, with the classic builder."""

    def __init__(self, host: str, log_dir: Path) -> None:
        self.env = {**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"}
        self.log_dir = log_dir

    def run(self, *args: str, stdin: int | None = None, what: str = "") -> str:
        """Run ``docker args``; a failure raises a DevstackError quoting its output."""
        proc = subprocess.run(
            ["docker", *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-20:])
            raise DevstackError(f"{what or 'docker ' + args[0]} failed:\n{tail}")
        return proc.stdout

    def has(self, ref: str) -> bool:
        """Whether the engine holds an image of that name."""
        proc = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", ref],
            capture_output=True,
            env=self.env,
            check=False,
        )
        return proc.returncode == 0

    def size(self, ref: str) -> int:
        """The image's size in bytes, as the engine reports it."""
        return int(self.run("image", "inspect", "--format", "{{.Size}}", ref).strip())

    def build(self, tag: str, context: Path, build_args: Mapping[str, str], name: str) -> None:
        """``docker build`` with its whole output in a log file (shown when it fails)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        argv = ["docker", "build", "--tag", tag, "--force-rm"]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        with log.open("w") as out:
            proc = subprocess.run(
                [*argv, str(context)], stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise DevstackError(
                f"building {tag} failed (whole log: {log}):\n{tail}",
                "fix the cause above; a network error to Debian's mirror or PyPI can be retried",
            )


@dataclass(frozen=True)
class Recipe:
    """One image: a folder of ``images/`` (its Dockerfile) plus files staged into its context."""

    name: str
    repository: str
    version: str  # the tag's readable part; the inputs' hash follows it
    base: str = "debian"  # "debian", "python" or "" (the recipe names its own FROM)
    staged: Mapping[str, Path] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)
    folder: Path | None = None  # default: images/<name>


class Images:
    """Builds (or finds) every image the chart and the kind cluster run."""

    def __init__(self, settings: DevstackSettings, versions: Versions, docker_host: str) -> None:
        self.settings = settings
        self.versions = versions
        self.engine = Engine(docker_host, settings.state_dir / "images")
        self._built: dict[str, str] = {}

    # --- the Debian root file system -----------------------------------------------------------

    def debian(self) -> str:
        """``fileserver/debian``: debootstrap's minimal Debian, trusting what this host trusts.

        The host's own CA certificates (``/usr/local/share/ca-certificates``) are carried in,
        so that builds on it reach the registries the way the host does (through a proxy that
        re-signs TLS, where the machine has one). On a machine without them, none are added.
        """
        if "debian" in self._built:
            return self._built["debian"]
        suite = self.versions.debian_suite
        local_cas = sorted(LOCAL_CAS.glob("*.crt")) if LOCAL_CAS.is_dir() else []
        key = tree_hash(local_cas, suite, DEBIAN_MIRROR, "minbase", "ca-certificates", "v1")
        tag = f"fileserver/debian:{suite}-{key}"
        if not self.engine.has(tag):
            with stage(f"debootstrap Debian {suite} into {tag} (first run only; ~1 min)"):
                self._debootstrap(tag, suite, local_cas)
        self._built["debian"] = tag
        return tag

    def _debootstrap(self, tag: str, suite: str, local_cas: list[Path]) -> None:
        work = self.settings.cache_dir / "rootfs"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            root = Path(tmp) / "root"
            log = self.engine.log_dir / "debootstrap.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("w") as out:
                proc = subprocess.run(
                    [
                        "debootstrap",
                        "--variant=minbase",
                        "--include=ca-certificates",
                        suite,
                        str(root),
                        DEBIAN_MIRROR,
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if proc.returncode != 0:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise DevstackError(f"debootstrap failed (log: {log}):\n{tail}")
            sources = (
                f"deb {DEBIAN_MIRROR} {suite} main\n"
                f"deb {DEBIAN_MIRROR} {suite}-updates main\n"
                f"deb http://deb.debian.org/debian-security {suite}-security main\n"
            )
            (root / "etc/apt/sources.list").write_text(sources)
            # Images are small and rebuilt, not upgraded: no documentation, no apt caches.
            (root / "etc/dpkg/dpkg.cfg.d/01-nodoc").write_text(
                "path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
                "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/locale/*\n"
            )
            (root / "etc/apt/apt.conf.d/01-norecommends").write_text(
                'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
            )
            for cert in local_cas:
                shutil.copy(cert, root / "usr/local/share/ca-certificates" / cert.name)
            if local_cas:
                subprocess.run(
                    ["chroot", str(root), "update-ca-certificates"], check=True, capture_output=True
                )
            for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for item in (root / cache).glob("*"):
                    if item.is_file():
                        item.unlink()
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            try:
                self.engine.run(
                    "import",
                    "--change",
                    f"ENV SSL_CERT_FILE={TRUST_STORE} REQUESTS_CA_BUNDLE={TRUST_STORE}",
                    "--change",
                    'CMD ["bash"]',
                    "-",
                    tag,
                    stdin=tar.stdout.fileno() if tar.stdout else None,
                    what="docker import of the root file system",
                )
            finally:
                if tar.stdout:
                    tar.stdout.close()
                tar.wait()

    # --- images from recipes -------------------------------------------------------------------

    def build(self, recipe: Recipe) -> str:
        """The recipe's image, built unless an image with the same inputs exists."""
        if recipe.name in self._built:
            return self._built[recipe.name]
        folder = recipe.folder or RECIPES / recipe.name
        args = dict(recipe.build_args)
        if recipe.base:
            args["BASE"] = self.python() if recipe.base == "python" else self.debian()
        key = tree_hash(
            [folder, *recipe.staged.values()],
            *sorted(f"{k}={v}" for k, v in args.items()),
            *sorted(recipe.staged),
        )
        tag = f"{recipe.repository}:{recipe.version}-{key}"
        if not self.engine.has(tag):
            with stage(f"build image {tag}"):
                self._build_in_context(recipe, folder, args, tag)
        self._built[recipe.name] = tag
        return tag

    def _build_in_context(
        self, recipe: Recipe, folder: Path, args: Mapping[str, str], tag: str
    ) -> None:
        contexts = self.settings.cache_dir / "image-contexts"
        contexts.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=contexts) as tmp:
            context = Path(tmp)
            shutil.copytree(folder, context, dirs_exist_ok=True, symlinks=True)
            for name, source in recipe.staged.items():
                target = context / name
                if source.is_dir():
                    shutil.copytree(source, target, symlinks=True)
                else:
                    shutil.copy2(source, target)
            self.engine.build(tag, context, args, recipe.name)

    def python(self) -> str:
        """``fileserver/python``: Debian's Python 3.11, the app image's PYTHON_IMAGE here."""
        return self.build(Recipe("python", "fileserver/python", "3.11"))

    def app(self) -> str:
        """``fileserver/fileserver``: the project's one image, from the root Dockerfile.

        Its base is ``fileserver/python`` built here, or with public images the Dockerfile's
        default ``PYTHON_IMAGE``, which the engine pulls.
        """
        if "app" in self._built:
            return self._built["app"]
        files = _project_files()
        public = self.settings.images == "public"
        base = "Dockerfile's PYTHON_IMAGE" if public else self.python()
        key = tree_hash([PROJECT_ROOT / f for f in files], base, *files)
        tag = f"fileserver/fileserver:dev-{key}"
        if not self.engine.has(tag):
            with stage(f"build image {tag} (the project's Dockerfile)"):
                args = {} if public else {"PYTHON_IMAGE": base}
                self.engine.build(tag, PROJECT_ROOT, args, "fileserver")
        self._built["app"] = tag
        return tag

    def datastores(self, binaries_ferretdb: Path) -> dict[str, str]:
        """The chart's bundled servers: PostgreSQL, Redis, Prometheus, FerretDB, JMeter."""
        v = self.versions
        jmeter = ensure_jmeter(v, self.settings.cache_dir)
        return {
            "postgresql": self.build(
                Recipe(
                    "postgres",
                    "fileserver/postgres",
                    v.postgresql,
                    build_args={"POSTGRES_MAJOR": v.postgresql},
                )
            ),
            "redis": self.build(Recipe("redis", "fileserver/redis", v.redis)),
            "prometheus": self.build(
                Recipe(
                    "prometheus",
                    "fileserver/prometheus",
                    v.prometheus_image.replace("v0.", "v2."),
                    staged={"prometheus": self._prometheus()},
                )
            ),
            "mongodb": self.build(
                Recipe(
                    "ferretdb",
                    "fileserver/ferretdb",
                    v.ferretdb.lstrip("v"),
                    staged={"ferretdb": binaries_ferretdb},
                )
            ),
            "jmeter": self.build(
                Recipe("jmeter", "fileserver/jmeter", v.jmeter, staged={"home": jmeter})
            ),
        }

    def _prometheus(self) -> Path:
        """Prometheus built from its Go module: Debian's lacks Kubernetes service discovery,
        which the chart's bundled Prometheus scrapes the release's pods with."""
        v = self.versions.prometheus_image
        binary = self.settings.cache_dir / "bin" / f"prometheus-{v}" / "prometheus"
        if not binary.exists():
            with stage(f"build Prometheus {v} (first run only)"):
                build_in_module(
                    "github.com/prometheus/prometheus", v, "cmd/prometheus", binary,
                    self.settings.cache_dir,
                )  # fmt: skip
        return binary

    def report(self, tags: Iterable[str]) -> None:
        """One line per image: its tag and size."""
        for tag in tags:
            info(f"{tag}  {self.engine.size(tag) / 1e6:.0f} MB")


def _project_files() -> list[str]:
    """The files the root Dockerfile's context sends (git's view, .dockerignore applied)."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    wanted = ("apis/", "services/", "fileserver/", "operator/")
    top = {"pyproject.toml", "uv.lock", ".python-version", "README.md", "Dockerfile"}
    return sorted(
        f
        for f in proc.stdout.splitlines()
        if (f in top or f.startswith(wanted)) and (PROJECT_ROOT / f).is_file()
    )
