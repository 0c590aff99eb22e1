"""``llm-dlp audit report --html FILE``: one self-contained page a reviewer opens offline.

Everything is inline (SVG charts, CSS, a few lines of script for hover highlighting); the page
loads nothing from anywhere. Values never appear in it, only what the log holds: kinds, rules,
keyed hashes and masked previews. Jinja2 autoescapes every string taken from the log.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import jinja2

from llm_dlp.audit.charts import colour, decision_order, horizontal_bars, stacked_columns
from llm_dlp.audit.query import finding_summary
from llm_dlp.audit.summary import Summary
from llm_dlp.audit.verify import ChainSet, Verification

TOP_KINDS = 15


def render(summary: Summary, *, sources: list[Path], verification: Verification | ChainSet | None, generated: dt.datetime) -> str:
    unit, buckets = summary.over_time()
    tenants = [(t, summary.tenant_decisions[t]) for t, _ in summary.tenants.most_common(20)]
    kinds = [(k, Counter({"findings": n})) for k, n in summary.kinds.most_common(TOP_KINDS)]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["finding_summary"] = finding_summary
    return environment.from_string(PAGE).render(
        summary=summary,
        sources=sources,
        verification=verification,
        generated=generated,
        unit=unit,
        over_time=stacked_columns("chart-over-time", buckets, unit),
        kinds=horizontal_bars("chart-kinds", kinds),
        tenants=horizontal_bars("chart-tenants", tenants),
        legend=[(d, colour(d)) for d in decision_order(list(summary.decisions))],
        colour=colour,
        blocks=list(reversed(summary.latest_blocks)),
    )


def write_report(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llm-dlp audit report</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 960px; color: #222; }
  h1 { font-size: 22px; margin-bottom: 4px; }
  h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
  .meta { color: #666; font-size: 12px; }
  .verify-ok { color: #2d7a33; font-weight: 600; }
  .verify-bad { color: #b3261e; font-weight: 600; }
  .tiles { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 16px; }
  .tile { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
  .tile b { display: block; font-size: 20px; }
  .legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
  .legend i { display: inline-block; width: 11px; height: 11px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
  svg.chart text { font-size: 11px; fill: #444; }
  svg.chart line.grid { stroke: #e4e4e4; }
  svg.chart rect.bar:hover, svg.chart rect.bar.lit { opacity: 0.7; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
  th { background: #f6f6f6; }
  code { font-size: 11px; }
</style>
</head>
<body>
<h1>llm-dlp audit report</h1>
<div class="meta">
  generated {{ generated.strftime("%Y-%m-%d %H:%M:%S") }} UTC from {{ sources | length }} file(s):
  {% for s in sources %}<code>{{ s.name }}</code>{% if not loop.last %}, {% endif %}{% endfor %}
</div>
{% if verification is not none %}
<p id="chain-status" class="{{ 'verify-ok' if verification.ok else 'verify-bad' }}">
  {% if verification.chains > 1 %}{% if verification.ok %}Hash chains verified: {{ verification.lines }} lines in {{ verification.chains }} chains (instances: {{ verification.instances | join(", ") or "unnamed" }}), each verified on its own.
  {% else %}Hash chain BROKEN at {{ verification.problem }} ({{ verification.chains }} chains, each verified on its own){% endif %}
  {% elif verification.ok %}Hash chain verified: {{ verification.lines }} lines, seq {{ verification.first_seq }}..{{ verification.last_seq }}{% if verification.purged_before %} (seq 1..{{ verification.purged_before }} purged by a recorded purge){% endif %}.
  {% else %}Hash chain BROKEN at {{ verification.problem }}{% endif %}
</p>
{% endif %}

<div class="tiles">
  <div class="tile">requests<b id="total-requests">{{ summary.requests }}</b></div>
  {% for decision, n in summary.decisions.most_common() %}
  <div class="tile" style="border-left: 5px solid {{ colour(decision) }}">{{ decision }}<b>{{ n }}</b></div>
  {% endfor %}
  {% if summary.first %}<div class="tile">from<b style="font-size:13px">{{ summary.first.strftime("%Y-%m-%d %H:%M") }}</b></div>
  <div class="tile">to<b style="font-size:13px">{{ summary.last.strftime("%Y-%m-%d %H:%M") }}</b></div>{% endif %}
</div>

<h2>Decisions over time (per {{ unit }})</h2>
<div class="legend">{% for d, c in legend %}<span data-series="{{ d }}"><i style="background: {{ c }}"></i>{{ d }}</span>{% endfor %}</div>
{{ chart(over_time) }}

<h2>Top finding kinds</h2>
{{ chart(kinds) }}

<h2>Per-tenant breakdown</h2>
{{ chart(tenants) }}

<h2>Destinations by region</h2>
<table id="destinations">
  <thead><tr><th>tenant</th><th>region</th><th>provider</th><th>requests</th><th>findings</th></tr></thead>
  <tbody>
  {% for tenant, places in summary.destinations | dictsort %}{% for place, n in places.most_common() %}
    <tr><td>{{ tenant }}</td><td>{{ place.split("/", 1)[0] }}</td><td>{{ place.split("/", 1)[1] }}</td><td>{{ n }}</td>
        <td>{{ summary.destination_findings[tenant][place] }}</td></tr>
  {% endfor %}{% else %}
    <tr><td colspan="5">no requests</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2>Upstream answers</h2>
<table id="upstream-answers">
  <thead><tr><th>status</th><th>answers</th></tr></thead>
  <tbody>
  {% for status, n in summary.answers.most_common() %}
    <tr><td>{{ status }}</td><td>{{ n }}</td></tr>
  {% else %}
    <tr><td colspan="2">no answers recorded</td></tr>
  {% endfor %}
  {% if summary.unanswered %}<tr><td>forwarded, no answer line</td><td>{{ summary.unanswered }}</td></tr>{% endif %}
  </tbody>
</table>

<h2>Latest blocks</h2>
<table id="latest-blocks">
  <thead><tr><th>time (UTC)</th><th>tenant</th><th>user</th><th>host</th><th>model</th><th>findings</th><th>reason</th></tr></thead>
  <tbody>
  {% for e in blocks %}
    <tr><td>{{ e.time.strftime("%Y-%m-%d %H:%M:%S") }}</td><td>{{ e.tenant or "-" }}</td><td>{{ e.user or "-" }}</td>
        <td>{{ e.host or "-" }}</td><td>{{ e.model or "-" }}</td><td>{{ e | finding_summary }}</td><td>{{ (e.reason or "")[:160] }}</td></tr>
  {% else %}
    <tr><td colspan="7">no blocked requests</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2>Top rules and users</h2>
<table id="top-rules">
  <thead><tr><th>rule</th><th>findings</th><th>user</th><th>requests</th></tr></thead>
  <tbody>
  {% set rules = summary.rules.most_common(10) %}{% set users = summary.users.most_common(10) %}
  {% for i in range([rules | length, users | length] | max) %}
    <tr><td>{{ rules[i][0] if i < rules | length else "" }}</td><td>{{ rules[i][1] if i < rules | length else "" }}</td>
        <td>{{ users[i][0] if i < users | length else "" }}</td><td>{{ users[i][1] if i < users | length else "" }}</td></tr>
  {% endfor %}
  </tbody>
</table>

<script>
  // Hovering a legend entry lights that decision's bars; the page also records how many charts
  // actually laid out, which the project's headless-browser test reads back.
  document.querySelectorAll(".legend span").forEach(function (item) {
    item.addEventListener("mouseenter", function () {
      document.querySelectorAll('rect.bar[data-series="' + item.dataset.series + '"]').forEach(function (r) { r.classList.add("lit"); });
    });
    item.addEventListener("mouseleave", function () {
      document.querySelectorAll("rect.bar.lit").forEach(function (r) { r.classList.remove("lit"); });
    });
  });
  var drawn = Array.prototype.filter.call(document.querySelectorAll("svg.chart"), function (svg) {
    var box = svg.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && svg.querySelectorAll("rect.bar").length > 0;
  });
  document.body.setAttribute("data-charts-drawn", String(drawn.length));
</script>
</body>
</html>
"""

CHART_MACRO = """{% macro chart(c) -%}
<svg class="chart" id="{{ c.id }}" width="{{ c.width }}" height="{{ c.height }}" viewBox="0 0 {{ c.width }} {{ c.height }}" role="img" xmlns="http://www.w3.org/2000/svg">
  {% for y in c.gridlines %}<line class="grid" x1="48" x2="{{ c.width - 10 }}" y1="{{ y }}" y2="{{ y }}"/>{% endfor %}
  {% for r in c.rects %}<rect class="bar" data-series="{{ r.series }}" x="{{ r.x }}" y="{{ r.y }}" width="{{ r.width }}" height="{{ r.height }}" fill="{{ r.fill }}"><title>{{ r.tip }}</title></rect>
  {% endfor %}
  {% for l in c.labels %}<text x="{{ l.x }}" y="{{ l.y }}" text-anchor="{{ l.anchor }}">{{ l.text }}</text>{% endfor %}
  {% if not c.rects %}<text x="{{ c.width / 2 }}" y="24" text-anchor="middle">no data</text>{% endif %}
</svg>
{%- endmacro %}
"""

PAGE = CHART_MACRO + PAGE
