/**
 * The toolbar popup: recent findings on the current tab's site, per-site controls, and the
 * policy in force there.
 *
 * The tab is the active one, or the one named by `?tab=<id>` (so that the popup can be opened
 * in a page of its own for a given tab, e.g. by tests or from a keyboard shortcut). Its site
 * comes from the service worker, which learnt it from the tab's content script. Everything
 * else comes from the backend:
 *   GET  /v1/findings?site=<site>        recent findings (masked values only)
 *   GET  /v1/sites/<site>/policy          effective policy
 *   POST /v1/sites/<site>/policy          one change: trust/untrust a destination, or set the
 *                                         action for third parties; answers the new policy
 */

import { api } from "./lib/browser.js";
import { callBackend, describeError, loadPairing } from "./lib/backend.js";
import { el, fill, shortTime } from "./lib/dom.js";
import { hostMatchesSite } from "./lib/sites.js";

const FINDINGS_LIMIT = 20;
/** While the popup is open, findings are fetched again this often (ms): requests keep coming. */
const REFRESH_MS = 4000;

/** @type {{tabId: number|null, site: string, pairing: any, findings: any[], policy: any}} */
const state = { tabId: null, site: "", pairing: null, findings: [], policy: null };

/**
 * @param {"ok"|"bad"|"wait"|null} kind null hides the message
 * @param {string} [text]
 */
function say(kind, text = "") {
  const box = document.getElementById("message");
  box.hidden = kind === null;
  box.className = `status ${kind ?? ""}`;
  box.textContent = text;
}

/** @param {string} id @param {boolean} visible */
function show(id, visible) {
  document.getElementById(id).hidden = !visible;
}

/** @returns {Promise<number|null>} the tab this popup is about */
async function targetTab() {
  const param = new URLSearchParams(location.search).get("tab");
  if (param !== null && /^\d+$/.test(param)) {
    document.documentElement.classList.add("in-tab");
    return Number(param);
  }
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  return tab?.id ?? null;
}

/**
 * @param {string} action
 * @returns {HTMLElement}
 */
function actionBadge(action) {
  return el("span", { className: `act-${action}`, text: action || "?" });
}

function renderFindings() {
  const rows = state.findings.map((f) => el("div", { className: "finding" }, [
    el("span", { className: "when", text: shortTime(Number(f.ts)) }),
    el("span", {}, [
      `${f.entity_type ?? ""} `,
      el("span", { className: "masked", text: String(f.masked ?? "") }),
      " → ",
      el("strong", { text: String(f.destination ?? "") }),
      ": ",
      actionBadge(String(f.action ?? "")),
    ]),
    el("span", { className: "where", text: `${f.location ?? ""} · ${f.rule ?? ""}` }),
  ]));
  fill("findings", rows.length ? rows
    : [el("p", { className: "muted", text: `Nothing found on ${state.site} yet.` })]);
  show("findings-section", true);
}

/** Destinations seen in findings or trusted, with a Trust / Untrust button each. */
function renderDestinations() {
  const trusted = new Set(Array.isArray(state.policy?.trusted) ? state.policy.trusted : []);
  const seen = new Set(state.findings.map((f) => String(f.destination ?? "")).filter(Boolean));
  const names = [...new Set([...seen, ...trusted])]
    .filter((d) => trusted.has(d) || !hostMatchesSite(d, state.site))
    .sort();
  const rows = names.map((name) => el("div", { className: "dest-row" }, [
    el("span", { className: "name", text: name }),
    trusted.has(name)
      ? el("span", {}, [
        el("span", { className: "trusted", text: "trusted " }),
        el("button", {
          text: `Untrust ${name}`,
          attrs: { type: "button" },
          onClick: () => change({ untrust: name }),
        }),
      ])
      : el("button", {
        text: `Trust ${name}`,
        attrs: { type: "button" },
        title: `Treat ${name} as part of ${state.site} (first party)`,
        onClick: () => change({ trust: name }),
      }),
  ]));
  fill("destinations", rows.length ? rows
    : [el("p", { className: "muted", text: "No third-party destinations seen." })]);
  show("destinations-section", true);
}

function renderPolicy() {
  const policy = state.policy;
  if (!policy) {
    show("policy-section", false);
    return;
  }
  const entities = Object.entries(policy.entities ?? {});
  const cell = (decision) => el("td", { title: String(decision?.rule ?? "") }, [
    actionBadge(String(decision?.action ?? "")),
    el("div", { className: "muted small", text: ruleId(String(decision?.rule ?? "")) }),
  ]);
  const table = el("table", {}, [
    el("tr", {}, [
      el("th", { text: "Data" }),
      el("th", { text: "To this site" }),
      el("th", { text: "To third parties" }),
    ]),
    ...entities.map(([entity, d]) => el("tr", {}, [
      el("td", { className: "mono small", text: entity }),
      cell(d?.first_party),
      cell(d?.third_party),
    ])),
  ]);
  const trusted = Array.isArray(policy.trusted) ? policy.trusted : [];
  const userRules = Array.isArray(policy.user_rules) ? policy.user_rules : [];
  fill("policy", [
    table,
    el("p", { className: "small", text: trusted.length
      ? `Trusted on ${state.site}: ${trusted.join(", ")}`
      : `No destination is trusted on ${state.site}.` }),
    el("p", { className: "small muted", text: userRules.length
      ? `Your own rules for this site: ${userRules.map(describeRule).join("; ")}`
      : "No rules of your own for this site." }),
  ]);
  show("policy-section", true);
}

