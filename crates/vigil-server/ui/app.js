// vigil web UI: one page with hash routes. Every view calls the same HTTP API a script would.
// A person signs in through single sign-on (an HttpOnly session cookie this script never sees;
// changes echo the session's CSRF token) or with an API key, kept in this browser session and
// sent as the Authorization header, never in a URL. Event data is untrusted: it is only ever put
// into the page as text.

const KEY = "vigil.apiKey";
/** The signed-in person's session (from /api/audit/session), when signed in through single sign-on. */
let person = null;
const PAGE_SIZE = 50;
const MAX_OFFSET = 100000;
const main = document.getElementById("main");

// ------------------------------------------------------------------------------------------
// Helpers

/** Creates an element: h("a", {href: "#/x"}, "text", child…). */
function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "rect", "line", "text", "title", "a"].includes(tag) && attrs.svg;
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An SVG element. */
function s(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

const number = new Intl.NumberFormat();

/** A stored time as the API gives it (RFC 3339 UTC). */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Times are shown in the browser's zone, or in UTC: the choice is kept per browser. */
const ZONE_KEY = "vigil.timeZone";
function utcChosen() {
  return localStorage.getItem(ZONE_KEY) === "UTC";
}
/** The name of the zone times are shown in. */
function zoneName() {
  if (utcChosen()) return "UTC";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return zone ? `local, ${zone}` : "local";
}

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso || "";
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZone: utcChosen() ? "UTC" : undefined,
  });
}

function errorBox(message) {
  return h("div", { class: "error", role: "alert" }, message);
}

class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API with the session's key; non-2xx answers become ApiError with the server's message. */
async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY);
  const headers = new Headers(options.headers || {});
  const method = options.method || "GET";
  if (key) headers.set("Authorization", "Bearer " + key);
  else if (person && method !== "GET" && method !== "HEAD") headers.set("X-CSRF-Token", person.csrfToken);
  const init = { method, headers, credentials: "same-origin" };
  if (options.json !== undefined) {
    headers.set("Content-Type", "application/json");
    init.body = JSON.stringify(options.json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, "vigil could not be reached: " + error.message);
  }
  if (!response.ok) {
    let body = null;
    let message = response.status + " " + response.statusText;
    try {
      body = await response.json();
      message = body.error || body.message || message;
    } catch (_) { /* not JSON */ }
    if (response.status === 401 && !options.signingIn) {
      person = null;
      signOut((key ? "Your API key is no longer accepted (" : "Your sign-in has ended (") + message + "). Sign in again.");
    }
    throw new ApiError(response.status, message, body);
  }
  return response;
}

async function apiJson(path, options) {
  return (await api(path, options)).json();
}

async function graphql(query, variables = {}) {
  const body = await apiJson("/api/audit/graphql", { method: "POST", json: { query, variables } });
  if (body.errors && body.errors.length) throw new ApiError(200, body.errors.map((e) => e.message).join("; "));
  return body.data;
}

