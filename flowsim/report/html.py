"""report.html: the question and its answer first, then charts, target measures, the assumption log and the manifest.

The file is self-contained: charts are embedded as base64 PNG, styles are
inline, and nothing is fetched from the network, so it opens offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from pathlib import Path

from flowsim import programme_2012
from flowsim.charts import CHARTS
from flowsim.files import atomic_write
from flowsim.measures import BY_KEY, HOW_SURE, format_value, get, has, used_in
from flowsim.measures import format_inline as _fmt
from flowsim.plan import count
from flowsim.rundir import RunDirectory
from flowsim.scenario.assumptions import where_set
from flowsim.tables import STATISTICS_COLUMNS
from flowsim.text import GLOSSARY, cost_per_additional, millions, millions_value
from flowsim.timeline import uk_date

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; overflow-wrap: anywhere; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.headline { font-size: 1.25em; font-weight: bold; padding: 0.6em 0.8em; background: #eef4fa; border-left: 6px solid #0072B2; }
.headline.not-met { background: #fbeee6; border-left-color: #D55E00; }
.key { display: flex; gap: 1em; margin: 1em 0 1.6em; }
.key div { flex: 1; border-top: 3px solid #0072B2; padding: 0.4em 0.2em; }
.key strong { display: block; font-size: 1.7em; color: #0072B2; }
.key small { color: #555; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 1.4em; font-size: 0.9em; }
table.log { table-layout: fixed; }
table.log col.k { width: 24%; } table.log col.v { width: 12%; } table.log col.u { width: 9%; }
table.log col.s { width: 40%; } table.log col.w { width: 15%; }
.wide { overflow-x: auto; max-width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
.pair { display: flex; gap: 2em; flex-wrap: wrap; } .pair table { width: auto; min-width: 18em; flex: 1; }
tr.override td { background: #fff3d6; }
tr.set-flag td { background: #ffe1cc; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
details { margin: 0.6em 0 1.2em; } summary { cursor: pointer; font-weight: bold; }
ul.england { color: #555; }
dt { font-weight: bold; margin-top: 0.5em; } dd { margin: 0.1em 0 0 1.5em; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; white-space: pre-wrap; }
.broken { color: #b00020; font-weight: bold; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  figure, table, .key { break-inside: avoid; }
  h2 { break-after: avoid; }
  .wide { overflow: visible; }
}
"""

