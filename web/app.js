// prof's web UI. A timeline of intervals (drag to select a range), the range as an interactive
// flamegraph (hover, click to zoom, search, reset) with a top table, and a diff mode comparing a
// base range with a new one. State is kept in the URL hash so views can be linked. Symbol names
// only ever enter the page through textContent / title, never as HTML.
'use strict';

const state = {
  intervals: [],
  sel: null, // [first, last] interval indices
  mode: 'profile',
  base: null, // {from, to}
  next: null, // {from, to}
  flame: null, // {root, total}
  zoom: [], // path of names from the root
  prefetch: null, // {q, res}: a range.json request started before the interval list arrived
  frames: [], // what renderFlame drew, by the index in each frame's data-i
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function iso(ns) {
  return new Date(Number(BigInt(ns) / 1000000n)).toISOString().replace('.000Z', 'Z');
}

function selRange() {
  if (!state.sel) return null;
  const a = state.intervals[Math.min(...state.sel)];
  const b = state.intervals[Math.max(...state.sel)];
  return { from: String(a.start_unix_ns), to: String(b.end_unix_ns) };
}

function query(r, comm = $('comm').value) {
  const q = new URLSearchParams({ from: r.from, to: r.to });
  if (comm.trim()) q.set('comm', comm.trim());
  return q.toString();
}

// ---- URL hash state ----

function writeHash() {
  const h = new URLSearchParams();
  h.set('mode', state.mode);
  const r = selRange();
  if (r) {
    h.set('from', r.from);
    h.set('to', r.to);
  }
  if (state.base) h.set('base', `${state.base.from}-${state.base.to}`);
  if (state.next) h.set('new', `${state.next.from}-${state.next.to}`);
  const comm = $('comm').value.trim();
  if (comm) h.set('comm', comm);
  history.replaceState(null, '', `#${h.toString()}`);
}

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const pair = (v) => {
    if (!v) return null;
    const [from, to] = v.split('-');
    return from && to ? { from, to } : null;
  };
  if (h.get('comm')) $('comm').value = h.get('comm');
  state.base = pair(h.get('base'));
  state.next = pair(h.get('new'));
  const from = h.get('from');
  const to = h.get('to');
  if (from && to && state.intervals.length) {
    const idx = (ns) => state.intervals.findIndex((iv) => BigInt(iv.end_unix_ns) > BigInt(ns));
    let a = idx(from);
    let b = state.intervals.findIndex((iv) => BigInt(iv.end_unix_ns) >= BigInt(to));
    if (a < 0) a = 0;
    if (b < 0) b = state.intervals.length - 1;
    state.sel = [a, b];
  }
  return h.get('mode') === 'diff' ? 'diff' : 'profile';
}

// ---- timeline with drag selection ----
// A long directory (a day of 10 s archives is 8,640 intervals) is drawn as at most MAX_BARS bars,
// each a run of consecutive intervals; selections still cover whole intervals.

const MAX_BARS = 720;
let groups = []; // [first, last] interval indices per bar
let dragAnchor = null; // bar index where the drag started

function groupIntervals() {
  const n = state.intervals.length;
  const per = Math.max(1, Math.ceil(n / MAX_BARS));
  groups = [];
  for (let i = 0; i < n; i += per) groups.push([i, Math.min(n, i + per) - 1]);
}

function renderTimeline() {
  const box = $('timeline');
  box.replaceChildren();
  const sums = groups.map(([a, b]) => {
    let samples = 0;
    let lost = 0;
    let events = 0;
    for (let i = a; i <= b; i++) {
      samples += state.intervals[i].samples;
      lost += state.intervals[i].lost;
      events += state.intervals[i].events_lost;
    }
    return { samples, lost, events };
  });
  const max = Math.max(1, ...sums.map((g) => g.samples));
  groups.forEach(([a, b], idx) => {
    const bar = el('div', undefined, 'bar');
    bar.setAttribute('role', 'listitem');
    bar.dataset.index = String(idx);
    const span = a === b ? iso(state.intervals[a].start_unix_ns) : `${iso(state.intervals[a].start_unix_ns)} – ${iso(state.intervals[b].end_unix_ns)}`;
    bar.title = `${span}: ${sums[idx].samples} samples, ${sums[idx].lost} lost, ${sums[idx].events} process notifications lost`;
    if (sums[idx].events > 0) bar.classList.add('events-lost');
    bar.style.height = `${Math.max(2, (100 * sums[idx].samples) / max)}%`;
    box.appendChild(bar);
  });
  markTimeline();
}

