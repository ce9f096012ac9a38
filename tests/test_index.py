"""outputs/index.html: every run in a folder in one sortable table, and two ticked runs side by side with B − A."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from flowsim.report import index
from flowsim.rundir import RunDirectory

from .conftest import BASELINE, SCENARIOS, TINY, invoke, sets
from .test_report import CHROMEDRIVER, CHROMIUM, _call, chromium_session

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver key of an element reference


def _embedded(page: str) -> dict:
    """The runs and measures the page carries as JSON."""
    block = re.search(r'<script type="application/json" id="runs-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """Three tiny runs side by side: a and b share seed 1 (paired), c has seed 2 and two replications; beside
    them a folder that is no run, one with someone else's manifest.json, and a copy of a with a changed summary."""
    out = tmp_path_factory.mktemp("outputs")
    (out / "notes").mkdir()
    (out / "notes" / "readme.txt").write_text("not a run")
    (out / "webapp").mkdir()
    (out / "webapp" / "manifest.json").write_text('{"name": "an app", "start_url": "/"}')
    runs = [
        ("a", BASELINE, []),
        ("b", SCENARIOS / "key_worker_plus20.toml", []),
        ("c", BASELINE, ["--seed", "2", "--replications", "2", "--jobs", "1"]),
    ]
    for name, scenario, extra in runs:
        result = invoke("run", scenario, "--quiet", "--no-report", "--out", out / name, *extra, *sets(TINY))
        assert result.exit_code == 0, result.output
        assert "warning" not in result.stderr, result.stderr
    shutil.copytree(out / "a", out / "tampered")
    summary = out / "tampered" / "summary.json"
    summary.write_text(summary.read_text().replace('"seed": 1', '"seed": 7'))
    index.write_index(out)  # the tampered copy arrived after the last run's rebuild
    return out


def test_index_lists_every_run_and_only_runs(outputs):
    page = (outputs / "index.html").read_text()
    data = _embedded(page)
    assert [r["name"] for r in data["runs"]] == ["c", "b", "a"]  # newest first
    assert page.count("type='checkbox'") == 3 and 'data-runs="3"' in page
    for name in ("notes", "webapp"):  # no run: not listed, not mentioned
        assert f"data-run='{name}'" not in page and f"<code>{name}</code>" not in page
    # a run's manifest whose files fail their checksum: not listed, named under the table with why
    assert "data-run='tampered'" not in page and "<code>tampered</code>" in page and "checksum" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched: it opens offline
    a, c = data["runs"][2], data["runs"][0]
    assert (a["seed"], a["replications"], a["scale"], a["scenario"]) == (1, 1, 0.004, "baseline")
    assert (c["seed"], c["replications"]) == (2, 2)
    assert a["headline"] == RunDirectory(outputs / "a").headline
    assert a["report"] is None and "(no report)" in page  # --no-report: the name is not a dead link
    summary = RunDirectory(outputs / "c").summary
    assert c["values"]["cost.england_gbp"] == summary["cost"]["england_gbp"]  # {mean, lo, hi} over replications
    assert c["measures"]["target.prevalence.stock_end"]["mean"] == summary["target"]["prevalence"]["stock_end"]["mean"]
    assert "additional.turned_around" in a["measures"]


def test_report_command_rebuilds_the_index_and_links_the_report(outputs):
    (outputs / "index.html").unlink()
    result = invoke("report", outputs / "a")
    assert result.exit_code == 0, result.output
    page = (outputs / "index.html").read_text()
    assert "<a href='a/report.html'>a</a>" in page and (outputs / "a" / "report.html").is_file()


def test_someone_elses_index_is_left_alone(tmp_path, capsys):
    mine = tmp_path / "index.html"
    mine.write_text("<html>my own page</html>")
    assert index.rebuild_index(tmp_path / "a_run") is None
    assert mine.read_text() == "<html>my own page</html>"
    assert "flowsim did not write it" in capsys.readouterr().err


def test_a_failing_index_warns_and_the_run_succeeds(tmp_path, monkeypatch):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(index, "page", broken)
    out = tmp_path / "outputs" / "run"  # flowsim's outputs folder: an index belongs there
    result = invoke("run", BASELINE, "--quiet", "--no-report", "--out", out, *sets(TINY))
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file() and not (out.parent / "index.html").exists()
    assert "warning: could not rebuild" in result.stderr and "disk full" in result.stderr


def test_a_run_alone_in_someone_elses_folder_writes_no_index_there(tmp_path):
    """--out ~/x must not leave an index.html in ~: only flowsim's outputs folder, a folder whose index flowsim
    wrote, or one holding another run gets one."""
    home = tmp_path / "home"
    result = invoke("run", BASELINE, "--quiet", "--no-report", "--out", home / "x", *sets(TINY))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in home.iterdir()) == ["x"]
    result = invoke("run", BASELINE, "--quiet", "--no-report", "--out", home / "y", *sets(TINY))
    assert result.exit_code == 0, result.output
    assert (home / "index.html").is_file()  # two runs side by side: now it is a folder of runs


