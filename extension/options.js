/**
 * The options page: pair the extension with the proxy's backend and show whether it works.
 *
 * "Connect" saves the URL and token (the service worker notices and reconnects its event
 * stream), then calls GET /v1/status and says one of: connected, bad token, refused (origin
 * check), unreachable.
 */

import { api } from "./lib/browser.js";
import {
  BackendError,
  callBackend,
  DEFAULT_URL,
  describeError,
  loadPairing,
  parsePairingText,
  savePairing,
} from "./lib/backend.js";

const CONNECTION_KEY = "connection";

const urlInput = /** @type {HTMLInputElement} */ (document.getElementById("url"));
const tokenInput = /** @type {HTMLInputElement} */ (document.getElementById("token"));
const statusBox = /** @type {HTMLElement} */ (document.getElementById("status"));

/** Wording of each failure kind on the status line. */
const FAILURES = {
  "bad-token": "Bad token",
  forbidden: "Refused",
  unreachable: "Unreachable",
  "bad-url": "Invalid URL",
  "not-paired": "Not paired",
  "bad-response": "Not formshield",
  server: "Backend error",
};

/**
 * @param {"ok"|"bad"|"wait"} kind
 * @param {string} message
 */
function setStatus(kind, message) {
  statusBox.className = `status ${kind}`;
  statusBox.textContent = message;
  statusBox.dataset.kind = kind;
}

/** Fill the form from the saved pairing. */
async function load() {
  const pairing = await loadPairing();
  urlInput.value = pairing?.url ?? DEFAULT_URL;
  tokenInput.value = pairing?.token ?? "";
  const id = api.runtime.id;
  document.getElementById("extension-id").textContent = id;
  document.getElementById("extension-option").textContent =
    `--set formshield_extension_id=${id}`;
  const stored = await api.storage.session.get(CONNECTION_KEY);
  showStream(stored[CONNECTION_KEY]);
  if (pairing) {
    await testConnection(pairing);
  }
}

/**
 * @param {{state: string, detail: string}|undefined} status the service worker's stream state
 */
function showStream(status) {
  document.getElementById("stream").textContent = status
    ? `${status.state}${status.detail ? `: ${status.detail}` : ""}`
    : "not started";
}

/**
 * GET /v1/status and say what it means.
 *
 * @param {import("./lib/backend.js").Pairing} pairing
 */
async function testConnection(pairing) {
  setStatus("wait", `Connecting to ${pairing.url}…`);
  try {
    const status = await callBackend(pairing, "GET", "/v1/status");
    if (status.api !== "formshield") {
      throw new BackendError("bad-response", "that port answers, but it is not formshield");
    }
    const files = Array.isArray(status.policy_files) ? status.policy_files.length : 0;
    setStatus("ok", `Connected to formshield ${status.version ?? ""} at ${pairing.url}: ` +
      `${files} policy file${files === 1 ? "" : "s"}, ${status.held ?? 0} request(s) waiting.`);
  } catch (error) {
    const kind = error instanceof BackendError ? error.kind : "";
    setStatus("bad", `${FAILURES[kind] ?? "Error"}: ${describeError(error)}`);
  }
}

async function connect(event) {
  event.preventDefault();
  // The whole output of `formshield pair` may have been pasted into the token field.
  const pasted = parsePairingText(tokenInput.value);
  if (pasted.url) {
    urlInput.value = pasted.url;
  }
  if (pasted.token) {
    tokenInput.value = pasted.token;
  }
  let pairing;
  try {
    pairing = await savePairing(urlInput.value, tokenInput.value);
  } catch (error) {
    const kind = error instanceof BackendError ? error.kind : "";
    setStatus("bad", `${FAILURES[kind] ?? "Error"}: ${describeError(error)}`);
    return;
  }
  urlInput.value = pairing.url;
  await testConnection(pairing);
}

document.getElementById("pairing").addEventListener("submit", connect);
document.getElementById("show").addEventListener("click", (event) => {
  const hidden = tokenInput.type === "password";
  tokenInput.type = hidden ? "text" : "password";
  /** @type {HTMLButtonElement} */ (event.target).textContent = hidden ? "Hide token" : "Show token";
});
api.storage.onChanged.addListener((changes, area) => {
  if (area === "session" && CONNECTION_KEY in changes) {
    showStream(changes[CONNECTION_KEY].newValue);
  }
});

load();