# Marks each chart image once it has loaded (or says so when it has not), so a
# reader, and the browser test, can see that every chart rendered.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('figure img'), ok = 0;
  imgs.forEach(function (img) {
    var good = img.complete && img.naturalWidth > 0;
    img.dataset.rendered = good ? 'yes' : 'no';
    if (good) { ok += 1; } else {
      var p = document.createElement('p'); p.className = 'broken';
      p.textContent = 'This chart did not render: ' + img.alt; img.after(p);
    }
  });
  document.body.dataset.chartsRendered = ok + '/' + imgs.length;
});
"""


def _e(x) -> str:
    return html.escape(str(x))


def _value(v, pattern: str) -> str:
    text, interval = format_value(v, pattern)
    return f"{_e(text)} <small>({_e(interval)})</small>" if interval else _e(text)


def _targets_table(summary: dict) -> str:
    t = summary["target"]
    rows = [
        ("Count: families turned around by the deadline", _value(t["count"]["turned_around"], ",.0f")),
        ("Count: target", _value(t["count"]["target"], ",.0f")),
        (
            "Count: date the target was met",
            _value(t["count"].get("date_met"), "")
            if not isinstance(t["count"].get("date_met"), dict)
            else _e(t["count"]["date_met"]["median"] or "not met"),
        ),
        (
            "Coverage: share of the start stock that received key-worker intervention",
            _value(t["coverage"]["share"], ".1%"),
        ),
        ("Prevalence: stock at the start", _value(t["prevalence"]["stock_start"], ",.0f")),
        ("Prevalence: stock at the deadline", _value(t["prevalence"]["stock_end"], ",.0f")),
    ]
    for name in ("count", "coverage", "prevalence"):
        p = t[name].get("probability_met")
        if p is not None:
            rows.append((f"Probability the {name} target is met", _value(p, ".2f")))
        else:
            rows.append((f"{name.capitalize()} target met?", "yes" if t[name]["met"] else "no"))
    body = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v}</td></tr>" for k, v in rows)
    return f"<table><tr><th>Measure</th><th>Value</th></tr>{body}</table>"


_RULE_TEXT = {"at_least_4": "in at least 4 of the waves", "consecutive_4": "in 4 consecutive waves"}
_PANEL_TEXT = {
    "unbalanced": "every family, in every wave it was there",
    "balanced": "only families there at every wave",
    "attrition": "families lost to the panel as a panel loses them",
}


def _survey_section(summary: dict) -> str:
    """The survey moments as FACS observed them, and every reading of "20,000 or 7% ... 4 years out of the 6"."""
    m = summary["moments"]
    if "readings" not in m:
        return ""
    waves = m.get("waves") or []
    when = (
        f"{len(waves)} yearly waves, {uk_date(dt.date.fromisoformat(waves[0]))} to {uk_date(dt.date.fromisoformat(waves[-1]))}"
        if waves
        else "the survey waves"
    )
    rows = [
        ("Families at risk of social exclusion, mean over the waves (seed 000: 290,000)", _value(m["at_risk"], ",.0f")),
        ("Of those at risk at a wave and re-interviewed at the next, share still at risk (seed 000: 51%)",
         _value(m["persistence_1y"], ".1%")),
        ("The same, counting families who left the population as not at risk", _value(m.get("persistence_1y_all"), ".1%")),
        ("Stock (at risk with a child or youth problem), mean over the waves (seed 000: 40-50,000)", _value(m["stock"], ",.0f")),
        ("Of the stock at a wave and re-interviewed at the next, share still in it", _value(m.get("stock_persistence_1y"), ".1%")),
        ("A child-in-need episode's length as the census reads it, years (DfE 2010-11: 1.05)",
         _value(m.get("duration_child_in_need"), ".2f")),
    ]  # fmt: skip
    entries = m.get("stock_entries")
    if entries:
        census = entries.get("census")
        if census:
            rows += [
                ("Families entering the stock a year, as a monthly census sees them", _value(census["per_year"], ",.0f")),
                ("… of which from the flow group (seed 000: the flow comes from it)", _value(census["from_flow_group"], ".0%")),
                ("… from families at risk outside the flow group", _value(census["from_at_risk"], ".0%")),
                ("… from families not at risk", _value(census["from_not_at_risk"], ".0%")),
                ("… from families new to the population", _value(census["from_outside"], ".0%")),
                ("Yearly rate of entering the stock: flow group / other families at risk",
                 f"{_value(census['rate_flow_group'], '.2f')} / {_value(census['rate_at_risk'], '.2f')}"),
            ]  # fmt: skip
        rows += [
            ("Every entry the model makes, stays and gaps of days included, a year", _value(entries["per_year"], ",.0f")),
            ("… of which from families not at risk", _value(entries["from_not_at_risk"], ".0%")),
            ("… by a crisis (from any classification)", _value(entries["by_crisis"], ".0%")),
        ]  # fmt: skip
    body = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v}</td></tr>" for k, v in rows)
    readings = m["readings"]
    table = []
    for rule, rule_text in _RULE_TEXT.items():
        for panel, panel_text in _PANEL_TEXT.items():
            cs, ever = readings[f"{rule}.{panel}.cross_section"], readings[f"{rule}.{panel}.ever_at_risk"]
            table.append(
                f"<tr><td>{_e(rule_text)}</td><td>{_e(panel_text)}</td><td class='num'>{_value(cs['count'], ',.0f')}"
                f"</td><td class='num'>{_value(cs['share'], '.1%')}</td><td class='num'>{_value(ever['share'], '.1%')}"
                "</td></tr>"
            )
    attrition = m.get("attrition") or [None, None]
    return (
        f"<h2 id='survey'>The survey, as FACS observed it</h2><p>The population observed at {_e(when)}, before any new "
        "policy, as the Families and Children Study's panel saw it: a family is re-interviewed only if it is still "
        "there.</p>"
        f"<table><tr><th>Measure</th><th>Value</th></tr>{body}</table>"
        "<p>Seed 000 says <q>c. 20,000 or 7% of these are very persistently at risk remaining at risk for 4 years out "
        "of the 6 year period examined</q>. No source found says how that was counted, so every reading is given: "
        "compare the count with 20,000 and either share with 7% (Oroyemi et al. 2009: 4-7%). The panel's attrition is "
        f"{_e(_fmt(attrition[0], '.0%'))} a year ({_e(_fmt(attrition[1], '.0%'))} for a family at risk; "
        "<code>survey.attrition</code>).</p>"
        "<table id='readings'><tr><th>At risk</th><th>Families counted</th><th style='white-space:nowrap'>Count</th>"
        "<th>Share of those at risk at a wave</th><th>Share of those ever at risk</th></tr>"
        f"{''.join(table)}</table>"
    )


def _key_numbers(summary: dict, deadline: dt.date) -> str:
    """The three numbers a reader needs: the count against its target, the coverage and the stock."""
    t = summary["target"]
    goal = t["count"]["target"]
    reached, _ = format_value(t["count"]["turned_around"], ",.0f")
    share, _ = format_value(t["coverage"]["share"], ".0%")
    start, _ = format_value(t["prevalence"]["stock_start"], ",.0f")
    end, _ = format_value(t["prevalence"]["stock_end"], ",.0f")
    reached_of = t["coverage"].get("families_reached")
    reached_of = (
        f"{format_value(reached_of, ',.0f')[0]} of the {format_value(t['coverage'].get('start_stock'), ',.0f')[0]}"
    )
    without = ""
    add = summary.get("additional", {})
    if "stock_end" in add:  # the paired counterfactual's stock: the stock less what the programmes changed
        mean = lambda v: v["mean"] if isinstance(v, dict) else v  # noqa: E731
        off = mean(t["prevalence"]["stock_end"]) - mean(add["stock_end"])
        without = f"; {off:,.0f} without the programmes' effects"
    cards = [(reached, f"families turned around by {uk_date(deadline)}, against a target of {goal:,.0f}")]
    if "turned_around" in add:  # what the programmes caused leads; the count as the target counts it follows
        caused, _ = format_value(add["turned_around"], "+,.0f")
        cards = [
            (caused, f"families turned around because of the programmes by {uk_date(deadline)}"),
            (
                reached,
                f"families turned around in all (the rest would have left the stock anyway), against a "
                f"target of {goal:,.0f}",
            ),
        ]
    cards += [
        (share, f"coverage: {reached_of} families in the stock at the start received key-worker intervention"),
        (end, f"prevalence: families in the stock at the deadline, against {start} at the start{without}"),
    ]
    if "cost" in summary:
        cost = summary["cost"]["england_gbp"]
        cards.append(
            (
                millions_value(cost)[0],
                "what the programmes cost in England "
                f"from the start to {uk_date(deadline)} (see What the programmes cost)",
            )
        )
    body = "".join(f"<div><strong>{_e(big)}</strong><small>{_e(words)}</small></div>" for big, words in cards)
    return f"<div class='key' id='key-numbers'>{body}</div>"


def _ensemble_section(summary: dict) -> str:
    """'How sure is this?': the answer over the calibrated ensemble, each measure's spread and where it comes from."""
    e = summary.get("ensemble")
    if e is None:
        return ""
    p = summary["target"]["count"]["probability_met"]
    point = e.get("point_fit")
    rows = []
    shown = set()
    for m in used_in(HOW_SURE):
        key, label, pattern = m.key, m.label[:1].upper() + m.label[1:], m.fmt
        if not has(summary, key) or key not in e["variance_share"] or m.same_as in shown:
            continue
        shown.add(key)
        v = get(summary, key)
        split = e["variance_share"][key]
        at_point = ""
        if point is not None and key in point["measures"]:
            w = point["measures"][key]
            at_point = (
                f"<td class='num'>{format(w['mean'], pattern)}<br><small>{format(w['lo'], pattern)} to "
                f"{format(w['hi'], pattern)}</small></td>"
            )
        elif point is not None:
            at_point = "<td></td>"
        rows.append(
            f"<tr><td>{_e(label)}</td><td class='num'>{format(v['mean'], pattern)}</td>"
            f"<td class='num'>{format(v['lo'], pattern)} to {format(v['hi'], pattern)}</td>{at_point}"
            f"<td class='num'>{_split_text(split)}</td></tr>"
        )
    point_head = point_text = ""
    if point is not None:
        q = point["probability_met"]
        point_head = "<th>The point fit alone: mean, 95% interval of the mean</th>"
        point_text = (
            f" The point fit alone (the calibration's single best parameter set, {point['replications']} "
            f"replications on the same streams) meets it with probability {q['mean']:.2f} ({q['lo']:.2f} to "
            f"{q['hi']:.2f}): its intervals, in the fourth column, are chance only, and are what this model "
            "reported before it had an ensemble."
        )
    three = "structures" in summary
    drawn = (
        f"{e['sets']} parameter sets drawn from the calibrated ensembles of {_count(summary)} "
        "(<a href='#structures'>By structure</a>)"
        if three
        else f"{e['sets']} parameter sets drawn from the {e['members']} of the calibrated ensemble "
        f"(<code>{_e(e['path'])}</code>)"
    )
    last = (
        "the share of each measure's variance that comes from the parameters, from the structure and from chance"
        if three
        else "the share of each measure's variance that comes from the parameters (the rest is chance)"
    )
    return (
        "<h2 id='how-sure'>How sure is this?</h2>"
        f"<p>This run answers over {drawn}, each run {e['replications_per_set']} times, drawn by their weight in "
        "the calibration (a posterior's importance weights, or equal weights over what history matching cannot rule "
        "out), so the spread below is what the data allow, with chance on top. The target is met with probability "
        f"<strong>{p['mean']:.2f}</strong> (95% "
        f"interval {p['lo']:.2f} to {p['hi']:.2f}, over {summary['replications']} runs).{point_text} Intervals "
        f"over the ensemble, here and above, are 95% of runs, not intervals for a mean. The last column is {last}, "
        "by analysis of variance within and between sets"
        + (" and structures" if three else "")
        + ". Which parameters move the answer is charted below (<a "
        "href='#chart-how_sure'>What would change the answer</a>).</p>"
        "<table><tr><th>Measure</th><th>Over the ensemble: mean</th><th>95% of runs</th>"
        f"{point_head}<th>Variance from the parameters"
        + (" / structure / chance" if three else "")
        + "</th></tr>"
        + "".join(rows)
        + "</table>"
        + _structures_table(summary)
    )