/** Saves a blob as a file through a temporary link. */
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Waits until the search index has every stored event, so new events show up in a search. */
async function waitUntilIndexed(limit = 60) {
  for (let i = 0; i < limit; i++) {
    const status = await apiJson("/api/audit/status");
    if (status.indexedSequence >= status.lastSequence) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// ------------------------------------------------------------------------------------------
// Time ranges, shared by the audit page and the dashboards (kept in the URL).

const PRESETS = [
  ["1h", "Last hour", 1],
  ["24h", "Last 24 hours", 24],
  ["7d", "Last 7 days", 24 * 7],
  ["30d", "Last 30 days", 24 * 30],
  ["hours", "Custom number of hours", null],
  ["since", "Since a relative time", null],
  ["custom", "Custom date range", null],
];

/** The range of the URL's parameters as the API takes it: {from, to, label}. Presets are
 * relative to now (`now-24h` … `now`), so a saved search or a link keeps meaning "the last day". */
function timeRange(params) {
  const range = params.get("range") || "24h";
  if (range === "custom") {
    const from = params.get("from");
    const to = params.get("to");
    return { from, to, label: `${formatTime(from)} – ${formatTime(to)}` };
  }
  if (range === "since") {
    const since = (params.get("since") || "now-15m").trim();
    return { from: since, to: "now", label: `Since ${since}` };
  }
  let hours = PRESETS.find((p) => p[0] === range)?.[2];
  if (range === "hours") hours = Math.max(1, Number(params.get("hours")) || 24);
  if (!hours) hours = 24;
  const label = range === "hours" ? `Last ${hours} hours` : PRESETS.find((p) => p[0] === range)?.[1] || "Last 24 hours";
  return { from: `now-${hours}h`, to: "now", label };
}

/** "2024-03-21T13:39" for a datetime-local input, in local time. */
function localInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The range a chart of `buckets` time buckets asks for. A relative range of whole hours ("the
 * last 24 hours") goes as whole minutes ending with the current minute when its buckets then
 * come out whole minutes: the server sums the events per minute it keeps for each sealed part
 * of the index instead of reading every event's time, so the chart stays cheap over years of
 * history. Any other range goes as chosen. */
function timelineRange(range, buckets) {
  const hours = /^now-(\d+)h$/.exec(range.from || "");
  const span = hours ? Number(hours[1]) * 3600000 : 0;
  if (!span || range.to !== "now" || span % (buckets * 60000) !== 0) return range;
  const end = (Math.floor(Date.now() / 60000) + 1) * 60000;
  return { ...range, from: new Date(end - span).toISOString(), to: new Date(end - 1).toISOString() };
}

/** The time-range controls; `read(params)` copies the choice into URL parameters. */
function timeControls(params) {
  const range = params.get("range") || "24h";
  const select = h("select", { name: "range", id: "range" },
    PRESETS.map(([value, label]) => h("option", { value, selected: value === range }, label)));
  const hours = h("input", { type: "number", min: 1, max: 87600, name: "hours", id: "hours", value: params.get("hours") || "24" });
  const since = h("input", { type: "text", name: "since", id: "since", value: params.get("since") || "now-15m",
    placeholder: "now-15m, now-7d, 24h", title: "now, now-15m, now-24h, now-7d, or a duration such as 24h for that long ago" });
  const sinceLabel = h("label", {}, "Since", since);
  const from = h("input", { type: "datetime-local", name: "from", id: "from", value: localInput(params.get("from")) });
  const to = h("input", { type: "datetime-local", name: "to", id: "to", value: localInput(params.get("to")) });
  const hoursLabel = h("label", {}, "Hours", hours);
  const fromLabel = h("label", {}, "From", from);
  const toLabel = h("label", {}, "To", to);
  const sync = () => {
    hoursLabel.hidden = select.value !== "hours";
    sinceLabel.hidden = select.value !== "since";
    fromLabel.hidden = toLabel.hidden = select.value !== "custom";
  };
  select.addEventListener("change", sync);
  sync();
  return {
    elements: [h("label", {}, "Time range", select), hoursLabel, sinceLabel, fromLabel, toLabel],
    read(next) {
      next.set("range", select.value);
      if (select.value === "hours") next.set("hours", hours.value || "24");
      if (select.value === "since") {
        if (!since.value.trim()) throw new Error("Give a relative time, such as now-15m.");
        next.set("since", since.value.trim());
      }
      if (select.value === "custom") {
        if (!from.value || !to.value) throw new Error("Give both ends of the custom date range.");
        const start = new Date(from.value);
        const end = new Date(to.value);
        if (start > end) throw new Error("The custom date range starts after it ends.");
        next.set("from", start.toISOString());
        next.set("to", end.toISOString());
      }
    },
  };
}

// ------------------------------------------------------------------------------------------
// Facets and events

const FACETS = [
  ["actorName", "User"],
  ["action", "Action"],
  ["actionStatus", "Status"],
  ["targetType", "Target type"],
  ["dataSourceName", "Data source"],
  ["technology", "Technology"],
  ["projectName", "Project"],
  ["purpose", "Purpose"],
  ["tag", "Tag"],
  ["sensitivity", "Sensitivity"],
  ["eventType", "Event type"],
  ["platformUser", "Platform user"],
  ["outcome", "Outcome"],
];
const FACET_LABEL = Object.fromEntries(FACETS);

/** The filters of the URL: [[field, value]…] from `f=field:value`; exclusions come from
 * `x=field:value` and are given as [field + ".not", value]. */
function filtersOf(params) {
  const split = (kind, suffix) => params.getAll(kind).map((f) => {
    const at = f.indexOf(":");
    return [f.slice(0, at) + suffix, f.slice(at + 1)];
  }).filter(([field]) => field !== suffix);
  return [...split("f", ""), ...split("x", ".not")];
}

/** The URL parameter that holds a filter: `f=field:value`, or `x=field:value` for an exclusion. */
function filterParam(field, value) {
  return field.endsWith(".not") ? ["x", field.slice(0, -4) + ":" + value] : ["f", field + ":" + value];
}

/** A search query string for the API. */
function searchQuery({ from, to, q, filters = [], extra = {} }) {
  const query = new URLSearchParams();
  if (from) query.set("from", from);
  if (to) query.set("to", to);
  if (q) query.set("q", q);
  for (const [field, value] of filters) query.append(field, value);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  return query;
}

function platformUsername(event) {
  const context = event.auditPayload?.technologyContext || {};
  return context.snowflakeUsername || context.trinoUsername || context.account?.username
    || context.username || context.userName || null;
}

/** The actor as shown: unknown users as "Unknown", with the platform username beside. */
function actorCell(event, words) {
  const actor = event.actor || {};
  if (actor.type === "UNKNOWN" || actor.id === "Unknown" || !actor.name && !actor.id) {
    const platform = platformUsername(event);
    return h("span", {}, "Unknown", platform ? h("span", { class: "sub" }, " (platform user ", h("code", {}, platform), ")") : null);
  }
  return h("span", {}, marked(actor.name || actor.id, words));
}

function targetsText(event) {
  return (event.targets || []).map((t) => t.name || t.id).filter(Boolean).join(", ");
}

// ------------------------------------------------------------------------------------------
// Pages

let generation = 0;

/** Renders a page into main; async work checks `current()` before touching the page. */
function page(title, ...children) {
  document.title = title + " · vigil";
  main.replaceChildren(h("h1", {}, title),
    ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

/** Shows who is signed in, for a key or a person. */
function showWho(session) {
  document.getElementById("who").textContent = "Signed in as " + session.name;
}

function signInPage(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  const input = h("input", { type: "password", id: "api-key", name: "apiKey", autocomplete: "off" });
  const error = h("div", { id: "sign-in-error", "aria-live": "assertive" });
  if (message) error.append(errorBox(message));
  const button = h("button", { type: "submit", class: "primary", id: "sign-in" }, "Sign in");
  const form = h("form", {
    class: "signin",
    onsubmit: async (event) => {
      event.preventDefault();
      error.replaceChildren();
      const key = input.value.trim();
      if (!key) {
        error.append(errorBox("Enter an API key."));
        return;
      }
      button.disabled = true;
      sessionStorage.setItem(KEY, key);
      try {
        const session = await apiJson("/api/audit/session", { signingIn: true });
        if (!session.permissions.includes("AUDIT")) {
          sessionStorage.removeItem(KEY);
          error.append(errorBox(`The key “${session.name}” does not have the AUDIT permission the audit pages need.`));
          return;
        }
        showWho(session);
        route();
      } catch (e) {
        sessionStorage.removeItem(KEY);
        error.append(errorBox(e.status === 401 ? "That API key was not accepted: " + e.message : e.message));
      } finally {
        button.disabled = false;
      }
    },
  }, h("p", {}, "Sign in with a vigil API key that has the AUDIT permission. It is kept only for this browser tab."),
  h("label", {}, "API key", input), button, error);
  const singleSignOn = h("div", { class: "signin", id: "sso", hidden: true });
  main.replaceChildren(h("h1", {}, "Sign in to vigil"), singleSignOn, form);
  document.title = "Sign in · vigil";
  input.focus();
  apiJson("/api/audit/sign-in", { signingIn: true }).then((options) => {
    if (!options.singleSignOn) return;
    const back = "/" + location.hash;
    singleSignOn.append(
      h("a", { class: "button primary", id: "sso-sign-in", href: options.loginUrl + "?returnTo=" + encodeURIComponent(back) },
        "Sign in with single sign-on"),
      h("p", {}, "Or, for a machine's access, with an API key:"));
    singleSignOn.hidden = false;
  }).catch(() => { /* the API-key form still works */ });
}

async function signOut(message) {
  sessionStorage.removeItem(KEY);
  if (person) {
    const ending = person;
    person = null;
    try {
      await fetch("/auth/logout", { method: "POST", headers: { "X-CSRF-Token": ending.csrfToken }, credentials: "same-origin" });
    } catch (_) { /* the session ends by itself */ }
  }
  signInPage(message);
}

// ----- Audit page

/** The active filters as chips, each removed with its × (on the page `path`). */
function filterChips(path, params, filters) {
  const labelOf = (field) => {
    const base = field.replace(/\.not$/, "");
    return (FACET_LABEL[base] || base) + (field.endsWith(".not") ? " is not" : "");
  };
  return h("ul", { class: "chips", "aria-label": "Active filters" },
    filters.map(([field, value]) => h("li", { class: field.endsWith(".not") ? "not" : "" },
      h("span", {}, labelOf(field) + ": ", h("span", { class: "value" }, value)),
      h("button", {
        type: "button",
        "aria-label": `Remove filter ${labelOf(field)}: ${value}`,
        title: "Remove this filter",
        onclick: () => {
          const next = new URLSearchParams(params);
          next.delete("f");
          next.delete("x");
          next.delete("offset");
          for (const [f, v] of filters) if (!(f === field && v === value)) next.append(...filterParam(f, v));
          go(path, next);
        },
      }, "×"))));
}

/** The search of the audit page's URL, as API parameters (without paging). */
function auditSearch(params) {
  const range = timeRange(params);
  const extra = params.get("own") === "1" ? { ownReads: "include" } : {};
  return { range, query: searchQuery({ from: range.from, to: range.to, q: params.get("q") || "", filters: filtersOf(params), extra }) };
}

/** "Export results": every event of the current search as CSV, the same file the API gives. */
async function exportResults(params, status) {
  const { query } = auditSearch(params);
  query.set("format", "csv");
  status.replaceChildren(h("p", { class: "muted" }, "Preparing the CSV of every matching event…"));
  try {
    const response = await api("/api/audit/events?" + query);
    const blob = await response.blob();
    saveBlob(blob, "vigil-audit-events.csv");
    status.replaceChildren(h("p", { id: "export-done" }, `Downloaded ${number.format(blob.size)} bytes of CSV.`));
  } catch (e) {
    status.replaceChildren(errorBox("The export failed: " + e.message));
  }
}

async function auditPage(params) {
  const mine = ++generation;
  if (params.get("saved")) {
    // A saved search's link: open its search.
    try {
      const saved = await apiJson("/api/audit/saved-searches");
      const one = saved.find((x) => x.id === params.get("saved"));
      if (!one) throw new Error("This saved search no longer exists.");
      if (mine === generation) go("audit", new URLSearchParams(one.query));
    } catch (e) {
      page("Audit events", errorBox(e.message));
    }
    return;
  }
  const range = timeRange(params);
  const filters = filtersOf(params);
  const q = params.get("q") || "";
  const offset = Math.min(Number(params.get("offset")) || 0, MAX_OFFSET);
  const controls = timeControls(params);
  const keywords = h("input", { type: "search", name: "q", id: "q", value: q, placeholder: "Words in queries, names, ids" });
  const ownReads = h("input", { type: "checkbox", id: "own-reads", name: "own", checked: params.get("own") === "1",
    onchange: () => form.requestSubmit() });
  const formError = h("div", { "aria-live": "assertive" });
  const loadStatus = h("div", { id: "load-status", role: "status", "aria-live": "polite" });
  const form = h("form", {
    class: "toolbar",
    id: "audit-form",
    onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams();
      try {
        controls.read(next);
      } catch (e) {
        formError.replaceChildren(errorBox(e.message));
        return;
      }
      if (keywords.value.trim()) next.set("q", keywords.value.trim());
      for (const [field, value] of filters) next.append(...filterParam(field, value));
      if (ownReads.checked) next.set("own", "1");
      go("audit", next);
    },
  }, controls.elements, h("label", { class: "grow" }, "Keywords", keywords),
  h("label", { class: "check", title: "vigil records every search and report run; they are hidden unless you ask" }, ownReads, "Show vigil's own reads"),
  h("button", { type: "submit", class: "primary", id: "search" }, "Search"),
  h("button", { type: "button", id: "load", onclick: () => loadEvents(loadStatus, mine) }, "Load Audit Events"),
  h("button", { type: "button", id: "export-results", onclick: () => exportResults(params, loadStatus) }, "Export results"));

  const chips = filterChips("audit", params, filters);
  const aside = h("aside", { class: "facets", "aria-label": "Filters" }, h("p", { class: "muted" }, "Loading filters…"));
  const results = h("section", { "aria-label": "Results", id: "results" }, h("p", { class: "muted" }, "Searching…"));
  const timeline = h("section", { class: "timeline", id: "timeline", "aria-label": "Events over time" });
  page("Audit events", form, formError, loadStatus, savedSearchBar(params, loadStatus), chips,
    h("div", { class: "layout" }, aside, h("div", { class: "results" }, timeline, columnChooser(() => route()), results)));

  const started = performance.now();
  let body;
  try {
    const { query } = auditSearch(params);
    query.set("size", PAGE_SIZE);
    query.set("offset", offset);
    query.set("facets", FACETS.map((f) => f[0]).join(","));
    query.set("facetLimit", 100);
    if (range.from && range.to) {
      const aligned = timelineRange(range, TIMELINE_BUCKETS);
      query.set("from", aligned.from);
      query.set("to", aligned.to);
      query.set("histogram", TIMELINE_BUCKETS);
    }
    body = await apiJson("/api/audit/events?" + query);
  } catch (e) {
    if (mine !== generation) return;
    results.replaceChildren(errorBox("The search failed: " + e.message));
    aside.replaceChildren();
    return;
  }
  if (mine !== generation) return;
  renderFacets(aside, body.facets, params, filters);
  renderTimeline(timeline, body.histogram, params);
  renderResults(results, body, params, offset, range);
  const elapsed = performance.now() - started;
  main.dataset.firstResultsMs = String(Math.round(elapsed));
  main.dataset.renderedAtMs = String(Math.round(performance.now()));
  main.dataset.ready = "audit";
}

function renderFacets(aside, facets, params, filters) {
  aside.replaceChildren();
  for (const [field, label] of FACETS) {
    const facet = facets[field];
    if (!facet) continue;
    const listId = "suggest-" + field;
    const input = h("input", { type: "text", list: listId, name: field, "aria-label": `Filter by ${label}`, placeholder: "Type a value" });
    // A value adds to the values of its facet (any of them matches); "not" excludes it.
    const add = (value, not = false) => {
      if (!value) return;
      const key = not ? field + ".not" : field;
      const next = new URLSearchParams(params);
      next.delete("offset");
      if (!filters.some(([f, v]) => f === key && v === value)) next.append(...filterParam(key, value));
      go("audit", next);
    };
    const values = facet.values || [];
    const body = h("div", { class: "facet-body" },
      h("form", { onsubmit: (e) => { e.preventDefault(); add(input.value.trim()); } },
        input, h("button", { type: "submit", "aria-label": `Add ${label} filter` }, "Add")),
      h("datalist", { id: listId }, values.map((v) => h("option", { value: v.value, label: `${v.value} (${number.format(v.count)})` }))),
      values.length
        ? h("ul", { "aria-label": `Most active ${label} values` }, values.map((v) => h("li", {
          class: filters.some(([f, value]) => f === field && value === v.value) ? "chosen" : "" },
          h("button", { type: "button", onclick: () => add(v.value), "aria-label": `Filter by ${label} ${v.value}, ${v.count} events` },
            h("span", { class: "value" }, v.value), h("span", { class: "count" }, number.format(v.count))),
          h("button", { type: "button", class: "not", onclick: () => add(v.value, true), title: `Exclude ${v.value}`,
            "aria-label": `Exclude ${label} ${v.value}` }, "not"))))
        : h("p", { class: "muted" }, "No values"));
    const open = filters.some(([f]) => f.replace(/\.not$/, "") === field) || ["actorName", "action", "dataSourceName"].includes(field);
    aside.append(h("details", { open, "data-facet": field },
      h("summary", {}, label, h("span", { class: "count" }, ` (${number.format(facet.distinct)})`)), body));
  }
}

// ----- Timeline, columns, keyword marks, saved searches

const TIMELINE_BUCKETS = 60;
/** Buckets of the dashboards' charts over time. */
const DASHBOARD_BUCKETS = 48;

/** The timeline above the results: matching events per bucket. Drag across it (brush) to narrow
 * the range to what was covered; each bar is also a link to its own bucket (keyboard). */
function renderTimeline(container, histogram, params) {
  container.replaceChildren();
  const buckets = histogram?.buckets || [];
  if (!buckets.length) return;
  const width = 960, height = 90, bottom = 18;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const slot = width / buckets.length;
  const bucketMs = histogram.bucketMillis;
  const narrowed = (fromMs, toMs) => {
    const next = new URLSearchParams(params);
    next.delete("offset");
    next.delete("hours");
    next.set("range", "custom");
    next.set("from", new Date(fromMs).toISOString());
    next.set("to", new Date(toMs).toISOString());
    return next;
  };
  const startOf = (i) => Date.parse(buckets[i].start);
  const bars = buckets.map((b, i) => {
    const barHeight = Math.round((height - bottom) * b.count / max);
    const next = narrowed(startOf(i), startOf(i) + bucketMs - 1);
    return s("a", { href: "#/audit?" + next, "aria-label": `${formatTime(b.start)}: ${b.count} events` },
      s("title", {}, `${formatTime(b.start)}: ${number.format(b.count)} events`),
      s("rect", { x: (i * slot + 0.5).toFixed(1), y: height - bottom - barHeight, width: Math.max(1, slot - 1).toFixed(1), height: Math.max(barHeight, b.count ? 1 : 0) }));
  });
  const brush = s("rect", { class: "brush", x: 0, y: 0, width: 0, height: height - bottom, hidden: true });
  const axis = [0, Math.floor(buckets.length / 2), buckets.length - 1].map((i) =>
    s("text", { x: Math.min(width - 4, Math.max(4, i * slot)), y: height - 4, "text-anchor": i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle" }, formatTime(buckets[i].start)));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Matching events over time; drag across it to narrow the time range", id: "timeline-chart" }, bars, brush, axis);
  // Brushing: from the pointer's first position to where it is let go.
  let start = null;
  const at = (event) => {
    const box = svg.getBoundingClientRect();
    return Math.min(width, Math.max(0, (event.clientX - box.left) * width / box.width));
  };
  svg.addEventListener("pointerdown", (event) => {
    start = at(event);
    brush.setAttribute("x", start);
    brush.setAttribute("width", 0);
    brush.removeAttribute("hidden");
    event.preventDefault();
  });
  svg.addEventListener("pointermove", (event) => {
    if (start === null) return;
    const x = at(event);
    brush.setAttribute("x", Math.min(start, x));
    brush.setAttribute("width", Math.abs(x - start));
  });
  svg.addEventListener("pointerup", (event) => {
    if (start === null) return;
    const end = at(event);
    const [left, right] = [Math.min(start, end), Math.max(start, end)];
    start = null;
    brush.setAttribute("hidden", "");
    if (right - left < 3) return; // a click: the bar's own link takes it
    event.preventDefault();
    const first = startOf(0);
    const span = bucketMs * buckets.length;
    go("audit", narrowed(first + span * left / width, first + span * right / width));
  });
  container.append(svg);
}

/** The result columns people can choose from; the choice is kept per browser. */
const RESULT_COLUMNS = [
  { key: "time", label: "Time", cell: "time", render: (e) => h("a", { href: "#/event/" + encodeURIComponent(e.id), class: "event-link" }, formatTime(e.eventTimestamp)) },
  { key: "user", label: "User", render: (e, words) => h("span", {}, actorCell(e, words), actorIdLine(e, words)) },
  { key: "actorId", label: "Actor id", render: (e, words) => marked(e.actor?.id || "", words) },
  { key: "action", label: "Action", render: (e) => e.action || "" },
  { key: "target", label: "Target", render: (e, words) => h("span", {}, marked(targetsText(e), words), e.targetType ? h("div", { class: "sub" }, e.targetType) : null) },
  { key: "status", label: "Status", cellOf: (e) => "status-" + (e.actionStatus || ""), render: (e) => e.actionStatus || "" },
  { key: "technology", label: "Technology", render: (e) => [...new Set((e.targets || []).map((t) => t.technology).filter(Boolean))].join(", ") },
  { key: "dataSource", label: "Data source", render: (e, words) => marked((e.targets || []).filter((t) => t.type === "DATASOURCE" || !t.type).map((t) => t.name || t.id).join(", "), words) },
  { key: "query", label: "Query text", cell: "query", render: (e, words) => marked(e.auditPayload?.query || e.auditPayload?.technologyContext?.queryText || "", words) },
  { key: "ip", label: "IP", render: (e) => e.auditPayload?.technologyContext?.clientIp || e.clientIp || "" },
  { key: "eventType", label: "Event type", render: (e) => (e.auditPayload?.type || "").replace(/AuditPayload$/, "") },
];
const DEFAULT_COLUMNS = ["time", "user", "action", "target", "status"];
const COLUMNS_KEY = "vigil.columns";

function chosenColumns() {
  let keys = DEFAULT_COLUMNS;
  try {
    const kept = JSON.parse(localStorage.getItem(COLUMNS_KEY) || "null");
    if (Array.isArray(kept) && kept.length) keys = kept;
  } catch (_) { /* an unreadable choice: the defaults */ }
  const chosen = RESULT_COLUMNS.filter((c) => keys.includes(c.key));
  return (chosen.length ? chosen : RESULT_COLUMNS.filter((c) => DEFAULT_COLUMNS.includes(c.key)))
    .map((c) => ({ ...c, cell: c.cell || "" }));
}

/** "Columns": a checkbox per result column; the choice is kept in this browser. */
function columnChooser(changed) {
  const keys = chosenColumns().map((c) => c.key);
  const boxes = RESULT_COLUMNS.map((c) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "column", value: c.key, checked: keys.includes(c.key), "data-column": c.key,
      onchange: () => {
        const chosen = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
        localStorage.setItem(COLUMNS_KEY, JSON.stringify(chosen.length ? chosen : DEFAULT_COLUMNS));
        changed();
      } }), c.label));
  return h("details", { class: "columns", id: "columns" }, h("summary", {}, "Columns"), h("div", { class: "column-list" }, boxes));
}

/** The words of a keyword search, for marking them in the results. */
function keywordsOf(q) {
  return q.split(/[\s"':()+-]+/).map((w) => w.trim().toLowerCase()).filter((w) => w.length > 1 && !["and", "or", "not"].includes(w));
}

/** Text with each keyword match in a <mark>, built as nodes (event data stays text). */
function marked(text, words) {
  text = String(text ?? "");
  if (!words?.length || !text) return text;
  const lower = text.toLowerCase();
  const parts = [];
  let at = 0;
  while (at < text.length) {
    let next = -1, word = "";
    for (const w of words) {
      const found = lower.indexOf(w, at);
      if (found >= 0 && (next < 0 || found < next)) { next = found; word = w; }
    }
    if (next < 0) break;
    if (next > at) parts.push(text.slice(at, next));
    parts.push(h("mark", {}, text.slice(next, next + word.length)));
    at = next + word.length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return h("span", {}, parts);
}

/** The actor's id under the name, when it says more than the name. */
function actorIdLine(event, words) {
  const actor = event.actor || {};
  if (!actor.id || actor.id === actor.name || actor.id === "Unknown") return null;
  return h("div", { class: "sub actor-id" }, marked(actor.id, words));
}

/** Saved searches (shared by every key with AUDIT), saving the current one, and its link. */
function savedSearchBar(params, status) {
  const select = h("select", { id: "saved-searches", "aria-label": "Saved searches" }, h("option", { value: "" }, "Saved searches…"));
  const remove = h("button", { type: "button", id: "delete-saved", disabled: true }, "Delete");
  const name = h("input", { type: "text", id: "saved-name", name: "savedName", "aria-label": "Name of the saved search", placeholder: "Name this search", maxlength: 200 });
  const link = h("input", { type: "text", id: "search-link", readonly: true, "aria-label": "Link to this search", value: location.href });
  const message = h("span", { id: "saved-message", role: "status" });
  let saved = [];
  const current = () => {
    const query = new URLSearchParams(params);
    query.delete("offset");
    return query.toString();
  };
  const refresh = async (selectId) => {
    try {
      saved = await apiJson("/api/audit/saved-searches");
    } catch (e) {
      message.replaceChildren(errorBox("Saved searches could not be read: " + e.message));
      return;
    }
    select.replaceChildren(h("option", { value: "" }, saved.length ? "Saved searches…" : "No saved searches"),
      ...saved.map((one) => h("option", { value: one.id, selected: one.id === selectId }, `${one.name} (by ${one.createdBy})`)));
    remove.disabled = !select.value;
  };
  select.addEventListener("change", () => {
    remove.disabled = !select.value;
    const one = saved.find((x) => x.id === select.value);
    if (one) go("audit", new URLSearchParams(one.query));
  });
  remove.addEventListener("click", async () => {
    const one = saved.find((x) => x.id === select.value);
    if (!one) return;
    try {
      await api("/api/audit/saved-searches/" + encodeURIComponent(one.id), { method: "DELETE" });
      message.textContent = `Deleted “${one.name}”.`;
      refresh();
    } catch (e) {
      message.replaceChildren(errorBox(e.message));
    }
  });
  const save = h("form", { class: "inline", id: "save-search", onsubmit: async (event) => {
    event.preventDefault();
    if (!name.value.trim()) { message.replaceChildren(errorBox("Give the search a name.")); return; }
    try {
      const created = await apiJson("/api/audit/saved-searches", {
        method: "POST", json: { name: name.value.trim(), query: current() },
      });
      message.replaceChildren(h("span", {}, `Saved “${created.name}”. Its link: `,
        h("a", { href: "#/audit?saved=" + encodeURIComponent(created.id), id: "saved-link" }, "open")));
      name.value = "";
      refresh(created.id);
    } catch (e) {
      message.replaceChildren(errorBox(e.message));
    }
  } }, name, h("button", { type: "submit", id: "save-search-button" }, "Save search"));
  const copy = h("button", { type: "button", id: "copy-link", onclick: async () => {
    link.value = location.href;
    try {
      await navigator.clipboard.writeText(link.value);
      message.textContent = "The link to this search is copied.";
    } catch (_) {
      link.select();
      message.textContent = "Copy the selected link.";
    }
  } }, "Copy link");
  refresh();
  return h("div", { class: "toolbar saved" }, select, remove, save, copy, link, message);
}

function renderResults(results, body, params, offset, range) {
  const total = body.total;
  const hits = body.hits;
  const summary = h("p", { id: "total", role: "status" },
    total === 0 ? "No events" : `${number.format(total)} event${total === 1 ? "" : "s"}`,
    h("span", { class: "muted" }, " · " + range.label));
  if (!hits.length) {
    results.replaceChildren(summary, h("div", { class: "empty", id: "empty" },
      offset > 0 ? "No more events on this page." : "No events match this time range, these keywords and filters. Widen the time range or remove a filter."));
    return;
  }
  const words = keywordsOf(params.get("q") || "");
  const columns = chosenColumns();
  const rows = hits.map((event) => h("tr", {},
    columns.map((column) => h("td", { class: column.cellOf ? column.cellOf(event) : column.cell }, column.render(event, words)))));
  const table = h("div", { class: "table-wrap" }, h("table", { id: "events" },
    h("caption", { class: "muted", hidden: true }, "Matching events, newest first"),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", "data-column": c.key }, c.key === "time" ? `Time (${zoneName()})` : c.label)))),
    h("tbody", {}, rows)));
  const move = (to) => {
    const next = new URLSearchParams(params);
    if (to > 0) next.set("offset", String(to)); else next.delete("offset");
    go("audit", next);
  };
  const last = offset + hits.length;
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", id: "previous", disabled: offset === 0, onclick: () => move(Math.max(0, offset - PAGE_SIZE)) }, "← Newer"),
    h("span", {}, `${number.format(offset + 1)}–${number.format(last)} of ${number.format(total)}`),
    h("button", { type: "button", id: "next", disabled: last >= total || offset + PAGE_SIZE > MAX_OFFSET, onclick: () => move(offset + PAGE_SIZE) }, "Older →"));
  results.replaceChildren(summary, table, pager);
}

/** "Load Audit Events": starts the pull integrations and follows them until the events are searchable. */
async function loadEvents(status, mine) {
  const button = document.getElementById("load");
  button.disabled = true;
  const progress = h("progress", { "aria-label": "Loading audit events" });
  const text = h("span", {}, " Starting the integrations…");
  status.replaceChildren(h("div", { class: "notice" }, progress, text));
  try {
    let job = await apiJson("/api/audit/load", { method: "POST", json: {} });
    const total = job.integrations.length;
    if (total === 0) {
      status.replaceChildren(h("div", { class: "notice" }, "No pull integrations are configured: there is nothing to load."));
      return;
    }
    progress.max = total;
    while (job.state === "RUNNING") {
      const done = job.integrations.filter((i) => i.state === "SUCCEEDED" || i.state === "FAILED").length;
      const stored = job.integrations.reduce((n, i) => n + (i.run?.eventsStored || 0), 0);
      progress.value = done;
      text.textContent = ` Loading from ${total} integration${total === 1 ? "" : "s"}: ${done} done, ${number.format(stored)} new events so far…`;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      job = await apiJson("/api/audit/load/" + encodeURIComponent(job.id));
    }
    const stored = job.integrations.reduce((n, i) => n + (i.run?.eventsStored || 0), 0);
    const failed = job.integrations.filter((i) => i.state === "FAILED").map((i) => i.name);
    text.textContent = " Indexing the new events…";
    progress.value = total;
    await waitUntilIndexed();
    const message = `Loaded ${number.format(stored)} new event${stored === 1 ? "" : "s"}.` +
      (failed.length ? ` These integrations failed: ${failed.join(", ")}; see their last run for the error.` : "");
    sessionStorage.setItem("vigil.loadMessage", message);
    if (mine === generation) route();
  } catch (e) {
    status.replaceChildren(errorBox("Loading audit events failed: " + e.message));
  } finally {
    button.disabled = false;
  }
}

// ----- Event page

async function eventPage(id) {
  const mine = ++generation;
  const back = h("p", {}, h("a", { href: "#/audit", onclick: (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } } }, "← Back to the audit events"));
  page("Event", back, h("p", { class: "muted" }, "Loading…"));
  let text, submitter;
  try {
    // The query form reads every id, even those a URL path cannot carry (`.`, `..`).
    const response = await api("/api/audit/event?id=" + encodeURIComponent(id));
    submitter = response.headers.get("vigil-submitted-by");
    text = await response.text();
  } catch (e) {
    if (mine !== generation) return;
    page("Event", back, errorBox(e.status === 404 ? `No event has the id “${id}”.` : e.message));
    return;
  }
  if (mine !== generation) return;
  const event = JSON.parse(text);
  // The stored JSON, indented for reading without re-encoding a value; "Copy JSON" copies the
  // exact stored text.
  const json = h("pre", { class: "json", id: "event-json", hidden: true }, prettyJson(text));
  const copied = h("span", { id: "json-copied", role: "status" });
  const copy = h("button", { type: "button", id: "copy-json", hidden: true, onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      copied.textContent = "Copied the stored JSON.";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(json);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied.textContent = "Copy the selected JSON.";
    }
  } }, "Copy JSON");
  const toggle = h("button", {
    type: "button", id: "view-json", "aria-expanded": "false", "aria-controls": "event-json",
    onclick: () => {
      json.hidden = !json.hidden;
      copy.hidden = json.hidden;
      toggle.setAttribute("aria-expanded", String(!json.hidden));
      toggle.textContent = json.hidden ? "View JSON" : "Hide JSON";
    },
  }, "View JSON");
  const actor = event.actor || {};
  const summary = h("dl", { class: "fields", id: "event-fields" },
    field("Event id", event.id),
    field("Time", formatTime(event.eventTimestamp) + " (" + event.eventTimestamp + ")"),
    event.receivedTimestamp ? field("Received", formatTime(event.receivedTimestamp)) : null,
    field("Action", event.action),
    field("Status", event.actionStatus),
    field("User", actorCell(event)),
    actor.type ? field("Actor type", actor.type) : null,
    actor.identityProvider ? field("Identity provider", actor.identityProvider) : null,
    field("Target type", event.targetType),
    event.eventType ? field("Event type", event.eventType) : null,
    event.tenantId ? field("Tenant", event.tenantId) : null,
    field("Submitted by", submitterText(submitter)));
  const targets = (event.targets || []).length
    ? h("div", { class: "table-wrap" }, h("table", { id: "event-targets" },
      h("thead", {}, h("tr", {}, ["Type", "Id", "Name", "Technology"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, event.targets.map((t) => h("tr", {}, h("td", {}, t.type || ""), h("td", {}, t.id ?? ""), h("td", {}, t.name || ""), h("td", {}, t.technology || ""))))))
    : h("p", { class: "muted" }, "No targets.");
  const payload = event.auditPayload ? tree(event.auditPayload) : h("p", { class: "muted" }, "No payload.");
  page(`${event.action || "Event"} by ${actor.name || actor.id || "Unknown"}`, back, summary,
    h("h2", {}, "Targets"), targets,
    h("h2", {}, "Details"), h("div", { id: "event-details" }, payload),
    h("p", {}, toggle, " ", copy, " ", copied), json);
  main.dataset.ready = "event";
}

/** JSON text indented two spaces a level, token by token: strings and numbers are kept exactly as
 * stored (a parse and stringify would change `1.50` or a large integer). */
function prettyJson(text) {
  let out = "", depth = 0, inString = false, escaped = false;
  const newline = () => "\n" + "  ".repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') { inString = true; out += c; continue; }
    if (c === " " || c === "\n" || c === "\r" || c === "\t") continue;
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      let j = i + 1;
      while (j < text.length && " \n\r\t".includes(text[j])) j++;
      if (text[j] === close) { out += c + close; i = j; continue; }
      depth++;
      out += c + newline();
      continue;
    }
    if (c === "}" || c === "]") { depth--; out += newline() + c; continue; }
    if (c === ",") { out += "," + newline(); continue; }
    if (c === ":") { out += ": "; continue; }
    out += c;
  }
  return out;
}

/** Who submitted an event, from the `vigil-submitted-by` header, in words. */
function submitterText(submitter) {
  if (!submitter) return null;
  if (submitter === "vigil") return "vigil itself";
  if (submitter.startsWith("key:")) return "API key " + submitter.slice(4);
  if (submitter.startsWith("cli:")) return "vigil import by " + submitter.slice(4);
  if (submitter.startsWith("integration:")) return "integration " + submitter.slice(12);
  if (submitter === "demo") return "the demo's example events";
  return submitter;
}

function field(name, value) {
  if (value === undefined || value === null || value === "") return null;
  return [h("dt", {}, name), h("dd", {}, value instanceof Node ? value : String(value))];
}

/** Any JSON value laid out for reading. */
function tree(value, depth = 0) {
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "muted" }, "none");
    if (value.every((v) => v === null || typeof v !== "object")) return h("span", {}, value.join(", "));
    return h("ol", {}, value.map((v) => h("li", {}, tree(v, depth + 1))));
  }
  if (value && typeof value === "object") {
    return h("dl", { class: "fields" }, Object.entries(value).map(([k, v]) =>
      [h("dt", {}, humanize(k)), h("dd", {}, tree(v, depth + 1))]));
  }
  if (value === null) return h("span", { class: "muted" }, "—");
  return h(typeof value === "string" && value.length > 120 ? "pre" : "span", { class: "value" }, String(value));
}

