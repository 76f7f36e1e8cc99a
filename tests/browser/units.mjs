// The page's pure modules under Node, without a browser: the flame tree, the top table computed
// from it (zoom, recursion counted once) and the sandwich view's callers and callees. Prints
// "ok" or fails with what differed.
import assert from 'node:assert/strict';
import { buildTree } from '../../web/flame.js';
import { functionRows, sortRows } from '../../web/table.js';
import { sandwich } from '../../web/sandwich.js';

// app;main;a 5 · app;main;b;a 3 · app;main;rec;rec;b 2 · app;a 1 (app is the process).
const names = ['app', 'main', 'a', 'b', 'rec'];
const stacks = [[5, 0, 1, 2], [3, 0, 1, 3, 2], [2, 0, 1, 4, 4, 3], [1, 0, 2]];
const root = buildTree(names, stacks);
assert.equal(root.value, 11);

const moduleOf = (n) => (n === 'main' ? 'app-bin' : '');
const table = (zoom) => {
  const { rows, samples } = functionRows(root, zoom, moduleOf);
  const byName = Object.fromEntries(rows.map((r) => [r.name, [r.self, r.total]]));
  return { byName, samples, modules: Object.fromEntries(rows.map((r) => [r.name, r.module])) };
};
// Whole tree: the process is no function; a recursive function counts once per stack.
let t = table([]);
assert.deepEqual(t.byName, { main: [0, 10], a: [9, 9], b: [2, 5], rec: [0, 2] });
assert.equal(t.samples, 11);
assert.equal(t.modules.main, 'app-bin');
// Zoomed into app;main: only its stacks count.
t = table(['app', 'main']);
assert.deepEqual(t.byName, { main: [0, 10], a: [8, 8], b: [2, 5], rec: [0, 2] });
assert.equal(t.samples, 10);
// Zoomed into the outer rec: main is on every stack above it.
t = table(['app', 'main', 'rec']);
assert.deepEqual(t.byName, { main: [0, 2], rec: [0, 2], b: [2, 2] });
// A zoom path that is not in the tree stops where it leaves it.
assert.equal(table(['app', 'nosuch']).samples, 11);

const sorted = (key, desc) => sortRows(functionRows(root, [], moduleOf).rows, key, desc).map((r) => r.name);
assert.deepEqual(sorted('self', true), ['a', 'b', 'main', 'rec']);
assert.deepEqual(sorted('total', true), ['main', 'a', 'b', 'rec']);
assert.deepEqual(sorted('name', false), ['a', 'b', 'main', 'rec']);
assert.deepEqual(sorted('name', true), ['rec', 'main', 'b', 'a']);

// A tree as nested [name, value, children…] for comparison.
const shape = (n) => [n.name, n.value, ...[...n.children.values()].sort((x, y) => (x.name < y.name ? -1 : 1)).map(shape)];
let s = sandwich(root, 'a');
assert.equal(s.total, 9);
assert.deepEqual(shape(s.callers), ['a', 9, ['app', 1], ['b', 3, ['main', 3, ['app', 3]]], ['main', 5, ['app', 5]]]);
assert.deepEqual(shape(s.callees), ['a', 9]);
// Recursion: the outermost frame counts, its callers once, the inner call among the callees.
s = sandwich(root, 'rec');
assert.deepEqual(shape(s.callers), ['rec', 2, ['main', 2, ['app', 2]]]);
assert.deepEqual(shape(s.callees), ['rec', 2, ['rec', 2, ['b', 2]]]);
s = sandwich(root, 'b');
assert.deepEqual(shape(s.callers), ['b', 5, ['main', 3, ['app', 3]], ['rec', 2, ['rec', 2, ['main', 2, ['app', 2]]]]]);
assert.deepEqual(shape(s.callees), ['b', 5, ['a', 3]]);
// A process name is not a function.
assert.equal(sandwich(root, 'app').total, 0);
console.log('ok');