def _count(summary: dict) -> str:
    n = len(summary["structures"]["components"])
    return f"{n} structure{'s' if n != 1 else ''}"


def _amount(x: float, key: str) -> str:
    """A measure's value as the tables show it: money in £ millions, else the measure's own format."""
    m = BY_KEY[key]
    return millions_value(x)[0] if m.unit == "gbp" else format(x, m.fmt)


def _split_text(split: dict) -> str:
    """'61%', or '40% / 35% / 25%' (parameters / structure / chance) over several structures; blank if unknown."""
    if split.get("parameters") is None:
        return ""
    if "structure" in split:
        return " / ".join(format(split[k], ".0%") for k in ("parameters", "structure", "chance"))
    return format(split["parameters"], ".0%")


def _structures_table(summary: dict) -> str:
    """'By structure': each structure's answer over its own ensemble, and the pool."""
    st = summary.get("structures")
    if not st:
        return ""
    keys = list(st["components"][0]["measures"])
    head = "".join(f"<th>{_e(BY_KEY[k].label[:1].upper() + BY_KEY[k].label[1:])}</th>" for k in keys)
    pooled = {k: get(summary, k) for k in keys}
    rows = [
        (
            f"{c['name']}<br><small>{_e(c['label'])}; {count(c['sets'], 'set')} from a {_e(c['method'] or 'ensemble')} of "
            f"{c['members']}</small>",
            c["probability_met"],
            c["measures"],
        )
        for c in st["components"]
    ]
    shares = ", ".join(f"{c['name']} {c['share']:.0%}" for c in st["components"])
    rows.append(
        (
            f"<strong>pooled</strong><br><small>{_e(shares)}</small>",
            summary["target"]["count"]["probability_met"],
            pooled,
        )
    )
    body = ""
    for name, p, measures in rows:
        cells = "".join(
            f"<td class='num'>{_amount(measures[k]['mean'], k)}<br><small>{_amount(measures[k]['lo'], k)} to "
            f"{_amount(measures[k]['hi'], k)}</small></td>"
            for k in keys
        )
        body += f"<tr><td>{name}</td><td class='num'>{p['mean']:.2f}</td>{cells}</tr>"
    missing = "".join(f"<li>{_e(m['name'])}: {_e(m['why'])}</li>" for m in st.get("missing", []))
    return (
        "<h3 id='structures'>By structure</h3>"
        "<p>Each structure answers over its own calibrated ensemble; the pool is their mixture, each weighing its "
        "share of the parameter sets (its weight in calibration/structures.toml). Below each mean, 95% of "
        "runs.</p>"
        f"<table><tr><th>Structure</th><th>Probability the target is met</th>{head}</tr>{body}</table>"
        + (f"<p>Left out of the pool:</p><ul>{missing}</ul>" if missing else "")
    )