function humanize(key) {
  return key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

// ----- Dashboards

/** A vertical bar chart over time buckets; each bar links to the audit page for its bucket. */
function timeChart(id, title, histogram, link, noun) {
  const buckets = histogram?.buckets || [];
  const width = 640, height = 220, left = 44, bottom = 28, top = 10;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const total = buckets.reduce((n, b) => n + b.count, 0);
  const step = (width - left) / Math.max(1, buckets.length);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: ${total} ${noun} in all, at most ${max} in one bucket` },
    s("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  // Counts at 0, half and the top; gridlines make the bars readable.
  for (const value of [...new Set([0, Math.round(max / 2), max])]) {
    const y = height - bottom - (value / max) * (height - bottom - top);
    svg.append(s("text", { class: "axis", x: left - 6, y: y + 4, "text-anchor": "end" }, number.format(value)),
      s("line", { class: "grid", x1: left, y1: y, x2: width, y2: y }));
  }
  buckets.forEach((bucket, i) => {
    const barHeight = bucket.count ? Math.max(2, (bucket.count / max) * (height - bottom - top)) : 0;
    const start = new Date(bucket.start);
    const end = new Date(start.getTime() + histogram.bucketMillis - 1);
    const label = `${formatTime(start.toISOString())}: ${number.format(bucket.count)} ${noun}`;
    const bar = s("a", { href: link(start.toISOString(), end.toISOString()), "aria-label": label },
      s("title", {}, label),
      s("rect", { x: left + i * step + 1, y: height - bottom - barHeight, width: Math.max(1, step - 2), height: barHeight }),
      // An invisible full-height target makes thin bars easy to click.
      s("rect", { x: left + i * step, y: top, width: step, height: height - bottom - top, opacity: 0 }));
    svg.append(bar);
  });
  if (buckets.length) {
    // Five ticks along time, labelled in the chosen zone: the hour within a day, else the date.
    const span = Date.parse(buckets[buckets.length - 1].start) - Date.parse(buckets[0].start);
    const label = (iso) => new Date(iso).toLocaleString(undefined, span <= 36 * 3600e3
      ? { hour: "2-digit", minute: "2-digit", timeZone: utcChosen() ? "UTC" : undefined }
      : { month: "short", day: "numeric", timeZone: utcChosen() ? "UTC" : undefined });
    const ticks = [...new Set([0, 1, 2, 3, 4].map((t) => Math.round(t * (buckets.length - 1) / 4)))];
    for (const i of ticks) {
      const x = left + i * step + step / 2;
      svg.append(s("line", { class: "axis", x1: x, y1: height - bottom, x2: x, y2: height - bottom + 4 }),
        s("text", { class: "axis tick", x, y: height - 8, "text-anchor": i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle" }, label(buckets[i].start)));
    }
  }
  return chartBox(id, title, total ? svg : h("div", { class: "empty" }, `No ${noun} in this time range.`));
}

/** Facet values that are ids rather than names (a purpose is counted under both). */
const LOOKS_LIKE_ID = /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** The legacy outcomes in words. */
const OUTCOME_WORDS = {
  failure: "Failed",
  userError: "Failed: an error in the request",
  systemError: "Failed: an error of the system",
  insufficientPermissions: "Refused: insufficient permissions",
  insufficientAuthorizations: "Refused: not authorized",
};

/** A horizontal bar chart of facet values; each bar links to the audit page filtered by it. */
function barChart(id, title, values, link, empty) {
  if (!values.length) return chartBox(id, title, h("div", { class: "empty" }, empty));
  const rowHeight = 26, width = 640, labelWidth = 230;
  const max = Math.max(1, ...values.map((v) => v.count));
  const svg = s("svg", { viewBox: `0 0 ${width} ${values.length * rowHeight + 4}`, role: "img", "aria-label": title });
  values.forEach((v, i) => {
    const y = i * rowHeight + 2;
    const barWidth = Math.max(2, (v.count / max) * (width - labelWidth - 70));
    const shown = v.label || v.value;
    const name = shown.length > 32 ? shown.slice(0, 31) + "…" : shown;
    const label = `${shown}: ${number.format(v.count)}`;
    svg.append(s("a", { href: link(v.value), "aria-label": label },
      s("title", {}, label),
      s("rect", { x: 0, y, width, height: rowHeight - 4, opacity: 0 }),
      s("text", { x: labelWidth - 8, y: y + 16, "text-anchor": "end" }, name),
      s("rect", { x: labelWidth, y: y + 2, width: barWidth, height: rowHeight - 8 }),
      s("text", { x: labelWidth + barWidth + 6, y: y + 16 }, number.format(v.count))));
  });
  return chartBox(id, title, svg);
}

function chartBox(id, title, content) {
  return h("section", { class: "chart", id, "aria-labelledby": id + "-title" }, h("h2", { id: id + "-title" }, title), content);
}

/** A link to the audit page: this time range and these filters. */
function auditLink(from, to, filters) {
  const next = new URLSearchParams({ range: "custom", from, to });
  for (const [field, value] of filters) next.append("f", field + ":" + value);
  return "#/audit?" + next;
}

async function dashboard(kind, params) {
  const mine = ++generation;
  const user = kind === "user";
  const subjectField = user ? "actorName" : "dataSourceName";
  const subject = params.get(user ? "user" : "datasource") || "";
  // The audit page's filters come along (the navigation links carry them).
  const extra = filtersOf(params);
  const range = timeRange(params);
  const controls = timeControls(params);
  const subjectInput = h("input", { type: "text", id: "subject", name: "subject", list: "subjects", value: subject, placeholder: user ? "All users" : "All data sources" });
  const formError = h("div", { "aria-live": "assertive" });
  const form = h("form", {
    class: "toolbar", id: "dashboard-form",
    onsubmit: (e) => {
      e.preventDefault();
      const next = new URLSearchParams();
      try { controls.read(next); } catch (error) { formError.replaceChildren(errorBox(error.message)); return; }
      if (subjectInput.value.trim()) next.set(user ? "user" : "datasource", subjectInput.value.trim());
      for (const [field, value] of extra) next.append("f", field + ":" + value);
      go(user ? "dashboards/user" : "dashboards/data", next);
    },
  }, h("label", { class: "grow" }, user ? "User (empty for all users)" : "Data source (empty for all)", subjectInput),
  h("datalist", { id: "subjects" }), controls.elements, h("button", { type: "submit", class: "primary" }, "Show"));
  const charts = h("div", { class: "charts", id: "charts" }, h("p", { class: "muted" }, "Loading…"));
  const title = user ? "User activity" : "Data activity";
  page(subject ? `${title}: ${subject}` : `${title}: all ${user ? "users" : "data sources"}`, form, formError,
    filterChips(user ? "dashboards/user" : "dashboards/data", params, extra), charts);

  const base = [...(subject ? [[subjectField, subject]] : []), ...extra];
  const scope = user ? base : [...base, ["action", "QUERY"]];
  const link = (filters, from = range.from, to = range.to) => auditLink(from, to, [...scope, ...filters]);
  try {
    const facets = user
      ? "actorName,dataSourceName,purpose,outcome"
      : "dataSourceName,actorName,technology,sensitivity";
    const charted = timelineRange(range, DASHBOARD_BUCKETS);
    const body = await apiJson("/api/audit/events?" + searchQuery({
      from: charted.from, to: charted.to, filters: scope,
      extra: { size: 1, facets, facetLimit: 10, histogram: DASHBOARD_BUCKETS },
    }));
    if (mine !== generation) return;
    const values = (name) => body.facets[name]?.values || [];
    // Who failed or was refused: the same search, only those attempts, counted by user.
    let failedBy = [];
    if (user) {
      const failed = await apiJson("/api/audit/events?" + searchQuery({
        from: range.from, to: range.to, filters: [...scope, ["actionStatus", "FAILURE"], ["actionStatus", "UNAUTHORIZED"]],
        extra: { size: 0, facets: "actorName", facetLimit: 10 },
      }));
      if (mine !== generation) return;
      failedBy = failed.facets.actorName?.values || [];
    }
    document.getElementById("subjects").replaceChildren(
      ...values(subjectField).map((v) => h("option", { value: v.value })));
    if (user) {
      charts.replaceChildren(
        timeChart("chart-events", "Events over time", body.histogram, (from, to) => link([], from, to), "events"),
        barChart("chart-datasources", "Data sources accessed", values("dataSourceName"), (v) => link([["dataSourceName", v]]), "No data source was touched."),
        barChart("chart-purposes", "Purposes", values("purpose").filter((v) => !LOOKS_LIKE_ID.test(v.value)),
          (v) => link([["purpose", v]]), "No purposes recorded."),
        barChart("chart-failures", "Failed and unauthorized attempts, by reason",
          values("outcome").filter((v) => v.value !== "success").map((v) => ({ ...v, label: OUTCOME_WORDS[v.value] || v.value })),
          (v) => link([["outcome", v]]), "No failed or unauthorized attempts."),
        barChart("chart-failures-by-user", "Failed and unauthorized attempts, by user", failedBy,
          (v) => link([["actorName", v], ["actionStatus", "FAILURE"], ["actionStatus", "UNAUTHORIZED"]]), "No failed or unauthorized attempts."));
    } else {
      // Sensitive columns: the columns of queries that read data scored sensitive.
      const sensitive = values("sensitivity").map((v) => v.value).filter((v) => !["NONSENSITIVE", "INDETERMINATE"].includes(v));
      let columns = [];
      if (sensitive.length) {
        const more = await apiJson("/api/audit/events?" + searchQuery({
          from: range.from, to: range.to, filters: [...scope, ...sensitive.map((v) => ["sensitivity", v])],
          extra: { size: 1, facets: "column", facetLimit: 10 },
        }));
        if (mine !== generation) return;
        columns = more.facets.column?.values || [];
      }
      charts.replaceChildren(
        timeChart("chart-queries", "Queries over time", body.histogram, (from, to) => link([], from, to), "queries"),
        barChart("chart-users", "Top users", values("actorName"), (v) => link([["actorName", v]]), "No queries in this time range."),
        barChart("chart-columns", "Sensitive columns accessed", columns,
          (v) => link([["column", v], ...sensitive.map((x) => ["sensitivity", x])]), "No query read a column scored sensitive."),
        barChart("chart-technologies", "Technologies", values("technology"), (v) => link([["technology", v]]), "No queries in this time range."));
    }
    main.dataset.ready = "dashboard";
  } catch (e) {
    if (mine !== generation) return;
    charts.replaceChildren(errorBox("The dashboard could not be loaded: " + e.message));
  }
}

// ----- Report builder

let catalog = null;

async function reportsPage(params) {
  const mine = ++generation;
  page("Report builder", h("p", { class: "muted" }, "Loading the report catalog…"));
  try {
    catalog = catalog || await apiJson("/api/audit/reports");
  } catch (e) {
    if (mine === generation) page("Report builder", errorBox("The report catalog could not be loaded: " + e.message));
    return;
  }
  if (mine !== generation) return;
  if (params.get("report")) return runReport(params, mine);
  const entity = params.get("entity") || "user";
  const name = params.get("name") || "";
  const select = h("select", { id: "entity-type", name: "entityType" },
    catalog.entityTypes.map((t) => h("option", { value: t, selected: t === entity }, entityLabel(t))));
  const nameInput = h("input", { type: "text", id: "entity-name", name: "name", list: "entity-suggestions", value: name, autocomplete: "off", placeholder: "Enter a name for reports about one" });
  const suggestions = h("datalist", { id: "entity-suggestions" });
  const from = h("input", { type: "date", id: "report-from", value: params.get("from") || "" });
  const to = h("input", { type: "date", id: "report-to", value: params.get("to") || "" });
  const tiles = h("div", { id: "tiles" });
  const formError = h("div", { "aria-live": "assertive" });
  let timer = null;
  const suggest = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const found = await apiJson("/api/audit/reports/entities?" + new URLSearchParams({ entityType: select.value, q: nameInput.value, limit: 20 }));
        suggestions.replaceChildren(...found.entities.map((e) => h("option", { value: e.name, label: e.name === e.id ? e.name : `${e.name} (${e.id})` })));
      } catch (_) { /* suggestions are a convenience */ }
    }, 150);
  };
  const drawTiles = () => {
    const type = select.value;
    const reports = catalog.reports.filter((r) => r.entityType === type);
    const tile = (r) => h("button", {
      type: "button", class: "tile", "data-report": r.report, "data-scope": r.scope,
      disabled: r.scope === "one" && !nameInput.value.trim(),
      onclick: () => {
        const next = new URLSearchParams({ entity: type, report: r.report, scope: r.scope });
        if (r.scope === "one") next.set("name", nameInput.value.trim());
        if (r.dateRange && from.value) next.set("from", from.value);
        if (r.dateRange && to.value) next.set("to", to.value);
        if (from.value && to.value && from.value > to.value) {
          formError.replaceChildren(errorBox("The date range starts after it ends."));
          return;
        }
        go("reports", next);
      },
    }, h("strong", {}, r.report.replace(/-/g, " ")), h("span", {}, r.title), r.dateRange ? h("span", {}, "Takes the date range.") : null);
    const all = reports.filter((r) => r.scope === "all");
    const one = reports.filter((r) => r.scope === "one");
    tiles.replaceChildren(
      all.length ? h("h2", {}, `About every ${entityLabel(type).toLowerCase()}`) : null,
      all.length ? h("div", { class: "tiles" }, all.map(tile)) : null,
      one.length ? h("h2", {}, nameInput.value.trim() ? `About ${entityLabel(type).toLowerCase()} “${nameInput.value.trim()}”` : `About one ${entityLabel(type).toLowerCase()}: enter its name`) : null,
      one.length ? h("div", { class: "tiles" }, one.map(tile)) : null);
  };
  select.addEventListener("change", () => { nameInput.value = ""; drawTiles(); suggest(); });
  nameInput.addEventListener("input", () => { drawTiles(); suggest(); });
  page("Report builder",
    h("div", { class: "toolbar" },
      h("label", {}, "Entity type", select),
      h("label", { class: "grow" }, "Name", nameInput), suggestions,
      h("label", {}, "Access from (default: a month before “to” for most reports; Export CSV: the whole history)", from),
      h("label", {}, "Access to (default: now)", to)),
    formError, tiles);
  drawTiles();
  suggest();
  main.dataset.ready = "reports";
}

function entityLabel(type) {
  return {
    user: "User", group: "Group", project: "Project", datasource: "Data source", purpose: "Purpose",
    "policy-type": "Policy type", "global-policy": "Global policy", connection: "Connection", tag: "Tag", sdd: "Sensitive data discovery",
  }[type] || type;
}

function reportQuery(params, extra) {
  const query = new URLSearchParams({ entityType: params.get("entity"), report: params.get("report") });
  if (params.get("name")) query.set("name", params.get("name"));
  if (params.get("from")) query.set("from", params.get("from"));
  if (params.get("to")) query.set("to", params.get("to"));
  for (const [k, v] of Object.entries(extra)) query.set(k, v);
  return query;
}

async function runReport(params, mine) {
  const builder = new URLSearchParams({ entity: params.get("entity") });
  if (params.get("name")) builder.set("name", params.get("name"));
  const back = h("button", { type: "button", id: "back-to-builder", onclick: () => go("reports", builder) }, "Back to Report Builder");
  const kind = catalog.reports.find((r) => r.entityType === params.get("entity") && r.report === params.get("report") && (!params.get("scope") || r.scope === params.get("scope")));
  const words = (kind ? kind.report : params.get("report") || "").replace(/-/g, " ");
  const title = words.charAt(0).toUpperCase() + words.slice(1);
  const subject = params.get("name") ? `${entityLabel(params.get("entity"))} “${params.get("name")}”` : `every ${entityLabel(params.get("entity")).toLowerCase()}`;
  page(`Report: ${title}`, h("p", {}, back), h("p", { class: "muted" }, `Running the report about ${subject}…`));
  let body;
  try {
    body = await apiJson("/api/audit/reports/run?" + reportQuery(params, { limit: 100 }));
  } catch (e) {
    if (mine !== generation) return;
    const hint = e.body?.suggestions?.length ? ` Did you mean: ${e.body.suggestions.map((s) => s.name).join(", ")}?`
      : e.body?.candidates?.length ? ` It could be: ${e.body.candidates.map((c) => `${c.name} (${c.id})`).join(", ")}.` : "";
    page(`Report: ${title}`, h("p", {}, back), errorBox(e.message + hint));
    return;
  }
  if (mine !== generation) return;
  const csvStatus = h("span", { role: "status", "aria-live": "polite" });
  const csv = h("button", {
    type: "button", id: "export-csv", class: "primary",
    onclick: async () => {
      csv.disabled = true;
      csvStatus.textContent = " Preparing the CSV…";
      try {
        const blob = await (await api("/api/audit/reports/run?" + reportQuery(params, { format: "csv" }))).blob();
        saveBlob(blob, `${params.get("entity")}-${params.get("report")}.csv`);
        csvStatus.textContent = " CSV downloaded.";
      } catch (e) {
        csvStatus.replaceChildren(errorBox("The CSV export failed: " + e.message));
      } finally {
        csv.disabled = false;
      }
    },
  }, "Export to CSV");
  const notes = (body.notes || []).map((n) => h("li", {}, typeof n === "string" ? n : `${n.column}: ${n.reason}`));
  const range = body.from ? h("p", { class: "muted" }, `Access from ${formatTime(body.from)} to ${formatTime(body.to)} (${zoneName()}).`) : null;
  // Times in the zone the audit page shows, the stored value kept as the cell's title.
  const cellOf = (cell) => {
    if (cell === null) return h("td", {}, "");
    if (typeof cell === "boolean") return h("td", {}, cell ? "True" : "False");
    if (typeof cell === "string" && ISO_TIME.test(cell)) return h("td", { class: "time", title: cell }, formatTime(cell));
    return h("td", {}, String(cell));
  };
  const table = body.rows.length
    ? h("div", { class: "table-wrap" }, h("table", { id: "report-rows" },
      h("thead", {}, h("tr", {}, body.columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, body.rows.map((row) => h("tr", {}, row.map(cellOf))))))
    : h("div", { class: "empty", id: "empty" }, "This report has no rows.");
  const total = body.totalRows ?? null;
  const count = h("p", { id: "report-total", role: "status" },
    total === null ? `More than ${number.format(100000)} rows` : `${number.format(total)} row${total === 1 ? "" : "s"}`,
    body.truncated ? `; the first ${number.format(body.rows.length)} are shown. Export to CSV for the whole report.` : ".");
  page(`Report: ${title}`, h("p", { class: "toolbar" }, back, csv, csvStatus),
    h("p", {}, kind ? kind.title : "", " ", h("span", { class: "muted" }, `About ${subject}.`)), range, count,
    body.truncated ? h("div", { class: "notice", id: "truncated" }, `Showing the first ${body.rows.length} rows. Export to CSV for the whole report.`) : null,
    notes.length ? h("details", {}, h("summary", {}, "Columns the audit trail cannot supply"), h("ul", {}, notes)) : null,
    table);
  main.dataset.ready = "report";
}

// ----- Exports

const EXPORTS_QUERY = `{ getAllExportConfigurations {
  id interval format enabled connectionStatus updatedAt
  endpointConfiguration {
    __typename
    ... on S3AccessKeyEndpointConfiguration { bucket path region accessKeyId endpoint }
    ... on S3AssumedRoleEndpointConfiguration { bucket path region roleArn endpoint }
    ... on AdlsSasTokenEndpointConfiguration { storageAccount fileSystem path endpoint }
  }
  exportStatus { lastExportedSequence exportedEvents lastExportedAt lastAttemptAt lastError attempts pendingFromSequence }
} }`;

/** The destinations a configuration can have: GraphQL names and the fields of each form. */
const EXPORT_KINDS = {
  S3_ACCESS_KEY: {
    label: "S3, access key", typename: "S3AccessKeyEndpointConfiguration",
    create: ["createS3AccessKeyExportConfiguration", "S3AccessKeyExportConfigurationInput"],
    update: ["updateS3AccessKeyExportConfiguration", "UpdateS3AccessKeyExportConfigurationInput"],
    fields: [["bucket", "Bucket"], ["path", "Path (prefix)", "optional"], ["region", "Region"],
      ["accessKeyId", "Access key id"], ["secretAccessKey", "Secret access key", "secret"], ["endpoint", "Endpoint (S3-compatible storage)", "optional"]],
  },
  S3_ASSUMED_ROLE: {
    label: "S3, assumed role", typename: "S3AssumedRoleEndpointConfiguration",
    create: ["createS3AssumedRoleExportConfiguration", "S3AssumedRoleExportConfigurationInput"],
    update: ["updateS3AssumedRoleExportConfiguration", "UpdateS3AssumedRoleExportConfigurationInput"],
    fields: [["bucket", "Bucket"], ["path", "Path (prefix)", "optional"], ["region", "Region"],
      ["roleArn", "Role ARN"], ["endpoint", "Endpoint (S3-compatible storage)", "optional"]],
  },
  ADLS_SAS: {
    label: "ADLS Gen2, SAS token", typename: "AdlsSasTokenEndpointConfiguration",
    create: ["createAdlsSasTokenEndpointConfiguration", "AdlsSasTokenExportConfigurationInput"],
    update: ["updateAdlsSasTokenExportConfiguration", "UpdateAdlsSasTokenExportConfigurationInput"],
    fields: [["storageAccount", "Storage account"], ["fileSystem", "File system (container)"], ["path", "Path (prefix)", "optional"],
      ["sasToken", "SAS token", "secret"], ["endpoint", "Blob endpoint (emulators, sovereign clouds)", "optional"]],
  },
};
const INTERVALS = ["EVERY_2_HOURS", "EVERY_4_HOURS", "EVERY_6_HOURS", "EVERY_12_HOURS", "EVERY_24_HOURS"];
const CONFIG_FIELDS = "id interval format enabled connectionStatus";

/** The create/edit form of an export configuration; `existing` is the configuration to edit. */
function exportForm(existing, message, mine) {
  const kindOf = (c) => Object.keys(EXPORT_KINDS).find((k) => EXPORT_KINDS[k].typename === c.endpointConfiguration.__typename);
  let kind = existing ? kindOf(existing) : "S3_ACCESS_KEY";
  const kindSelect = h("select", { id: "export-kind", name: "kind", disabled: !!existing },
    Object.entries(EXPORT_KINDS).map(([value, k]) => h("option", { value, selected: value === kind }, k.label)));
  const interval = h("select", { id: "export-interval", name: "interval" },
    INTERVALS.map((i) => h("option", { value: i, selected: (existing?.interval || "EVERY_24_HOURS") === i }, i.replace(/^EVERY_(\d+)_HOURS$/, "Every $1 hours"))));
  const format = h("select", { id: "export-format", name: "format" },
    [["NDJSON_GZIP", "gzip NDJSON"], ["PARQUET", "Parquet, by event date"]].map(([v, l]) => h("option", { value: v, selected: (existing?.format || "NDJSON_GZIP") === v }, l)));
  const fields = h("div", { class: "form-fields" });
  const inputs = {};
  const drawFields = () => {
    fields.replaceChildren();
    for (const [name, label, note] of EXPORT_KINDS[kind].fields) {
      const current = existing?.endpointConfiguration?.[name];
      const input = h("input", {
        type: note === "secret" ? "password" : "text", name, id: "export-" + name, autocomplete: "off",
        value: note === "secret" ? "" : (current ?? ""),
        placeholder: note === "secret" && existing ? "unchanged unless typed" : note === "optional" ? "optional" : "",
      });
      inputs[name] = [input, note];
      fields.append(h("label", {}, label, input));
    }
  };
  kindSelect.addEventListener("change", () => { kind = kindSelect.value; drawFields(); });
  drawFields();
  const error = h("div", { "aria-live": "assertive", id: "export-form-error" });
  const form = h("form", { class: "export-form", id: "export-form", onsubmit: async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const data = { interval: interval.value, format: format.value };
    if (existing) data.id = existing.id;
    for (const [name, [input, note]] of Object.entries(inputs)) {
      const value = input.value.trim();
      if (!value) {
        if (note === "optional" || (note === "secret" && existing)) continue;
        error.append(errorBox(`${input.closest("label").firstChild.textContent} is required.`));
        input.focus();
        return;
      }
      data[name] = value;
    }
    const [mutation, type] = existing ? EXPORT_KINDS[kind].update : EXPORT_KINDS[kind].create;
    try {
      const answer = await graphql(`mutation($data: ${type}!) { ${mutation}(data: $data) { ${CONFIG_FIELDS} } }`, { data });
      const saved = answer[mutation];
      const failing = saved.connectionStatus !== "SUCCESS";
      sessionStorage.setItem("vigil.exportMessage", (existing ? "Saved" : "Created") + ` the configuration ${saved.id}. ` +
        (failing ? `Its connection test failed: ${saved.connectionStatus}` : "Its connection test succeeded.") +
        (kind === "S3_ASSUMED_ROLE" ? ` The external id for the role's trust policy is ${saved.id}.` : ""));
      if (mine === generation) route();
    } catch (e) {
      error.append(errorBox(e.message));
    }
  } },
  h("h2", {}, existing ? "Edit the configuration" : "New export configuration"),
  h("div", { class: "form-fields" }, h("label", {}, "Destination", kindSelect), h("label", {}, "Interval", interval), h("label", {}, "Format", format)),
  fields,
  kind === "S3_ASSUMED_ROLE" || existing ? h("p", { class: "muted" }, existing && kind === "S3_ASSUMED_ROLE"
    ? `External id for the role's trust policy: ${existing.id}` : "For an assumed role, the external id of the trust policy is the configuration's id, shown once it is created.") : null,
  h("p", {}, h("button", { type: "submit", class: "primary", id: "export-save" }, existing ? "Save" : "Create"), " ",
    h("button", { type: "button", onclick: () => route() }, "Cancel")),
  error);
  message.replaceChildren();
  return form;
}

