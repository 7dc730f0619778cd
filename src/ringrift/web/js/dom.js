// Tiny DOM helpers: every piece of data goes in through textContent or attributes, never HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of [].concat(children || [])) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("button", {class: "x", onclick}, ["label"]). */
export function h(tag, attrs, children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs, children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function $(id) {
  return document.getElementById(id);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/**
 * Show `items` in `list` as one child per key, keeping the node of every item whose
 * signature did not change: a live list then never replaces the row a player is about to
 * click or has focused. build(item) makes a row; sig(item) is a string that changes
 * whenever the row's content would; key(item) names it (stored in data-key).
 */
export function keyed(list, items, key, sig, build) {
  const old = new Map();
  for (const el of list.children) if (el.dataset.key !== undefined) old.set(el.dataset.key, el);
  const rows = items.map((item) => {
    const k = String(key(item));
    const signature = sig(item);
    const kept = old.get(k);
    if (kept && kept.dataset.sig === signature) return kept;
    const el = build(item);
    el.dataset.key = k;
    el.dataset.sig = signature;
    return el;
  });
  rows.forEach((el, i) => {
    if (list.children[i] !== el) list.insertBefore(el, list.children[i] || null);
  });
  while (list.children.length > rows.length) list.lastElementChild.remove();
  return list;
}
