// The flame tree and its drawing, shared by the profile view, the sandwich view and the diff:
// a tree of frames built from folded stacks, and a renderer that lays one out as an icicle (root
// at the top) or a flamegraph (root at the bottom) in a box, with search highlighting and a zoom
// path. Frame labels only ever enter the page through textContent / title, never as HTML.
'use strict';

import { amount } from './units.js';

/** A frame's kind, from its folded label: root, kernel (`_[k]`), inlined (`_[i]`), a thread
 * state of off-CPU and wall-clock profiles (`[on-cpu]`, `[off-cpu: sleeping]`, …), a placeholder
 * such as `[missing user stack]`, or user code. */
export function kindOf(name, depth) {
  if (depth === 0) return 'root';
  if (name === '[on-cpu]' || name.startsWith('[off-cpu: ')) return 'state';
  if (name.endsWith('_[k]')) return 'kernel';
  if (name.endsWith('_[i]')) return 'inline';
  if (name.startsWith('[missing ')) return 'placeholder';
  return 'user';
}

/** A frame's label: without the `_[k]` (kernel) and `_[i]` (inlined) suffixes of folded
 * stacks; the kind is shown by colour instead. */
export function label(name) {
  return name.replace(/_\[[ki]\]$/, '');
}

/** What a tooltip adds after a label, by kind. */
export const KIND_TEXT = { kernel: ' (kernel)', inline: ' (inlined)', placeholder: '', user: '', root: '', narrow: '', state: ' (thread state)' };

/** A tree node: `value` samples pass through it; children by name. */
export function node(name) {
  return { name, value: 0, children: new Map() };
}

/** The child of `n` named `name`, made (with no samples) if it has none. */
export function childOf(n, name) {
  let c = n.children.get(name);
  if (!c) {
    c = node(name);
    n.children.set(name, c);
  }
  return c;
}

/** The flame tree of /api/range.json's reply: stacks are [count, name index, …], root first. */
export function buildTree(names, stacks) {
  const root = node('all');
  for (const s of stacks) {
    const count = s[0];
    root.value += count;
    let n = root;
    for (let k = 1; k < s.length; k++) {
      n = childOf(n, names[s[k]]);
      n.value += count;
    }
  }
  return root;
}

/** `text` as a regular expression that matches it literally. */
export function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The search box's text as a regular expression (literal text when it is not a valid one);
 * null when empty. */
export function searchRegex(text) {
  const t = text.trim();
  if (!t) return null;
  try {
    return new RegExp(t);
  } catch (e) {
    return new RegExp(escapeRegex(t));
  }
}

/** Height of a row of frames, in pixels. */
export const ROW = 18;
/** Frames narrower than this fraction of the view are not drawn (nor their children). */
const MIN_WIDTH = 0.001;
/** At most this many frames are drawn (besides the zoom's ancestors and the blocks that stand
 * for narrow frames, at most one more per frame drawn): the widest, shallower first at equal
 * width. A tree whose frames are all just above MIN_WIDTH asks for 1,000 per row, and 50,000
 * elements take seconds to create and lay out; 2,000 (with their blocks) take about 100 ms on
 * a loaded two-core machine (scripts/bench-ui). */
const MAX_FRAMES = 2000;
/** Frames narrower than this many pixels get no text (it would not be readable; its tooltip
 * and the details line still name it): text is the costliest part of an element's layout. */
const MIN_TEXT_PX = 14;
/** Frames narrower than this many pixels are drawn without their side borders (class `thin`):
 * the borders would cover them, and a row of 1,000 such frames would look empty. */
const THIN_PX = 4;

/** A node's children, sorted by name (cached on the node: a tree is not changed once built;
 * what this file caches on nodes is named flame…). */