/** A Delete button in two steps: the first click asks, the second calls `remove`. */
function deleteButton(remove) {
  return h("button", { type: "button", class: "delete", onclick: (event) => {
    const button = event.currentTarget;
    if (button.dataset.confirm !== "1") {
      button.dataset.confirm = "1";
      button.textContent = "Confirm delete";
      return;
    }
    remove();
  } }, "Delete");
}

/** Runs `call`; on success reloads the Exports page showing `done`, else shows the error. */
async function actThenReload(call, done, message, mine) {
  try {
    await call();
    sessionStorage.setItem("vigil.exportMessage", done);
    if (mine === generation) route();
  } catch (e) {
    message.replaceChildren(errorBox(e.message));
  }
}

async function exportsPage() {
  const mine = ++generation;
  page("Exports", h("p", { class: "muted" }, "Loading the export configurations…"));
  let data, status, forwarders;
  try {
    [data, status, forwarders] = await Promise.all([graphql(EXPORTS_QUERY), apiJson("/api/audit/status"), apiJson("/api/audit/forwarders")]);
  } catch (e) {
    if (mine === generation) page("Exports", errorBox("The export configurations could not be loaded: " + e.message));
    return;
  }
  if (mine !== generation) return;
  const configs = data.getAllExportConfigurations;
  const message = h("div", { role: "status", "aria-live": "polite", id: "export-message" });
  const formSlot = h("div", { id: "export-form-slot" });
  const newButton = h("button", { type: "button", class: "primary", id: "new-export", onclick: () => {
    formSlot.replaceChildren(exportForm(null, message, mine));
    formSlot.querySelector("input, select").focus();
  } }, "New export configuration");
  if (!configs.length) {
    page("Exports", message, h("p", {}, newButton), formSlot,
      h("div", { class: "empty", id: "empty" }, "No export configurations yet."),
      forwardersSection(forwarders, status, message, mine));
    const done = sessionStorage.getItem("vigil.exportMessage");
    sessionStorage.removeItem("vigil.exportMessage");
    if (done) message.append(h("div", { class: "notice" }, done));
    main.dataset.ready = "exports";
    return;
  }
  const act = (mutation, id, done) =>
    actThenReload(() => graphql(`mutation($id: ID!) { ${mutation}(id: $id) { id } }`, { id }), done, message, mine);
  const rows = configs.map((c) => {
    const e = c.endpointConfiguration;
    const where = e.__typename.startsWith("S3") ? `s3://${e.bucket}/${e.path || ""}` : `adls://${e.storageAccount}/${e.fileSystem}/${e.path || ""}`;
    const x = c.exportStatus;
    const behind = Math.max(0, status.lastSequence - (x.lastExportedSequence || 0));
    const since = x.lastExportedAt ? ago(x.lastExportedAt) : "never exported";
    return h("tr", { "data-id": c.id },
      h("td", {}, h("code", {}, where), h("div", { class: "sub" }, c.id),
        e.__typename === "S3AssumedRoleEndpointConfiguration" ? h("div", { class: "sub" }, "External id for the trust policy: ", h("code", {}, c.id)) : null),
      h("td", {}, c.interval.replace(/^EVERY_(\d+)_HOURS$/, "Every $1 hours"),
        h("div", { class: "sub export-format" }, c.format === "PARQUET" ? "Parquet, by event date" : "gzip NDJSON")),
      h("td", {}, c.enabled ? "Enabled" : "Disabled"),
      h("td", { class: c.connectionStatus === "SUCCESS" ? "connection" : "connection status-FAILURE" },
        c.connectionStatus === "SUCCESS" ? "Working" : h("span", {}, "Failing: ", c.connectionStatus.replace(/^Error testing access to /, ""))),
      h("td", {}, x.lastExportedAt ? formatTime(x.lastExportedAt) : "—"),
      h("td", {}, `${number.format(behind)} event${behind === 1 ? "" : "s"} behind`, h("div", { class: "sub" }, since)),
      h("td", { class: x.lastError ? "status-FAILURE" : "" }, x.lastError ? `${x.lastError} (${x.attempts} failed attempt${x.attempts === 1 ? "" : "s"})` : "—"),
      h("td", {},
        h("button", { type: "button", class: "toggle", onclick: () => act(c.enabled ? "disableExportConfiguration" : "enableExportConfiguration", c.id, `${c.enabled ? "Disabled" : "Enabled"} ${where}.`) }, c.enabled ? "Disable" : "Enable"),
        " ",
        h("button", { type: "button", class: "export-now", onclick: () => act("exportNow", c.id, `Started an export to ${where}.`) }, "Export now"),
        " ",
        h("button", { type: "button", class: "test-connection", onclick: async () => {
          try {
            const answer = await graphql(`mutation($id: ID!) { testExportConfigurationConnection(id: $id) { connectionStatus } }`, { id: c.id });
            const result = answer.testExportConfigurationConnection.connectionStatus;
            sessionStorage.setItem("vigil.exportMessage", result === "SUCCESS" ? `The connection to ${where} works.` : `The connection test of ${where} failed: ${result}`);
            if (mine === generation) route();
          } catch (e) {
            message.replaceChildren(errorBox(e.message));
          }
        } }, "Test"),
        " ",
        h("button", { type: "button", class: "edit", onclick: () => {
          formSlot.replaceChildren(exportForm(c, message, mine));
          formSlot.scrollIntoView();
        } }, "Edit"),
        " ",
        deleteButton(() => act("deleteExportConfiguration", c.id, `Deleted the configuration for ${where}.`))));
  });
  const done = sessionStorage.getItem("vigil.exportMessage");
  sessionStorage.removeItem("vigil.exportMessage");
  if (done) message.append(h("div", { class: "notice" }, done));
  page("Exports", message, h("p", {}, newButton), formSlot,
    h("div", { class: "table-wrap" }, h("table", { id: "exports" },
      h("thead", {}, h("tr", {}, ["Destination", "Interval", "State", "Connection", "Last export", "Lag", "Last error", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))),
    h("p", { class: "muted" }, `The log holds ${number.format(status.lastSequence)} events. `, h("button", { type: "button", onclick: () => route() }, "Refresh")),
    forwardersSection(forwarders, status, message, mine));
  main.dataset.ready = "exports";
}

// ----- Forwarders to the SIEM (on the Exports page)

/** Where a forwarder sends, in words. */
function forwarderTarget(t) {
  if (t.type === "SYSLOG") return `syslog${t.tls ? "+tls" : ""}://${t.host}:${t.port}`;
  if (t.type === "SPLUNK_HEC") return `Splunk HEC ${t.url}${t.index ? ` (index ${t.index})` : ""}`;
  return `webhook ${t.url}`;
}

/** The filter in words. */
function forwarderFilter(f) {
  const parts = [["actions", "action"], ["actionStatuses", "status"], ["targetTypes", "target type"]]
    .filter(([k]) => f[k] && f[k].length).map(([k, label]) => `${label} ${f[k].join(" or ")}`);
  return parts.length ? parts.join(", ") : "every event";
}

/** The form of a new forwarder. */
function forwarderForm(message, mine) {
  const type = h("select", { id: "forwarder-type", name: "type" },
    [["SYSLOG", "Syslog (RFC 5424 over TCP or TLS)"], ["SPLUNK_HEC", "Splunk HTTP Event Collector"], ["WEBHOOK", "Webhook (signed NDJSON)"]]
      .map(([v, l]) => h("option", { value: v }, l)));
  const input = (name, label, attrs = {}) => {
    const field = h("input", { type: "text", name, id: "forwarder-" + name, autocomplete: "off", ...attrs });
    return [field, h("label", { "data-for": name }, label, field)];
  };
  const [name, nameLabel] = input("name", "Name");
  const [host, hostLabel] = input("host", "Host");
  const [port, portLabel] = input("port", "Port", { value: "6514", inputmode: "numeric" });
  const tls = h("input", { type: "checkbox", name: "tls", id: "forwarder-tls", checked: true });
  const tlsLabel = h("label", { class: "check" }, tls, " TLS");
  const [url, urlLabel] = input("url", "URL");
  const [index, indexLabel] = input("index", "Index", { placeholder: "the token's default" });
  const [secret, secretLabel] = input("secret", "Token", { type: "password" });
  const [actions, actionsLabel] = input("actions", "Only actions", { placeholder: "e.g. QUERY (comma-separated; empty: all)" });
  const [statuses, statusesLabel] = input("statuses", "Only statuses", { placeholder: "e.g. UNAUTHORIZED (empty: all)" });
  const start = h("select", { id: "forwarder-start", name: "startAt" },
    [["NOW", "Events from now on"], ["BEGINNING", "The whole log"]].map(([v, l]) => h("option", { value: v }, l)));
  const fields = h("div", { class: "form-fields" });
  const draw = () => {
    const t = type.value;
    secretLabel.firstChild.textContent = t === "WEBHOOK" ? "Signing secret" : "Token";
    fields.replaceChildren(nameLabel, h("label", {}, "Target", type),
      ...(t === "SYSLOG" ? [hostLabel, portLabel, tlsLabel] : [urlLabel]),
      ...(t === "SPLUNK_HEC" ? [indexLabel] : []),
      ...(t === "SYSLOG" ? [] : [secretLabel]),
      actionsLabel, statusesLabel, h("label", {}, "Start with", start));
  };
  type.addEventListener("change", draw);
  draw();
  const list = (field) => field.value.split(",").map((v) => v.trim()).filter(Boolean);
  const error = h("div", { "aria-live": "assertive", id: "forwarder-form-error" });
  const form = h("form", { class: "export-form", id: "forwarder-form", onsubmit: async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const t = type.value;
    const target = t === "SYSLOG"
      ? { type: t, host: host.value.trim(), port: Number(port.value), tls: tls.checked }
      : { type: t, url: url.value.trim(), ...(t === "SPLUNK_HEC" && index.value.trim() ? { index: index.value.trim() } : {}) };
    const body = { name: name.value.trim(), target, filter: { actions: list(actions), actionStatuses: list(statuses) }, startAt: start.value };
    if (t === "SPLUNK_HEC") body.token = secret.value;
    if (t === "WEBHOOK") body.signingSecret = secret.value;
    try {
      const saved = await apiJson("/api/audit/forwarders", { method: "POST", json: body });
      sessionStorage.setItem("vigil.exportMessage", `Created the forwarder ${saved.name} (${forwarderTarget(saved.target)}).`);
      if (mine === generation) route();
    } catch (e) {
      error.append(errorBox(e.message));
    }
  } },
  h("h2", {}, "New forwarder"),
  fields,
  h("p", {}, h("button", { type: "submit", class: "primary", id: "forwarder-save" }, "Create"), " ",
    h("button", { type: "button", onclick: () => route() }, "Cancel")),
  error);
  message.replaceChildren();
  return form;
}

/** The forwarders with their progress, and their actions. */
function forwardersSection(forwarders, status, message, mine) {
  const formSlot = h("div", { id: "forwarder-form-slot" });
  const newButton = h("button", { type: "button", id: "new-forwarder", onclick: () => {
    formSlot.replaceChildren(forwarderForm(message, mine));
    formSlot.querySelector("input").focus();
  } }, "New forwarder");
  const act = (path, options, done) => actThenReload(() => apiJson(path, options), done, message, mine);
  const rows = forwarders.map((f) => {
    const x = f.status;
    const path = `/api/audit/forwarders/${encodeURIComponent(f.id)}`;
    const toggled = { name: f.name, enabled: !f.enabled, target: f.target, filter: f.filter };
    return h("tr", { "data-id": f.id },
      h("td", {}, f.name, h("div", { class: "sub" }, h("code", {}, forwarderTarget(f.target)))),
      h("td", {}, forwarderFilter(f.filter)),
      h("td", {}, f.enabled ? "Enabled" : "Disabled"),
      h("td", { class: "forwarder-lag" }, `${number.format(x.lag)} event${x.lag === 1 ? "" : "s"} behind`,
        h("div", { class: "sub" }, `${number.format(x.forwardedEvents)} sent`, x.lastForwardedAt ? `, last ${ago(x.lastForwardedAt)}` : "")),
      h("td", { class: x.lastError ? "status-FAILURE" : "" }, x.lastError ? `${x.lastError} (${x.attempts} failed attempt${x.attempts === 1 ? "" : "s"})` : "—"),
      h("td", {},
        h("button", { type: "button", class: "toggle", onclick: () => act(path, { method: "PUT", json: toggled }, `${f.enabled ? "Disabled" : "Enabled"} the forwarder ${f.name}.`) }, f.enabled ? "Disable" : "Enable"),
        " ",
        deleteButton(() => act(path, { method: "DELETE" }, `Deleted the forwarder ${f.name}.`))));
  });
  return h("section", { id: "forwarders-section" },
    h("h2", {}, "Forwarders to the SIEM"),
    h("p", { class: "muted" }, "Each event the filter passes, in order, as it is stored: syslog over TCP or TLS, Splunk HEC with indexer acknowledgement, or a signed webhook."),
    h("p", {}, newButton), formSlot,
    forwarders.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "forwarders" },
        h("thead", {}, h("tr", {}, ["Forwarder", "Sends", "State", "Lag", "Last error", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)))
      : h("div", { class: "empty", id: "no-forwarders" }, "No forwarders yet."));
}

