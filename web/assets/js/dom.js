// dom.js - building the page without innerHTML: h() creates elements from data safely (text is always
// text), and a few helpers for lists, selects and messages.

/** h("div.tile#id", {attrs, on: {click}}, children...): an element; strings become text nodes. */
export function h(spec, attrs, ...children) {
  const [tag, ...rest] = spec.split(/(?=[.#])/);
  const el = document.createElement(tag || "div");
  for (const r of rest) {
    if (r[0] === ".") el.classList.add(r.slice(1));
    else el.id = r.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "class") el.classList.add(...String(v).split(/\s+/).filter(Boolean));
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A <select> of [value, label] pairs with `value` selected. */
export function select(options, value, onChange, attrs = {}) {
  const s = h("select", attrs, options.map(([v, label]) => h("option", { value: v }, label)));
  s.value = value;
  if (onChange) s.addEventListener("change", () => onChange(s.value));
  return s;
}

/** An error message box (role alert), for failed requests. */
export function errorBox(err) {
  return h("div.error", { role: "alert" }, String(err && err.message ? err.message : err));
}
