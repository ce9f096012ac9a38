"""index.html: every run directory in a folder in one sortable table, and any two of them side by side.

The page sits in the folder that holds the run directories (``outputs/``, beside ``outputs/baseline/``) and is
rebuilt by every ``flowsim run`` and ``flowsim report``. Like ``report.html`` it is self-contained: styles and
script are inline and nothing is fetched. Each run's values and per-measure means are embedded as JSON; the
side-by-side view (each measure of both runs and B − A) is computed from them in the browser.

A folder is listed if it holds a manifest ``flowsim run`` wrote (:func:`flowsim.rundir.own_manifest`) and reads
as a complete run (:class:`flowsim.rundir.RunDirectory`); any other folder is passed over, and a run whose files
fail their checks is named under the table, not listed. Rebuilding never fails a run (:func:`rebuild_index`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import sys
from pathlib import Path
from urllib.parse import quote

from flowsim.errors import FlowsimError
from flowsim.files import absolute, atomic_write, parent_lock
from flowsim.measures import BY_KEY, SUMMARY, format_inline, format_value, get, has, used_in
from flowsim.rundir import RunDirectory, own_manifest
from flowsim.text import millions, millions_value
from flowsim.timeline import uk_date

INDEX = "index.html"
#: Marks a page this module wrote: an ``index.html`` without it is someone else's and is left alone.
MARK = '<meta name="generator" content="flowsim run index">'
#: The measures the table shows, in its order after the run's particulars; the side-by-side view leads with them.
KEY_MEASURES = ("additional.turned_around", "target.prevalence.stock_end", "cost.england_gbp")

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1240px; margin: 1.5em auto; padding: 0 1em;
       color: #222; line-height: 1.4; overflow-wrap: break-word; }
h1 { font-size: 1.45em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
p.lead { color: #444; margin-top: 0.3em; }
.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 0.8em; font-size: 0.86em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.45em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; vertical-align: bottom; }
th.num, td.num { text-align: right; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.num small { display: block; white-space: normal; color: #666; font-size: 0.85em; }
td.headline { font-size: 0.92em; width: 30%; }
#runs th.measure { width: 7.5em; }
td.when { white-space: nowrap; }
#runs td:nth-child(2), #runs td:nth-child(3) { overflow-wrap: anywhere; min-width: 6em; }
td.pick, th.pick { width: 1.6em; text-align: center; }
th button { background: none; border: 0; padding: 0; font: inherit; font-weight: bold; color: inherit;
            cursor: pointer; text-align: inherit; }
th button:hover { text-decoration: underline; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 0.8em; }
th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 0.8em; }
tr.picked td { background: #eef4fa; }
.note { font-size: 0.85em; color: #555; }
#side-by-side table { table-layout: fixed; }
#side-by-side col.m { width: 34%; } #side-by-side col.v { width: 22%; }
#side-by-side tr.key td { font-weight: bold; }
#side-by-side tr.head td { background: #fafafa; }
.pairing { padding: 0.5em 0.8em; border-left: 5px solid #0072B2; background: #eef4fa; }
.pairing.unpaired { border-left-color: #D55E00; background: #fbeee6; }
button.swap { font: inherit; font-size: 0.85em; margin-left: 0.8em; cursor: pointer; }
details { margin: 0.6em 0; } summary { cursor: pointer; }
"""

