// The diff view: a base range and a new range as one interactive differential flamegraph (hover,
// click to zoom, search, icicle or flamegraph layout) over the significance table of
// /api/diff.json. Both ranges are read with /api/range.json and merged into one tree whose nodes
// carry both counts; a frame is as wide as the mean of its base and new shares (so what vanished
// and what appeared both show) and coloured by how its share changed. Names only ever enter the
// page through textContent / title, never as HTML.
'use strict';

import { buildTree, drawFlame, KIND_TEXT, label, onFrames, searchRegex } from './flame.js';
import { $, el } from './dom.js';
import { amount, noun, SAMPLES, unitOf } from './units.js';

/** A change of a frame's share smaller than this (percentage points of all samples) is drawn
 * grey. */
export const SAME_POINTS = 0.05;
/** A change within sampling noise is drawn grey too: |z| under this, z being the two-proportion
 * z statistic of the frame's samples in base and new. Noise moves every frame a little (a
 * frame with 30% of 30,000 samples by ±0.26 points at one standard deviation), and tinting them
 * all would hide the real changes; at 3, about one unchanged frame in 370 is coloured. */
export const SAME_Z = 3;
/** A change of this many points or more is drawn at full colour; smaller ones are paler
 * (square root scale, so a change of a few points still stands out). */
export const FULL_POINTS = 10;

/** What the diff view keeps: the merged tree, its zoom path and drawn frames, the function
 * rows of diff.json by name, the ranges' sample totals, and the app's callbacks. */
const view = {
  root: null,
  zoom: [],
  frames: [],
  functions: new Map(),
  totals: { base: 0, next: 0, ns: false },
  unit: SAMPLES, // what the counts are (both sides: the server refuses to mix kinds of time)
  ctx: null,
  seq: 0, // the latest request: older replies are dropped
};

/** A node of the diff tree: samples under it in base and in new, each as a share of its side,
 * and `value` (what drawFlame sizes frames by): the mean of the two shares. */
function diffNode(name, base, next, totals) {
  const baseShare = totals.base ? base / totals.base : 0;
  const nextShare = totals.next ? next / totals.next : 0;
  return { name, base, next, baseShare, nextShare, value: (baseShare + nextShare) / 2, children: new Map() };
}

/** Merges the flame trees of the base and the new range (from buildTree) into one diff tree. */
export function mergeTrees(base, next) {
  const totals = { base: base.value, next: next.value };
  const walk = (b, n, name) => {
    const d = diffNode(name, b ? b.value : 0, n ? n.value : 0, totals);
    const names = new Set([...(b ? b.children.keys() : []), ...(n ? n.children.keys() : [])]);
    for (const k of names) d.children.set(k, walk(b && b.children.get(k), n && n.children.get(k), k));
    return d;
  };
  return walk(base, next, 'all');
}

/** The change of a node's share, in percentage points of all samples (new minus base). */
export function deltaPoints(n) {
  return 100 * (n.nextShare - n.baseShare);
}

/** The two-proportion z statistic of a node's change: its samples in base and in new against
 * each side's total (0 when either side is empty). */
export function zOf(n, totals) {
  const [b, x] = [totals.base, totals.next];
  if (!b || !x) return 0;
  const p = (n.base + n.next) / (b + x);
  const se = Math.sqrt(p * (1 - p) * (1 / b + 1 / x));
  return se > 0 ? (n.nextShare - n.baseShare) / se : 0;
}

/** A node's colour: `grow` (red), `shrink` (blue) or `same` (grey: a change under SAME_POINTS
 * or within noise), and how much of the colour is mixed into the grey, in percent. Noise is
 * judged on sample counts only: nanoseconds (`totals.ns`) are not binomial draws. */
export function shade(n, totals) {
  const delta = deltaPoints(n);
  const noise = !totals.ns && !(Math.abs(zOf(n, totals)) >= SAME_Z);
  if (!(Math.abs(delta) >= SAME_POINTS) || noise) return { cls: 'same', mix: 0 };
  const mix = 25 + 75 * Math.sqrt(Math.min(1, Math.abs(delta) / FULL_POINTS));
  return { cls: delta > 0 ? 'grow' : 'shrink', mix: Math.round(mix) };
}

/** A q-value as ` = 3.1e-5`, or ` < 1e-300` when it underflowed to 0. */
const qText = (q) => (q === 0 ? ' < 1e-300' : ` = ${q.toPrecision(2)}`);
const pct = (share) => `${(100 * share).toFixed(2)}%`;
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

/** What diff.json says of the function a frame is: its q-value and whether it changed
 * significantly. */
function significance(name, depth) {
  if (depth === 0) return '';
  if (depth === 1) return 'process (thread name): not tested';
  const f = view.functions.get(name);
  if (!f) return 'function not in the table';
  if (f.q_value === null || f.q_value === undefined) return 'significance not tested';
  return `function ${f.significant ? 'changed significantly' : 'no significant change'} (q${qText(f.q_value)})`;
}

