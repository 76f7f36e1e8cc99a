// The top table beside the flamegraph, computed from the flame tree in the page so that it
// follows what the graph shows: the selected range, the zoom (only the stacks under the zoomed
// frame count, and shares are of those), and the search (only matching functions are listed).
// Rows sort by any column.
'use strict';

import { label } from './flame.js';

/**
 * Per function, the samples of the stacks under `zoomed` (reached from `root` by `zoomPath`):
 * `self` where it is the innermost frame, `total` where it is anywhere on the stack (once per
 * stack, even when recursive). Depth 1 of the tree is the process (folded stacks start with the
 * thread name), not a function, and is left out. Returns `{ rows, samples }`; each row is
 * `{ name, module, self, total }` with `module` from `moduleOf(name)`.
 */
export function functionRows(root, zoomPath, moduleOf) {
  let zoomed = root;
  const ancestors = []; // the zoom path's nodes above `zoomed`, below the root
  for (const name of zoomPath) {
    const next = zoomed.children.get(name);
    if (!next) break;
    if (zoomed !== root) ancestors.push(zoomed);
    zoomed = next;
  }
  const rows = new Map();
  const row = (name) => {
    let r = rows.get(name);
    if (!r) {
      r = { name, module: moduleOf(name), self: 0, total: 0 };
      rows.set(name, r);
    }
    return r;
  };
  // How many times each function is on the current path: a stack counts once in a total.
  const onPath = new Map();
  const enter = (name) => onPath.set(name, (onPath.get(name) || 0) + 1);
  const leave = (name) => onPath.set(name, onPath.get(name) - 1);
  const depthOf = ancestors.length + (zoomed === root ? 0 : 1);
  for (const [i, a] of ancestors.entries()) {
    if (i + 1 >= 2 && !onPath.get(a.name)) row(a.name).total += zoomed.value;
    if (i + 1 >= 2) enter(a.name);
  }
  // Depth-first without recursion (a hostile folded file may be very deep): each entry is a
  // node and its depth, or a marker to take a name off the path.
  const todo = [[zoomed, depthOf]];
  while (todo.length) {
    const [n, depth] = todo.pop();
    if (n === null) {
      leave(depth);
      continue;
    }
    let childSum = 0;
    for (const c of n.children.values()) childSum += c.value;
    if (depth >= 2) {
      const r = row(n.name);
      r.self += Math.max(0, n.value - childSum);
      if (!onPath.get(n.name)) r.total += n.value;
      enter(n.name);
      todo.push([null, n.name]);
    }
    for (const c of n.children.values()) todo.push([c, depth + 1]);
  }
  return { rows: [...rows.values()], samples: zoomed.value };
}

/** The columns: header text, the key rows sort by, and whether it sorts descending first. */
export const COLUMNS = [
  { key: 'self', text: 'self %', descending: true },
  { key: 'total', text: 'total %', descending: true },
  { key: 'name', text: 'function', descending: false },
  { key: 'module', text: 'module', descending: false },
];

/** `rows` sorted by `key` (ties by total, then name), descending when `desc`. */
export function sortRows(rows, key, desc) {
  const cmp = (a, b) => {
    const x = a[key];
    const y = b[key];
    if (typeof x === 'number') return x - y;
    return label(x).localeCompare(label(y));
  };
  return rows.slice().sort((a, b) => (desc ? -cmp(a, b) : cmp(a, b)) || b.total - a.total || (a.name < b.name ? -1 : 1));
}
