// Small DOM helpers shared by the page's modules. Text only ever goes in through textContent.
'use strict';

/** The element with id `id`. */
export const $ = (id) => document.getElementById(id);

/** A new `tag` element with `text` (as text, never HTML) and class `cls`, both optional. */
export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
