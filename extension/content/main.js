/**
 * The content script's wiring: watch forms, ask the service worker to check them, show what
 * comes back.
 *
 * - Before a form is submitted (the `submit` event, capture phase, so it runs before the page's
 *   own handlers) its fields are sent for checking. The submission is not held: the proxy is
 *   what enforces the policy; this is the early warning. What the proxy then did shows on the
 *   next page (the service worker keeps recent verdicts per tab).
 * - When a sensitive-looking field loses focus, that field is checked, so the warning comes
 *   while the person is still on the form.
 * - Checks go to the service worker, which calls the local backend; nothing here talks to the
 *   network. Only the top frame shows UI; subframes check their own forms and the worker sends
 *   the results to the top frame.
 */
(() => {
  "use strict";
  const ns = (globalThis.formshieldContent ??= {});
  if (ns.started) {
    return;
  }
  ns.started = true;
  const { fields, ui } = ns;
  const api = globalThis.browser ?? globalThis.chrome;
  const isTop = window === window.top;

  /** Last value checked per field element, so that tabbing through a form does not re-check. */
  const lastChecked = new WeakMap();

  /**
   * Send a message to the service worker; resolve with its answer, or an error answer when the
   * extension was reloaded or the worker did not answer.
   *
   * @param {object} message
   * @returns {Promise<any>}
   */
  async function send(message) {
    try {
      return await api.runtime.sendMessage(message);
    } catch (error) {
      return { ok: false, error: String(error?.message ?? error) };
    }
  }

  /**
   * Ask for a check of some fields going to `action`.
   *
   * @param {Array<{name: string, label: string, value: string}>} list
   * @param {string} action destination URL
   */
  async function check(list, action) {
    if (!list.length) {
      return;
    }
    const answer = await send({ type: "check", page: location.href, action, fields: list });
    if (!answer?.ok && answer?.kind && answer.kind !== "not-paired") {
      console.debug("formshield: check failed:", answer.error);
    }
  }

  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    const list = fields.collectForm(form);
    for (const el of form.elements) {
      if (fields.isTextControl(el)) {
        lastChecked.set(el, el.value);
      }
    }
    check(list, fields.destinationOf(form, event.submitter ?? null));
  }

  function onBlur(event) {
    const input = event.target;
    if (!fields.isTextControl(input) || !fields.isSensitive(input)) {
      return;
    }
    if (lastChecked.get(input) === input.value) {
      return;
    }
    lastChecked.set(input, input.value);
    check([fields.describe(input)], fields.destinationOf(input.form, null));
  }

  /**
   * @param {string} id
   * @param {string} choice
   */
  function answer(id, choice) {
    return send({ type: "answer", id, answer: choice });
  }

  /** Tell the worker this document is here; the top frame gets what it should show. */
  async function hello() {
    const reply = await send({ type: "hello" });
    if (!isTop || !reply?.ok) {
      return;
    }
    ui.showNotices(reply.notices ?? []);
    for (const ask of reply.asks ?? []) {
      ui.showAsk(ask, answer);
    }
  }

  window.addEventListener("submit", onSubmit, true);
  window.addEventListener("blur", onBlur, true);

  if (isTop) {
    ui.onDismiss(() => send({ type: "dismiss" }));
    api.runtime.onMessage.addListener((message, sender) => {
      if (sender.id !== api.runtime.id || !message) {
        return;
      }
      if (message.type === "notices") {
        const from = message.from;
        if (from && from.frameId === 0 && from.url !== location.href) {
          return; // a check of the page before this one: what happened to it shows instead
        }
        ui.showNotices(message.notices);
      } else if (message.type === "ask") {
        ui.showAsk(message.ask, answer);
      } else if (message.type === "resolved") {
        ui.resolveAsk(message.id, message.outcome);
      }
    });
  }

  // A page restored from the back/forward cache is a new visit for the badge and the prompts.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      hello();
    }
  });
  hello();
})();