function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

// ------------------------------------------------------------------------------------------
// API reference: the OpenAPI document the server serves, rendered here (nothing fetched from
// anywhere else).

/** The schema's name, for a `$ref`, or its type. */
function schemaName(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return "array of " + (schemaName(schema.items) || "values");
  return Array.isArray(schema.type) ? schema.type.join(" or ") : (schema.type || "any JSON");
}

function operationSection(path, method, op) {
  const params = op.parameters || [];
  const body = op.requestBody;
  return h("section", { class: "operation", id: "op-" + op.operationId },
    h("h3", {}, h("span", { class: "method" }, method.toUpperCase()), " ", h("code", {}, path)),
    h("p", {}, op.summary || ""),
    op.security && op.security.length === 1 && Object.keys(op.security[0]).length === 0
      ? h("p", { class: "muted" }, "No key needed.") : null,
    params.length ? h("table", { class: "params" },
      h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "In"), h("th", {}, "Type"), h("th", {}, "Meaning"))),
      h("tbody", {}, params.map((p) => h("tr", {},
        h("td", {}, h("code", {}, p.name), p.required ? " (required)" : ""), h("td", {}, p.in),
        h("td", {}, schemaName(p.schema)), h("td", {}, p.description || ""))))) : null,
    body ? h("p", {}, h("strong", {}, "Body: "), Object.keys(body.content || {}).join(", "),
      body.description ? " — " + body.description : "") : null,
    h("ul", { class: "responses" }, Object.entries(op.responses || {}).map(([status, answer]) =>
      h("li", {}, h("code", {}, status), " ", answer.description || "",
        Object.keys(answer.content || {}).length
          ? " (" + Object.entries(answer.content).map(([type, c]) => type + (c.schema ? ": " + schemaName(c.schema) : "")).join(", ") + ")"
          : ""))));
}

