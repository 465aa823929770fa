"""Install what the devstack runs: Debian packages, the etcd wheel and Go-built servers.

Everything built lands in the cache folder under a name that includes its version and a hash
of the wrapper source, so a second run finds it and builds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.report import info, stage
from fileserver.devstack.versions import Versions

GO_SOURCES = Path(__file__).parent / "go"

DEBIAN_PACKAGES = {  # versions.toml key -> Debian package name
    "postgresql": "postgresql-{version}",
    "redis": "redis-server",
    "prometheus": "prometheus",
    "docker": "docker.io",
    "debootstrap": "debootstrap",
}
DATA_PACKAGES = ("postgresql", "redis", "prometheus")
CONTAINER_PACKAGES = ("docker", "debootstrap")


def run_checked(argv: list[str], what: str, fix: str, **kwargs: object) -> str:
    """Run a command; on failure raise a DevstackError quoting the end of its output."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    except FileNotFoundError as exc:
        raise DevstackError(f"{what}: {argv[0]} is not installed", fix) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DevstackError(f"{what} (exit {proc.returncode}):\n{tail}", fix)
    return str(proc.stdout)


# --- Debian packages -------------------------------------------------------------------------


def debian_version(package: str) -> str | None:
    """The installed upstream version of a Debian package (epoch and revision cut), or None."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    status, _, version = proc.stdout.partition(" ")
    if proc.returncode != 0 or status != "installed":
        return None
    return version.split(":", 1)[-1].split("-", 1)[0].split("+", 1)[0]


def ensure_debian_packages(versions: Versions, keys: tuple[str, ...] = DATA_PACKAGES) -> None:
    """Install the missing Debian packages, refusing a version other than the pinned one."""
    wanted = {}
    for key in keys:
        pinned = getattr(versions, key)
        wanted[DEBIAN_PACKAGES[key].format(version=pinned)] = pinned
    missing = [pkg for pkg in wanted if debian_version(pkg) is None]
    if missing:
        if os.geteuid() != 0:
            raise DevstackError(
                f"Debian packages missing: {', '.join(missing)}",
                f"sudo apt-get install -y --no-install-recommends {' '.join(missing)}",
            )
        with stage(f"apt-get install {' '.join(missing)}"):
            _apt_install(missing)
    for pkg, prefix in wanted.items():
        installed = debian_version(pkg)
        if installed is None or not (installed == prefix or installed.startswith(prefix + ".")):
            raise DevstackError(
                f"{pkg} {installed} is installed but versions.toml pins {prefix}",
                "install the pinned version, or change versions.toml deliberately",
            )


def _apt_install(packages: list[str]) -> None:
    """apt-get install without letting the packages start system-wide services."""
    policy = Path("/usr/sbin/policy-rc.d")
    created = not policy.exists()
    if created:  # tells invoke-rc.d not to start services the packages ship
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    fix = "check the network to Debian's mirrors, then run the command again"
    try:
        run_checked(["apt-get", "update", "-q"], "apt-get update failed", fix, env=env)
        run_checked(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            f"apt-get install {' '.join(packages)} failed",
            fix,
            env=env,
        )
    finally:
        if created:
            policy.unlink(missing_ok=True)


def postgres_bin(versions: Versions) -> Path:
    """Folder of the PostgreSQL server binaries of the pinned major version."""
    return Path(f"/usr/lib/postgresql/{versions.postgresql}/bin")


# --- Go-built servers ------------------------------------------------------------------------


@dataclass(frozen=True)
class GoBinaries:
    """Paths of the built servers."""

    ferretdb: Path
    etcd: Path
    kube: Path
    kwok: Path
    helm: Path

    def kube_tool(self, name: str) -> Path:
        """Path of one of the kube multi-call binary's names (a symlink next to it)."""
        return self.kube.parent / name


def _go_env(cache_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",  # never fetch a toolchain behind the user's back
        "GOFLAGS": "-trimpath -buildvcs=false",
        "GOBIN": "",
    }


