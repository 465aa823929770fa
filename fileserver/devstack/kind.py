"""A real Kubernetes cluster on this machine: kind, on a node image built here.

kind's own node images come from a registry this machine cannot reach, and ``kind build
node-image`` pulls its etcd, CoreDNS, pause and CNI images from one. So the devstack builds
what such an image holds from what the registries serve: Debian's systemd, containerd, runc and
iptables; kubelet, kubeadm and kube-proxy (``go/kubenode``) and the control plane (``go/kube``)
from the project's Kubernetes build; etcd, CoreDNS, crictl, the CNI plugins, kube-router (its
NetworkPolicy controller only) and local-path-provisioner from the Go module proxy; a pause
written here; and fileserver-netd, the pod network agent (``images/kind/netd``). The cluster's
images are preloaded into the node's containerd, so that ``kind create cluster`` pulls nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from fileserver.devstack import install
from fileserver.devstack.config import PROJECT_ROOT, DevstackSettings
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.images import RECIPES, Images, Recipe, tree_hash
from fileserver.devstack.report import info, stage
from fileserver.devstack.versions import Versions

KIND_RECIPES = RECIPES / "kind"
KIND_CONFIG = PROJECT_ROOT / "kind-config.yaml"
CLUSTER_NAME = "fileserver"
CNI_PLUGINS = ("ipam/host-local", "main/loopback", "main/ptp", "meta/portmap")
# The names kubeadm v1.34 runs its static pods and add-ons under (``kubeadm config images
# list``). etcd is the devstack's build (versions.toml), tagged under the name kubeadm asks
# for; the image's version label says which etcd it really is (docs/devstack.md).
KUBEADM_ETCD_TAG = "3.6.5-0"
PAUSE_TAG = "3.10.1"


@dataclass(frozen=True)
class NodeBinaries:
    """What the node image and its preloaded images are made of, built once and cached."""

    kube: Path
    etcd: Path
    kubenode: Path
    kind: Path
    crictl: Path
    cni: Path  # a folder of plugins
    coredns: Path
    netpol: Path  # kube-router, run as a NetworkPolicy controller only
    local_path: Path
    pause: Path


def ensure_node_binaries(
    versions: Versions, cache_dir: Path, control_plane: install.GoBinaries, *, public: bool = False
) -> NodeBinaries:
    """Build whatever the kind node needs that the cache does not hold yet (only kind itself
    when the node image is the public ``kindest/node``)."""
    bin_root = cache_dir / "bin"
    v = versions
    node_src = (install.GO_SOURCES / "kubenode" / "main.go").read_text()
    pause_src = (install.GO_SOURCES / "pause" / "main.go").read_text()
    kubenode_dir = bin_root / (
        f"kubenode-{v.kubernetes}-{install.source_hash(node_src, v.kubernetes_staging)}"
    )
    paths = NodeBinaries(
        kube=control_plane.kube,
        etcd=control_plane.etcd,
        kubenode=kubenode_dir / "kubenode",
        kind=bin_root / f"kind-{v.kind}" / "kind",
        crictl=bin_root / f"crictl-{v.crictl}" / "crictl",
        cni=bin_root / f"cni-plugins-{v.cni_plugins}",
        coredns=bin_root / f"coredns-{v.coredns}" / "coredns",
        netpol=bin_root / f"kube-router-{v.kube_router}" / "kube-router",
        local_path=bin_root / f"local-path-provisioner-{v.local_path}" / "local-path-provisioner",
        pause=bin_root / f"pause-{install.source_hash(pause_src)}" / "pause",
    )
    kind = ("sigs.k8s.io/kind", v.kind, paths.kind)
    if public:
        _go_install_missing([kind], cache_dir)
        return paths
    if not paths.kubenode.exists():
        with stage(f"build kubelet, kubeadm and kube-proxy {v.kubernetes} (first run only)"):
            install.build_wrapper(
                "kubenode",
                install.kube_go_mod(v, cache_dir, module="kubenode"),
                kubenode_dir,
                cache_dir,
                install.kube_ldflags(v),
            )
    if not paths.pause.exists():
        install.build_wrapper(
            "pause",
            "module fileserver.local/devstack/pause\n\ngo 1.22\n",
            paths.pause.parent,
            cache_dir,
        )
    tools = [
        kind,
        ("sigs.k8s.io/cri-tools/cmd/crictl", v.crictl, paths.crictl),
        ("github.com/coredns/coredns", v.coredns, paths.coredns),
        ("github.com/cloudnativelabs/kube-router/v2/cmd/kube-router", v.kube_router, paths.netpol),
        ("github.com/rancher/local-path-provisioner", v.local_path, paths.local_path),
    ] + [
        (
            f"github.com/containernetworking/plugins/plugins/{p}",
            v.cni_plugins,
            paths.cni / Path(p).name,
        )
        for p in CNI_PLUGINS
    ]
    _go_install_missing(tools, cache_dir)
    return paths


def _go_install_missing(tools: list[tuple[str, str, Path]], cache_dir: Path) -> None:
    for package, version, binary in tools:
        if not binary.exists():
            with stage(f"build {package.split('/')[-1]} {version}"):
                install.go_install(package, version, binary.parent, cache_dir)


def public_node_image(config: Path = KIND_CONFIG) -> str:
    """The ``kindest/node`` image kind-config.yaml names (every node runs the same one)."""
    nodes = yaml.safe_load(config.read_text())["nodes"]
    images = {node["image"] for node in nodes}
    if len(images) != 1:
        raise DevstackError(f"{config.name} names several node images: {sorted(images)}")
    return str(images.pop())


def kubeconfig_path(settings: DevstackSettings) -> Path:
    """Where the cluster's admin kubeconfig is kept (known without starting the engine)."""
    return settings.state_dir / "kind" / "kubeconfig"