async function apiReferencePage() {
  const doc = await apiJson("/api/openapi.json");
  const byTag = new Map((doc.tags || []).map((tag) => [tag.name, { tag, operations: [] }]));
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const name = (op.tags || ["other"])[0];
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, operations: [] });
      byTag.get(name).operations.push([path, method, op]);
    }
  }
  const errorBody = doc.components && doc.components.schemas && doc.components.schemas.ErrorBody;
  page("API reference",
    h("p", {}, doc.info.description),
    h("p", {}, "The contract as OpenAPI " + doc.openapi + ": ", h("a", { href: "/api/openapi.json", id: "openapi-link" }, "/api/openapi.json"),
      ". Send an API key in Authorization (bare or Bearer); a signed-in person's changes echo X-CSRF-Token."),
    h("nav", { class: "api-tags", "aria-label": "API sections" },
      [...byTag.values()].map(({ tag }) => h("a", { href: "#/api", onclick: (event) => {
        event.preventDefault();
        document.getElementById("tag-" + tag.name)?.scrollIntoView();
      } }, tag.name))),
    [...byTag.values()].filter(({ operations }) => operations.length).map(({ tag, operations }) =>
      h("section", { class: "api-tag", id: "tag-" + tag.name },
        h("h2", {}, tag.name), tag.description ? h("p", {}, tag.description) : null,
        operations.map(([path, method, op]) => operationSection(path, method, op)))),
    errorBody ? h("section", { id: "error-body" }, h("h2", {}, "The error body"),
      h("ul", {}, Object.entries(errorBody.properties || {}).map(([name, field]) =>
        h("li", {}, h("code", {}, name), " — ", field.description || "")))) : null);
  main.dataset.ready = "api";
}

