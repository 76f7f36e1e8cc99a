// The sandwich view of one function: who calls it (its callers, merged over every stack it is
// on, drawn above it growing upwards) and what it calls (its callees, merged, drawn below it).
// Both trees are rooted at the function and are as wide as its total samples.
'use strict';

import { childOf, node } from './flame.js';

/** Adds `value` samples of the chain `names` (outermost first) under `at`. */
function addChain(at, names, value) {
  let n = at;
  for (const name of names) {
    n = childOf(n, name);
    n.value += value;
  }
}

/** Adds the children of `from` (their whole subtrees) under `to`. */
function mergeChildren(to, from) {
  const todo = [[to, from]];
  while (todo.length) {
    const [t, f] = todo.pop();
    for (const [name, fc] of f.children) {
      const tc = childOf(t, name);
      tc.value += fc.value;
      todo.push([tc, fc]);
    }
  }
}

/**
 * The callers and callees of function `name` in the flame tree `root` (whose depth 1 is the
 * process). Each stack counts once, at the function's outermost frame: the callers tree is the
 * path from there to the process, innermost caller first; the callees tree is everything the
 * frame calls (inner recursive calls included). Returns `{ callers, callees, total }`.
 */
export function sandwich(root, name) {
  const callers = node(name);
  const callees = node(name);
  // Depth-first without recursion; `path` holds the names from the process down to the node's
  // parent, trimmed back as the walk returns.
  const path = [];
  const todo = [];
  for (const c of root.children.values()) todo.push([c, 0]);
  while (todo.length) {
    const [n, depth] = todo.pop();
    path.length = depth;
    if (depth >= 1 && n.name === name) {
      callers.value += n.value;
      callees.value += n.value;
      addChain(callers, path.slice().reverse(), n.value);
      mergeChildren(callees, n);
      continue;
    }
    path.push(n.name);
    for (const c of n.children.values()) todo.push([c, depth + 1]);
  }
  return { callers, callees, total: callers.value };
}