class KindCluster:
    """The kind cluster ``fileserver``: its node image, its images, its lifecycle."""

    def __init__(
        self,
        settings: DevstackSettings,
        versions: Versions,
        docker_env: dict[str, str],
        images: Images,
        binaries: NodeBinaries,
    ) -> None:
        self.settings = settings
        self.versions = versions
        self.images = images
        self.binaries = binaries
        self.env = {**os.environ, **docker_env}
        self.kubeconfig = kubeconfig_path(settings)
        self.state = self.kubeconfig.parent
        self.created_seconds = 0.0  # how long the last create() took (0: the cluster existed)
        self._node_tag: str | None = None  # node_image(), found or built once per instance

    # --- the node image ------------------------------------------------------------------------

    def _binary_image(
        self,
        folder: str,
        repository: str,
        version: str,
        staged: dict[str, Path],
        base: str = "debian",
    ) -> str:
        """One image of ``images/kind/<folder>``: a base plus the binaries built here."""
        recipe = Recipe(
            folder, repository, version, base=base, staged=staged, folder=KIND_RECIPES / folder
        )
        return self.images.build(recipe)

    def cluster_images(self) -> dict[str, str]:
        """The images every node preloads, by role; tagged under the names kubeadm uses."""
        b, v, image = self.binaries, self.versions, self._binary_image
        kube = v.kubernetes
        control = image("control-plane", "fileserver/kube-control-plane", kube, {"kube": b.kube})
        named = {
            f"registry.k8s.io/kube-apiserver:{kube}": control,
            f"registry.k8s.io/kube-controller-manager:{kube}": control,
            f"registry.k8s.io/kube-scheduler:{kube}": control,
            f"registry.k8s.io/kube-proxy:{kube}": image(
                "kube-proxy", "fileserver/kube-proxy", kube, {"kubenode": b.kubenode}
            ),
            f"registry.k8s.io/etcd:{KUBEADM_ETCD_TAG}": image(
                "etcd", "fileserver/etcd", v.etcd, {"etcd": b.etcd}
            ),
            f"registry.k8s.io/coredns/coredns:{v.coredns}": image(
                "coredns", "fileserver/coredns", v.coredns, {"coredns": b.coredns}
            ),
            f"registry.k8s.io/pause:{PAUSE_TAG}": image(
                "pause", "fileserver/pause", PAUSE_TAG, {"pause": b.pause}, base=""
            ),
        }
        for name, source in named.items():
            if not self.images.engine.has(name):
                self.images.engine.run("tag", source, name)
        return named

    def add_on_images(self) -> dict[str, str]:
        """The node image's own add-ons: pod network, NetworkPolicies, storage."""
        b, v, image = self.binaries, self.versions, self._binary_image
        return {
            "NETD_IMAGE": image("netd", "fileserver/kind-netd", "1", {}, base="python"),
            "NETPOL_IMAGE": image(
                "kube-router", "fileserver/kube-router", v.kube_router, {"kube-router": b.netpol}
            ),
            "LOCAL_PATH_IMAGE": image(
                "local-path",
                "fileserver/local-path-provisioner",
                v.local_path,
                {"local-path-provisioner": b.local_path},
            ),
            "HELPER_IMAGE": self.images.debian(),
        }

    def node_image(self) -> str:
        """``fileserver/kind-node``: built, then its cluster images preloaded (once).

        With public images (``FILESERVER_DEV_IMAGES=public``) it is kind-config.yaml's own
        ``kindest/node``, which kind pulls.
        """
        if self._node_tag is None:
            public = self.settings.images == "public"
            self._node_tag = public_node_image() if public else self._built_node_image()
        return self._node_tag

    def _built_node_image(self) -> str:
        b, v = self.binaries, self.versions
        preload = self.cluster_images()
        add_ons = self.add_on_images()
        manifests = self.state / "manifests"
        manifests.mkdir(parents=True, exist_ok=True)
        for source, target in (
            ("cni.yaml", "default-cni.yaml"),
            ("storage.yaml", "default-storage.yaml"),
        ):
            text = (KIND_RECIPES / "manifests" / source).read_text()
            for key, tag in add_ons.items():
                text = text.replace(f"@{key}@", tag)
            (manifests / target).write_text(text)
        base = self.images.build(
            Recipe(
                "kind-node",
                "fileserver/kind-node-base",
                v.kubernetes,
                staged={
                    "crictl": b.crictl,
                    "cni": b.cni,
                    "kubenode": b.kubenode,
                    "kube": b.kube,
                    "files/kind/manifests": manifests,
                },
                build_args={"KUBE_VERSION": v.kubernetes},
                folder=KIND_RECIPES / "node",
            )
        )
        everything = sorted({*preload, *add_ons.values()})
        key = tree_hash(
            [],
            base,
            *everything,
            *(
                self.images.engine.run("image", "inspect", "--format", "{{.Id}}", t)
                for t in everything
            ),
        )
        tag = f"fileserver/kind-node:{v.kubernetes}-{key}"
        if not self.images.engine.has(tag):
            with stage(f"preload {len(everything)} images into {tag}"):
                self._preload(base, everything, tag)
        return tag

    def _preload(self, base: str, images: list[str], tag: str) -> None:
        """Import the images into the node's containerd and commit the result, as kind does."""
        engine = self.images.engine
        cid = engine.run(
            "run", "--detach", "--privileged", "--entrypoint", "sleep", base, "infinity"
        ).strip()
        try:
            engine.run("exec", "--detach", cid, "containerd")
            for _ in range(120):
                probe = subprocess.run(
                    ["docker", "exec", cid, "ctr", "version"],
                    capture_output=True,
                    env=self.env,
                    check=False,
                )
                if probe.returncode == 0:
                    break
                time.sleep(0.5)
            else:
                raise DevstackError("containerd did not start in the node image's build container")
            save = subprocess.Popen(
                ["docker", "save", *images], stdout=subprocess.PIPE, env=self.env
            )
            imported = subprocess.run(
                [
                    "docker",
                    "exec",
                    "-i",
                    cid,
                    "ctr",
                    "--namespace=k8s.io",
                    "images",
                    "import",
                    "--no-unpack",
                    "--all-platforms",
                    "-",
                ],
                stdin=save.stdout,
                capture_output=True,
                text=True,
                env=self.env,
                check=False,
            )
            if save.stdout:
                save.stdout.close()
            if save.wait() != 0 or imported.returncode != 0:
                raise DevstackError(f"preloading images failed:\n{imported.stderr[-2000:]}")
            engine.run(
                "exec",
                cid,
                "sh",
                "-c",
                "kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done",
            )
            engine.run(
                "commit",
                "--change",
                'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                "--change",
                "CMD []",
                "--change",
                f'LABEL org.opencontainers.image.version="{self.versions.kubernetes}"',
                cid,
                tag,
            )
        finally:
            subprocess.run(
                ["docker", "rm", "--force", cid], capture_output=True, env=self.env, check=False
            )

    # --- the cluster ---------------------------------------------------------------------------

    def kind(self, *args: str, what: str) -> str:
        proc = subprocess.run(
            [str(self.binaries.kind), *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise DevstackError(
                f"{what} failed:\n{tail}",
                f"`{self.binaries.kind} export logs --name {CLUSTER_NAME}` "
                "collects every node's logs",
            )
        return proc.stdout + proc.stderr

    def exists(self) -> bool:
        proc = subprocess.run(
            [str(self.binaries.kind), "get", "clusters"],
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        return CLUSTER_NAME in proc.stdout.split()

    def stale_reason(self) -> str | None:
        """Why an existing cluster cannot be reused, or None when it can (or is absent).

        A node container stops when the engine does (a killed session, a reboot), and kind
        cannot restart a multi-node cluster reliably: the nodes come back on other addresses
        than their certificates and kubelets were given.
        """
        if not self.exists():
            return None
        image = self.node_image()
        if self._node_image() != image:
            return f"the cluster runs another node image than {image}"
        proc = subprocess.run(
            ["docker", "ps", "--all", "--filter", f"label=io.x-k8s.kind.cluster={CLUSTER_NAME}",
             "--format", "{{.Names}} {{.State}}"],
            capture_output=True, text=True, env=self.env, check=False,
        )  # fmt: skip
        stopped = sorted(
            name for name, state in (line.split() for line in proc.stdout.splitlines())
            if state != "running"
        )  # fmt: skip
        if stopped:
            return f"its nodes {', '.join(stopped)} are not running (the engine was stopped)"
        return None

    def usable(self) -> bool:
        """The cluster exists and :meth:`create` will reuse it as it is."""
        return self.exists() and self.stale_reason() is None

    def create(self) -> float:
        """``kind create cluster --config kind-config.yaml`` on the node image; its seconds.

        An existing cluster is reused when it is healthy and recreated when it is stale.
        """
        image = self.node_image()
        self.state.mkdir(parents=True, exist_ok=True)
        reason = self.stale_reason()
        if reason is not None:
            info(f"kind cluster {CLUSTER_NAME}: {reason}; recreating it")
            self.kind("delete", "cluster", "--name", CLUSTER_NAME, what="kind delete cluster")
        if self.exists():
            self.kind(
                "export",
                "kubeconfig",
                "--name",
                CLUSTER_NAME,
                "--kubeconfig",
                str(self.kubeconfig),
                what="kind export kubeconfig",
            )
            return 0.0
        started = time.monotonic()
        with stage(f"kind create cluster --config kind-config.yaml --image {image}"):
            self.kind(
                "create",
                "cluster",
                "--name",
                CLUSTER_NAME,
                "--config",
                str(KIND_CONFIG),
                "--image",
                image,
                "--kubeconfig",
                str(self.kubeconfig),
                "--wait",
                "5m",
                what="kind create cluster",
            )
        self.created_seconds = time.monotonic() - started
        return self.created_seconds

    def _node_image(self) -> str:
        proc = subprocess.run(
            ["docker", "inspect", "--format", "{{.Config.Image}}", f"{CLUSTER_NAME}-control-plane"],
            capture_output=True, text=True, env=self.env, check=False,
        )  # fmt: skip
        return proc.stdout.strip()

    def load(self, *tags: str) -> None:
        """Put images built here into every node (``kind load docker-image``)."""
        with stage(f"kind load docker-image ({len(tags)} images)"):
            self.kind(
                "load", "docker-image", "--name", CLUSTER_NAME, *tags, what="kind load docker-image"
            )

    def delete(self) -> None:
        if self.exists():
            self.kind("delete", "cluster", "--name", CLUSTER_NAME, what="kind delete cluster")
        shutil.rmtree(self.state, ignore_errors=True)
        info(f"kind cluster {CLUSTER_NAME} deleted")


def ensure_skaffold(versions: Versions, cache_dir: Path) -> Path:
    """The pinned skaffold (versions.toml), built once from the Go module proxy.

    Its go.mod has ``replace`` directives, which ``go install pkg@version`` refuses; it is
    built as its own main module instead (:func:`install.build_in_module`).
    """
    binary = cache_dir / "bin" / f"skaffold-{versions.skaffold}" / "skaffold"
    if not binary.exists():
        with stage(f"build skaffold {versions.skaffold} (first run only)"):
            install.build_in_module(
                "github.com/GoogleContainerTools/skaffold/v2",
                versions.skaffold,
                "cmd/skaffold",
                binary,
                cache_dir,
            )
    return binary
