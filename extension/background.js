/**
 * formshield's service worker (a background script in Firefox).
 *
 * - Keeps the connection to the proxy's event stream (GET /v1/events) while paired.
 * - Counts, per tab, the findings of proxy verdicts about the tab's site, on the toolbar badge.
 * - Forwards verdicts and `ask` prompts to the tab's top frame, which shows them in the page.
 * - Relays content scripts' requests to the backend: form checks (POST /v1/check) and answers
 *   to prompts (POST /v1/held/<id>). Content scripts never call the backend themselves: a page's
 *   CSP and CORS would get in the way, and this keeps form values on one path, from the page's
 *   content script to the local backend, nowhere else.
 *
 * Listeners are registered synchronously at the top level, as Manifest V3 requires for a worker
 * that is stopped when idle and started again by the next event.
 */

import { api } from "./lib/browser.js";
import { callBackend, describeError, loadPairing, PAIRING_KEY } from "./lib/backend.js";
import { EventStream } from "./lib/events.js";
import { noticesFromCheck, noticesFromVerdict, text, worthShowing } from "./lib/notices.js";
import { hostMatchesSite, hostOf } from "./lib/sites.js";
import { TabRegistry } from "./lib/tabs.js";

const HELD_KEY = "held";
const CONNECTION_KEY = "connection";
const ALARM = "formshield-reconnect";
/** Limits on what a content script may send for one check (a page may have huge forms). */
const MAX_FIELDS = 200;
const MAX_VALUE = 4096;
const ANSWERS = new Set(["send_once", "always_allow", "block"]);
const BADGE_COLORS = {
  block: "#c62828",
  redact: "#e65100",
  ask: "#6a1b9a",
  warn: "#f9a825",
  allow: "#546e7a",
  "": "#546e7a",
};

const tabs = new TabRegistry();
/** Held requests waiting for an answer: held id -> `ask` event data. */
const held = new Map();
let heldLoaded = null;

const stream = new EventStream({
  pairing: loadPairing,
  onEvent: (type, data) => {
    onBackendEvent(type, data).catch((error) => {
      console.error("formshield: event", type, "failed:", error);
    });
  },
  onState: (status) => {
    api.storage.session.set({ [CONNECTION_KEY]: status }).catch(() => {});
    showConnection(status);
    if (status.state === "connected") {
      refreshHeld().catch(() => {});
    }
  },
});

// The token is in storage.local, which content scripts may read by default. Ours never need
// storage, so keep it to the worker and the extension's pages where the browser allows that
// (Chromium does; Firefox has no setAccessLevel: there the token stays readable by our own
// content scripts, never by pages).
api.storage.local.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" })?.catch?.((error) => {
  console.warn("formshield: could not restrict storage access:", error?.message);
});

api.runtime.onInstalled.addListener(() => start());
api.runtime.onStartup.addListener(() => start());
api.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARM) {
    stream.ensure();
  }
});
api.storage.onChanged.addListener((changes, area) => {
  if (area === "local" && PAIRING_KEY in changes) {
    stream.restart();
  }
});
api.tabs.onRemoved.addListener((tabId) => {
  tabs.ready().then(() => tabs.forget(tabId));
});
api.runtime.onMessage.addListener((message, sender, sendResponse) => {
  handleMessage(message, sender).then(
    (answer) => sendResponse(answer),
    (error) => sendResponse({ ok: false, error: describeError(error), kind: error?.kind ?? "" }),
  );
  return true; // answer asynchronously
});

start();

/** Open the event stream and make sure the worker comes back to reopen it if it is stopped. */
function start() {
  api.alarms.create(ALARM, { periodInMinutes: 1 });
  stream.ensure();
}

// While connected, Chromium would still stop an idle worker after 30 s and drop the stream with
// it; an extension API call every 20 s counts as activity. The alarm above reopens the stream if
// the worker was stopped anyway (Firefox suspends background scripts on its own terms).
setInterval(() => {
  if (stream.active) {
    api.runtime.getPlatformInfo().catch(() => {});
  }
}, 20000);

// --- messages from content scripts and extension pages ------------------------------------

/**
 * @param {any} message
 * @param {chrome.runtime.MessageSender} sender
 * @returns {Promise<object>}
 */
