/**
 * Sites: which tab a backend event is about.
 *
 * The proxy names the page a request came from by its registrable domain ("site", eTLD+1 from
 * the Public Suffix List: `www.shop.com.cn` -> `shop.com.cn`). The extension does not ship the
 * list; it needs two things only:
 *
 * - to match an event to tabs, {@link hostMatchesSite}: a tab (or a frame in it) whose host is
 *   the site or a name under it belongs to the site. This is exact whenever the proxy's site is
 *   right, whatever the suffix list says.
 * - to name the site of a tab before the backend has said anything about it (the popup's
 *   queries), {@link approximateSite}: the last two labels, or three under a common two-label
 *   public suffix (`com.cn`, `gov.cn`, `co.uk`...). The service worker replaces it with the
 *   backend's own answer as soon as a check or a verdict for the tab gives one.
 */

/**
 * Second-level public suffixes common enough to matter here (Chinese sites first). Not the whole
 * Public Suffix List: a miss only delays the exact name until the backend reports it.
 */
const TWO_LABEL_SUFFIXES = new Set([
  // China: generic and provincial second-level domains under .cn
  "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "mil.cn",
  "bj.cn", "sh.cn", "tj.cn", "cq.cn", "he.cn", "sx.cn", "nm.cn", "ln.cn", "jl.cn", "hl.cn",
  "js.cn", "zj.cn", "ah.cn", "fj.cn", "jx.cn", "sd.cn", "ha.cn", "hb.cn", "hn.cn", "gd.cn",
  "gx.cn", "hi.cn", "sc.cn", "gz.cn", "yn.cn", "xz.cn", "sn.cn", "gs.cn", "qh.cn", "nx.cn",
  "xj.cn", "tw.cn", "hk.cn", "mo.cn",
  // Hong Kong, Macau, Taiwan
  "com.hk", "org.hk", "net.hk", "edu.hk", "gov.hk", "idv.hk",
  "com.mo", "org.mo", "gov.mo", "edu.mo",
  "com.tw", "org.tw", "net.tw", "edu.tw", "gov.tw", "idv.tw",
  // elsewhere
  "co.uk", "org.uk", "ac.uk", "gov.uk", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
  "co.kr", "or.kr", "go.kr", "com.au", "net.au", "org.au", "gov.au", "edu.au",
  "com.sg", "gov.sg", "edu.sg", "com.my", "com.br", "com.mx", "co.in", "co.nz", "co.za",
  // private suffixes where every subdomain is someone else's site
  "github.io", "gitee.io", "vercel.app", "netlify.app", "pages.dev", "herokuapp.com",
  "appspot.com", "blogspot.com", "cloudfront.net", "azurewebsites.net",
]);

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * The host of an http(s) URL, lower-case, or "" for anything else.
 *
 * @param {string} url
 * @returns {string}
 */
export function hostOf(url) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return "";
    }
    return parsed.hostname.toLowerCase().replace(/\.$/, "");
  } catch {
    return "";
  }
}

/**
 * A close guess of the registrable domain of a host (see the module comment).
 *
 * @param {string} host lower-case host name, e.g. "zwfw.beijing.gov.cn"
 * @returns {string} e.g. "beijing.gov.cn"; IP addresses and single labels are returned as they are
 */
export function approximateSite(host) {
  const name = String(host ?? "").toLowerCase().replace(/\.$/, "");
  if (!name || IPV4.test(name) || name.startsWith("[") || name.includes(":")) {
    return name;
  }
  const labels = name.split(".");
  if (labels.length <= 2) {
    return name;
  }
  const lastTwo = labels.slice(-2).join(".");
  const keep = TWO_LABEL_SUFFIXES.has(lastTwo) ? 3 : 2;
  return labels.slice(-keep).join(".");
}

/**
 * True when a page on `host` belongs to `site`: the host is the site or a name under it.
 *
 * @param {string} host
 * @param {string|null|undefined} site a registrable domain from the backend
 * @returns {boolean}
 */
export function hostMatchesSite(host, site) {
  if (!host || !site) {
    return false;
  }
  const h = host.toLowerCase();
  const s = String(site).toLowerCase();
  return h === s || h.endsWith("." + s);
}