def test_an_empty_or_unreadable_folder_gives_a_page(tmp_path):
    (tmp_path / "half").mkdir()  # a run's manifest, but none of its files
    (tmp_path / "half" / "manifest.json").write_text('{"flowsim_version": "0", "scenario_sha256": "x", "files": 3}')
    (tmp_path / ".b.abcdefgh.partial").mkdir()  # a run being staged
    page = index.write_index(tmp_path).read_text()
    assert 'data-runs="0"' in page and "id='no-runs'" in page and "<code>half</code>" in page
    assert _embedded(page)["runs"] == []


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are not installed "
    "(apt-get install chromium chromium-driver); .ci/run installs them",
)
def test_index_sorts_and_sets_two_runs_side_by_side_in_headless_chromium(outputs, tmp_path):
    with chromium_session(tmp_path) as (base, session):
        s = f"/session/{session}"

        def js(script: str):
            return _call(base, "POST", f"{s}/execute/sync", {"script": script, "args": []})["value"]

        def click(css: str) -> None:
            found = _call(base, "POST", f"{s}/element", {"using": "css selector", "value": css})["value"]
            _call(base, "POST", f"{s}/element/{found[ELEMENT]}/click", {})

        def order() -> list[str]:
            return js("return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.dataset.run);")

        def side_by_side() -> dict:
            return js("""
                var box = document.getElementById('side-by-side'), p = document.getElementById('pairing');
                var row = box.querySelector('tr[data-measure="target.prevalence.stock_end"]');
                return {shown: box.dataset.shown, paired: p && p.dataset.paired, text: p && p.textContent,
                        cells: row ? Array.from(row.cells).map(c => c.textContent) : null,
                        heads: Array.from(box.querySelectorAll('th')).map(c => c.textContent),
                        ticked: Array.from(document.querySelectorAll('input.pick:checked'))
                                     .map(b => b.closest('tr').dataset.run)};""")

        _call(base, "POST", f"{s}/window/rect", {"width": 1280, "height": 900})
        _call(base, "POST", f"{s}/url", {"url": (outputs / "index.html").resolve().as_uri()})
        for _ in range(50):
            if js("return document.body.dataset.ready;") == "yes":
                break
            time.sleep(0.1)
        width = js("return [document.documentElement.scrollWidth, window.innerWidth];")
        start = order()
        click("th[data-column='seed'] button")
        by_seed = order()
        click("th[data-column='seed'] button")
        by_seed_down = order()
        click("th[data-column='run'] button")
        by_name = order()
        before = side_by_side()
        click("tr[data-run='a'] input.pick")
        one = side_by_side()
        click("tr[data-run='b'] input.pick")
        paired = side_by_side()
        click("tr[data-run='c'] input.pick")  # a third tick replaces the oldest, a
        unpaired = side_by_side()
        width_after = js("return [document.documentElement.scrollWidth, window.innerWidth];")
    assert width[0] <= width[1] and width_after[0] <= width_after[1], (width, width_after)  # no sideways scroll
    assert start == ["c", "b", "a"]
    assert by_seed[-1] == "c" and by_seed_down[0] == "c"  # numeric sort, both ways
    assert by_name == ["a", "b", "c"]
    assert before["shown"] == "no" and one["shown"] == "no"
    runs = {r["name"]: r for r in _embedded((outputs / "index.html").read_text())["runs"]}

    def stock(name: str) -> float:
        return runs[name]["measures"]["target.prevalence.stock_end"]["mean"]

    assert paired["shown"] == "yes" and paired["paired"] == "yes" and "common random numbers" in paired["text"]
    assert paired["heads"][1:] == ["A: a", "B: b", "B − A"]
    label, va, vb, diff = paired["cells"]
    assert label == "Stock at the deadline" and va == runs["a"]["measures"]["target.prevalence.stock_end"]["text"]
    assert float(diff.replace("−", "-").replace(",", "") or 0) == pytest.approx(stock("b") - stock("a"), abs=0.5)
    assert sorted(unpaired["ticked"]) == ["b", "c"] and unpaired["heads"][1:3] == ["A: b", "B: c"]
    assert (
        unpaired["paired"] == "no"
        and "seed (1 against 2)" in unpaired["text"]
        and "chance from both" in unpaired["text"]
    )
    _, vb, vc, diff = unpaired["cells"]
    assert vc.startswith(f"{stock('c'):,.0f}") and "95% interval" in vc  # c's mean over its two replications
    assert float(diff.replace("−", "-").replace(",", "").lstrip("+") or 0) == pytest.approx(
        stock("c") - stock("b"), abs=0.5
    )