// ------------------------------------------------------------------------------------------
// Routing

/** The time range and filters the audit page and the dashboards share. */
let shared = new URLSearchParams();

function go(path, params) {
  const query = params && [...params.keys()].length ? "?" + params : "";
  location.hash = "#/" + path + query;
}

async function route() {
  delete main.dataset.ready;
  if (!sessionStorage.getItem(KEY) && !person) return signInPage();
  const hash = location.hash || "#/audit";
  const at = hash.indexOf("?");
  const path = at < 0 ? hash.slice(2) : hash.slice(2, at);
  const params = new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  const section = path.startsWith("event/") ? "audit" : path === "dashboards/user" ? "user" : path === "dashboards/data" ? "data" : path;
  if (["audit", "user", "data"].includes(section) && !path.startsWith("event/")) {
    // The audit page and the dashboards share the time range and the filters.
    shared = new URLSearchParams();
    for (const name of ["range", "hours", "since", "from", "to"]) if (params.get(name)) shared.set(name, params.get(name));
    for (const name of ["f", "x"]) for (const f of params.getAll(name)) shared.append(name, f);
    if (params.get("own")) shared.set("own", params.get("own"));
  }
  const suffix = [...shared.keys()].length ? "?" + shared : "";
  document.querySelector("#nav a[data-page=audit]").setAttribute("href", "#/audit" + suffix);
  document.querySelector("#nav a[data-page=user]").setAttribute("href", "#/dashboards/user" + suffix);
  document.querySelector("#nav a[data-page=data]").setAttribute("href", "#/dashboards/data" + suffix);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const loaded = sessionStorage.getItem("vigil.loadMessage");
  sessionStorage.removeItem("vigil.loadMessage");
  if (path.startsWith("event/")) await eventPage(decodeURIComponent(path.slice(6)));
  else if (path === "dashboards/user") await dashboard("user", params);
  else if (path === "dashboards/data") await dashboard("data", params);
  else if (path === "reports") await reportsPage(params);
  else if (path === "exports") await exportsPage();
  else if (path === "api") await apiReferencePage();
  else await auditPage(params);
  if (loaded) document.getElementById("load-status")?.replaceChildren(h("div", { class: "notice" }, loaded));
}