/** Updates the bars' classes and the range text for the selection (no re-render). */
function markTimeline() {
  const [lo, hi] = state.sel ? [Math.min(...state.sel), Math.max(...state.sel)] : [-1, -1];
  const within = (r, iv) => r && BigInt(iv.start_unix_ns) >= BigInt(r.from) && BigInt(iv.end_unix_ns) <= BigInt(r.to);
  const bars = $('timeline').children;
  groups.forEach(([a, b], idx) => {
    const bar = bars[idx];
    if (!bar) return;
    const selected = b >= lo && a <= hi;
    bar.classList.toggle('selected', selected);
    bar.classList.toggle('base', !selected && state.mode === 'diff' && within(state.base, state.intervals[a]));
    bar.classList.toggle('new', !selected && state.mode === 'diff' && within(state.next, state.intervals[a]));
  });
  const r = selRange();
  $('range').textContent = r ? `selected ${iso(r.from)} – ${iso(r.to)}` : '';
}

function barIndex(ev) {
  const t = ev.target;
  return t && t.classList && t.classList.contains('bar') ? Number(t.dataset.index) : null;
}

function selectBars(g, h) {
  const [a, b] = [Math.min(g, h), Math.max(g, h)];
  state.sel = [groups[a][0], groups[b][1]];
  markTimeline();
}

function setupTimeline() {
  const box = $('timeline');
  box.addEventListener('mousedown', (ev) => {
    const i = barIndex(ev);
    if (i === null) return;
    dragAnchor = i;
    selectBars(i, i);
    ev.preventDefault();
  });
  box.addEventListener('mouseover', (ev) => {
    const i = barIndex(ev);
    if (dragAnchor === null || i === null) return;
    selectBars(dragAnchor, i);
  });
  window.addEventListener('mouseup', () => {
    if (dragAnchor === null) return;
    dragAnchor = null;
    writeHash();
    if (state.mode === 'profile') showProfile();
  });
}

/** The intervals of the last hour of the directory (the default view: a day of archives
 * would take long to merge and nobody reads it at once). */
function lastHour() {
  const n = state.intervals.length;
  const end = BigInt(state.intervals[n - 1].end_unix_ns);
  const hour = 3600n * 1000000000n;
  let a = n - 1;
  while (a > 0 && BigInt(state.intervals[a - 1].start_unix_ns) >= end - hour) a--;
  return [a, n - 1];
}

// ---- flamegraph ----

function kindOf(name, depth) {
  if (depth === 0) return 'root';
  if (name.endsWith('_[k]')) return 'kernel';
  if (name.endsWith('_[i]')) return 'inline';
  if (name.startsWith('[missing ')) return 'placeholder';
  return 'user';
}

/** The flame tree of /api/range.json's reply: stacks are [count, name index, …], root first. */
function buildTree(names, stacks) {
  const root = { name: 'all', value: 0, children: new Map() };
  for (const s of stacks) {
    const count = s[0];
    root.value += count;
    let node = root;
    for (let k = 1; k < s.length; k++) {
      const f = names[s[k]];
      let child = node.children.get(f);
      if (!child) {
        child = { name: f, value: 0, children: new Map() };
        node.children.set(f, child);
      }
      child.value += count;
      node = child;
    }
  }
  return root;
}