/** A frame's details, one item a line: name, both shares and counts, change, significance. */
function details(f) {
  const n = f.n;
  const name = f.depth === 0 ? 'all' : `${label(n.name)}${KIND_TEXT[f.kind]}`;
  const lines = [
    name,
    `base ${pct(n.baseShare)} (${amount(n.base, view.unit)}), new ${pct(n.nextShare)} (${amount(n.next, view.unit)})`,
    view.unit.ns ? `${signed(deltaPoints(n))} points` : `${signed(deltaPoints(n))} points (z = ${zOf(n, view.totals).toFixed(1)})`,
  ];
  const sig = significance(n.name, f.depth);
  if (sig) lines.push(sig);
  return lines;
}

/** The samples under frames matching `re` (each counted once), base and new. */
function matchedCounts(n, re, depth) {
  if (depth > 0 && re.test(label(n.name))) return [n.base, n.next];
  let [b, x] = [0, 0];
  for (const k of n.children.values()) {
    const [kb, kx] = matchedCounts(k, re, depth + 1);
    b += kb;
    x += kx;
  }
  return [b, x];
}

/** Draws the diff tree with the current zoom, search and layout. */
function render() {
  const box = $('diff-flame');
  if (!view.root) {
    box.replaceChildren();
    box.style.height = '0';
    view.frames = [];
    $('matched').textContent = '';
    return;
  }
  const re = searchRegex($('search').value);
  box.classList.toggle('searching', re !== null);
  const drawn = drawFlame(box, view.root, {
    zoom: view.zoom,
    layout: view.ctx.layout(),
    re,
    rootText: () => `all (base ${amount(view.totals.base, view.unit)}, new ${amount(view.totals.next, view.unit)})`,
    title: (f) => details(f).join('\n'),
    decorate: (d, f) => {
      const s = shade(f.n, view.totals);
      d.classList.add(s.cls);
      d.style.setProperty('--mix', `${s.mix}%`);
    },
  });
  view.frames = drawn.frames;
  if (re) {
    const [b, x] = matchedCounts(view.root, re, 0);
    const share = (c, t) => pct(t ? c / t : 0);
    $('matched').textContent = `matched ${share(b, view.totals.base)} of base, ${share(x, view.totals.next)} of new ${noun(view.unit)}`;
  } else {
    $('matched').textContent = '';
  }
}

/** The two ranges named in their timeline colours: `base …` and `new …`, with their samples
 * once known. */
function nameRanges(box, base, next, totals) {
  box.replaceChildren();
  const { fmtSpan, fmtDuration } = view.ctx;
  const part = (cls, what, r, samples) => {
    const s = el('span', undefined, `range-name ${cls}`);
    s.append(el('span', undefined, `swatch ${cls}`), el('b', what));
    let text = r ? ` ${fmtSpan(r.from, r.to)} (${fmtDuration(BigInt(r.to) - BigInt(r.from))}` : ' not set';
    if (r) text += samples === undefined ? ')' : `, ${amount(samples, view.unit)})`;
    s.append(document.createTextNode(text));
    return s;
  };
  box.append(part('base', 'base', base, totals && totals.base), el('span', ' vs ', 'vs'), part('new', 'new', next, totals && totals.next));
}

/** The significance table under the graph: the 40 functions whose share changed most. */
function renderTable(d) {
  const tbody = document.querySelector('#diff-table tbody');
  for (const f of d.functions.slice(0, 40)) {
    const tr = el('tr');
    if (f.significant) tr.className = 'significant';
    tr.append(
      el('td', f.base_total_pct.toFixed(2)),
      el('td', f.new_total_pct.toFixed(2)),
      el('td', signed(f.delta_points)),
      el('td', f.significant ? `yes (q${qText(f.q_value)})` : f.q_value === null || f.q_value === undefined ? 'not tested' : 'no'),
      el('td', label(f.function), f.function.endsWith('_[k]') ? 'kernel' : undefined),
    );
    tbody.appendChild(tr);
  }
}

/** Shows the diff of `base` and `next` ({from, to} in ns, as strings; null when not chosen) for
 * process `comm` and cgroup `cgroup` ('' for all), leaving out the idle task when *hide idle* is
 * checked. */
