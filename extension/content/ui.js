/**
 * formshield's in-page UI: the warning bar and the prompts for held requests.
 *
 * Everything lives in one closed shadow root on a `<formshield-ui>` element fixed to the top of
 * the viewport: the page's styles cannot reach inside, ours cannot leak out, nothing in the
 * page's layout moves, and page scripts cannot read or click into it (`closed`, and every
 * button ignores synthetic clicks: `event.isTrusted`). Text is inserted with `textContent`
 * only; the values shown are the backend's masks, never what was typed.
 */
(() => {
  "use strict";
  const ns = (globalThis.formshieldContent ??= {});
  if (ns.ui) {
    return;
  }

  const MAX_ROWS = 8;

  /** Past-tense phrases for what the proxy did, future ones for what a check predicts. */
  const PHRASES = {
    proxy: {
      allow: "sent",
      warn: "sent (warning)",
      redact: "masked before sending",
      block: "blocked",
      ask: "held: formshield asks you",
    },
    check: {
      allow: "would be sent",
      warn: "would be sent, with a warning",
      redact: "would be masked before sending",
      block: "would be blocked",
      ask: "formshield would ask you first",
    },
  };

  const ENTITY_NAMES = {
    CN_RESIDENT_ID: "resident ID",
    CN_BANK_CARD: "bank card",
    CN_PHONE: "phone number",
    EMAIL_ADDRESS: "e-mail",
    CREDIT_CARD: "credit card",
    CN_PASSPORT: "passport",
    CN_HK_MACAU_PERMIT: "HK/Macau permit",
    HK_ID: "HKID",
    TW_ID: "Taiwan ID",
  };

  const STYLE = `
    :host { all: initial; }
    .root { position: fixed; top: 0; left: 0; right: 0; z-index: 2147483647;
      font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei",
        sans-serif;
      color: #1a1a1a; pointer-events: none; }
    .panel { pointer-events: auto; margin: 0; padding: 8px 12px; border-bottom: 2px solid;
      box-shadow: 0 2px 6px rgba(0,0,0,.25); text-align: left; }
    .bar { background: #fff8e1; border-color: #f9a825; }
    .bar.block { background: #ffebee; border-color: #c62828; }
    .bar.redact { background: #fff3e0; border-color: #e65100; }
    .ask { background: #f3e5f5; border-color: #6a1b9a; }
    .head { display: flex; align-items: center; gap: 8px; font-weight: 600; }
    .head .title { flex: 1; }
    .brand { font-weight: 700; }
    ul { margin: 4px 0 0; padding: 0 0 0 18px; }
    li { margin: 2px 0; }
    .masked { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
      background: rgba(0,0,0,.06); padding: 0 3px; border-radius: 3px; }
    .dest { font-weight: 600; }
    .act-block { color: #b71c1c; font-weight: 600; }
    .act-redact { color: #bf360c; font-weight: 600; }
    .act-warn, .act-ask { color: #6d4c00; font-weight: 600; }
    .rule { color: #555; font-size: 12px; }
    .more { color: #555; font-size: 12px; }
    button { font: inherit; cursor: pointer; border: 1px solid #888; border-radius: 4px;
      background: #fff; color: #1a1a1a; padding: 3px 10px; }
    button:hover { background: #eee; }
    button.close { border: none; background: transparent; font-size: 16px; padding: 0 6px; }
    button.primary { background: #2e7d32; border-color: #2e7d32; color: #fff; }
    button.danger { background: #c62828; border-color: #c62828; color: #fff; }
    .buttons { display: flex; gap: 8px; margin-top: 6px; flex-wrap: wrap; }
    .countdown { color: #555; font-size: 12px; }
  `;

  /** @type {{host: HTMLElement, root: HTMLElement, prompts: HTMLElement, bar: HTMLElement|null,
   *          asks: Map<string, {el: HTMLElement, timer: number}>}|null} */
  let ui = null;
  /** Notices on the bar by key (no duplicates), oldest first. */
  const shown = new Map();
  /** Called when the person closes the bar. */
  let onDismiss = () => {};

  /**
   * Create an element with text (never HTML) and attributes.
   *
   * @param {string} tag
   * @param {{className?: string, text?: string}} [props]
   * @param {Array<Node|string>} [children]
   * @returns {HTMLElement}
   */
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    if (props.className) {
      node.className = props.className;
    }
    if (props.text !== undefined) {
      node.textContent = props.text;
    }
    for (const child of children) {
      node.append(child); // strings become text nodes
    }
    return node;
  }

  /**
   * A button that reacts to real clicks only: a page script calling `.click()` on it (if it
   * ever got hold of it) produces an untrusted event, which is ignored.
   *
   * @param {string} label
   * @param {string} className
   * @param {() => void} action
   * @returns {HTMLButtonElement}
   */
  function button(label, className, action) {
    const b = /** @type {HTMLButtonElement} */ (el("button", { className, text: label }));
    b.type = "button";
    b.addEventListener("click", (event) => {
      event.stopPropagation();
      if (event.isTrusted) {
        action();
      }
    });
    return b;
  }

  /** The shadow host, created on first use. */
  function mount() {
    if (ui) {
      if (!ui.host.isConnected) {
        document.documentElement.append(ui.host); // the page replaced its DOM: put it back
      }
      return ui;
    }
    const host = document.createElement("formshield-ui");
    // Inline !important beats any page rule for the host itself (which sits in the page's DOM).
    host.style.setProperty("all", "initial", "important");
    host.style.setProperty("position", "fixed", "important");
    host.style.setProperty("top", "0", "important");
    host.style.setProperty("left", "0", "important");
    host.style.setProperty("width", "100%", "important");
    host.style.setProperty("height", "0", "important");
    host.style.setProperty("z-index", "2147483647", "important");
    host.style.setProperty("display", "block", "important");
    const shadow = host.attachShadow({ mode: "closed" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const root = el("div", { className: "root" });
    root.setAttribute("role", "region");
    root.setAttribute("aria-label", "formshield");
    // Prompts first, the warning bar after them: notices arrive at any time (a field check, the
    // verdicts of the page before) and redraw the bar, and a prompt must not move under the
    // pointer of a person about to click one of its buttons.
    const prompts = el("div", { className: "prompts" });
    root.append(prompts);
    shadow.append(style, root);
    // On <html>, not <body>: a transformed or filtered body would make `fixed` relative to it.
    document.documentElement.append(host);
    ui = { host, root, prompts, bar: null, asks: new Map() };
    return ui;
  }

  /**
   * @param {any} n a notice
   * @returns {string}
   */
  function keyOf(n) {
    return [n.source, n.entity_type, n.masked, n.destination, n.applied].join("|");
  }

  /**
   * @param {string} entityType
   * @returns {string}
   */
  function entityName(entityType) {
    return ENTITY_NAMES[entityType] ?? entityType;
  }

  /**
   * One line: "身份证号 (resident ID) 110***********002X → tracker.example: blocked".
   *
   * @param {any} n a notice
   * @returns {HTMLElement}
   */
  function row(n) {
    const phrases = PHRASES[n.source] ?? PHRASES.proxy;
    const what = n.simulate ? `simulate: would be ${n.action}` : (phrases[n.applied] ?? n.applied);
    const parts = [];
    if (n.label) {
      parts.push(n.label + " ");
    }
    if (n.entity_type) {
      parts.push(`(${entityName(n.entity_type)}) `);
    }
    if (n.masked) {
      parts.push(el("span", { className: "masked", text: n.masked }));
    }
    parts.push(n.masked ? " → " : "→ ", el("span", { className: "dest", text: n.destination || "?" }),
      ": ", el("span", { className: `act-${n.applied}`, text: what }));
    if (n.rule) {
      parts.push(el("span", { className: "rule", text: ` (${n.rule})` }));
    }
    return el("li", {}, parts);
  }

  /** Redraw the bar from `shown`. */
  function drawBar() {
    const { root } = mount();
    const notices = [...shown.values()].reverse(); // newest first
    if (!notices.length) {
      ui.bar?.remove();
      ui.bar = null;
      return;
    }
    const worst = notices.some((n) => n.applied === "block") ? "block"
      : notices.some((n) => n.applied === "redact") ? "redact" : "warn";
    const title = notices.some((n) => n.source === "proxy")
      ? "personal data from this page"
      : "this form holds personal data";
    const list = el("ul", {}, notices.slice(0, MAX_ROWS).map(row));
    if (notices.length > MAX_ROWS) {
      list.append(el("li", { className: "more", text: `and ${notices.length - MAX_ROWS} more` }));
    }
    const bar = el("div", { className: `panel bar ${worst}` }, [
      el("div", { className: "head" }, [
        el("span", { className: "brand", text: "formshield" }),
        el("span", { className: "title", text: title }),
        button("×", "close", () => {
          shown.clear();
          drawBar();
          onDismiss();
        }),
      ]),
      list,
    ]);
    bar.setAttribute("role", "alert");
    if (ui.bar) {
      ui.bar.replaceWith(bar);
    } else {
      root.append(bar); // below the prompts (see mount)
    }
    ui.bar = bar;
  }

  /**
   * Add notices to the warning bar (newest first, duplicates merged).
   *
   * @param {any[]} notices
   */
  function showNotices(notices) {
    if (!Array.isArray(notices) || !notices.length) {
      return;
    }
    for (const n of notices) {
      const key = keyOf(n);
      shown.delete(key); // re-inserted last: the Map's order is oldest to newest
      shown.set(key, n);
    }
    while (shown.size > 50) {
      shown.delete(shown.keys().next().value);
    }
    drawBar();
  }

  /**
   * Show the prompt for a held request.
   *
   * @param {any} ask the backend's `ask` event data
   * @param {(id: string, answer: string) => Promise<{ok: boolean, outcome?: string,
   *          error?: string}>} answer sends the answer, resolves with the outcome
   */
  function showAsk(ask, answer) {
    const id = String(ask?.id ?? "");
    const { prompts, asks } = mount();
    if (!id || asks.has(id)) {
      return;
    }
    const findings = Array.isArray(ask.findings) ? ask.findings : [];
    const items = el("ul", {}, findings.slice(0, MAX_ROWS).map((f) => el("li", {}, [
      `${entityName(String(f.entity_type ?? ""))} `,
      el("span", { className: "masked", text: String(f.masked ?? "") }),
      f.location ? ` in ${f.location}` : "",
    ])));
    const countdown = el("span", { className: "countdown" });
    const status = el("span", { className: "countdown" });
    const buttons = el("div", { className: "buttons" });
    const reply = (choice) => {
      for (const b of buttons.querySelectorAll("button")) {
        b.disabled = true;
      }
      status.textContent = "sending your answer…";
      answer(id, choice).then((result) => {
        if (result?.ok) {
          resolveAsk(id, result.outcome || choice);
        } else {
          status.textContent = `could not answer: ${result?.error ?? "no reply"}`;
        }
      });
    };
    buttons.append(
      button("Send once", "primary", () => reply("send_once")),
      button("Always allow for this site", "", () => reply("always_allow")),
      button("Block", "danger", () => reply("block")),
      countdown,
      status,
    );
    const panel = el("div", { className: "panel ask" }, [
      el("div", { className: "head" }, [
        el("span", { className: "brand", text: "formshield" }),
        el("span", {
          className: "title",
          text: `${ask.site ?? "This page"} wants to send personal data to ` +
            `${ask.destination ?? "?"}. Send it?`,
        }),
      ]),
      items,
      el("div", { className: "rule", text: `${ask.url ?? ""} (${ask.rule ?? ""})` }),
      buttons,
    ]);
    panel.setAttribute("role", "alertdialog");
    prompts.append(panel);
    const tick = () => {
      const left = Math.round(Number(ask.expires_at) - Date.now() / 1000);
      if (!Number.isFinite(left)) {
        countdown.textContent = "";
      } else if (left <= 0) {
        resolveAsk(id, "timeout");
      } else {
        countdown.textContent = `${left} s left, then: ${ask.fallback ?? "block"}`;
      }
    };
    const timer = setInterval(tick, 1000);
    asks.set(id, { el: panel, timer });
    tick();
  }

  /**
   * A held request was answered (here, in another tab, or it timed out): say so, then remove it.
   *
   * @param {string} id
   * @param {string} outcome "send_once" | "always_allow" | "block" | "timeout"
   */
  function resolveAsk(id, outcome) {
    const entry = ui?.asks.get(String(id));
    if (!entry) {
      return;
    }
    clearInterval(entry.timer);
    ui.asks.delete(String(id));
    const said = {
      send_once: "sent once",
      always_allow: "sent, and allowed from now on for this site",
      block: "blocked",
      timeout: "no answer in time: the rule's fallback applied",
    }[outcome] ?? outcome;
    for (const b of entry.el.querySelectorAll("button")) {
      b.disabled = true;
    }
    entry.el.querySelector(".buttons")?.replaceChildren(
      el("span", { className: "countdown", text: `formshield: ${said}` }));
    setTimeout(() => entry.el.remove(), 4000);
  }

  ns.ui = {
    showNotices,
    showAsk,
    resolveAsk,
    /** @param {() => void} callback */
    onDismiss(callback) {
      onDismiss = callback;
    },
  };
})();