function sortedChildren(n) {
  if (!n.flameSorted || n.flameSorted.length !== n.children.size) {
    n.flameSorted = [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
  return n.flameSorted;
}

/** A node's label, cached on the node. */
function labelOf(n) {
  if (n.flameLabel === undefined) n.flameLabel = label(n.name);
  return n.flameLabel;
}

/** The distinct labels of the tree under `root`, each node numbered by its label (`n.flameLid`),
 * listed once per tree (cached on the root): a search tests each distinct label once, not each
 * node. */
function labelsOf(root) {
  if (!root.flameLabels) {
    const ids = new Map();
    const number = (n) => {
      const l = labelOf(n);
      let id = ids.get(l);
      if (id === undefined) {
        id = ids.size;
        ids.set(l, id);
      }
      n.flameLid = id;
      for (const k of n.children.values()) number(k);
    };
    number(root);
    root.flameLabels = [...ids.keys()];
  }
  return root.flameLabels;
}

/** Numbers the searches, to mark the nodes a search found in (`n.flameHolds`) without a set. */
let searchStamp = 0;

/** Search over the whole tree below `top` (drawn or not): the samples under matching frames,
 * each counted once, and `holds(n)`: whether the subtree of node `n` holds a match. */
function searchTree(root, top, topDepth, re) {
  const hit = labelsOf(root).map((l) => re.test(l));
  const stamp = ++searchStamp;
  let matched = 0;
  const walk = (n, depth, counting) => {
    const isMatch = depth > 0 && hit[n.flameLid];
    if (isMatch && counting) matched += n.value;
    let any = isMatch;
    for (const k of n.children.values()) if (walk(k, depth + 1, counting && !isMatch)) any = true;
    if (any) n.flameHolds = stamp;
    return any;
  };
  walk(top, topDepth, true);
  return { matched, holds: (n) => n.flameHolds === stamp };
}

/** The nodes of the widest `max` frames under `top` that are at least MIN_WIDTH wide (shallower
 * first at equal width, then left to right), taken best first from a heap: a parent is at least
 * as wide as its children and comes first, so they form a tree, and only they and their
 * children are visited, however big the tree. */
function widest(top, max) {
  const keep = new Set();
  const heap = [];
  let seq = 0;
  const before = (a, b) => a.w > b.w || (a.w === b.w && (a.depth < b.depth || (a.depth === b.depth && a.seq < b.seq)));
  const swap = (i, j) => {
    const t = heap[i];
    heap[i] = heap[j];
    heap[j] = t;
  };
  const push = (e) => {
    heap.push(e);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!before(heap[i], heap[p])) break;
      swap(i, p);
      i = p;
    }
  };
  const pop = () => {
    const first = heap[0];
    const last = heap.pop();
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        let b = i;
        if (l < heap.length && before(heap[l], heap[b])) b = l;
        if (l + 1 < heap.length && before(heap[l + 1], heap[b])) b = l + 1;
        if (b === i) break;
        swap(i, b);
        i = b;
      }
    }
    return first;
  };
  push({ n: top, w: 1, depth: 0, seq: seq++ });
  while (heap.length && keep.size < max) {
    const { n, w, depth } = pop();
    keep.add(n);
    if (n.value <= 0) continue;
    for (const k of sortedChildren(n)) {
      const kw = (w * k.value) / n.value;
      if (kw >= MIN_WIDTH) push({ n: k, w: kw, depth: depth + 1, seq: seq++ });
    }
  }
  return keep;
}

/**
 * Draws `root` into `box` and returns what was drawn.
 *
 * Options: `zoom` (a path of names from the root: its last node fills the width, its ancestors
 * are drawn full width and dimmed), `layout` ('icicle' or 'flame'), `re` (search: matching
 * frames are highlighted and the samples under them counted once, drawn or not),
 * `rootText(root)` (the root's label), `title(frame)` (a frame's tooltip), `decorate(div,
 * frame)` (e.g. a diff colour; called again for a frame whose `isMatch` changes).
 *
 * Frames narrower than 0.1% of the view are not drawn, nor more than MAX_FRAMES (the narrowest
 * are left out first); where siblings are left out, one hatched block of kind 'narrow' stands
 * for each run of them (its `n` is a made-up node: `{ name, value, children }`, `count` frames;
 * its `path` is the parent's, so a click zooms there; it matches when a frame it stands for, or
 * one below, matches; `title` and `decorate` are not called for it).
 *
 * When only `re` differs from the previous drawing in the same box, or from the one before it
 * (same root, zoom, layout and callbacks), its elements are reused and only their highlighting
 * changes.
 *
 * Returns `{ frames, matched, zoomed }`: every frame drawn (`{ n, depth, x, w, path, ancestor,
 * isMatch, kind }`, indexed by each element's `data-i`), the samples under matching frames,
 * and the node the zoom path reached.
 */