def _part_year(label: str, end: dt.date | None) -> str:
    """'2015-16 (part year, to 31 May 2015)' for the financial year the run ends inside."""
    if end is None or not label[:4].isdigit():
        return label
    year = int(label[:4])
    if dt.date(year, 4, 1) <= end < dt.date(year + 1, 3, 31):
        return f"{label} (part year, to {uk_date(end)})"
    return label


def _programme_2012_sentence(summary: dict) -> str:
    """One sentence: how many of the results councils claimed were additional, and what the rest were."""
    block = summary.get("programme_2012")
    if not block or block.get("additional") is None:
        return ""

    def n(key):
        return format_value(block[key], ",.0f")[0]

    return (
        f"<p id='programme-2012'><strong>Of the {n('claimed')} results councils claimed by {_e(block['deadline'])}, "
        f"{n('additional')} were additional</strong>: {n('claimed_caused')} were true and caused by the programmes, "
        f"{n('claimed_anyway')} true but would have happened anyway, and {n('claimed_not_true')} met the evidence "
        f"rules in the councils' records but not in the families' lives ({n('attached')} families attached of "
        f"{n('allocation')} allocated; {n('identified')} identified, {n('eligible')} of them eligible).</p>"
    )


def _finance_section(summary: dict, end: dt.date | None = None) -> str:
    """Payment by results: claimed against additional results, and money by financial year."""
    if "results" not in summary:
        return ""
    r = summary["results"]
    rows = [
        ("Families attached", _value(r["attached"], ",.0f")),
        ("Results claimed by the deadline (crime/education or employment)", _value(r["claimed"], ",.0f")),
        ("Results that would have happened anyway (counterfactual)", _value(r.get("counterfactual_claimed"), ",.0f")),
        ("Additional results (claimed minus counterfactual)", _value(r.get("additional"), ",.0f")),
        ("Deadweight share", _value(r.get("deadweight_share"), ".0%")),
    ]
    body = "".join(f"<tr><td>{_e(k)}</td><td class='num'>{v}</td></tr>" for k, v in rows)
    cols = [
        "financial_year",
        "families_attached",
        "attachment_paid_gbp",
        "results_paid_gbp",
        "money_at_risk_gbp",
        "families_turned_around_to_date",
        "cost_per_family_turned_around_gbp",
    ]
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in cols)
    money = "".join(
        "<tr>"
        + "".join(
            (
                f"<td>{_e(_part_year(row[c], end))}</td>"
                if c == "financial_year"
                else f"<td class='num'>{_value(row.get(c), ',.0f')}</td>"
            )
            for c in cols
        )
        + "</tr>"
        for row in summary["finance"]
    )
    summed = ("families_attached", "attachment_paid_gbp", "results_paid_gbp")  # flows add up over the years
    totals = "".join(
        f"<td class='num'>{_value(sum(r.get(c) or 0 for r in summary['finance']), ',.0f')}</td>"
        if c in summed
        else ("<td>Total</td>" if c == "financial_year" else "<td></td>")
        for c in cols
    )
    money += f"<tr class='total'>{totals}</tr>"
    scale = summary.get("scale", 1)
    scaled = (
        f"The run simulated {scale:.1%} of England: these counts and sums of money are for that share (divide "
        "by the scale for England). "
        if scale != 1
        else ""
    )
    return (
        f"<h2>Payment by results</h2>{_programme_2012_sentence(summary)}"
        f"<p>Counterfactual: {_e(r.get('counterfactual', ''))}.</p>"
        f"<table><tr><th>Measure</th><th>Value</th></tr>{body}</table>"
        f"<p>{_e(scaled)}By financial year (£ and families as simulated):</p>"
        f"<div class='wide'><table><tr>{head}</tr>{money}</table></div>"
    )


