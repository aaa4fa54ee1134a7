/**
 * Building DOM for the popup and the options page: text is always set with `textContent`
 * (never `innerHTML`), so site names, rule ids and masked values from the backend can hold any
 * character without becoming markup.
 */

/**
 * Create an element.
 *
 * @param {string} tag
 * @param {{className?: string, text?: string, title?: string, attrs?: Object<string, string>,
 *          onClick?: (event: MouseEvent) => void}} [props]
 * @param {Array<Node|string|null|undefined|false>} [children] strings become text nodes;
 *        null, undefined and false are skipped
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.text !== undefined) {
    node.textContent = props.text;
  }
  if (props.title) {
    node.title = props.title;
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  if (props.onClick) {
    node.addEventListener("click", props.onClick);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

/**
 * Replace the children of the element with the given id.
 *
 * @param {string} id
 * @param {Array<Node|string|null|undefined|false>} children
 */
export function fill(id, children) {
  const node = document.getElementById(id);
  if (!node) {
    throw new Error(`no element #${id}`);
  }
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

/**
 * Epoch seconds as a short local time ("14:03:22", or "11-28 14:03" when not today).
 *
 * @param {number} ts epoch seconds
 * @returns {string}
 */
export function shortTime(ts) {
  const date = new Date(ts * 1000);
  if (Number.isNaN(date.getTime())) {
    return "";
  }
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const now = new Date();
  if (date.toDateString() === now.toDateString()) {
    return time;
  }
  return `${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time.slice(0, 5)}`;
}