/**
 * The id part of a rule reference: "default.yaml:58 (first-party-ids-warn)" ->
 * "first-party-ids-warn" (the whole reference stays in the cell's tooltip).
 *
 * @param {string} rule
 * @returns {string}
 */
function ruleId(rule) {
  const match = rule.match(/\(([^()]+)\)$/);
  return match ? match[1] : rule;
}

/**
 * @param {any} rule a user rule from the backend
 * @returns {string}
 */
function describeRule(rule) {
  if (!rule || typeof rule !== "object") {
    return String(rule);
  }
  const entities = Array.isArray(rule.entities) ? rule.entities.join(",") : rule.entities;
  const parts = [rule.id, entities, rule.destination && `→ ${rule.destination}`, rule.action];
  return parts.filter(Boolean).join(" ");
}

/**
 * Send one policy change and show the policy it results in.
 *
 * @param {object} body e.g. {trust: "pay.example.com"}
 */
async function change(body) {
  const buttons = document.querySelectorAll("button");
  for (const b of buttons) {
    b.disabled = true;
  }
  say("wait", "Saving…");
  try {
    state.policy = await callBackend(state.pairing, "POST",
      `/v1/sites/${encodeURIComponent(state.site)}/policy`, body);
    say("ok", "Saved. It applies to the next request.");
  } catch (error) {
    say("bad", describeError(error));
  } finally {
    renderDestinations();
    renderPolicy();
    for (const b of document.querySelectorAll("button")) {
      b.disabled = false;
    }
  }
}

async function main() {
  document.getElementById("options").addEventListener("click", (event) => {
    event.preventDefault();
    api.runtime.openOptionsPage();
  });
  state.tabId = await targetTab();
  const reply = state.tabId === null ? null
    : await api.runtime.sendMessage({ type: "tab-state", tabId: state.tabId });
  const connection = reply?.connection;
  document.getElementById("connection").textContent = connection
    ? `Proxy: ${connection.state}${connection.detail ? ` (${connection.detail})` : ""}`
    : "";
  const tab = reply?.tab;
  if (!tab) {
    say("wait", "formshield checks web pages (http and https). Nothing to show for this tab.");
    return;
  }
  state.site = tab.site;
  document.getElementById("site").textContent = tab.site;
  state.pairing = await loadPairing();
  if (!state.pairing) {
    say("bad", "Not paired with the formshield proxy: open “Pairing and options” below.");
    return;
  }
  const site = encodeURIComponent(state.site);
  const [findings, policy] = await Promise.allSettled([
    loadFindings(),
    callBackend(state.pairing, "GET", `/v1/sites/${site}/policy`),
  ]);
  if (findings.status === "rejected") {
    say("bad", describeError(findings.reason));
    return;
  }
  state.policy = policy.status === "fulfilled" ? policy.value : null;
  if (policy.status === "rejected") {
    say("bad", `Policy: ${describeError(policy.reason)}`);
  }
  renderFindings();
  renderDestinations();
  renderPolicy();
  show("controls-section", true);
  document.getElementById("block-third").addEventListener("click",
    () => change({ entity: "*", party: "third-party", action: "block" }));
  document.getElementById("redact-third").addEventListener("click",
    () => change({ entity: "*", party: "third-party", action: "redact" }));
  document.getElementById("reset").addEventListener("click", () => change({ reset: true }));
  document.body.dataset.ready = "true";
  setInterval(() => {
    const before = state.findings.map((f) => f.id).join(",");
    loadFindings().then(() => {
      if (state.findings.map((f) => f.id).join(",") !== before) {
        renderFindings(); // only on news: redrawing under the pointer would eat clicks
        renderDestinations();
      }
    }, () => {});
  }, REFRESH_MS);
}

/** Fetch the recent findings on the site into `state.findings`. */
async function loadFindings() {
  const site = encodeURIComponent(state.site);
  const answer = await callBackend(state.pairing, "GET",
    `/v1/findings?site=${site}&limit=${FINDINGS_LIMIT}`);
  state.findings = Array.isArray(answer.findings) ? answer.findings : [];
}

main().catch((error) => say("bad", describeError(error)));