def check_go(versions: Versions) -> None:
    """Fail clearly when Go is missing or older than the builds need."""
    out = run_checked(["go", "env", "GOVERSION"], "Go is not usable", "install Go from go.dev/dl")
    match = re.match(r"go(\d+)\.(\d+)", out.strip())
    have = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    need = tuple(int(p) for p in versions.go_toolchain.split("."))
    if have < need:
        raise DevstackError(
            f"Go {out.strip()} is older than the {versions.go_toolchain} the builds need",
            f"install Go {versions.go_toolchain} or newer",
        )


def source_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:10]


def build_wrapper(
    name: str, go_mod: str, out_dir: Path, cache_dir: Path, ldflags: str = "-s -w"
) -> Path:
    """Build a wrapper module (``go/<name>/main.go`` + a generated go.mod) into ``out_dir``."""
    binary = out_dir / name
    if binary.exists():
        return binary
    work = cache_dir / "src" / out_dir.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(GO_SOURCES / name / "main.go", work / "main.go")
    (work / "go.mod").write_text(go_mod)
    env = _go_env(cache_dir)
    fix = "check access to the Go module proxy; the error above names the failing package"
    run_checked(["go", "mod", "tidy"], f"resolving {name}'s modules failed", fix, cwd=work, env=env)
    tmp = out_dir / f".{name}.partial"
    out_dir.mkdir(parents=True, exist_ok=True)
    run_checked(
        ["go", "build", "-ldflags", ldflags, "-o", str(tmp), "."],
        f"building {name} failed",
        fix,
        cwd=work,
        env=env,
    )
    tmp.rename(binary)  # only a complete build is ever found in the cache
    return binary


def _ferretdb_go_mod(versions: Versions) -> str:
    return (
        "module fileserver.local/devstack/ferretdb\n\ngo 1.22\n\n"
        f"require github.com/FerretDB/FerretDB {versions.ferretdb}\n"
    )


def _etcd_go_mod(versions: Versions) -> str:
    return (
        "module fileserver.local/devstack/etcd\n\ngo 1.24\n\n"
        f"require go.etcd.io/etcd/server/v3 {versions.etcd}\n"
    )


def kube_go_mod(versions: Versions, cache_dir: Path, module: str = "kube") -> str:
    """go.mod replacing every staging module k8s.io/kubernetes points at ./staging."""
    info_json = run_checked(
        ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{versions.kubernetes}"],
        "downloading k8s.io/kubernetes failed",
        "check access to the Go module proxy",
        env=_go_env(cache_dir),
    )
    upstream = Path(json.loads(info_json)["GoMod"]).read_text()
    staging = re.findall(r"^\s*(k8s\.io/[\w.-]+)\s*=>\s*\./staging/", upstream, re.MULTILINE)
    if not staging:
        raise DevstackError("found no staging modules in k8s.io/kubernetes' go.mod")
    replaces = "".join(f"\t{m} => {m} {versions.kubernetes_staging}\n" for m in staging)
    return (
        f"module fileserver.local/devstack/{module}\n\ngo 1.24.0\n\ngodebug default=go1.24\n\n"
        f"require k8s.io/kubernetes {versions.kubernetes}\n\n"
        "// k8s.io/kubernetes points its staging modules at ./staging; a dependent module\n"
        "// must name their published releases instead.\n"
        f"replace (\n{replaces})\n"
    )


def kube_ldflags(versions: Versions) -> str:
    """Version stamps the release build sets; helm and kubectl read them from the server."""
    major, minor = versions.kubernetes.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={versions.kubernetes}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


KUBE_TOOLS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


def go_install(package: str, version: str, out_dir: Path, cache_dir: Path) -> Path:
    binary = out_dir / package.rsplit("/", 1)[-1]
    if binary.exists():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**_go_env(cache_dir), "GOBIN": str(out_dir)}
    run_checked(
        ["go", "install", "-ldflags", "-s -w", f"{package}@{version}"],
        f"go install {package}@{version} failed",
        "check access to the Go module proxy",
        env=env,
    )
    return binary


