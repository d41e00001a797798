"""Server-rendered HTML pages of the OGC API: simple, readable, working offline.

Everything shown is escaped (process texts come from process authors, job messages from
processes and schedulers): no text reaches a page as markup.  No external asset is loaded;
the style and the dashboard's one script are inline and allowed by their hashes in the
Content-Security-Policy, which allows nothing else (no other script, no plugin, no frame).
"""
from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any, Iterable

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}code,pre{font-family:ui-monospace,monospace;font-size:.85rem}
pre{background:#f7f7f7;padding:.5rem;overflow:auto;max-height:16rem;margin:0}
.status-successful{color:#176117}.status-failed{color:#a11}.status-running{color:#0b5394}
.status-accepted{color:#555}.status-dismissed{color:#777}nav a{margin-right:1rem}.muted{color:#666}
""".strip()

# The job list's live status: polls the same list as JSON and rewrites the table's body.
# Text goes in with textContent only, and links are built from the job id, never from markup.
DASHBOARD_SCRIPT = """
(function () {
  var table = document.getElementById("jobs");
  var source = table.getAttribute("data-source");
  var jobs = table.getAttribute("data-jobs");
  var stamp = document.getElementById("updated");
  function cell(row, text, name) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (name) { td.className = name; }
    row.appendChild(td);
    return td;
  }
  function render(data) {
    var body = document.createElement("tbody");
    (data.jobs || []).forEach(function (job) {
      var row = document.createElement("tr");
      row.setAttribute("data-job", String(job.jobID));
      var id = cell(row, "", null);
      var a = document.createElement("a");
      a.href = jobs + encodeURIComponent(String(job.jobID));
      a.textContent = String(job.jobID);
      id.appendChild(a);
      cell(row, job.processID, null);
      cell(row, job.status, "status status-" + String(job.status).replace(/[^a-z]/g, ""));
      cell(row, job.progress, null);
      cell(row, job.message, null);
      cell(row, job.created, null);
      cell(row, job.finished, null);
      body.appendChild(row);
    });
    table.replaceChild(body, table.tBodies[0]);
    stamp.textContent = new Date().toISOString();
  }
  function refresh() {
    fetch(source, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () {});
  }
  setInterval(refresh, 1000);
})();
""".strip()


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(DASHBOARD_SCRIPT)}; "
       "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HTML_HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"),
                ("Cache-Control", "no-cache"))


def page(title: str, body: str, base: str, script: bool = False) -> bytes:
    nav = (f'<nav><a href="{escape(base)}/">Home</a><a href="{escape(base)}/processes?f=html">Processes</a>'
           f'<a href="{escape(base)}/jobs?f=html">Jobs</a><a href="{escape(base)}/api">OpenAPI</a></nav>')
    tail = f"<script>{DASHBOARD_SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body>{nav}<h1>{escape(title)}</h1>{body}{tail}</body></html>").encode("utf-8")


def _links(links: Iterable[dict[str, Any]]) -> str:
    items = "".join(f'<li><a href="{escape(l["href"])}">{escape(l.get("title") or l["href"])}</a> '
                    f'<span class="muted">{escape(l.get("rel", ""))}</span></li>' for l in links)
    return f"<ul>{items}</ul>"


def landing_page(landing: dict[str, Any], base: str) -> bytes:
    body = f"<p>{escape(landing.get('description', ''))}</p><h2>Links</h2>{_links(landing['links'])}"
    return page(landing.get("title", "wpsgate"), body, base)


def process_list_page(processes: list[dict[str, Any]], base: str) -> bytes:
    rows = "".join(
        f'<tr><td><a href="{escape(base)}/processes/{escape(p["id"])}?f=html">{escape(p["id"])}</a></td>'
        f"<td>{escape(p.get('title', ''))}</td><td>{escape(p.get('description', ''))}</td>"
        f"<td>{escape(p.get('version', ''))}</td><td>{escape(', '.join(p.get('jobControlOptions', [])))}</td></tr>"
        for p in processes)
    body = ("<table><thead><tr><th>id</th><th>title</th><th>description</th><th>version</th>"
            f"<th>job control</th></tr></thead><tbody>{rows}</tbody></table>")
    return page("Processes", body, base)


def _parameters(items: dict[str, dict[str, Any]], occurs: bool) -> str:
    head = "<th>min</th><th>max</th>" if occurs else ""
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(item.get('title', ''))}</td>"
        f"<td>{escape(item.get('description', ''))}</td>"
        + (f"<td>{escape(str(item.get('minOccurs', 1)))}</td><td>{escape(str(item.get('maxOccurs', 1)))}</td>"
           if occurs else "")
        + f"<td><pre>{escape(json.dumps(item['schema'], indent=1))}</pre></td></tr>"
        for name, item in items.items())
    return (f"<table><thead><tr><th>id</th><th>title</th><th>description</th>{head}<th>schema</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def process_page(description: dict[str, Any], base: str) -> bytes:
    body = (f"<p>{escape(description.get('description', ''))}</p>"
            f"<p>version {escape(description.get('version', ''))}; "
            f"{escape(', '.join(description.get('jobControlOptions', [])))}</p>"
            f"<p>Execute: <code>POST {escape(base)}/processes/{escape(description['id'])}/execution</code></p>"
            f"<h2>Inputs</h2>{_parameters(description.get('inputs', {}), True)}"
            f"<h2>Outputs</h2>{_parameters(description.get('outputs', {}), False)}")
    return page(f"{description['id']}: {description.get('title', '')}", body, base)


def job_list_page(jobs: list[dict[str, Any]], source: str, next_href: str | None, base: str) -> bytes:
    rows = "".join(
        f'<tr data-job="{escape(j["jobID"])}"><td><a href="{escape(base)}/jobs/{escape(j["jobID"])}">{escape(j["jobID"])}</a></td>'
        f"<td>{escape(j.get('processID', ''))}</td>"
        f'<td class="status status-{escape(j["status"])}">{escape(j["status"])}</td>'
        f"<td>{escape(str(j.get('progress', '')))}</td><td>{escape(j.get('message', ''))}</td>"
        f"<td>{escape(j.get('created') or '')}</td><td>{escape(j.get('finished') or '')}</td></tr>"
        for j in jobs)
    more = f'<p><a href="{escape(next_href)}">next page</a></p>' if next_href else ""
    body = (f'<p class="muted">Live: refreshed every second; last update <span id="updated">at load</span>.</p>'
            f'<table id="jobs" data-source="{escape(source)}" data-jobs="{escape(base)}/jobs/"><thead><tr><th>job</th><th>process</th>'
            "<th>status</th><th>progress</th><th>message</th><th>created</th><th>finished</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}")
    return page("Jobs", body, base, script=True)
