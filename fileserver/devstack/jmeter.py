"""Apache JMeter, assembled from its Maven Central artifacts into a cached JMETER_HOME.

JMeter's binary archive is not on a package registry; its modules are. Maven resolves the
pinned modules and their dependencies, and the home is laid out as the archive would be:
``bin/`` from ``ApacheJMeter_config`` (properties, report templates), the launcher as
``bin/ApacheJMeter.jar``, JMeter's own modules in ``lib/ext`` (where it discovers test
elements) and third-party jars in ``lib/``.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.install import run_checked
from fileserver.devstack.report import stage
from fileserver.devstack.versions import Versions

MODULES = (
    "ApacheJMeter",
    "ApacheJMeter_core",
    "ApacheJMeter_http",
    "ApacheJMeter_components",
    "ApacheJMeter_functions",
    "ApacheJMeter_config",
)


def _pom(version: str) -> str:
    deps = "".join(
        "<dependency><groupId>org.apache.jmeter</groupId>"
        f"<artifactId>{module}</artifactId><version>{version}</version></dependency>"
        for module in MODULES
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local.fileserver</groupId><artifactId>jmeter-home</artifactId>"
        f"<version>1</version><packaging>pom</packaging><dependencies>{deps}</dependencies>"
        "</project>"
    )


def jmeter_home(versions: Versions, cache_dir: Path) -> Path:
    """The cached JMETER_HOME of the pinned version (not necessarily assembled yet)."""
    return cache_dir / "bin" / f"jmeter-{versions.jmeter}"


def ensure_jmeter(versions: Versions, cache_dir: Path) -> Path:
    """Assemble JMETER_HOME once; returns it. Needs Java and Maven on PATH."""
    home = jmeter_home(versions, cache_dir)
    launcher = home / "bin" / "ApacheJMeter.jar"
    if launcher.exists():
        return home
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise DevstackError(f"{tool} is needed to assemble JMeter", "install a JDK and Maven")
    work = cache_dir / "src" / f"jmeter-{versions.jmeter}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "pom.xml").write_text(_pom(versions.jmeter))
    with stage(f"assemble JMeter {versions.jmeter} from Maven Central"):
        run_checked(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={work / 'jars'}",
            ],
            "resolving JMeter's artifacts with Maven failed",
            "check access to Maven Central",
            cwd=work,
        )
        partial = home.with_name(home.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        (partial / "lib" / "ext").mkdir(parents=True)
        (partial / "bin").mkdir()
        for jar in sorted((work / "jars").glob("*.jar")):
            module = jar.name.rsplit("-", 1)[0]
            if module == "ApacheJMeter_config":
                with zipfile.ZipFile(jar) as archive:
                    members = [m for m in archive.namelist() if m.startswith("bin/")]
                    archive.extractall(partial, members)
            elif module == "ApacheJMeter":
                shutil.copy(jar, partial / "bin" / "ApacheJMeter.jar")
            elif module in MODULES:
                shutil.copy(jar, partial / "lib" / "ext" / jar.name)
            else:
                shutil.copy(jar, partial / "lib" / jar.name)
        if not (partial / "bin" / "ApacheJMeter.jar").exists():
            raise DevstackError("JMeter's launcher jar was not among the resolved artifacts")
        shutil.rmtree(home, ignore_errors=True)
        partial.rename(home)  # only a complete home is ever found in the cache
    return home
