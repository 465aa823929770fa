"""The generated block of docs/performance.md and its plots, from a small hand-made results
file: the tables carry the figures, only the block changes, and the SVGs are deterministic."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bench.report import BEGIN, END, render, replace_block, write_docs

pytestmark = pytest.mark.unit


def _side(rps: float, p50: float) -> dict[str, float]:
    return {
        "rps": rps,
        "p50_ms": p50,
        "p95_ms": p50 * 2,
        "p99_ms": p50 * 3,
        "cpu_us_per_request": 1e6 / rps,
    }


def _level(threads: int, bare: float, system: float, downloader_cores: float) -> dict[str, Any]:
    cpu = {
        "downloader": {"cores": downloader_cores, "busiest_process_cores": downloader_cores},
        "jmeter": {"cores": 0.5, "busiest_process_cores": 0.5},
    }
    return {
        "threads": threads,
        "bare": _side(bare, 1.0)
        | {"samples": 10, "errors": 0, "seconds": 10.0, "cpu": {"bare": {"cores": bare / 4000}}},
        "system": _side(system, 4.0)
        | {"samples": 10, "errors": 0, "seconds": 10.0, "cpu": cpu, "machine_busy_cores": 1.5},
        "ratio": system / bare,
    }


RESULTS: dict[str, Any] = {
    "started_at": "2026-11-23T15:00:00+00:00",
    "quick": True,
    "machine": {
        "cpus": 2,
        "cpu_model": "Test CPU",
        "memory_gib": 8.0,
        "load_average": [1.25, 2.0, 3.0],
        "load_average_after": [4.0, 5.0, 6.0],
        "python": "3.11.7",
        "platform": "Linux",
    },
    "benchmarks": {
        "uploader_upload": {
            "baseline": "GridFS directly",
            "status": "ok",
            "seconds": 12.0,
            "ratio": 0.9,
            "figures": {
                "size_mib": 128,
                "chunk_mib": 1,
                "runs": [
                    {"name": "GridFS (baseline)", "mib_per_s": 10.0, "rss_growth_mib": None},
                    {"name": "POST /files", "mib_per_s": 9.0, "rss_growth_mib": 17.5},
                ],
                "ratio": 0.9,
            },
        },
        "downloader": {
            "baseline": "a bare FastAPI endpoint",
            "status": "ok",
            "seconds": 60.0,
            "ratio": 0.5,
            "figures": {
                "connections": 64,
                "workers": {
                    "1": {"bare": _side(2000, 1), "downloader": _side(1000, 2), "ratio": 0.5},
                    "2": {"bare": _side(3000, 1), "downloader": _side(900, 2), "ratio": 0.3},
                },
                "sweep": [
                    {"connections": 1, "bare": _side(800, 0.5), "downloader": _side(200, 2)}
                    | {"ratio": 0.25},
                    {"connections": 4, "bare": _side(1000, 1), "downloader": _side(500, 3)}
                    | {"ratio": 0.5},
                ],
                "overcommitted_accounts": 0,
                "pool_issued": 0.99,
                "utilisation": {"downloader": 0.998, "naive": 0.833},
                "ratio": 0.5,
            },
        },
        "system_load": {
            "baseline": "JMeter on the bare endpoint",
            "status": "ok",
            "seconds": 90.0,
            "ratio": 0.25,
            "figures": {
                "levels": [_level(4, 800, 100, 0.6), _level(16, 1200, 300, 0.97)],
                "ratio": 0.25,
            },
        },
        "operator": {
            "baseline": "raw writes",
            "status": "failed",
            "exit_code": 3,
            "seconds": 5.0,
        },
    },
}
HEAD = "# Performance\n\nIntro stays.\n\n"
TAIL = "\n\n## Other\n\nHand-written.\n"
DOC = f"{HEAD}{BEGIN}\nold generated text\n{END}{TAIL}"


def test_render_tables_carry_the_figures(tmp_path: Path) -> None:
    text = render(RESULTS, [tmp_path / "perf-downloader-throughput.svg"], tmp_path / "p.md")
    lines = text.splitlines()
    assert "quick" in text
    assert "2 × Test CPU, 8.0 GiB" in text
    assert "1.2 / 2.0 / 3.0 before and 4.0 / 5.0 / 6.0 after" in text
    assert "uv run python -m bench --quick --write-docs" in text
    (upload,) = [line for line in lines if line.startswith("| uploader_upload |")]
    assert "| **0.90** |" in upload
    assert "POST /files 9.0 MiB/s, RSS +17.5 MiB" in upload
    assert "| 128 MiB, 1 MiB chunks | 12 s |" in upload
    (operator,) = [line for line in lines if line.startswith("| operator |")]
    assert "failed: exit code 3" in operator
    sweep_row = "| 4 | 1000 | 500 | **0.50** | 1.0 / 2.0 / 3.0 | 3.0 / 6.0 / 9.0 | 1000 / 2000 |"
    assert sweep_row in lines
    (system,) = [line for line in lines if line.startswith("| 16 | 1200 | 300 | **0.25** |")]
    # 300 samples/s: the Downloader fills its core at 300 / 0.97, the CPUs at 2 × 300 / 1.47.
    assert (
        "| 1.50 | downloader at 97% of one core | downloader would fill first, at ≈ 309" in system
    )
    assert "| downloader | 0.60 | 0.97 |" in lines
    assert "**Bottleneck at 16 threads: downloader at 97% of one core; the system's" in text
    assert "![perf-downloader-throughput](perf-downloader-throughput.svg)" in lines


def test_write_docs_rewrites_only_the_block_and_draws_deterministic_svgs(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "performance.md"
    doc.parent.mkdir()
    doc.write_text(DOC)
    img = tmp_path / "docs" / "img"
    written = write_docs(copy.deepcopy(RESULTS), doc, img)
    plots = sorted(p.name for p in img.iterdir())
    assert plots == [
        "perf-downloader-latency.svg",
        "perf-downloader-throughput.svg",
        "perf-system-cpu.svg",
        "perf-system-throughput.svg",
    ]
    assert written[0] == doc
    text = doc.read_text()
    head, rest = text.split(BEGIN)
    block, tail = rest.split(END)
    assert (head, tail) == (HEAD, TAIL)
    assert "old generated text" not in block
    assert "![perf-system-cpu](img/perf-system-cpu.svg)" in block
    first = {p.name: p.read_bytes() for p in img.iterdir()}
    assert all(b"<dc:date>" not in svg for svg in first.values())
    write_docs(copy.deepcopy(RESULTS), doc, img)
    assert {p.name: p.read_bytes() for p in img.iterdir()} == first
    assert doc.read_text() == text


def test_a_doc_without_its_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="block"):
        replace_block("# Performance\n", "table")
    with pytest.raises(ValueError, match="block"):
        replace_block(f"{END}\n{BEGIN}\n", "table")