def _money_cell(value) -> str:
    """England's £ as £ millions in a table cell (with its interval on a second line over replications)."""
    return f"<td class='num'>{_e(millions(value))}</td>"


def _cost_section(summary: dict, start: dt.date, deadline: dt.date) -> str:
    """What the programmes cost, in England's £: a sentence with the total and the cost per family turned around
    because of them, then the total by financial year and by programme, each with its total row."""
    if "cost" not in summary:
        return ""
    c = summary["cost"]
    each = cost_per_additional(summary)
    per = (
        f", or £{each:,.0f} for each family turned around because of them"
        if each is not None
        else (", and they turned no family around that would not have been anyway" if "additional" in summary else "")
    )
    scaled = (
        f" The run simulated {summary['scale']:.1%} of England; money is scaled back to England."
        if summary["scale"] != 1
        else ""
    )
    years = "".join(
        f"<tr><td>{_e(_part_year(fy, deadline))}</td>{_money_cell(v)}</tr>"
        for fy, v in c["by_financial_year_england_gbp"].items()
    )
    progs = "".join(
        f"<tr><td>{_e(name.replace('_', ' '))}</td>{_money_cell(v)}</tr>"
        for name, v in c["by_programme_england_gbp"].items()
    )
    total = f"<tr class='total'><td>Total</td>{_money_cell(c['england_gbp'])}</tr>"
    return (
        f"<h2 id='cost'>What the programmes cost</h2><p><strong>The programmes cost {_e(millions(c['england_gbp']))} "
        f"in England from {_e(uk_date(start))} to {_e(uk_date(deadline))}{_e(per)}.</strong> "
        f"Cost: {_e(c['definition'])}.{_e(scaled)}</p>"
        "<div class='pair'>"
        f"<table><tr><th>Financial year</th><th>£, England</th></tr>{years}{total}</table>"
        f"<table><tr><th>Programme</th><th>£, England</th></tr>{progs}{total}</table>"
        "</div>"
    )


