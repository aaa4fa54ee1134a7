/**
 * The formshield backend: where it is (the pairing) and how to call it.
 *
 * The backend is the API served by the running formshield proxy on this computer
 * (`formshield pair` prints its URL and token). Every call carries `Authorization: Bearer
 * <token>`; the browser adds `Origin: chrome-extension://<id>` (or `moz-extension://`) itself,
 * which the backend also checks.
 *
 * Form values are sent to the backend by `POST /v1/check`. To keep them from going anywhere
 * else, a pairing URL must name this computer (127.0.0.1 or localhost) over plain HTTP:
 * anything else is refused here, before a request is made.
 */

import { api } from "./browser.js";

/** The URL `formshield` listens on unless told otherwise (option `formshield_api_port`). */
export const DEFAULT_URL = "http://127.0.0.1:8765";

/** Key of the pairing in `storage.local`. */
export const PAIRING_KEY = "pairing";

/** Default timeout of one API call, in milliseconds (the backend is local: seconds are plenty). */
const CALL_TIMEOUT_MS = 10000;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/**
 * @typedef {object} Pairing
 * @property {string} url    base URL, e.g. "http://127.0.0.1:8765" (no trailing slash)
 * @property {string} token  the API token from `formshield pair`
 */

/**
 * Why a call failed. `kind` is one of:
 * - "not-paired": no URL or token stored yet;
 * - "bad-url": the URL is not a loopback http:// URL;
 * - "unreachable": nothing answers (proxy not running, wrong port) or it timed out;
 * - "bad-token": 401, the token is wrong;
 * - "forbidden": 403/421, the backend refuses this extension (Origin or Host check);
 * - "not-found": 404 (e.g. a held request that expired);
 * - "bad-request": another 4xx, `message` holds the backend's reason;
 * - "server": 5xx;
 * - "bad-response": the answer is not formshield's JSON.
 */
export class BackendError extends Error {
  /**
   * @param {string} kind
   * @param {string} message
   * @param {number} [status] HTTP status, when there was a response
   */
  constructor(kind, message, status) {
    super(message);
    this.name = "BackendError";
    this.kind = kind;
    this.status = status ?? 0;
  }
}

/**
 * Check and normalise a backend URL typed by the user.
 *
 * @param {string} text e.g. "127.0.0.1:8765", "http://localhost:8765/"
 * @returns {string} "http://host:port" without a trailing slash
 * @throws {BackendError} kind "bad-url" when it is not an http:// URL on this computer
 */
export function normalizeBaseUrl(text) {
  let raw = String(text ?? "").trim();
  if (!raw) {
    throw new BackendError("bad-url", "enter the backend URL, e.g. " + DEFAULT_URL);
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    raw = "http://" + raw;
  }
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new BackendError("bad-url", "not a URL: " + raw);
  }
  if (url.protocol !== "http:") {
    throw new BackendError("bad-url", "the backend speaks plain http:// on this computer");
  }
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new BackendError(
      "bad-url",
      "the backend must run on this computer (127.0.0.1 or localhost): form values " +
        "are sent to it and must go nowhere else",
    );
  }
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "")) {
    throw new BackendError("bad-url", "give only the scheme, host and port, e.g. " + DEFAULT_URL);
  }
  return url.origin;
}

/**
 * Read the pairing the user saved on the options page.
 *
 * @returns {Promise<Pairing|null>} null when not paired
 */
export async function loadPairing() {
  const stored = await api.storage.local.get(PAIRING_KEY);
  const pairing = stored[PAIRING_KEY];
  if (!pairing || typeof pairing.url !== "string" || typeof pairing.token !== "string") {
    return null;
  }
  if (!pairing.url || !pairing.token) {
    return null;
  }
  return { url: pairing.url, token: pairing.token };
}

/**
 * Save a pairing (the service worker notices the change and reconnects).
 *
 * @param {string} url as typed; normalised with {@link normalizeBaseUrl}
 * @param {string} token
 * @returns {Promise<Pairing>}
 * @throws {BackendError} kind "bad-url" or "not-paired" (empty token)
 */
export async function savePairing(url, token) {
  const pairing = { url: normalizeBaseUrl(url), token: String(token ?? "").trim() };
  if (!pairing.token) {
    throw new BackendError("not-paired", "enter the token printed by `formshield pair`");
  }
  await api.storage.local.set({ [PAIRING_KEY]: pairing });
  return pairing;
}

