// A small element builder, so that no text from a verdict is ever parsed as HTML.
const SVG = "http://www.w3.org/2000/svg";

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.setAttribute("class", value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** `h("p", {class: "x"}, "text", child)`: an HTML element. */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** The same for SVG. */
export function s(tag, attributes, ...children) {
  return build(document.createElementNS(SVG, tag), attributes, children);
}

/** A hash or address in full, in a code element that wraps. */
export function code(value) {
  return h("code", { class: "hex" }, value ?? "—");
}

/** A long hash shortened for a table cell, the full value for assistive technology. */
export function shortHash(value) {
  const text = String(value);
  const short = text.length > 20 ? `${text.slice(0, 10)}…${text.slice(-8)}` : text;
  return h("code", { class: "hex", title: text }, h("span", { "aria-hidden": "true" }, short), h("span", { class: "visually-hidden" }, text));
}

/** A definition list from [term, value] pairs (values may be nodes). */
export function definitions(pairs, attributes = {}) {
  return h(
    "dl",
    { class: "facts", ...attributes },
    pairs.filter(Boolean).map(([term, value]) => [h("dt", null, term), h("dd", null, value)]),
  );
}

export function clear(element) {
  element.replaceChildren();
  return element;
}