async function handleMessage(message, sender) {
  if (sender.id !== api.runtime.id || !message || typeof message.type !== "string") {
    return { ok: false, error: "unknown sender or message" };
  }
  stream.ensure(); // any activity is a chance to reconnect a stream lost while stopped
  await tabs.ready();
  const tabId = sender.tab?.id;
  // Our own pages (popup, options) may be open in a tab too: tell them apart by their URL.
  const fromExtension = String(sender.url ?? "").startsWith(api.runtime.getURL(""));
  const fromPage = !fromExtension && typeof tabId === "number" && tabId >= 0;
  switch (message.type) {
    case "hello":
      return fromPage ? hello(tabId, sender.frameId ?? 0, sender.url ?? "") : denied();
    case "check":
      return fromPage ? check(tabId, sender, message) : denied();
    case "answer":
      return fromPage ? answer(tabId, message) : denied();
    case "dismiss":
      if (fromPage) {
        tabs.dismiss(tabId);
      }
      return { ok: fromPage };
    case "tab-state":
      return fromExtension ? tabState(Number(message.tabId)) : denied();
    case "reconnect":
      if (fromExtension) {
        stream.restart();
      }
      return { ok: fromExtension };
    default:
      return { ok: false, error: "unknown message type" };
  }
}

function denied() {
  return { ok: false, error: "not allowed from here" };
}

/**
 * A document loaded: remember its host, set the badge, give it what it should show.
 *
 * @param {number} tabId
 * @param {number} frameId
 * @param {string} url
 */
async function hello(tabId, frameId, url) {
  const state = tabs.hello(tabId, frameId, url);
  if (frameId !== 0 || !state) {
    return { ok: true, top: false };
  }
  showCount(tabId, state);
  await loadHeld();
  const asks = [...held.values()].filter((a) => hostMatchesSite(state.host, a.site) ||
    Object.values(state.frames).some((h) => hostMatchesSite(h, a.site)));
  return { ok: true, top: true, site: state.site, notices: tabs.freshNotices(tabId), asks };
}

/**
 * Check form fields with the backend (POST /v1/check) and show the findings in the tab.
 *
 * @param {number} tabId
 * @param {chrome.runtime.MessageSender} sender
 * @param {any} message {page, action, fields: [{name, label, value}]}
 */
async function check(tabId, sender, message) {
  const page = String(sender.url ?? "");
  if (!hostOf(page)) {
    return { ok: false, error: "not a web page" };
  }
  const fields = (Array.isArray(message.fields) ? message.fields : [])
    .slice(0, MAX_FIELDS)
    .filter((f) => f && typeof f.value === "string" && f.value.trim() !== "")
    .map((f) => ({
      name: text(f.name, 200),
      label: text(f.label, 200),
      value: f.value.slice(0, MAX_VALUE),
    }));
  if (!fields.length) {
    return { ok: true, findings: [] };
  }
  // The page is the sender's own URL as the browser reports it, not what the script claims.
  const body = { page, fields };
  const action = typeof message.action === "string" ? message.action : "";
  if (hostOf(action)) {
    body.action = action;
  }
  const result = await callBackend(await loadPairing(), "POST", "/v1/check", body);
  if (sender.frameId === 0 && typeof result.site === "string") {
    tabs.setSite(tabId, result.site);
  }
  const labels = fields.map(({ name, label }) => ({ name, label }));
  const notices = noticesFromCheck(result, labels).filter(worthShowing);
  if (notices.length) {
    // `from` lets the top frame drop the answer if it has moved on to another page meanwhile
    // (a check sent on submit often comes back after the next page has loaded).
    sendToTop(tabId, { type: "notices", notices, from: { frameId: sender.frameId, url: page } });
  }
  return {
    ok: true,
    site: result.site,
    destination: result.destination,
    verdict: result.verdict,
    findings: Array.isArray(result.findings) ? result.findings.length : 0,
  };
}

/**
 * Pass the person's answer to a held request on to the backend.
 *
 * @param {number} tabId the tab the answer came from
 * @param {any} message {id, answer}
 */
async function answer(tabId, message) {
  await loadHeld();
  const id = String(message.id ?? "");
  const ask = held.get(id);
  const state = tabs.get(tabId);
  if (!ANSWERS.has(message.answer)) {
    return { ok: false, error: "unknown answer" };
  }
  // A tab may only answer for requests of its own site: the prompt was shown there.
  if (!ask || !state || !tabs.tabsForSite(ask.site).includes(tabId)) {
    return { ok: false, error: "no such request waiting in this tab", kind: "not-found" };
  }
  let result;
  try {
    result = await callBackend(await loadPairing(), "POST",
      `/v1/held/${encodeURIComponent(id)}`, { answer: message.answer });
  } catch (err) {
    if (err?.status === 404) {
      // Answered elsewhere or expired: forget it now, so no page is shown it again.
      held.delete(id);
      saveHeld();
    }
    throw err;
  }
  // Forget the answered request at once rather than when the stream's `resolved` event comes:
  // a page opened in between would otherwise be shown the old prompt, and answering it would
  // leave the new request held.
  held.delete(id);
  saveHeld();
  return { ok: true, id, outcome: text(result.outcome) };
}

/**
 * What the popup shows about a tab.
 *
 * @param {number} tabId
 */
