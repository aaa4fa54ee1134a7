/**
 * Turn backend answers into notices: one line per finding for the warning bar in the page.
 *
 * Notices carry masked values only; the raw values a content script sent for checking are never
 * copied into them (the backend's findings hold `masked`, and field labels come from the page's
 * markup, not from what was typed).
 */

/** @typedef {import("./tabs.js").Notice} Notice */

/**
 * @param {unknown} value
 * @param {number} [limit]
 * @returns {string} a string of at most `limit` characters ("" for non-strings)
 */
export function text(value, limit = 200) {
  return typeof value === "string" ? value.slice(0, limit) : "";
}

/**
 * Notices for a `verdict` event from the proxy (what it did to a request).
 *
 * @param {any} verdict the event data (see docs/extension.md)
 * @param {number} [now] epoch ms
 * @returns {Notice[]} one per finding; one for a verdict without findings (an unscanned body)
 */
export function noticesFromVerdict(verdict, now = Date.now()) {
  const base = {
    ts: now,
    source: "proxy",
    destination: text(verdict.destination),
    applied: text(verdict.applied) || text(verdict.action),
    message: text(verdict.message, 300),
    simulate: verdict.simulate === true,
  };
  const findings = Array.isArray(verdict.findings) ? verdict.findings : [];
  if (!findings.length) {
    return [{
      ...base,
      entity_type: "",
      masked: "",
      label: "a request formshield could not fully check",
      action: text(verdict.action),
      rule: text(verdict.rule),
    }];
  }
  return findings.map((f) => {
    const action = text(f.action) || text(verdict.action);
    return {
      ...base,
      entity_type: text(f.entity_type),
      masked: text(f.masked),
      label: text(f.location),
      action,
      applied: appliedTo(action, base.applied),
      rule: text(f.rule) || text(verdict.rule),
    };
  });
}

const MASKED_ACTIONS = new Set(["redact", "block", "ask"]);

/**
 * What happened to one finding, given its own policy action and what the proxy did to the
 * request as a whole: a blocked request took everything with it; a redacted one masked the
 * findings whose rules asked for more than a warning and sent the rest; a request that went
 * out sent everything (with a warning unless the finding's own rule allowed it).
 *
 * @param {string} action the finding's policy action
 * @param {string} applied what the proxy did to the request
 * @returns {string}
 */
export function appliedTo(action, applied) {
  if (applied === "block") {
    return "block";
  }
  if (applied === "redact" && MASKED_ACTIONS.has(action)) {
    return "redact";
  }
  if (action === "allow" || applied === "allow") {
    return "allow";
  }
  return "warn";
}

/**
 * Notices for a `POST /v1/check` answer (what would happen if the form were sent).
 *
 * @param {any} result the backend's answer
 * @param {Array<{name: string, label: string}>} fields the checked fields (values not used)
 * @param {number} [now] epoch ms
 * @returns {Notice[]}
 */
export function noticesFromCheck(result, fields, now = Date.now()) {
  const labels = new Map(fields.map((f) => [f.name, f.label || f.name]));
  const findings = Array.isArray(result?.findings) ? result.findings : [];
  const verdict = result?.verdict ?? {};
  return findings.map((f) => ({
    ts: now,
    source: "check",
    entity_type: text(f.entity_type),
    masked: text(f.masked),
    label: text(labels.get(f.field) ?? f.field),
    destination: text(result.destination),
    action: text(f.action) || text(verdict.action),
    applied: text(f.action) || text(verdict.action),
    rule: text(f.rule) || text(verdict.rule),
    message: text(verdict.message, 300),
    simulate: false,
  }));
}

/**
 * Whether a notice belongs on the warning bar: what is (or would be) sent silently is counted on
 * the badge and listed in the popup, but does not interrupt the page.
 *
 * @param {Notice} notice
 * @returns {boolean}
 */
export function worthShowing(notice) {
  return notice.applied !== "allow" || notice.simulate;
}