async function start() {
  document.getElementById("sign-out").addEventListener("click", () => signOut());
  const zone = document.getElementById("zone");
  const showZone = () => { zone.textContent = "Times: " + zoneName(); };
  zone.addEventListener("click", () => {
    if (utcChosen()) localStorage.removeItem(ZONE_KEY); else localStorage.setItem(ZONE_KEY, "UTC");
    showZone();
    route();
  });
  showZone();
  window.addEventListener("hashchange", () => route());
  if (sessionStorage.getItem(KEY)) {
    try {
      const session = await apiJson("/api/audit/session");
      showWho(session);
    } catch (e) {
      if (e.status !== 401) main.replaceChildren(errorBox(e.message));
      return;
    }
  } else {
    // Signed in through single sign-on? The session cookie says, if there is one.
    try {
      const session = await apiJson("/api/audit/session", { signingIn: true });
      if (session.csrfToken) {
        if (!session.permissions.includes("AUDIT")) {
          person = session;
          await signOut(`${session.name} signed in, but their groups do not give the AUDIT permission the audit pages need.`);
          return;
        }
        person = session;
        showWho(session);
      }
    } catch (e) {
      if (e.status !== 401) {
        main.replaceChildren(errorBox(e.message));
        return;
      }
    }
  }
  route();
}

start();
