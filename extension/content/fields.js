/**
 * Reading forms: which fields look sensitive, what they are called, where a form sends them.
 *
 * Content scripts cannot be ES modules, so this file, ui.js and main.js share one namespace
 * object, `globalThis.formshieldContent`, in the content scripts' isolated world (pages cannot
 * see it). Nothing here writes to the page.
 */
(() => {
  "use strict";
  const ns = (globalThis.formshieldContent ??= {});
  if (ns.fields) {
    return; // injected twice (extension reloaded): the first copy stays in charge
  }

  /** Input types whose values are never personal data worth checking, or never to be sent. */
  const SKIP_TYPES = new Set([
    "password", // never leaves the page through formshield's extension, not even to the backend
    "file", "submit", "button", "reset", "image", "checkbox", "radio", "range", "color",
  ]);

  /**
   * Words in a field's name, id, autocomplete, label or placeholder that say it holds an
   * identifier or contact detail (English, pinyin abbreviations, Chinese).
   */
  const SENSITIVE_WORDS = new RegExp(
    [
      "id.?(?:no|num|number|card)", "identity", "citizen", "ssn", "national.?id", "sfz",
      "身份", "证件", "证号", "passport", "护照", "通行证", "港澳", "台胞",
      "card", "卡号", "银行", "bank", "acct", "account.?no", "cc-", "cvc", "iban",
      "phone", "mobile", "tel\\b", "\\btel", "cell", "手机", "电话", "联系方式",
      "e-?mail", "邮箱", "mail",
    ].join("|"),
    "i",
  );

  /** Values worth checking even in an unlabelled field: 7+ digits in a row, or an "@". */
  const SENSITIVE_VALUE = /\d[\d\s-]{5,}\d|@/;

  const MAX_LABEL = 120;

  /**
   * Collapse whitespace and cut a label to a readable length.
   *
   * @param {string|null|undefined} text
   * @returns {string}
   */
  function clean(text) {
    return String(text ?? "").replace(/\s+/g, " ").trim().slice(0, MAX_LABEL);
  }

  /**
   * The text a person sees as the field's name: label[for], a wrapping label,
   * aria-labelledby, aria-label, placeholder, title (first non-empty wins).
   *
   * @param {HTMLInputElement|HTMLTextAreaElement} input
   * @returns {string}
   */
  function labelOf(input) {
    const doc = input.ownerDocument;
    if (input.id) {
      const label = doc.querySelector(`label[for="${CSS.escape(input.id)}"]`);
      const text = clean(label?.textContent);
      if (text) {
        return text;
      }
    }
    const wrapping = input.closest("label");
    if (wrapping) {
      // The wrapping label's text without the text of the controls inside it.
      const copy = wrapping.cloneNode(true);
      for (const control of copy.querySelectorAll("input, select, textarea, button")) {
        control.remove();
      }
      const text = clean(copy.textContent);
      if (text) {
        return text;
      }
    }
    const labelledBy = input.getAttribute("aria-labelledby");
    if (labelledBy) {
      const text = clean(labelledBy.split(/\s+/)
        .map((id) => doc.getElementById(id)?.textContent ?? "")
        .join(" "));
      if (text) {
        return text;
      }
    }
    return clean(input.getAttribute("aria-label")) || clean(input.getAttribute("placeholder")) ||
      clean(input.getAttribute("title"));
  }

  /**
   * True for the controls whose values formshield checks.
   *
   * @param {EventTarget|null} el
   * @returns {el is HTMLInputElement|HTMLTextAreaElement}
   */
  function isTextControl(el) {
    if (el instanceof HTMLTextAreaElement) {
      return true;
    }
    return el instanceof HTMLInputElement && !SKIP_TYPES.has(el.type);
  }

  /**
   * True when a field looks like it holds personal data: by what it is called (name, id,
   * autocomplete, label, placeholder), by its type (tel, email), or by its value.
   *
   * @param {HTMLInputElement|HTMLTextAreaElement} input
   * @returns {boolean}
   */
  function isSensitive(input) {
    const value = input.value;
    if (!value || value.trim().length < 5) {
      return false;
    }
    if (input instanceof HTMLInputElement && (input.type === "tel" || input.type === "email")) {
      return true;
    }
    const names = [input.name, input.id, input.getAttribute("autocomplete"), labelOf(input)];
    return names.some((n) => n && SENSITIVE_WORDS.test(n)) || SENSITIVE_VALUE.test(value);
  }

  /**
   * Where a form sends its data: the submitter's formaction, else the form's action, resolved
   * against the document; the page itself when there is none or it is not http(s).
   *
   * @param {HTMLFormElement|null} form
   * @param {HTMLElement|null} [submitter]
   * @returns {string}
   */
  function destinationOf(form, submitter) {
    // getAttribute, not form.action: a field named "action" shadows that property.
    const raw = submitter?.getAttribute("formaction") ?? form?.getAttribute("action") ?? "";
    try {
      const url = new URL(raw, form?.ownerDocument.baseURI ?? location.href);
      if (url.protocol === "http:" || url.protocol === "https:") {
        return url.href;
      }
    } catch {
      // A malformed action: browsers submit to the page itself.
    }
    return location.href;
  }

  /**
   * One field as sent for checking.
   *
   * @param {HTMLInputElement|HTMLTextAreaElement} input
   * @returns {{name: string, label: string, value: string}}
   */
  function describe(input) {
    return { name: input.name || input.id || "", label: labelOf(input), value: input.value };
  }

  /**
   * The fields a form would send: named text controls with a value (hidden ones included,
   * they are sent too; passwords and files never).
   *
   * @param {HTMLFormElement} form
   * @returns {Array<{name: string, label: string, value: string}>}
   */
  function collectForm(form) {
    const fields = [];
    for (const el of form.elements) {
      if (isTextControl(el) && !el.disabled && el.name && el.value.trim()) {
        fields.push(describe(el));
      }
    }
    return fields;
  }

  ns.fields = { labelOf, isTextControl, isSensitive, destinationOf, describe, collectForm };
})();
