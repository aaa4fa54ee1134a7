/**
 * What the service worker knows about each tab: its page's site, the hosts of its frames, the
 * count of findings shown on the toolbar badge, and recent proxy verdicts to show in the page.
 *
 * Content scripts say "hello" when a document loads (the top frame and every subframe), which
 * is how the worker learns a tab's page without the "tabs" permission. The state lives in
 * `storage.session` (memory only, never on disk, not readable by content scripts) so that it
 * survives the worker being stopped when idle, and disappears with the browser session.
 *
 * The count is per site, not per page: it survives moving between pages of one site (a form
 * post shows its verdict on the next page) and starts again at 0 on another site.
 */

import { api } from "./browser.js";
import { approximateSite, hostMatchesSite, hostOf } from "./sites.js";

const STORAGE_KEY = "tabs";
/** Proxy verdicts kept per tab for pages that load after them (e.g. after a form post). */
const RECENT_LIMIT = 30;
/** How old a verdict may be and still be shown on a page that has just loaded, in ms. */
const RECENT_SHOW_MS = 20000;

/**
 * @typedef {object} Notice  one finding as shown to people (masked value only)
 * @property {number} ts          epoch milliseconds
 * @property {string} source      "check" (what would happen) or "proxy" (what happened)
 * @property {string} entity_type e.g. "CN_RESIDENT_ID"
 * @property {string} masked      e.g. "110***********002X"
 * @property {string} label       field label or name, or the backend's location ("body:idNo")
 * @property {string} destination host the data goes to
 * @property {string} action      the policy action for this finding
 * @property {string} applied     what was done ("proxy") or would be done ("check")
 * @property {string} rule        the deciding rule
 * @property {string} message     the rule's message, may be ""
 * @property {boolean} simulate   the proxy runs in simulate mode (nothing applied)
 */

/**
 * @typedef {object} TabState
 * @property {string} host     host of the top-level page
 * @property {string} site     its site: approximate until the backend names it
 * @property {boolean} siteExact true once the backend named the site
 * @property {Object<string, string>} frames frame id -> host, for subframes
 * @property {number} count    findings on this site since the tab arrived on it
 * @property {string} worst    most severe applied action counted ("" if none)
 * @property {Notice[]} recent newest last
 * @property {number} dismissedAt epoch ms of the last "dismiss" in the page
 */

const SEVERITY = { "": 0, allow: 1, warn: 2, ask: 3, redact: 4, block: 5 };

/**
 * @param {string} a
 * @param {string} b
 * @returns {string} the more severe action
 */
export function worse(a, b) {
  return (SEVERITY[b] ?? 0) > (SEVERITY[a] ?? 0) ? b : a;
}

export class TabRegistry {
  constructor() {
    /** @type {Map<number, TabState>} */
    this.tabs = new Map();
    /** @type {Promise<void>|null} */
    this.loading = null;
  }

  /** Load the saved state once (the worker may have been restarted). */
  async ready() {
    this.loading ??= api.storage.session.get(STORAGE_KEY).then((stored) => {
      for (const [id, state] of Object.entries(stored[STORAGE_KEY] ?? {})) {
        this.tabs.set(Number(id), state);
      }
    });
    return this.loading;
  }

  /** Save the state (fire and forget: a lost write only loses session counters). */
  save() {
    const plain = Object.fromEntries(this.tabs);
    api.storage.session.set({ [STORAGE_KEY]: plain }).catch((error) => {
      console.warn("formshield: could not save tab state:", error?.message);
    });
  }

  /**
   * @param {number} tabId
   * @returns {TabState|undefined}
   */
  get(tabId) {
    return this.tabs.get(tabId);
  }

  /**
   * A document loaded in a tab.
   *
   * @param {number} tabId
   * @param {number} frameId 0 for the top frame
   * @param {string} url the document's URL
   * @returns {TabState|undefined} the tab's state (undefined for a non-web top page)
   */
  hello(tabId, frameId, url) {
    const host = hostOf(url);
    let state = this.tabs.get(tabId);
    if (frameId !== 0) {
      if (state && host) {
        state.frames[String(frameId)] = host;
        this.save();
      }
      return state;
    }
    if (!host) {
      this.tabs.delete(tabId);
      this.save();
      return undefined;
    }
    const sameSite = state && hostMatchesSite(host, state.site);
    if (!state || !sameSite) {
      state = {
        host,
        site: approximateSite(host),
        siteExact: false,
        frames: {},
        count: 0,
        worst: "",
        recent: [],
        dismissedAt: 0,
      };
    } else {
      state.host = host;
      state.frames = {};
    }
    this.tabs.set(tabId, state);
    this.save();
    return state;
  }

  /**
   * The backend named the site of a tab's page (from a check of its top frame).
   *
   * @param {number} tabId
   * @param {string} site
   */
  setSite(tabId, site) {
    const state = this.tabs.get(tabId);
    if (state && site && hostMatchesSite(state.host, site) && state.site !== site) {
      state.site = site;
      state.siteExact = true;
      this.save();
    }
  }

  /**
   * Tabs showing a page (or a frame) of a site.
   *
   * @param {string|null|undefined} site
   * @returns {number[]}
   */
  tabsForSite(site) {
    const ids = [];
    for (const [id, state] of this.tabs) {
      if (hostMatchesSite(state.host, site) ||
          Object.values(state.frames).some((host) => hostMatchesSite(host, site))) {
        ids.push(id);
      }
    }
    return ids;
  }

  /**
   * Count a proxy verdict for a tab and keep the notices a page should show.
   *
   * @param {number} tabId
   * @param {number} findings how many findings the verdict has (0 for an unscanned body)
   * @param {Notice[]} notices those worth showing in the page
   * @param {string} applied what the proxy did
   * @returns {TabState|undefined}
   */
  addVerdict(tabId, findings, notices, applied) {
    const state = this.tabs.get(tabId);
    if (!state) {
      return undefined;
    }
    state.count += Math.max(1, findings);
    state.worst = worse(state.worst, applied);
    state.recent.push(...notices);
    if (state.recent.length > RECENT_LIMIT) {
      state.recent.splice(0, state.recent.length - RECENT_LIMIT);
    }
    this.save();
    return state;
  }

  /**
   * Notices a page that has just loaded should show: recent, and not dismissed.
   *
   * @param {number} tabId
   * @returns {Notice[]}
   */
  freshNotices(tabId) {
    const state = this.tabs.get(tabId);
    if (!state) {
      return [];
    }
    const after = Math.max(Date.now() - RECENT_SHOW_MS, state.dismissedAt);
    return state.recent.filter((n) => n.ts > after);
  }

  /**
   * The person closed the warning bar: do not show these notices again on the next page.
   *
   * @param {number} tabId
   */
  dismiss(tabId) {
    const state = this.tabs.get(tabId);
    if (state) {
      state.dismissedAt = Date.now();
      this.save();
    }
  }

  /** @param {number} tabId */
  forget(tabId) {
    if (this.tabs.delete(tabId)) {
      this.save();
    }
  }
}
