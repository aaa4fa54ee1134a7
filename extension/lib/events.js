/**
 * The live connection to `GET /v1/events`: verdicts, ask prompts and their outcomes.
 *
 * Read with `fetch` streaming (EventSource cannot send the Authorization header), parsed with
 * {@link SseParser}. The connection is kept up with exponential backoff (1 s doubling to 30 s,
 * with jitter so that several browsers do not hammer a restarting proxy in step) and a
 * watchdog: the backend sends `: ping` every 15 s, so 45 s of silence means a dead connection
 * (a suspended laptop, a proxy killed without closing its sockets) and it is dropped and
 * reopened. A refused token or origin is not retried in a loop: it will not fix itself, so the
 * stream waits for {@link EventStream#restart} (new pairing, or the periodic alarm).
 */

import { fetchBackend, BackendError } from "./backend.js";
import { SseParser } from "./sse.js";

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const SILENCE_MS = 45000;

/**
 * @typedef {object} ConnectionState
 * @property {string} state  "not-paired" | "connecting" | "connected" | "bad-token" |
 *                           "forbidden" | "unreachable" | "error"
 * @property {string} detail a sentence for people
 * @property {number} since  epoch milliseconds of the change
 */

export class EventStream {
  /**
   * @param {object} hooks
   * @param {() => Promise<import("./backend.js").Pairing|null>} hooks.pairing current pairing
   * @param {(type: string, data: any) => void} hooks.onEvent a parsed event (JSON data)
   * @param {(state: ConnectionState) => void} hooks.onState connection state changes
   */
  constructor(hooks) {
    this.hooks = hooks;
    /** @type {AbortController|null} */
    this.controller = null;
    this.delay = FIRST_DELAY_MS;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.watchdog = null;
    /** @type {ConnectionState} */
    this.status = { state: "connecting", detail: "", since: Date.now() };
    /** Bumped by every (re)start so that a stale loop stops. */
    this.generation = 0;
    /** An attempt is reading the pairing (before `controller` is set). */
    this.starting = false;
  }

  /** True while a stream is open or being opened. */
  get active() {
    return this.controller !== null;
  }

  /** Open the stream unless it is open, opening or waiting to retry. */
  ensure() {
    if (this.starting || this.active || this.retryTimer !== null) {
      return;
    }
    if (this.status.state === "bad-token" || this.status.state === "forbidden") {
      return; // see restart()
    }
    this.launch();
  }

  /** Drop any connection and connect again now, with a fresh backoff (new pairing...). */
  restart() {
    this.stop();
    this.delay = FIRST_DELAY_MS;
    this.launch();
  }

  /** Start one attempt of the current generation (only one at a time: see `starting`). */
  launch() {
    this.starting = true;
    this.run(this.generation);
  }

  /** Close the stream and cancel retries. */
  stop() {
    this.generation += 1;
    this.starting = false;
    this.controller?.abort();
    this.controller = null;
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    this.clearWatchdog();
  }

  /**
   * One connection attempt; schedules the next one when it ends.
   *
   * @param {number} generation
   */
  async run(generation) {
    let pairing = null;
    try {
      pairing = await this.hooks.pairing();
    } catch (error) {
      console.error("formshield: cannot read the pairing:", error);
    }
    if (generation !== this.generation) {
      return; // stopped or restarted meanwhile: the newer attempt owns `starting`
    }
    this.starting = false;
    if (!pairing) {
      this.setState("not-paired", "open formshield's options and pair with the proxy");
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.setState("connecting", `connecting to ${pairing.url}`);
    let failure = null;
    try {
      const response = await fetchBackend(pairing, "/v1/events", {
        headers: { Accept: "text/event-stream" },
        signal: controller.signal,
        timeoutMs: 10000,
      });
      this.setState("connected", `connected to ${pairing.url}`);
      this.delay = FIRST_DELAY_MS;
      await this.read(response, controller);
      failure = new BackendError("unreachable", "the event stream ended");
    } catch (error) {
      failure = error;
    }
    if (generation !== this.generation) {
      return; // stopped or restarted meanwhile: that caller owns what happens next
    }
    this.controller = null;
    this.clearWatchdog();
    const kind = failure instanceof BackendError ? failure.kind : "error";
    const detail = failure instanceof Error ? failure.message : String(failure);
    if (kind === "bad-token" || kind === "forbidden") {
      this.setState(kind, detail);
      return;
    }
    this.setState(kind === "unreachable" ? "unreachable" : "error", detail);
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (generation === this.generation) {
        this.launch();
      }
    }, wait);
  }

  /**
   * Read events until the stream ends or is aborted.
   *
   * @param {Response} response
   * @param {AbortController} controller
   */
  async read(response, controller) {
    if (!response.body) {
      throw new BackendError("bad-response", "the event stream has no body");
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder("utf-8");
    const parser = new SseParser();
    this.armWatchdog(controller);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          return;
        }
        this.armWatchdog(controller);
        for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
          this.dispatch(event);
        }
      }
    } catch (error) {
      throw new BackendError("unreachable", "the event stream broke: " + (error?.message ?? ""));
    } finally {
      reader.releaseLock?.();
    }
  }

  /**
   * @param {import("./sse.js").SseEvent} event
   */
  dispatch(event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      console.warn("formshield: ignoring an event whose data is not JSON:", event.type);
      return;
    }
    try {
      this.hooks.onEvent(event.type, data);
    } catch (error) {
      // One bad event must not take the stream down.
      console.error("formshield: handling a", event.type, "event failed:", error);
    }
  }

  /** @param {AbortController} controller */
  armWatchdog(controller) {
    this.clearWatchdog();
    this.watchdog = setTimeout(() => controller.abort(), SILENCE_MS);
  }

  clearWatchdog() {
    if (this.watchdog !== null) {
      clearTimeout(this.watchdog);
      this.watchdog = null;
    }
  }

  /**
   * @param {string} state
   * @param {string} detail
   */
  setState(state, detail) {
    if (this.status.state === state && this.status.detail === detail) {
      return;
    }
    this.status = { state, detail, since: Date.now() };
    this.hooks.onState(this.status);
  }
}