export function drawFlame(box, root, opts = {}) {
  const zoomPath = opts.zoom || [];
  const re = opts.re || null;
  const same = (d) => d && d.root === root && d.zoomKey === JSON.stringify(zoomPath) && d.layout === opts.layout &&
    d.title === opts.title && d.rootText === opts.rootText && d.decorate === opts.decorate;
  const last = box.flameDrawing;
  const current = last && box.childElementCount === last.frames.length;
  if (current && same(last)) return rematch(box, last, re, opts);
  // The drawing before is kept aside (its elements, detached): zooming back out to it (Reset
  // zoom after a click, Esc after one) puts them back instead of creating them again.
  const kept = box.flameKept;
  box.flameKept = current ? { drawing: last, elements: [...box.children], height: box.style.height } : null;
  box.replaceChildren();
  if (same(kept && kept.drawing)) {
    box.append(...kept.elements);
    box.style.height = kept.height;
    box.flameDrawing = kept.drawing;
    return rematch(box, kept.drawing, re, opts);
  }
  // Walk down the zoom path; ancestors are drawn full width.
  let top = root;
  const ancestors = [];
  for (const name of zoomPath) {
    const next = top.children.get(name);
    if (!next) break;
    ancestors.push(top);
    top = next;
  }
  const topDepth = ancestors.length;
  const keep = widest(top, MAX_FRAMES);
  const search = re ? searchTree(root, top, topDepth, re) : null;
  let depthMax = 0;
  const frames = [];
  const isMatchOf = (n, depth) => re !== null && depth > 0 && re.test(labelOf(n));
  const place = (n, depth, x, w, path, ancestor) => {
    depthMax = Math.max(depthMax, depth);
    frames.push({ n, depth, x, w, path, ancestor, isMatch: isMatchOf(n, depth), kind: kindOf(n.name, depth) });
    if (ancestor || n.value <= 0) return;
    let cx = x;
    let run = null;
    const flush = () => {
      if (run && run.w >= MIN_WIDTH) {
        depthMax = Math.max(depthMax, depth + 1);
        const value = run.members.reduce((sum, m) => sum + m.value, 0);
        frames.push({
          n: { name: `${run.members.length} narrow ${run.members.length === 1 ? 'frame' : 'frames'}`, value, children: new Map() },
          depth: depth + 1, x: run.x, w: run.w, path, ancestor: false,
          isMatch: search !== null && run.members.some((m) => search.holds(m)),
          kind: 'narrow', count: run.members.length, members: run.members,
        });
      }
      run = null;
    };
    for (const k of sortedChildren(n)) {
      const kw = (w * k.value) / n.value;
      if (kw >= MIN_WIDTH && keep.has(k)) {
        flush();
        place(k, depth + 1, cx, kw, path.concat([k.name]), false);
      } else {
        if (!run) run = { x: cx, w: 0, members: [] };
        run.w += kw;
        run.members.push(k);
      }
      cx += kw;
    }
    flush();
  };
  ancestors.forEach((a, i) => place(a, i, 0, 1, zoomPath.slice(0, i), true));
  place(top, topDepth, 0, 1, zoomPath.slice(0, topDepth), false);
  // Built off the page and attached once: one layout for thousands of frames. Hover and click
  // are handled once for the whole box (by the caller), through each frame's index.
  const rootText = opts.rootText || ((r) => `all (${amount(r.value, r.unit)})`);
  const title = opts.title || defaultTitle(root);
  const px = box.clientWidth || Infinity;
  const fragment = document.createDocumentFragment();
  for (const [i, f] of frames.entries()) {
    const d = document.createElement('div');
    if (f.w * px >= MIN_TEXT_PX) {
      if (f.kind === 'narrow') d.textContent = f.n.name;
      else d.textContent = f.depth === 0 ? rootText(root) : labelOf(f.n);
    }
    const thin = f.w * px < THIN_PX ? ' thin' : '';
    d.className = `frame ${f.kind}${f.ancestor ? ' ancestor' : ''}${f.isMatch ? ' match' : ''}${thin}`;
    const y = (opts.layout === 'flame' ? depthMax - f.depth : f.depth) * ROW;
    d.style.cssText = `left: ${f.x * 100}%; width: ${f.w * 100}%; top: ${y}px`;
    d.title = f.kind === 'narrow' ? narrowTitle(f, root, keep.size >= MAX_FRAMES) : title(f);
    d.dataset.i = String(i);
    if (opts.decorate && f.kind !== 'narrow') opts.decorate(d, f);
    fragment.appendChild(d);
  }
  box.appendChild(fragment);
  box.style.height = `${(depthMax + 1) * ROW + 4}px`;
  const matched = search ? search.matched : 0;
  // The first search numbers the tree's labels (a walk of every node); do it while the page
  // is idle rather than on the first keystroke.
  if (!root.flameLabels && typeof requestIdleCallback === 'function') requestIdleCallback(() => labelsOf(root), { timeout: 1000 });
  box.flameDrawing = {
    root, zoomKey: JSON.stringify(zoomPath), layout: opts.layout, title: opts.title, rootText: opts.rootText,
    decorate: opts.decorate, frames, top, topDepth,
  };
  return { frames, matched, zoomed: top };
}

