/**
 * A parser for Server-Sent Events (text/event-stream) read through `fetch`.
 *
 * `EventSource` cannot send an Authorization header, so the service worker reads
 * `GET /v1/events` with `fetch` and feeds the decoded text here. Follows the HTML standard's
 * "interpreting an event stream": lines end with CRLF, LF or CR; a line starting with ":" is a
 * comment (the backend's `: ping` keep-alive); `event:` names the event (default "message");
 * `data:` lines are joined with "\n"; one space after the colon is dropped; a blank line
 * dispatches the event (an event with no data is not dispatched). `id:` and `retry:` are
 * accepted and ignored: the service worker reconnects on its own schedule.
 */

/**
 * @typedef {object} SseEvent
 * @property {string} type  the `event:` field, "message" by default
 * @property {string} data  the `data:` lines joined with "\n"
 */

export class SseParser {
  constructor() {
    /** Text received after the last line break (an incomplete line). */
    this.buffer = "";
    /** A CR ended the previous chunk: an LF starting the next one belongs to it. */
    this.pendingCr = false;
    this.type = "";
    /** @type {string[]} */
    this.data = [];
    /** Comments seen so far (the keep-alive pings count as signs of life). */
    this.comments = 0;
  }

  /**
   * Feed decoded text; return the events it completes, in order.
   *
   * @param {string} text
   * @returns {SseEvent[]}
   */
  feed(text) {
    if (this.pendingCr && text.startsWith("\n")) {
      text = text.slice(1);
    }
    this.pendingCr = false;
    this.buffer += text;
    /** @type {SseEvent[]} */
    const events = [];
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(this.buffer);
      if (!found) {
        break;
      }
      if (found[0] === "\r" && found.index === this.buffer.length - 1) {
        // A CR at the very end may be the first half of a CRLF split across chunks.
        this.pendingCr = true;
      }
      this.line(this.buffer.slice(start, found.index), events);
      start = found.index + found[0].length;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /**
   * @param {string} line one line without its line break
   * @param {SseEvent[]} events where a completed event goes
   */
  line(line, events) {
    if (line === "") {
      if (this.data.length) {
        events.push({ type: this.type || "message", data: this.data.join("\n") });
      }
      this.type = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) {
      this.comments += 1;
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    if (field === "event") {
      this.type = value;
    } else if (field === "data") {
      this.data.push(value);
    }
  }
}