function searchRegex() {
  const text = $('search').value.trim();
  if (!text) return null;
  try {
    return new RegExp(text);
  } catch (e) {
    return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}

/** Hover details and click-to-zoom for every frame the flamegraph draws. */
function setupFlame() {
  const box = $('flame');
  const frameOf = (e) => {
    const d = e.target.closest('.frame');
    return d && box.contains(d) ? d : null;
  };
  box.addEventListener('mouseover', (e) => {
    const d = frameOf(e);
    if (d) $('details').textContent = d.title;
  });
  box.addEventListener('click', (e) => {
    const d = frameOf(e);
    const f = d && state.frames[Number(d.dataset.i)];
    if (!f) return;
    state.zoom = f.path;
    renderFlame();
  });
}

function renderFlame() {
  const box = $('flame');
  box.replaceChildren();
  if (!state.flame) return;
  const { root } = state.flame;
  const re = searchRegex();
  const ROW = 18;
  const MIN = 0.001; // frames narrower than 0.1% of the view are not drawn
  // Walk down the zoom path; ancestors are drawn full width.
  let node = root;
  const ancestors = [];
  for (const name of state.zoom) {
    const next = node.children.get(name);
    if (!next) break;
    ancestors.push(node);
    node = next;
  }
  let depthMax = 0;
  let matched = 0;
  const frames = [];
  const place = (n, depth, x, w, path, ancestor, countMatch) => {
    depthMax = Math.max(depthMax, depth);
    const isMatch = re !== null && depth > 0 && re.test(n.name);
    if (isMatch && countMatch) matched += n.value;
    frames.push({ n, depth, x, w, path, ancestor, isMatch });
    if (ancestor) return;
    let cx = x;
    const kids = [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const k of kids) {
      const kw = (w * k.value) / n.value;
      if (kw >= MIN) place(k, depth + 1, cx, kw, path.concat([k.name]), false, countMatch && !isMatch);
      cx += kw;
    }
  };
  ancestors.forEach((a, i) => place(a, i, 0, 1, state.zoom.slice(0, i), true, false));
  place(node, ancestors.length, 0, 1, state.zoom.slice(0, ancestors.length), false, true);
  // Built off the page and attached once: one layout for thousands of frames. Hover and click
  // are handled once for the whole box (setupFlame), through each frame's index.
  state.frames = frames;
  const fragment = document.createDocumentFragment();
  for (const [i, f] of frames.entries()) {
    const d = el('div', f.depth === 0 ? `all (${root.value} samples)` : f.n.name, `frame ${kindOf(f.n.name, f.depth)}`);
    if (f.ancestor) d.classList.add('ancestor');
    if (f.isMatch) d.classList.add('match');
    d.style.left = `${f.x * 100}%`;
    d.style.width = `${f.w * 100}%`;
    d.style.top = `${f.depth * ROW}px`;
    const pct = ((100 * f.n.value) / root.value).toFixed(2);
    d.title = `${f.n.name}: ${f.n.value} samples (${pct}%)`;
    d.dataset.i = String(i);
    fragment.appendChild(d);
  }
  box.appendChild(fragment);
  box.style.height = `${(depthMax + 1) * ROW + 4}px`;
  $('matched').textContent = re ? `matched ${((100 * matched) / root.value).toFixed(2)}% of samples` : '';
}

// ---- views ----

function setDownloads(r) {
  const box = $('downloads');
  box.replaceChildren();
  if (!r) return;
  const q = query(r);
  for (const [label, path] of [['SVG', 'range.svg'], ['folded', 'range.folded'], ['archive', 'range.prof']]) {
    const a = el('a', label);
    a.href = `/api/${path}?${q}`;
    a.setAttribute('download', '');
    box.appendChild(a);
  }
}

async function showProfile() {
  const r = selRange();
  setDownloads(r);
  if (!r) return;
  const q = query(r);
  // The page asked for this range while the interval list was loading.
  const pending = state.prefetch && state.prefetch.q === q ? state.prefetch.res : fetch(`/api/range.json?${q}`);
  state.prefetch = null;
  const res = await pending;
  const tbody = document.querySelector('#top tbody');
  tbody.replaceChildren();
  $('losses').replaceChildren();
  if (!res.ok) {
    state.flame = null;
    renderFlame();
    $('flame-title').textContent = await res.text();
    return;
  }
  const data = await res.json();
  state.flame = { root: buildTree(data.names, data.stacks), total: data.total };
  state.zoom = [];
  $('flame-title').textContent = `${data.title}${data.subtitle ? ' — ' + data.subtitle : ''}`;
  renderLosses(data.losses, data.notes);
  renderFlame();
  for (const row of data.top) {
    const tr = el('tr');
    tr.append(el('td', row.self_pct.toFixed(2)), el('td', row.total_pct.toFixed(2)), el('td', row.function), el('td', row.module));
    tbody.appendChild(tr);
  }
}

/** The range's losses (samples, process notifications) and the recording's notes, as text. */
function renderLosses(losses, notes) {
  const box = $('losses');
  const parts = [`${losses.samples} samples lost or degraded`, `${losses.events} process notifications lost (ring buffer full)`];
  box.appendChild(el('li', parts.join('; '), losses.samples + losses.events > 0 ? 'lost' : undefined));
  for (const note of notes) box.appendChild(el('li', note, 'note'));
}

async function showDiff() {
  const tbody = document.querySelector('#diff-table tbody');
  tbody.replaceChildren();
  const fmt = (r) => (r ? `${iso(r.from)} – ${iso(r.to)}` : 'not set');
  $('diff-ranges').textContent = `base: ${fmt(state.base)}; new: ${fmt(state.next)}`;
  if (!state.base || !state.next) {
    $('diff-title').textContent = 'select a range and use it as base, then another as new';
    return;
  }
  const q = new URLSearchParams({ base_from: state.base.from, base_to: state.base.to, new_from: state.next.from, new_to: state.next.to });
  const comm = $('comm').value.trim();
  if (comm) q.set('comm', comm);
  $('diffsvg').src = `/api/diff.svg?${q}`;
  const res = await fetch(`/api/diff.json?${q}`);
  if (!res.ok) {
    $('diff-title').textContent = await res.text();
    return;
  }
  const d = await res.json();
  const sig = d.functions.filter((f) => f.significant).length;
  $('diff-title').textContent = `${d.base.samples} → ${d.new.samples} samples; ${sig} of ${d.functions.length} functions changed significantly (${d.test}, q ≤ ${d.alpha})`;
  for (const f of d.functions.slice(0, 40)) {
    const tr = el('tr');
    if (f.significant) tr.className = 'significant';
    tr.append(
      el('td', f.base_total_pct.toFixed(2)),
      el('td', f.new_total_pct.toFixed(2)),
      el('td', (f.delta_points >= 0 ? '+' : '') + f.delta_points.toFixed(2)),
      el('td', f.significant ? `yes (q=${f.q_value.toExponential(1)})` : 'no'),
      el('td', f.function),
    );
    tbody.appendChild(tr);
  }
}

function setMode(mode) {
  state.mode = mode;
  $('mode-profile').classList.toggle('active', mode === 'profile');
  $('mode-diff').classList.toggle('active', mode === 'diff');
  $('profile-view').hidden = mode !== 'profile';
  $('diff-view').hidden = mode !== 'diff';
  $('diff-controls').hidden = mode !== 'diff';
  writeHash();
  renderTimeline();
  if (mode === 'diff') showDiff();
  else showProfile();
}

async function load() {
  // A link to a range (the URL hash) needs the interval list only to draw the timeline: ask for
  // the range at the same time, so the two are read in parallel.
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('mode') !== 'diff' && h.get('from') && h.get('to')) {
    const q = query({ from: h.get('from'), to: h.get('to') }, h.get('comm') || '');
    state.prefetch = { q, res: fetch(`/api/range.json?${q}`) };
  }
  const res = await fetch('/api/intervals');
  state.intervals = res.ok ? await res.json() : [];
  const n = state.intervals.length;
  $('status').textContent = n
    ? `${n} intervals, ${iso(state.intervals[0].start_unix_ns)} – ${iso(state.intervals[n - 1].end_unix_ns)}`
    : 'no archives in this directory yet';
  if (n) state.sel = lastHour();
  groupIntervals();
  const mode = readHash();
  setupTimeline();
  setupFlame();
  $('mode-profile').addEventListener('click', () => setMode('profile'));
  $('mode-diff').addEventListener('click', () => setMode('diff'));
  $('set-base').addEventListener('click', () => {
    state.base = selRange();
    writeHash();
    markTimeline();
    showDiff();
  });
  $('set-new').addEventListener('click', () => {
    state.next = selRange();
    writeHash();
    markTimeline();
    showDiff();
  });
  $('compare').addEventListener('click', showDiff);
  $('search').addEventListener('input', renderFlame);
  $('reset').addEventListener('click', () => {
    state.zoom = [];
    $('search').value = '';
    renderFlame();
  });
  $('comm').addEventListener('change', () => {
    writeHash();
    if (state.mode === 'diff') showDiff();
    else showProfile();
  });
  setMode(mode);
}

document.addEventListener('DOMContentLoaded', load);
