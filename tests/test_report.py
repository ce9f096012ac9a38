"""The report and the brief, checked the way a reader sees them: in a real browser and as PDF text."""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.rundir import RunDirectory

from .conftest import BASELINE

SETS = ["population.scale=0.005", "time.end=2012-04-30", "time.deadline=2012-04-30"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,800",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    args = ["run", str(BASELINE), "--replications", "2", "--jobs", "2", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(main, args + [a for s in SETS for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    return out


def test_run_writes_report_brief_and_charts(run_dir):
    names = ("turned_around", "population", "results", "programmes", "waiting", "waterfall", "problems")
    for name in names:
        assert (run_dir / "charts" / f"{name}.png").stat().st_size > 10_000
        assert (run_dir / "charts" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert not (run_dir / "charts" / "money.png").exists()  # no payment by results in this run
    page = (run_dir / "report.html").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert page.index(summary["headline"].split(" — ")[0]) < page.index("<h2>")  # the answer comes first
    assert page.index("id='key-numbers'") < page.index("<h2>")  # then the three key numbers
    assert "http://" not in page and "https://" not in page  # nothing fetched: it opens offline
    assert page.count("data:image/png;base64,") == len(names)
    assert page.index("chart-turned_around") < page.index("chart-population") < page.index("chart-waterfall")
    assert "programmes.key_worker.caseload" in page  # the assumption log is there
    assert '<details id="assumptions">' in page and '<details id="manifest">' in page  # both collapsible
    assert "2012-13 (part year, to 30 April 2012)" in page  # the run ends in April 2012: that year is marked


def _svg_text(svg: str, gid: str) -> str:
    """The text matplotlib wrote inside ``<g id="gid">`` (svg.fonttype none keeps it as text)."""
    import re

    block = re.search(rf'<g id="{gid}">(.*?)</g>', svg, re.S)
    assert block, gid
    return " ".join(re.findall(r">([^<>]+)</text>", block.group(1))).strip()


def test_every_chart_title_states_a_finding(run_dir):
    """Each chart's title states a finding with its number; its footnote speaks of bands only where there are some."""
    import re

    for svg_path in sorted((run_dir / "charts").glob("*.svg")):
        svg = svg_path.read_text()
        title, footnote = _svg_text(svg, "title"), _svg_text(svg, "footnote")
        assert re.search(r"\d", title) and len(title) > 30, (svg_path.name, title)
        assert _svg_text(svg, "subtitle"), svg_path.name
        assert "one replication" not in footnote.lower()  # this run has 2
        assert ">Month<" not in svg  # years are not labelled as months


@pytest.mark.slow
def test_report_command_rebuilds_and_refuses_a_non_run(run_dir, tmp_path):
    (run_dir / "report.html").unlink()
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 0 and (run_dir / "report.html").exists()
    bad = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert bad.exit_code == 2 and "expected a run directory" in bad.output


def test_brief_is_one_page_with_selectable_text(run_dir):
    import re

    pdf = (run_dir / "brief.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 1  # one page object
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed; .ci/run installs it")
    text = subprocess.run(["pdftotext", str(run_dir / "brief.pdf"), "-"], capture_output=True, text=True, check=True)
    pages = subprocess.run(["pdfinfo", str(run_dir / "brief.pdf")], capture_output=True, text=True, check=True)
    assert "Pages:           1" in pages.stdout and "A4" in pages.stdout
    assert "Troubled families: can the target be met?" in text.stdout
    assert "turned around by" in text.stdout
    # What the programmes caused leads the numbers, and what they cost is there (before: neither was).
    assert "because of the programmes" in text.stdout and "what the programmes cost in England" in text.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(base: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


@contextmanager
def chromium_session(tmp_path: Path):
    """A headless Chromium driven by chromedriver over WebDriver's HTTP API: yields ``(base, session)``, and closes
    the session and the driver after the block."""
    port = _free_port()
    driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if _call(base, "GET", "/status")["value"]["ready"]:
                    break
            except OSError:
                time.sleep(0.1)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"],
                    },
                }
            }
        }
        session = _call(base, "POST", "/session", caps)["value"]["sessionId"]
        try:
            yield base, session
        finally:
            _call(base, "DELETE", f"/session/{session}")
    finally:
        driver.terminate()
        driver.wait(10)


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed "
    "(apt-get install chromium chromium-driver); .ci/run installs them",
)
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    with chromium_session(tmp_path) as (base, session):
        _call(base, "POST", f"/session/{session}/url", {"url": (run_dir / "report.html").resolve().as_uri()})
        state = {}
        for _ in range(50):  # the page's load handler marks each chart once it has rendered
            state = _call(
                base,
                "POST",
                f"/session/{session}/execute/sync",
                {
                    "script": """
                return {headline: document.getElementById('headline').innerText,
                        scroll: document.documentElement.scrollWidth,
                        client: document.documentElement.clientWidth,
                        rendered: document.body.dataset.chartsRendered,
                        widths: Array.from(document.querySelectorAll('figure img')).map(i => i.naturalWidth),
                        broken: document.querySelectorAll('.broken').length};""",
                    "args": [],
                },
            )["value"]
            if state["rendered"] != "pending":
                break
            time.sleep(0.1)
        shot = base64.b64decode(_call(base, "GET", f"/session/{session}/screenshot")["value"])
    assert state["headline"] == RunDirectory(run_dir).headline  # the summary's headline with its scale
    assert "population.scale 0.005" in state["headline"]
    n = len(list((run_dir / "charts").glob("*.png")))
    assert state["rendered"] == f"{n}/{n}" and state["broken"] == 0
    assert len(state["widths"]) == n and min(state["widths"]) >= 500
    assert state["scroll"] == state["client"], state  # nothing overflows sideways at 1280 px
    assert "met" in state["headline"] and ("short" in state["headline"] or "met on" in state["headline"])
    (tmp_path / "screenshot.png").write_bytes(shot)
    import matplotlib.image as mpimg

    pixels = mpimg.imread(io.BytesIO(shot), format="png")
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    assert pixels[..., :3].std() > 0.05  # the page drew something, not a blank screen


def test_brief_draws_nothing_outside_its_margins(run_dir, tmp_path):
    """brief.pdf rendered to PNG (pdftoppm, 50 dpi): every pixel within 10 mm of an edge of the A4 page is white."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed; .ci/run installs it")
    import matplotlib.image as mpimg

    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-singlefile", str(run_dir / "brief.pdf"), str(tmp_path / "b")], check=True
    )
    pixels = mpimg.imread(tmp_path / "b.png")[..., :3]
    margin = round(10 / 25.4 * 50)  # 10 mm at 50 dpi
    ink = pixels.min(axis=2) < 0.9
    assert ink[margin:-margin, margin:-margin].any()  # the page has content
    assert not ink[:margin].any() and not ink[-margin:].any(), "ink in the top or bottom margin"
    assert not ink[:, :margin].any() and not ink[:, -margin:].any(), "ink in the left or right margin"