def _council_section(summary: dict, council: str | None) -> str:
    """The council the run was asked about (``flowsim run --council NAME``): its 2012 programme counts beside
    England's, so the report says what the terminal said."""
    if not council or "programme_2012" not in summary:
        return ""
    mine, england = programme_2012.lines(summary, council), programme_2012.lines(summary)
    rows = "".join(f"<li>{_e(line.strip())}</li>" for line in mine)
    return (
        f"<h2 id='council'>{_e(council)}</h2><p>The 2012 programme in {_e(council)}, as "
        f"<code>--council</code> asked (England's counts follow for comparison):</p><ul>{rows}</ul>"
        f"<ul class='england'>{''.join(f'<li>{_e(line.strip())}</li>' for line in england)}</ul>"
    )


def _statistics_section(run: RunDirectory, end: dt.date | None = None) -> str:
    """The annual statistics view (seed 000 slide 2): families starting, supported and leaving, by year and programme."""
    if not run.has("statistics"):
        return ""
    t = run.table("statistics")
    cols = [c for c in STATISTICS_COLUMNS if c != "cost_gbp"]  # money is in the cost section, scaled to England
    t = t.groupby(["financial_year", "programme"], sort=False)[cols].mean().reset_index()
    t = t[t.groupby("programme")["families_supported"].transform("sum") > 0]
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in ["financial_year", "programme", *cols])
    rows = "".join(
        f"<tr><td>{_e(_part_year(r.financial_year, end))}</td><td>{_e(r.programme.replace('_', ' '))}</td>"
        + "".join(f"<td class='num'>{getattr(r, c):,.0f}</td>" for c in cols)
        + "</tr>"
        for r in t.itertuples(index=False)
    )
    return (
        "<h2>Annual statistics</h2><p>As an official release would show them: by financial year and programme, "
        "families starting, families supported during the year, and how interventions ended "
        "(mean over replications; counts are for the simulated population).</p>"
        f"<div class='wide'><table><tr>{head}</tr>{rows}</table></div>"
    )