export async function showDiff({ base, next, comm, cgroup }) {
  const seq = ++view.seq;
  document.querySelector('#diff-table tbody').replaceChildren();
  nameRanges($('diff-ranges'), base, next);
  nameRanges($('diff-head'), base, next);
  view.root = null;
  view.zoom = [];
  $('diff-svg').hidden = true;
  if (!base || !next) {
    $('diff-title').textContent = 'select a range and use it as base, then another as new';
    render();
    return;
  }
  const noIdle = $('no-idle').checked;
  const side = (r) => {
    const q = new URLSearchParams({ from: r.from, to: r.to });
    if (comm) q.set('comm', comm);
    if (cgroup) q.set('cgroup', cgroup);
    if (noIdle) q.set('no_idle', '1');
    return fetch(`/api/range.json?${q}`);
  };
  const q = new URLSearchParams({ base_from: base.from, base_to: base.to, new_from: next.from, new_to: next.to });
  if (comm) q.set('comm', comm);
  if (cgroup) q.set('cgroup', cgroup);
  if (noIdle) q.set('no_idle', '1');
  $('diff-title').textContent = 'comparing…';
  const replies = await Promise.all([side(base), side(next), fetch(`/api/diff.json?${q}`)]);
  if (seq !== view.seq) return;
  const bad = replies.find((r) => !r.ok);
  if (bad) {
    const text = await bad.text();
    if (seq === view.seq) $('diff-title').textContent = text;
    render();
    return;
  }
  const [b, x, d] = await Promise.all(replies.map((r) => r.json()));
  if (seq !== view.seq) return;
  view.root = mergeTrees(buildTree(b.names, b.stacks), buildTree(x.names, x.stacks));
  view.unit = unitOf(b.unit, b.measure);
  view.totals = { base: view.root.base, next: view.root.next, ns: view.unit.ns };
  view.functions = new Map(d.functions.map((f) => [f.function, f]));
  nameRanges($('diff-head'), base, next, view.totals);
  const sig = d.functions.filter((f) => f.significant).length;
  const tested = d.test
    ? `${sig} of ${d.functions.length} functions changed significantly (${d.test}, q ≤ ${d.alpha})`
    : `${d.functions.length} functions compared by share (significance not tested: the counts are ${noun(view.unit)}, not samples)`;
  $('diff-title').textContent = tested +
    (noIdle ? '; the idle task is left out' : '');
  const svg = $('diff-svg');
  svg.href = `/api/diff.svg?${q}`;
  svg.hidden = false;
  render();
  renderTable(d);
  renderLegend();
}

/** The legend above the graph: what width and colour mean. */
function renderLegend() {
  const box = $('diff-legend');
  const sw = (cls) => el('span', undefined, `swatch diff-${cls}`);
  box.replaceChildren(
    el('span', 'Width: mean of the base and new shares (so vanished and new frames show). '),
    sw('grow'), el('span', ' grew '), sw('shrink'), el('span', ' shrank '), sw('same'),
    el('span', view.unit.ns
      ? ` under ${SAME_POINTS} points (time is not tested for noise); deeper = bigger change (full at ${FULL_POINTS})`
      : ` under ${SAME_POINTS} points or within noise (|z| < ${SAME_Z}); deeper = bigger change (full at ${FULL_POINTS})`),
  );
}

/** Whether the diff view is shown (the toolbar's search, zoom and layout are then the diff's). */
const shown = () => !$('diff-view').hidden;

/** In diff mode, Esc clears the search, then zooms out one level, and `f` switches the layout,
 * for the diff's graph; other keys (`/` focuses the search), and Esc with the shortcuts shown or
 * in another text box, are left to the app. */
function onKey(e) {
  if (!shown() || e.ctrlKey || e.metaKey || e.altKey) return;
  const search = $('search');
  const typing = e.target instanceof HTMLInputElement;
  if (typing && e.target !== search) return;
  if (e.key === 'Escape') {
    if (!$('help').hidden) return;
    if (search.value) {
      search.value = '';
      render();
    } else if (typing) {
      search.blur();
    } else if (view.zoom.length) {
      view.zoom = view.zoom.slice(0, -1);
      render();
    } else {
      return;
    }
  } else if (e.key === 'f' && !typing) {
    view.ctx.setLayout(view.ctx.layout() === 'flame' ? 'icicle' : 'flame');
    render();
  } else {
    return;
  }
  e.preventDefault();
  e.stopPropagation();
}

/**
 * Wires the diff view once, after the app wired the toolbar it shares with the profile view
 * (search box, *Reset zoom*, layout buttons): the app's listeners run first (they set the
 * layout, clear the search), then these draw the diff when it is shown. `ctx`: `layout()` (the
 * current layout) and `setLayout(layout)` (sets it), `fmtSpan(from, to)` and `fmtDuration(ns)`
 * (how the page writes times).
 */
export function setupDiff(ctx) {
  view.ctx = ctx;
  renderLegend();
  onFrames($('diff-flame'), () => view.frames, (f, d) => {
    // A block of narrow frames has no shares of its own: its tooltip says what it stands for.
    $('diff-details').textContent = f.kind === 'narrow' ? d.title : details(f).join(' · ');
  }, (f) => {
    view.zoom = f.path;
    render();
  });
  const whenShown = (fn) => () => {
    if (shown()) fn();
  };
  $('search').addEventListener('input', whenShown(render));
  $('reset').addEventListener('click', whenShown(() => {
    view.zoom = [];
    render();
  }));
  for (const id of ['layout-icicle', 'layout-flame']) $(id).addEventListener('click', whenShown(render));
  // Before the app's own keys (capture): Esc and `f` act on the diff's graph here.
  window.addEventListener('keydown', onKey, true);
}
