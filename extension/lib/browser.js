/**
 * The WebExtension API object, the same in Chromium and Firefox.
 *
 * Firefox exposes the promise-based `browser.*` namespace (and `chrome.*` as an alias);
 * Chromium exposes `chrome.*`, whose methods also return promises in Manifest V3. Every module
 * uses this object and only APIs both browsers implement (storage, runtime, tabs messaging,
 * action, alarms), so the extension runs unchanged in both.
 */

/** @type {typeof chrome} */
export const api = globalThis.browser ?? globalThis.chrome;