async function tabState(tabId) {
  const state = tabs.get(tabId);
  const { [CONNECTION_KEY]: connection } = await api.storage.session.get(CONNECTION_KEY);
  return { ok: true, tab: state ?? null, connection: connection ?? stream.status };
}

// --- events from the proxy ---------------------------------------------------------------

/**
 * @param {string} type "verdict" | "ask" | "resolved"
 * @param {any} data
 */
async function onBackendEvent(type, data) {
  await tabs.ready();
  if (!data || typeof data !== "object") {
    return;
  }
  if (type === "verdict") {
    const applied = text(data.applied) || text(data.action);
    const notices = noticesFromVerdict(data);
    const visible = notices.filter(worthShowing);
    for (const tabId of tabs.tabsForSite(data.site)) {
      const state = tabs.addVerdict(tabId, notices.length, visible, applied);
      if (state) {
        showCount(tabId, state);
        if (visible.length) {
          sendToTop(tabId, { type: "notices", notices: visible });
        }
      }
    }
  } else if (type === "ask") {
    await loadHeld();
    held.set(String(data.id), data);
    saveHeld();
    for (const tabId of tabs.tabsForSite(data.site)) {
      sendToTop(tabId, { type: "ask", ask: data });
    }
  } else if (type === "resolved") {
    await loadHeld();
    const id = String(data.id);
    const ask = held.get(id);
    held.delete(id);
    saveHeld();
    const targets = ask ? tabs.tabsForSite(ask.site) : [...tabs.tabs.keys()];
    for (const tabId of targets) {
      sendToTop(tabId, { type: "resolved", id, outcome: text(data.outcome) });
    }
  }
}

/** Load the held requests saved before the worker was last stopped. */
async function loadHeld() {
  heldLoaded ??= api.storage.session.get(HELD_KEY).then((stored) => {
    for (const ask of stored[HELD_KEY] ?? []) {
      if (!held.has(String(ask.id))) {
        held.set(String(ask.id), ask);
      }
    }
  });
  await heldLoaded;
  const now = Date.now() / 1000;
  for (const [id, ask] of held) {
    if (typeof ask.expires_at === "number" && ask.expires_at < now) {
      held.delete(id);
    }
  }
}

function saveHeld() {
  api.storage.session.set({ [HELD_KEY]: [...held.values()] }).catch(() => {});
}

/** After (re)connecting: the backend's list of held requests replaces ours. */
async function refreshHeld() {
  const result = await callBackend(await loadPairing(), "GET", "/v1/held");
  await loadHeld();
  const fresh = new Map((result.held ?? []).map((ask) => [String(ask.id), ask]));
  for (const [id, ask] of fresh) {
    if (!held.has(id)) {
      for (const tabId of tabs.tabsForSite(ask.site)) {
        sendToTop(tabId, { type: "ask", ask });
      }
    }
  }
  held.clear();
  for (const [id, ask] of fresh) {
    held.set(id, ask);
  }
  saveHeld();
}

// --- showing things ----------------------------------------------------------------------

/**
 * Send a message to a tab's top frame; a tab without our content script is skipped quietly.
 *
 * @param {number} tabId
 * @param {object} message
 */
function sendToTop(tabId, message) {
  api.tabs.sendMessage(tabId, message, { frameId: 0 }).catch(() => {});
}

/**
 * @param {number} tabId
 * @param {import("./lib/tabs.js").TabState} state
 */
function showCount(tabId, state) {
  // null (not "") for no count: the tab then shows the global badge (connection trouble).
  const label = state.count ? (state.count > 999 ? "999+" : String(state.count)) : null;
  api.action.setBadgeText({ tabId, text: label }).catch(() => {});
  api.action.setBadgeBackgroundColor({ tabId, color: BADGE_COLORS[state.worst] ?? "#546e7a" })
    .catch(() => {});
  api.action.setBadgeTextColor?.({ tabId, color: "#ffffff" })?.catch?.(() => {});
  const title = state.count
    ? `formshield: ${state.count} finding${state.count === 1 ? "" : "s"} on ${state.site}`
    : `formshield: nothing found on ${state.site}`;
  api.action.setTitle({ tabId, title }).catch(() => {});
}

/**
 * The badge on tabs without a count of their own tells whether formshield is connected.
 *
 * @param {import("./lib/events.js").ConnectionState} status
 */
function showConnection(status) {
  const ok = status.state === "connected" || status.state === "connecting";
  api.action.setBadgeText({ text: ok ? "" : "!" }).catch(() => {});
  api.action.setBadgeBackgroundColor({ color: "#757575" }).catch(() => {});
  api.action.setTitle({ title: `formshield: ${status.detail || status.state}` }).catch(() => {});
}