/**
 * Split what `formshield pair` printed, pasted whole into the token field, into URL and token.
 *
 * Accepts `formshield pair`'s whole output ("backend URL: http://127.0.0.1:8765",
 * "token: abc...", "short form: http://127.0.0.1:8765/#token=abc..."), the short form alone,
 * or a bare token. The token is taken, in this order, from a `#token=` / `?token=` in the
 * text, from the word after "token:", or from the text itself when it is a single word.
 *
 * @param {string} text
 * @returns {{url: string|null, token: string|null}}
 */
export function parsePairingText(text) {
  const raw = String(text ?? "").trim();
  const urlMatch = raw.match(/https?:\/\/(?:127\.0\.0\.1|localhost)(?::\d+)?(?=[\/\s?#]|$)/i);
  const token =
    raw.match(/[#?&]token=([A-Za-z0-9_-]{16,})/)?.[1] ??
    raw.match(/\btoken:\s*([A-Za-z0-9_-]{16,})/i)?.[1] ??
    raw.match(/^[A-Za-z0-9_-]{16,}$/)?.[0] ??
    null;
  return { url: urlMatch ? new URL(urlMatch[0]).origin : null, token };
}

/**
 * Call the backend and return its JSON answer.
 *
 * @param {Pairing|null} pairing
 * @param {string} method "GET" or "POST"
 * @param {string} path e.g. "/v1/status" (query string included)
 * @param {object} [body] sent as JSON
 * @param {{timeoutMs?: number}} [options]
 * @returns {Promise<any>}
 * @throws {BackendError}
 */
export async function callBackend(pairing, method, path, body, options = {}) {
  if (!pairing) {
    throw new BackendError("not-paired", "not paired: open formshield's options");
  }
  const response = await fetchBackend(pairing, path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: options.timeoutMs ?? CALL_TIMEOUT_MS,
  });
  let data;
  try {
    data = await response.json();
  } catch {
    throw new BackendError("bad-response", "the backend answered something that is not JSON");
  }
  if (data === null || typeof data !== "object") {
    throw new BackendError("bad-response", "the backend answered something unexpected");
  }
  return data;
}

/**
 * `fetch` a backend path with the token; throw a {@link BackendError} for anything but 2xx.
 *
 * @param {Pairing} pairing
 * @param {string} path
 * @param {{method?: string, headers?: object, body?: string, timeoutMs?: number,
 *          signal?: AbortSignal}} init `timeoutMs` bounds the wait for the response headers;
 *          `signal` aborts the request, or the reading of its body
 * @returns {Promise<Response>} the response (its body not read yet: event streams use it)
 */
export async function fetchBackend(pairing, path, init) {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  init.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = init.timeoutMs ? setTimeout(onAbort, init.timeoutMs) : null;
  let response;
  try {
    response = await fetch(pairing.url + path, {
      method: init.method ?? "GET",
      headers: { ...init.headers, Authorization: "Bearer " + pairing.token },
      body: init.body,
      signal: controller.signal,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch {
    init.signal?.removeEventListener("abort", onAbort);
    const why = controller.signal.aborted && !init.signal?.aborted ? "timed out" : "no answer";
    throw new BackendError("unreachable", `${why} from ${pairing.url}: is formshield running?`);
  } finally {
    if (timer !== null) {
      clearTimeout(timer);
    }
  }
  // The caller's signal stays attached: aborting it must also stop reading a streamed body.
  if (!response.ok) {
    throw await errorFor(response);
  }
  return response;
}

/**
 * @param {Response} response a non-2xx response
 * @returns {Promise<BackendError>}
 */
async function errorFor(response) {
  let reason = "";
  try {
    const data = await response.json();
    if (data && typeof data.error === "string") {
      reason = data.error;
    }
  } catch {
    // Not formshield's JSON error (another program on that port?): the status says enough.
  }
  const status = response.status;
  if (status === 401) {
    return new BackendError("bad-token", "the token was refused: run `formshield pair`", status);
  }
  if (status === 403 || status === 421) {
    return new BackendError(
      "forbidden",
      "the backend refuses this extension" + (reason ? ` (${reason})` : "") +
        ": check formshield_extension_id",
      status,
    );
  }
  if (status === 404) {
    return new BackendError("not-found", reason || "not found", status);
  }
  if (status >= 500) {
    return new BackendError("server", `backend error ${status}` + (reason ? `: ${reason}` : ""),
      status);
  }
  return new BackendError("bad-request", reason || `refused (${status})`, status);
}

/**
 * A short human description of a failure, for the options page and the popup.
 *
 * @param {unknown} error
 * @returns {string}
 */
export function describeError(error) {
  if (error instanceof BackendError) {
    return error.message;
  }
  return "unexpected error: " + String(error?.message ?? error);
}