def build_in_module(module: str, version: str, package: str, binary: Path, cache_dir: Path) -> Path:
    """Build ``package`` inside a copy of ``module@version`` from the module proxy.

    For modules whose go.mod has ``replace`` directives, which ``go install pkg@version``
    refuses: built as their own main module, the directives apply as upstream meant.
    """
    if binary.exists():
        return binary
    env = _go_env(cache_dir)
    fix = "check access to the Go module proxy"
    info_json = run_checked(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        f"downloading {module}@{version} failed",
        fix,
        env=env,
    )
    work = cache_dir / "src" / binary.parent.name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(json.loads(info_json)["Dir"], work)
    for folder in [work, *work.rglob("*")]:  # the module cache is read-only
        if folder.is_dir():
            folder.chmod(0o755)
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.parent / f".{binary.name}.partial"
    run_checked(
        ["go", "build", "-mod=mod", "-ldflags", "-s -w", "-o", str(tmp), f"./{package}"],
        f"building {module}/{package} failed",
        fix,
        cwd=work,
        env=env,
    )
    tmp.rename(binary)
    shutil.rmtree(work, ignore_errors=True)
    return binary


def ensure_go_binaries(versions: Versions, cache_dir: Path, *, cluster: bool) -> GoBinaries:
    """Build whatever is not in the cache yet: FerretDB always, the cluster tools if asked."""
    bin_root = cache_dir / "bin"
    src = (GO_SOURCES / "ferretdb" / "main.go").read_text()
    ferretdb_dir = bin_root / f"ferretdb-{versions.ferretdb}-{source_hash(src)}"
    etcd_src = (GO_SOURCES / "etcd" / "main.go").read_text()
    etcd_dir = bin_root / f"etcd-{versions.etcd}-{source_hash(etcd_src)}"
    kube_src = (GO_SOURCES / "kube" / "main.go").read_text()
    kube_dir = (
        bin_root
        / f"kube-{versions.kubernetes}-{source_hash(kube_src, versions.kubernetes_staging)}"
    )
    paths = GoBinaries(
        ferretdb=ferretdb_dir / "ferretdb",
        etcd=etcd_dir / "etcd",
        kube=kube_dir / "kube",
        kwok=bin_root / f"kwok-{versions.kwok}" / "kwok",
        helm=bin_root / f"helm-{versions.helm}" / "helm",
    )
    needed = [paths.ferretdb] + (
        [paths.etcd, paths.kube, paths.kwok, paths.helm] if cluster else []
    )
    if all(p.exists() for p in needed):
        return paths
    check_go(versions)
    if not paths.ferretdb.exists():
        with stage(f"build FerretDB {versions.ferretdb} (first run only)"):
            build_wrapper("ferretdb", _ferretdb_go_mod(versions), ferretdb_dir, cache_dir)
    if cluster:
        if not paths.etcd.exists():
            with stage(f"build etcd {versions.etcd}"):
                build_wrapper("etcd", _etcd_go_mod(versions), etcd_dir, cache_dir)
        if not paths.kube.exists():
            with stage(
                f"build Kubernetes {versions.kubernetes} control plane + kubectl "
                "(first run only; ~6 min on 2 cores)"
            ):
                build_wrapper(
                    "kube",
                    kube_go_mod(versions, cache_dir),
                    kube_dir,
                    cache_dir,
                    kube_ldflags(versions),
                )
        for tool in KUBE_TOOLS:
            link = paths.kube_tool(tool)
            if not link.exists():
                link.symlink_to("kube")
        if not paths.kwok.exists():
            with stage(f"build kwok {versions.kwok}"):
                go_install("sigs.k8s.io/kwok/cmd/kwok", versions.kwok, paths.kwok.parent, cache_dir)
        if not paths.helm.exists():
            with stage(f"build helm {versions.helm}"):
                go_install("helm.sh/helm/v3/cmd/helm", versions.helm, paths.helm.parent, cache_dir)
    info(f"binaries cached under {bin_root}")
    return paths