# Sorting by a header, ticking two rows, and the side-by-side view, all from the JSON embedded in the page.
_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById('runs-data').textContent);
  var table = document.getElementById('runs'), body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells, picked = [];

  function sortBy(col) {
    var th = heads[col], numeric = th.dataset.sort === 'num';
    var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
    Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      var raw = r.cells[col].dataset.sort;
      if (raw === undefined) { raw = r.cells[col].textContent.trim(); }
      var key = numeric ? (raw === '' ? NaN : parseFloat(raw)) : raw.toLowerCase();
      return {row: r, key: key, i: i};
    });
    rows.sort(function (a, b) {
      var am = numeric ? isNaN(a.key) : a.key === '', bm = numeric ? isNaN(b.key) : b.key === '';
      if (am || bm) { return am === bm ? a.i - b.i : (am ? 1 : -1); }  // no value: last either way
      if (a.key < b.key) { return -dir; }
      if (a.key > b.key) { return dir; }
      return a.i - b.i;
    });
    rows.forEach(function (x) { body.appendChild(x.row); });
    body.dataset.sortedBy = th.dataset.column + ' ' + th.getAttribute('aria-sort');
  }
  Array.prototype.forEach.call(heads, function (th, col) {
    if (th.dataset.sort) { th.addEventListener('click', function () { sortBy(col); }); }
  });

  function group(x, digits) {
    return x.toLocaleString('en-GB', {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }
  function signed(text, x) { return (x > 0 ? '+' : x < 0 ? '\u2212' : '') + text; }
  // B - A as text: counts signed, shares in percentage points, England's money in £ millions.
  function difference(x, m) {
    if (x === null || !isFinite(x)) { return '\u2014'; }
    if (m.unit === 'gbp') { return signed('\u00a3' + group(Math.abs(x) / 1e6, 0) + 'm', x); }
    var spec = /^\+?(,)?\.(\d+)([f%])$/.exec(m.fmt) || [null, ',', '0', 'f'];
    var digits = parseInt(spec[2], 10);
    if (spec[3] === '%') { return signed(group(Math.abs(x) * 100, digits + 1), x) + ' pp'; }
    var text = spec[1] ? group(Math.abs(x), digits) : Math.abs(x).toFixed(digits);
    return signed(text, x);
  }
  function cell(tag, text, cls) {
    var c = document.createElement(tag); c.textContent = text; if (cls) { c.className = cls; } return c;
  }
  function row(cells, cls) {
    var tr = document.createElement('tr'); if (cls) { tr.className = cls; }
    cells.forEach(function (c) { tr.appendChild(c); }); return tr;
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function pairing(a, b) {
    var p = document.createElement('p'), differ = [];
    if (a.seed !== b.seed) { differ.push('seed (' + a.seed + ' against ' + b.seed + ')'); }
    if (a.replications !== b.replications) {
      differ.push('replications (' + a.replications + ' against ' + b.replications + ')');
    }
    if (a.scale !== b.scale) { differ.push('population scale (' + a.scale + ' against ' + b.scale + ')'); }
    if (!same(a.ensemble, b.ensemble)) { differ.push('ensemble (' + (a.ensemble || 'none') + ' against ' + (b.ensemble || 'none') + ')'); }
    p.id = 'pairing';
    if (differ.length === 0) {
      p.className = 'pairing paired'; p.dataset.paired = 'yes';
      var streams = a.replications > 1
        ? 'replication i of each drew the streams SeedSequence(' + a.seed + ').spawn(' + a.replications + ')[i]'
        : 'each drew the streams of SeedSequence(' + a.seed + ')';
      p.textContent = 'Paired by common random numbers: both runs used seed ' + a.seed + ', ' + a.replications +
        ' replication(s) and population scale ' + a.scale + ', so ' + streams + ' and each family the same ' +
        'random numbers. B \u2212 A moves only where the two scenarios differ. It is a difference of means; ';
      p.appendChild(cell('code', 'flowsim compare A.toml B.toml'));
      p.appendChild(document.createTextNode(' gives it with a paired 95% interval.'));
    } else {
      p.className = 'pairing unpaired'; p.dataset.paired = 'no';
      p.textContent = 'Unpaired: the runs differ in ' + differ.join(', ') + ', so B \u2212 A carries chance from ' +
        'both runs as well as what the scenarios change; ';
      p.appendChild(cell('code', 'flowsim compare A.toml B.toml'));
      p.appendChild(document.createTextNode(' runs both on common random numbers.' + (a.scale !== b.scale ?
        ' Their counts of families are for different shares of England, so compare counts as shares; money is ' +
        'scaled back to England in both.' : '')));
    }
    return p;
  }

  function sideBySide() {
    var box = document.getElementById('side-by-side');
    box.textContent = '';
    box.appendChild(cell('h2', 'Side by side'));
    if (picked.length < 2) {
      box.appendChild(cell('p', 'Tick two runs in the table to set them side by side, with B \u2212 A: the first ' +
        'you tick is A, the second B.', 'note'));
      box.dataset.shown = 'no';
      return;
    }
    var a = data.runs[picked[0]], b = data.runs[picked[1]];
    var lead = cell('p', 'A: ' + a.name + ' (' + a.scenario + '), B: ' + b.name + ' (' + b.scenario + ').');
    var swap = cell('button', 'Swap A and B', 'swap');
    swap.type = 'button';
    swap.addEventListener('click', function () { picked.reverse(); sideBySide(); });
    lead.appendChild(swap);
    box.appendChild(lead);
    box.appendChild(pairing(a, b));
    var t = document.createElement('table'), cols = document.createElement('colgroup');
    ['m', 'v', 'v', 'v'].forEach(function (c) { var col = document.createElement('col'); col.className = c; cols.appendChild(col); });
    t.appendChild(cols);
    t.appendChild(row([cell('th', 'Measure'), cell('th', 'A: ' + a.name), cell('th', 'B: ' + b.name),
                       cell('th', 'B \u2212 A', 'num')]));
    [['Scenario', 'scenario'], ['Population scale', 'scale'], ['Replications', 'replications'], ['Seed', 'seed'],
     ['Run at', 'run_at'], ['Headline', 'headline']].forEach(function (f) {
      var va = a[f[1]], vb = b[f[1]];
      t.appendChild(row([cell('td', f[0]), cell('td', String(va)), cell('td', String(vb)),
                         cell('td', f[1] === 'run_at' || f[1] === 'headline' ? '' : (same(va, vb) ? 'same' : 'differs'), 'num')], 'head'));
    });
    data.measures.forEach(function (m) {
      var ma = a.measures[m.key], mb = b.measures[m.key];
      if (!ma && !mb) { return; }
      var d = ma && mb && ma.mean !== null && mb.mean !== null ? mb.mean - ma.mean : null;
      var tr = row([cell('td', m.label), cell('td', ma ? ma.text : '\u2014', 'num'),
                    cell('td', mb ? mb.text : '\u2014', 'num'), cell('td', difference(d, m), 'num')],
                   m.key_measure ? 'key' : '');
      tr.dataset.measure = m.key;
      t.appendChild(tr);
    });
    var wrap = document.createElement('div'); wrap.className = 'wide'; wrap.appendChild(t);
    box.appendChild(wrap);
    box.appendChild(cell('p', 'Values are means over each run\u2019s replications (with their 95% interval); ' +
      'B \u2212 A is the difference of the means: shares in percentage points (pp), money in England\u2019s ' +
      '\u00a3 millions.', 'note'));
    box.dataset.shown = 'yes';
  }

  function tick(box) {
    var i = parseInt(box.value, 10);
    picked = picked.filter(function (j) { return j !== i; });
    if (box.checked) { picked.push(i); }
    while (picked.length > 2) {  // a third tick replaces the oldest
      var old = picked.shift();
      document.querySelector('input.pick[value="' + old + '"]').checked = false;
    }
    Array.prototype.forEach.call(document.querySelectorAll('input.pick'), function (b) {
      b.closest('tr').classList.toggle('picked', b.checked);
    });
    sideBySide();
  }
  Array.prototype.forEach.call(document.querySelectorAll('input.pick'), function (b) {
    b.checked = false;
    b.addEventListener('change', function () { tick(b); });
  });
  // ?compare=NAME,NAME ticks those two runs (a link to a side-by-side view).
  var wanted = new URLSearchParams(window.location.search).get('compare');
  (wanted ? wanted.split(',') : []).forEach(function (name) {
    var i = data.runs.findIndex(function (r) { return r.name === name; });
    var b = document.querySelector('input.pick[value="' + i + '"]');
    if (b && !b.checked) { b.checked = true; tick(b); }
  });
  sideBySide();
  document.body.dataset.ready = 'yes';
})();
"""


def _e(x) -> str:
    return html.escape(str(x))


def _finite(value):
    """``value`` with every non-finite float made None: the page's JSON must parse."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _mean(value) -> float | None:
    value = value.get("mean") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(key: str, value) -> str:
    return millions(value) if BY_KEY[key].unit == "gbp" else format_inline(value, BY_KEY[key].fmt)


def _run_at(started_at: str) -> str:
    try:
        t = dt.datetime.fromisoformat(started_at)
    except (TypeError, ValueError):
        return str(started_at or "")
    zone = " UTC" if t.utcoffset() == dt.timedelta(0) else ""
    return f"{t.day} {t:%b %Y}, {t:%H:%M}{zone}"


def describe(path: Path) -> dict:
    """One run directory as the index shows it: its particulars, headline, key measures and per-measure means.

    Raises:
        FlowsimError: if ``path`` is not a complete run directory or one of the files read is not the run's.
        KeyError, TypeError, ValueError: if its summary or manifest lacks what a run writes.
    """
    run = RunDirectory(path)
    summary, manifest = run.summary, run.manifest
    measures = {}
    for m in used_in(SUMMARY):
        if has(summary, m.key):
            value = get(summary, m.key)
            measures[m.key] = {"mean": _mean(value), "text": _text(m.key, value)}
    e = summary.get("ensemble")
    started = str(manifest.get("started_at") or "")
    return _finite(
        {
            "name": path.name,
            "report": f"{quote(path.name)}/report.html" if (path / "report.html").is_file() else None,
            "scenario": str(manifest["scenario_name"]),
            "scale": summary.get("scale", manifest["scenario"]["population"]["scale"]),
            "replications": int(manifest["replications"]),
            "seed": int(manifest["seed"]),
            "ensemble": f"{e['sets']} sets x {e['replications_per_set']}" if isinstance(e, dict) else None,
            "started_at": started,
            "run_at": _run_at(started),
            "headline": run.headline,
            "met": summary["target"]["count"].get("met"),
            "values": {k: get(summary, k) if has(summary, k) else None for k in KEY_MEASURES},
            "measures": measures,
        }
    )


def runs_in(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every run directory in ``folder``, newest first, and the folders with a run's manifest that did not read
    as a run (name, why); hidden folders (a run being staged) and folders that are no run's are passed over."""
    runs, broken = [], []
    try:
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return [], []
    for path in entries:
        try:
            if not path.is_dir() or own_manifest(path) is None:
                continue
            runs.append(describe(path))
        except FlowsimError as exc:
            broken.append((path.name, str(exc)))
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
            broken.append((path.name, f"its summary or manifest is not one a run writes ({exc!r})"))
    runs.sort(key=lambda r: (r["started_at"], r["name"]), reverse=True)
    return runs, broken


def _number(value, fmt: str, money: bool = False) -> str:
    """A table cell for a number (or ``{mean, lo, hi}``), sorting by its mean, with its interval beneath."""
    if value is None:
        return "<td class='num' data-sort=''>—</td>"
    text, interval = millions_value(value) if money else format_value(value, fmt)
    sort = _mean(value)
    below = f"<small>{_e(interval)}</small>" if interval else ""
    return f"<td class='num' data-sort='{'' if sort is None else repr(sort)}'>{_e(text)}{below}</td>"


def _row(i: int, run: dict) -> str:
    name = _e(run["name"])
    link = f"<a href='{_e(run['report'])}'>{name}</a>" if run["report"] else f"{name} <small>(no report)</small>"
    v = run["values"]
    return (
        f"<tr data-run='{name}'><td class='pick'><input type='checkbox' class='pick' value='{i}' "
        f"aria-label='Set {name} side by side'></td>"
        f"<td data-sort='{name}'>{link}</td><td>{_e(run['scenario'])}</td>"
        f"<td class='num' data-sort='{run['scale']!r}'>{run['scale']:g}</td>"
        f"<td class='num' data-sort='{run['replications']}'>{run['replications']}"
        + (f"<small>{_e(run['ensemble'])}</small>" if run["ensemble"] else "")
        + f"</td><td class='num' data-sort='{run['seed']}'>{run['seed']}</td>"
        f"<td class='when' data-sort='{_e(run['started_at'])}'>{_e(run['run_at']).replace(', ', '<br>', 1)}</td>"
        f"<td class='headline'>{_e(run['headline'])}</td>"
        + _number(v["additional.turned_around"], "+,.0f")
        + _number(v["target.prevalence.stock_end"], ",.0f")
        + _number(v["cost.england_gbp"], "", money=True)
        + "</tr>"
    )


_COLUMNS = (  # (column, heading, sort, class)
    ("run", "Run", "text", ""),
    ("scenario", "Scenario", "text", ""),
    ("scale", "Population scale", "num", "num"),
    ("replications", "Repli&shy;cations", "num", "num"),
    ("seed", "Seed", "num", "num"),
    ("run_at", "Run at", "text", ""),
    ("headline", "Headline", "text", ""),
    ("turned_around", "Turned around because of the programmes", "num", "num measure"),
    ("stock_end", "Stock at the deadline", "num", "num measure"),
    ("cost", "Cost in England", "num", "num measure"),
)


def page(folder: Path, runs: list[dict], broken: list[tuple[str, str]]) -> str:
    """The index page of ``folder`` listing ``runs``."""
    heads = "".join(
        f"<th data-column='{col}' data-sort='{sort}' class='{cls}'><button type='button'>{label}</button></th>"
        for col, label, sort, cls in _COLUMNS
    )
    rows = "".join(_row(i, r) for i, r in enumerate(runs))
    measures = [
        {"key": m.key, "label": m.label[:1].upper() + m.label[1:], "fmt": m.fmt, "unit": m.unit}
        | {"key_measure": m.key in KEY_MEASURES}
        for m in sorted(used_in(SUMMARY), key=lambda m: KEY_MEASURES.index(m.key) if m.key in KEY_MEASURES else 99)
        if any(m.key in r["measures"] for r in runs)
    ]
    data = json.dumps({"runs": runs, "measures": measures}, ensure_ascii=False, allow_nan=False)
    data = data.replace("<", "\\u003c")  # no "</script>" inside the script element
    skipped = ""
    if broken:
        items = "".join(f"<li><code>{_e(n)}</code>: {_e(why)}</li>" for n, why in broken)
        skipped = (
            f"<details id='not-listed'><summary>{len(broken)} folder(s) hold a run's manifest but did not read as "
            f"a complete run, and are not listed</summary><ul>{items}</ul></details>"
        )
    empty = (
        "" if runs else "<p id='no-runs'>No run directories here yet: <code>flowsim run SCENARIO</code> writes one.</p>"
    )
    now = dt.datetime.now(dt.UTC)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{MARK}
<title>flowsim runs: {_e(folder.name or folder)}</title>
<style>{_CSS}</style></head>
<body data-ready="no" data-runs="{len(runs)}">
<h1>flowsim runs in {_e(folder.name or folder)}</h1>
<p class="lead">{len(runs)} run director{"y" if len(runs) == 1 else "ies"}, newest first. Click a heading to sort by
it; tick two runs to set them side by side below. Each run's name opens its report.</p>
<div class="wide"><table id="runs"><thead><tr><th class="pick"><span title="Set side by side">A/B</span></th>{heads}</tr></thead>
<tbody>{rows}</tbody></table></div>
{empty}
<p class="note">Counts of families are for the share of England each run simulated (its population scale); money
is scaled back to England. Over several replications a number is their mean, with its 95% interval beneath (over
an ensemble, 95% of runs). Turned around because of the programmes and the stock's change are against each run's
paired counterfactual (the programmes' effects off from the start date).</p>
{skipped}
<section id="side-by-side" data-shown="no"></section>
<p class="note">Rebuilt by <code>flowsim run</code> and <code>flowsim report</code> on {_e(uk_date(now.date()))}
at {now:%H:%M} UTC.</p>
<script type="application/json" id="runs-data">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_index(folder: str | Path) -> Path | None:
    """Write ``folder/index.html`` listing every run directory in ``folder``; return its path.

    An ``index.html`` there that this module did not write (no :data:`MARK`) is someone else's: it is left as it
    is and None returned.

    Raises:
        OSError, WriteError: if the folder cannot be read or the page written.
    """
    folder = absolute(folder)
    target = folder / INDEX
    if target.exists():
        with target.open("rb") as fh:
            if MARK.encode() not in fh.read(4096):
                return None
    with parent_lock(target, wait=30.0):  # the lock runs hold while swapping in: see every run swapped in
        runs, broken = runs_in(folder)
        return atomic_write(target, page(folder, runs, broken))


def _a_runs_folder(folder: Path, run_dir: Path) -> bool:
    """Whether ``folder`` is where runs are kept, so an index belongs there: flowsim's ``outputs`` folder, a folder
    whose index flowsim wrote, or one holding another run. A run written alone elsewhere (``--out ~/x``) does not
    put an index.html in the user's folder."""
    if folder.name == "outputs" or (folder / INDEX).exists():
        return True
    try:
        return any(d != run_dir and d.is_dir() and own_manifest(d) is not None for d in folder.iterdir())
    except OSError:
        return False


def rebuild_index(run_dir: str | Path) -> Path | None:
    """Rebuild the index of the folder holding ``run_dir`` if it is a folder of runs (:func:`_a_runs_folder`); on any
    failure warn on stderr and return None.

    Called after a run or a redraw is written: the index is a convenience, and never makes either fail.
    """
    run_dir = absolute(run_dir)
    folder = run_dir.parent
    if not _a_runs_folder(folder, run_dir):
        return None
    try:
        written = write_index(folder)
    except Exception as exc:  # noqa: BLE001 (the run is written; a broken index must not fail it)
        print(f"flowsim: warning: could not rebuild {folder / INDEX}: {exc}", file=sys.stderr)
        return None
    if written is None:
        print(
            f"flowsim: warning: left {folder / INDEX} alone: flowsim did not write it, so it lists no runs",
            file=sys.stderr,
        )
    return written