def _assumptions_table(rows: list[dict]) -> str:
    out = [
        "<table class='log'><colgroup><col class='k'><col class='v'><col class='u'><col class='s'><col class='w'>"
        "</colgroup><tr><th>Parameter</th><th>Value</th><th>Unit</th><th>Source</th><th>Set in</th></tr>"
    ]
    for r in rows:
        cls = "set-flag" if r["set_in"].startswith("--set") else ("override" if r["set_in"] else "")
        out.append(
            f"<tr class='{cls}'><td><code>{_e(r['key'])}</code></td><td>{_e(r['value'])}</td>"
            f"<td>{_e(r['unit'])}</td><td>{_e(r['source'])}</td><td>{_e(where_set(r) or 'registry default')}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def write_report(run: RunDirectory | Path, charts: dict[str, list[Path]]) -> Path:
    """Write the run directory's ``report.html`` from its summary, manifest, assumption log and charts."""
    run = run if isinstance(run, RunDirectory) else RunDirectory(run)
    summary, manifest, assumptions = run.summary, run.manifest, run.assumptions
    deadline = dt.date.fromisoformat(manifest["scenario"]["time"]["deadline"])
    figures = []
    for name, title in CHARTS.items():
        if name not in charts:
            continue
        png = next(p for p in charts[name] if p.suffix == ".png")
        data = base64.b64encode(png.read_bytes()).decode()
        figures.append(
            f"<figure id='chart-{name}'><img src='data:image/png;base64,{data}' alt='{_e(title)}'>"
            f"<figcaption>{_e(title)} (also as <code>charts/{name}.svg</code>)</figcaption></figure>"
        )
    n_set = sum(1 for r in assumptions if r["set_in"])
    run_end = dt.date.fromisoformat(manifest["scenario"]["time"]["end"])
    started = dt.datetime.fromisoformat(manifest["started_at"])
    met = summary["target"]["count"].get("met")
    if met is None:
        met = summary["target"]["count"]["probability_met"]["mean"] >= 0.5
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>flowsim: {_e(manifest["scenario_name"])}</title>
<style>{_CSS}</style></head>
<body data-charts-rendered="pending">
<h1>Can every troubled family be turned around by {_e(uk_date(deadline))}?</h1>
<p class="headline{"" if met else " not-met"}" id="headline">{_e(run.headline)}</p>
{_key_numbers(summary, deadline)}
<p>Scenario <strong>{_e(manifest["scenario_name"])}</strong> (sha256 <code>{_e(manifest["scenario_sha256"][:12])}</code>),
{manifest["replications"]} replication(s), seed {manifest["seed"]}, flowsim {_e(manifest["flowsim_version"])},
run on {_e(uk_date(started.date()))} at {started:%H:%M} UTC.</p>
{_ensemble_section(summary)}
<h2>Charts</h2>
{"".join(figures)}
<h2>Target measures</h2>
{_targets_table(summary)}
{_survey_section(summary)}
{_council_section(summary, manifest.get("council"))}
{_cost_section(summary, run.start, deadline)}
{_finance_section(summary, run_end)}
{_statistics_section(run, run_end)}
<h2>Glossary</h2>
<details id="glossary"><summary>What the words in this report mean</summary>
<dl>{"".join(f"<dt>{_e(term)}</dt><dd>{_e(meaning)}</dd>" for term, meaning in GLOSSARY.items())}</dl>
</details>
<h2>Assumption log</h2>
<details id="assumptions"><summary>Every parameter with its value, unit and source ({len(assumptions)} rows;
{n_set} set by a scenario file, highlighted; orange rows were set on the command line with <code>--set</code>)</summary>
{_assumptions_table(assumptions)}
</details>
<h2>Manifest</h2>
<details id="manifest"><summary>What was run: the resolved scenario, versions, seed and command line</summary>
<pre>{_e(json.dumps(manifest, indent=2))}</pre>
</details>
<script>{_SCRIPT}</script>
</body></html>
"""
    return atomic_write(run.path / "report.html", doc)