/** The same drawing as `last`, highlighted for `re`: only the elements whose match changed are
 * touched. */
function rematch(box, last, re, opts) {
  const search = re ? searchTree(last.root, last.top, last.topDepth, re) : null;
  const divs = box.children;
  for (const [i, f] of last.frames.entries()) {
    const isMatch = search !== null && (f.kind === 'narrow'
      ? f.members.some((m) => search.holds(m))
      : f.depth > 0 && re.test(labelOf(f.n)));
    if (isMatch === f.isMatch) continue;
    f.isMatch = isMatch;
    divs[i].classList.toggle('match', isMatch);
    if (opts.decorate && f.kind !== 'narrow') opts.decorate(divs[i], f);
  }
  return { frames: last.frames, matched: search ? search.matched : 0, zoomed: last.top };
}

/** The tooltip of a block that stands for narrow frames. */
function narrowTitle(f, root, capped) {
  const pct = ((100 * f.n.value) / (root.value || 1)).toFixed(2);
  const why = capped ? 'too narrow to draw one by one' : 'each narrower than 0.1% of the view';
  return `${f.count} ${f.count === 1 ? 'frame' : 'frames'} ${why}: ${amount(f.n.value, root.unit)} (${pct}%); zoom or search to see them`;
}

/** The tooltip of a profile's frame: its label, kind, samples and share of `root`. */
function defaultTitle(root) {
  return (f) => {
    const pct = ((100 * f.n.value) / (root.value || 1)).toFixed(2);
    return `${f.depth === 0 ? 'all' : label(f.n.name)}${KIND_TEXT[f.kind]}: ${amount(f.n.value, root.unit)} (${pct}%)`;
  };
}

/** Calls `hover(frame, element, event)` and `click(frame, element, event)` for the frames `drawn()` returns, from events
 * on the whole box (one listener each, however many frames are drawn). */
export function onFrames(box, drawn, hover, click) {
  const frameOf = (e) => {
    const d = e.target.closest('.frame');
    const f = d && box.contains(d) ? drawn()[Number(d.dataset.i)] : null;
    return f ? [f, d] : null;
  };
  box.addEventListener('mouseover', (e) => {
    const hit = frameOf(e);
    if (hit) hover(hit[0], hit[1], e);
  });
  box.addEventListener('click', (e) => {
    const hit = frameOf(e);
    if (hit) click(hit[0], hit[1], e);
  });
}
