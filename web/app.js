// prof's web UI. A timeline of intervals with a time axis and a y scale, stacked by the top
// processes of the selection (drag to select a range); the range as an interactive flamegraph or
// icicle (hover, click to zoom, search, reset) with a top table; a process picker with fuzzy
// matching and a cgroup picker; light and dark themes; keyboard shortcuts (? lists them); and a
// diff mode comparing a base range with a new one. State is kept in the URL hash so views can be
// linked. Symbol, process and cgroup names only ever enter the page through textContent / title,
// never as HTML.
'use strict';

import { buildTree, drawFlame, escapeRegex, kindOf, label, onFrames, searchRegex } from './flame.js';
import { fuzzyScore } from './fuzzy.js';
import { sandwich } from './sandwich.js';
import { COLUMNS, functionRows, sortRows } from './table.js';
import { setupDiff, showDiff as drawDiff } from './diff.js';
import { $, el } from './dom.js';
import { amount, axisLabel, noun, unitOf } from './units.js';

const state = {
  intervals: [],
  startIndex: new Map(), // interval start (ns, as a string) → index in intervals
  sel: null, // [first, last] interval indices
  mode: 'profile',
  base: null, // {from, to}
  next: null, // {from, to}
  comm: '', // the process filter ('' = all)
  cgroup: '', // the cgroup filter: a path, its cgroup and those below it ('' = all)
  processes: null, // /api/processes.json of the selection: {key, processes, intervals}
  flame: null, // {root, total}
  zoom: [], // path of names from the root
  layout: 'icicle', // or 'flame' (root at the bottom)
  prefetch: null, // {q, res}: a range.json request started before the interval list arrived
  frames: [], // what renderFlame drew, by the index in each frame's data-i
  top: [], // the top table's rows, as shown
  topIndex: -1, // the top table's row chosen with the arrow keys
  sort: { key: 'self', desc: true }, // the top table's order
  moduleOf: new Map(), // function label → module, from /api/range.json
  focus: null, // the function chosen in the top table: its frames are outlined
  sandwich: null, // the function whose callers and callees are shown instead of the graph
  pickIndex: 0, // the process picker's highlighted entry
};

/** Parses JSON whose nanosecond fields do not fit a double's 53 bits: they are kept as strings
 * (exact), as BigInt and URLs use them. */
function parseNs(text) {
  return JSON.parse(text.replace(/"(start_unix_ns|end_unix_ns)":(\d+)/g, '"$1":"$2"'));
}

// ---- local time ----

const pad = (n) => String(n).padStart(2, '0');
const dateOf = (ns) => new Date(Number(BigInt(ns) / 1000000n));
const msOf = (ns) => Number(BigInt(ns) / 1000000n);
const clock = (d, secs = true) => `${pad(d.getHours())}:${pad(d.getMinutes())}${secs ? `:${pad(d.getSeconds())}` : ''}`;
const day = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
const sameDay = (a, b) => day(a) === day(b);

/** `from` – `to` in local time: HH:MM:SS, with the dates when the two are on different days. */
function fmtSpan(from, to) {
  const [a, b] = [dateOf(from), dateOf(to)];
  return sameDay(a, b) ? `${clock(a)} – ${clock(b)}` : `${day(a)} ${clock(a)} – ${day(b)} ${clock(b)}`;
}

/** A duration in ns as "4.0 s", "12 min", "3.5 h". */
function fmtDuration(ns) {
  const s = Number(BigInt(ns) / 1000000n) / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(s < 600 ? 1 : 0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The unit of interval `iv` of /api/intervals.json (samples unless it says otherwise). */
const unitOfInterval = (iv) => unitOf(iv.unit, iv.measure);

/** The unit of the timeline: its newest interval's (a range of mixed kinds of time is the newest
 * archive's kind; the server leaves the others out). */
function timelineUnit() {
  const n = state.intervals.length;
  return n ? unitOfInterval(state.intervals[n - 1]) : unitOf();
}

/** The unit of what the picker and the stacked timeline count (the selection's newest
 * interval's). */
function selectionUnit() {
  if (!state.sel) return timelineUnit();
  return unitOfInterval(state.intervals[Math.max(...state.sel)]);
}

function selRange() {
  if (!state.sel) return null;
  const a = state.intervals[Math.min(...state.sel)];
  const b = state.intervals[Math.max(...state.sel)];
  return { from: String(a.start_unix_ns), to: String(b.end_unix_ns) };
}

function query(r, comm = state.comm, cgroup = state.cgroup) {
  const q = new URLSearchParams({ from: r.from, to: r.to });
  if (comm) q.set('comm', comm);
  if (cgroup) q.set('cgroup', cgroup);
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
  if (state.comm) h.set('comm', state.comm);
  if (state.cgroup) h.set('cgroup', state.cgroup);
  if (state.layout !== 'icicle') h.set('layout', state.layout);
  if (state.sort.key !== 'self' || !state.sort.desc) h.set('sort', `${state.sort.desc ? '-' : ''}${state.sort.key}`);
  if (state.sandwich !== null) h.set('sandwich', state.sandwich);
  history.replaceState(null, '', `#${h.toString()}`);
}

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const pair = (v) => {
    if (!v) return null;
    const [from, to] = v.split('-');
    return from && to ? { from, to } : null;
  };
  state.comm = (h.get('comm') || '').trim();
  $('comm').value = state.comm;
  state.cgroup = h.get('cgroup') || '';
  renderCgroups();
  state.layout = h.get('layout') === 'flame' ? 'flame' : 'icicle';
  const sort = (h.get('sort') || '').replace(/^-/, '');
  if (COLUMNS.some((c) => c.key === sort)) state.sort = { key: sort, desc: (h.get('sort') || '').startsWith('-') };
  state.sandwich = h.get('sandwich');
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
// each a run of `per` consecutive intervals; selections still cover whole intervals. The bars of
// the selection are stacked by its TOP_PROCESSES processes (the rest is "other").

const MAX_BARS = 720;
const TOP_PROCESSES = 6;
let groups = []; // [first, last] interval indices per bar
let per = 1; // intervals per bar
let bars = []; // per bar: {samples, lost, events, span, counts (per top process and other) or null}
let dragAnchor = null; // bar index where the drag started

function groupIntervals() {
  const n = state.intervals.length;
  per = Math.max(1, Math.ceil(n / MAX_BARS));
  groups = [];
  for (let i = 0; i < n; i += per) groups.push([i, Math.min(n, i + per) - 1]);
}

/** Each bar's samples by the selection's top processes, from /api/processes.json (null for bars
 * it did not cover). */
function barCounts() {
  const counts = groups.map(() => null);
  const p = state.processes;
  if (!p) return counts;
  const k = Math.min(TOP_PROCESSES, p.processes.length);
  for (const row of p.intervals) {
    const i = state.startIndex.get(row.start_unix_ns);
    if (i === undefined) continue;
    const g = Math.floor(i / per);
    if (!counts[g]) counts[g] = new Array(k + 1).fill(0);
    let listed = 0;
    for (const [pi, n] of row.by_process) {
      if (pi < k) {
        counts[g][pi] += n;
        listed += n;
      }
    }
    counts[g][k] += Math.max(0, row.samples - listed);
  }
  return counts;
}

function renderTimeline() {
  const box = $('timeline');
  box.replaceChildren();
  const counts = barCounts();
  bars = groups.map(([a, b], idx) => {
    const bar = { samples: 0, lost: 0, events: 0, counts: counts[idx], unit: unitOfInterval(state.intervals[b]) };
    for (let i = a; i <= b; i++) {
      bar.samples += state.intervals[i].samples;
      bar.lost += state.intervals[i].lost;
      bar.events += state.intervals[i].events_lost;
    }
    bar.span = a === b && per === 1
      ? fmtSpan(state.intervals[a].start_unix_ns, state.intervals[a].end_unix_ns)
      : fmtSpan(state.intervals[a].start_unix_ns, state.intervals[b].end_unix_ns);
    return bar;
  });
  const max = Math.max(1, ...bars.map((g) => g.samples));
  const fragment = document.createDocumentFragment();
  bars.forEach((g, idx) => {
    const bar = el('div', undefined, 'bar');
    bar.setAttribute('role', 'listitem');
    bar.dataset.index = String(idx);
    bar.title = `${g.span}: ${amount(g.samples, g.unit)}, ${g.lost}${g.unit.ns ? ' blocks' : ''} lost, ${g.events} process notifications lost`;
    if (g.events > 0) bar.classList.add('events-lost');
    bar.style.height = `${Math.max(2, (100 * g.samples) / max)}%`;
    const sum = g.counts ? g.counts.reduce((x, y) => x + y, 0) : 0;
    if (sum > 0) {
      bar.classList.add('stacked');
      g.counts.forEach((n, pi) => {
        if (n === 0) return;
        const seg = el('div', undefined, `seg ${pi === g.counts.length - 1 ? 'cother' : `c${pi}`}`);
        seg.style.height = `${(100 * n) / sum}%`;
        bar.appendChild(seg);
      });
    }
    fragment.appendChild(bar);
  });
  box.appendChild(fragment);
  renderYAxis(max);
  renderAxis();
  renderLegend();
  markTimeline();
}

/** The y scale: samples (or time) per bar at round values (a step of 1, 2 or 5 × 10^k, 2 to 4
 * labels). */
function renderYAxis(max) {
  const unit = timelineUnit();
  const box = $('yaxis');
  box.replaceChildren();
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(1, max / 3)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((x) => max / x <= 3.5) || 10 * magnitude;
  for (let v = 0; v <= max; v += step) {
    const s = el('span', axisLabel(v, unit));
    s.style.top = `${(1 - v / max) * 100}%`;
    box.appendChild(s);
  }
  const what = noun(unit);
  box.appendChild(el('span', per === 1 ? what : `${what} / ${per} int.`, 'unit'));
  box.title = per === 1 ? `${what} per interval` : `${what} per bar (each bar is ${per} intervals)`;
}

// Tick steps of the time axis, in seconds: the smallest that leaves ~90 px per label is used.
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Local-time labels under the bars at round times (HH:MM:SS, HH:MM for whole minutes, with the
 * date where a day starts when the directory spans days). Bars are not proportional to time
 * (gaps between recordings take no room), so each tick is placed in the bar that holds it. */
function renderAxis() {
  const box = $('axis');
  box.replaceChildren();
  if (!groups.length) return;
  const starts = groups.map(([a]) => msOf(state.intervals[a].start_unix_ns));
  const ends = groups.map(([, b]) => msOf(state.intervals[b].end_unix_ns));
  const [t0, t1] = [starts[0], ends[ends.length - 1]];
  const width = box.clientWidth || 1000;
  const most = Math.max(2, Math.floor(width / 90));
  const stepS = TICK_STEPS.find((s) => (t1 - t0) / (s * 1000) <= most) || 86400 * Math.ceil((t1 - t0) / 86400000 / most);
  const step = stepS * 1000;
  const spansDays = !sameDay(new Date(t0), new Date(t1));
  // Round local times: aligned on the local midnight of the first interval.
  const midnight = new Date(t0);
  midnight.setHours(0, 0, 0, 0);
  let t = midnight.getTime() + Math.ceil((t0 - midnight.getTime()) / step) * step;
  let lastX = -Infinity;
  let lastDay = spansDays ? '' : day(new Date(t0));
  const fragment = document.createDocumentFragment();
  for (let g = 0; t <= t1 && fragment.childNodes.length < 200; t += step) {
    while (g < groups.length - 1 && ends[g] <= t) g++;
    if (t < starts[g]) continue; // in a gap between recordings
    const frac = Math.min(1, (t - starts[g]) / Math.max(1, ends[g] - starts[g]));
    const x = ((g + frac) / groups.length) * width;
    if (x - lastX < 80) continue;
    const d = new Date(t);
    const label = clock(d, stepS < 60 || d.getSeconds() !== 0);
    const s = el('span', day(d) !== lastDay ? `${day(d)} ${label}` : label);
    lastDay = day(d);
    s.style.left = `${(100 * x) / width}%`;
    fragment.appendChild(s);
    lastX = x;
  }
  box.appendChild(fragment);
}

/** The legend of the stacked bars: the selection's top processes with their share. */
function renderLegend() {
  const box = $('legend');
  box.replaceChildren();
  const p = state.processes;
  if (!p || !p.processes.length) return;
  const total = p.intervals.reduce((x, row) => x + row.samples, 0) || 1;
  const k = Math.min(TOP_PROCESSES, p.processes.length);
  const item = (name, n, cls) => {
    const li = el('li');
    li.append(el('span', undefined, `swatch ${cls}`), el('span', `${name} ${((100 * n) / total).toFixed(1)}%`));
    box.appendChild(li);
  };
  p.processes.slice(0, k).forEach((proc, i) => item(proc.comm, proc.samples, `c${i}`));
  const rest = total - p.processes.slice(0, k).reduce((x, proc) => x + proc.samples, 0);
  if (rest > 0) item(`other (${p.processes.length - k} processes)`, rest, 'cother');
}

/** What the tip line under the timeline says about bar `idx`: its span, samples and each
 * process's share. */
function barTip(idx) {
  const g = bars[idx];
  if (!g) return '';
  let text = `${g.span}: ${amount(g.samples, g.unit)}`;
  if (g.lost) text += `, ${g.lost} lost`;
  const sum = g.counts ? g.counts.reduce((x, y) => x + y, 0) : 0;
  if (sum > 0) {
    const names = state.processes.processes;
    const shares = g.counts
      .map((n, pi) => [pi === g.counts.length - 1 ? 'other' : names[pi].comm, n])
      .filter(([, n]) => n > 0)
      .sort((x, y) => y[1] - x[1])
      .map(([name, n]) => `${name} ${((100 * n) / sum).toFixed(1)}%`);
    text += ` — ${shares.join(', ')}`;
  }
  return text;
}

/** Updates the bars' classes and the range text for the selection (no re-render). */
function markTimeline() {
  const [lo, hi] = state.sel ? [Math.min(...state.sel), Math.max(...state.sel)] : [-1, -1];
  const within = (r, iv) => r && BigInt(iv.start_unix_ns) >= BigInt(r.from) && BigInt(iv.end_unix_ns) <= BigInt(r.to);
  const els = $('timeline').children;
  groups.forEach(([a, b], idx) => {
    const bar = els[idx];
    if (!bar) return;
    const selected = b >= lo && a <= hi;
    bar.classList.toggle('selected', selected);
    bar.classList.toggle('base', state.mode === 'diff' && within(state.base, state.intervals[a]));
    bar.classList.toggle('new', state.mode === 'diff' && within(state.next, state.intervals[a]));
  });
  const r = selRange();
  if (!r) {
    $('range').textContent = '';
    return;
  }
  // Intervals of another kind of time are not added in (the server leaves them out).
  const unit = selectionUnit();
  const same = (u) => u.ns === unit.ns && u.measure === unit.measure;
  let [samples, other] = [0, 0];
  for (let i = lo; i <= hi; i++) {
    if (same(unitOfInterval(state.intervals[i]))) samples += state.intervals[i].samples;
    else other += 1;
  }
  const n = hi - lo + 1;
  const others = other ? `; ${other} of another kind left out` : '';
  $('range').textContent = `selected ${fmtSpan(r.from, r.to)} (${fmtDuration(BigInt(r.to) - BigInt(r.from))}, ` +
    `${n} interval${n === 1 ? '' : 's'}, ${amount(samples, unit)}${others})`;
}

function barIndex(ev) {
  const t = ev.target && ev.target.closest ? ev.target.closest('.bar') : null;
  return t ? Number(t.dataset.index) : null;
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
    if (i === null) return;
    $('bar-tip').textContent = barTip(i);
    if (dragAnchor !== null) selectBars(dragAnchor, i);
  });
  box.addEventListener('mouseleave', () => {
    $('bar-tip').textContent = '';
  });
  window.addEventListener('mouseup', () => {
    if (dragAnchor === null) return;
    dragAnchor = null;
    writeHash();
    if (state.mode === 'profile') showProfile();
    else loadProcesses(selRange());
  });
  window.addEventListener('resize', renderAxis);
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

// ---- process picker ----

/** The processes the picker lists for what was typed: best matches first, then most samples. */
function pickerMatches(text) {
  if (!state.processes) return [];
  return state.processes.processes
    .map((p) => ({ p, score: fuzzyScore(text, p.comm) }))
    .filter((m) => m.score !== null)
    .sort((x, y) => x.score - y.score || y.p.samples - x.p.samples)
    .map((m) => m.p);
}

function processItem(p, pick) {
  const li = el('li');
  li.setAttribute('role', 'option');
  li.append(el('span', p.comm), el('span', `${p.pids} pid${p.pids === 1 ? '' : 's'}`, 'n'), el('span', amount(p.samples, selectionUnit()), 'n'));
  if (pick) li.dataset.comm = p.comm;
  return li;
}

function renderPicker() {
  const list = $('comm-list');
  list.replaceChildren();
  const text = $('comm').value.trim();
  if (!state.processes) {
    list.appendChild(el('li', 'the selection\'s processes are loading…', 'none'));
    return;
  }
  const matches = pickerMatches(text).slice(0, 200);
  if (text && !matches.length) {
    list.appendChild(el('li', `no process matches “${text}”; the selection's processes:`, 'none'));
    for (const p of state.processes.processes.slice(0, 200)) list.appendChild(processItem(p, true));
  } else {
    if (!text) {
      const all = el('li');
      all.dataset.comm = '';
      const total = state.processes.processes.reduce((x, p) => x + p.samples, 0);
      all.append(el('span', 'all processes'), el('span', `${state.processes.processes.length} names`, 'n'), el('span', amount(total, selectionUnit()), 'n'));
      list.appendChild(all);
    }
    for (const p of matches) list.appendChild(processItem(p, true));
  }
  const options = list.querySelectorAll('li[data-comm]');
  state.pickIndex = Math.max(0, Math.min(state.pickIndex, options.length - 1));
  options.forEach((li, i) => li.classList.toggle('active', i === state.pickIndex));
}

function openPicker(open) {
  $('comm-list').hidden = !open;
  $('comm').setAttribute('aria-expanded', String(open));
  if (open) renderPicker();
}

/** Filters the view to process `comm` ('' for all). */
function choose(comm) {
  state.comm = comm;
  $('comm').value = comm;
  openPicker(false);
  writeHash();
  if (state.mode === 'diff') showDiff();
  else showProfile();
}

function setupPicker() {
  const input = $('comm');
  const list = $('comm-list');
  input.addEventListener('focus', () => {
    state.pickIndex = 0;
    openPicker(true);
  });
  input.addEventListener('input', () => {
    state.pickIndex = 0;
    openPicker(true);
  });
  input.addEventListener('blur', () => {
    openPicker(false);
    input.value = state.comm;
  });
  input.addEventListener('keydown', (e) => {
    const options = list.querySelectorAll('li[data-comm]');
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (list.hidden) openPicker(true);
      state.pickIndex = Math.max(0, Math.min(options.length - 1, state.pickIndex + (e.key === 'ArrowDown' ? 1 : -1)));
      options.forEach((li, i) => li.classList.toggle('active', i === state.pickIndex));
      if (options[state.pickIndex]) options[state.pickIndex].scrollIntoView({ block: 'nearest' });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      // With nothing typed, Enter keeps all processes.
      if (!input.value.trim()) choose('');
      else if (options[state.pickIndex] && pickerMatches(input.value.trim()).length) choose(options[state.pickIndex].dataset.comm);
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      input.blur();
    }
  });
  // mousedown, not click: the input's blur would close the list first.
  list.addEventListener('mousedown', (e) => {
    const li = e.target.closest('li[data-comm]');
    e.preventDefault();
    if (li) choose(li.dataset.comm);
  });
  $('comm-clear').addEventListener('click', () => choose(''));
  $('cgroup').addEventListener('change', (e) => chooseCgroup(e.target.value));
}

// ---- cgroup picker ----

/** The cgroup picker: all cgroups (no filter: every sample of the selection), then the
 * selection's cgroups by path (indented by depth), each with its samples, those of the cgroups
 * below it included. Hidden when no sample has a cgroup (archives of a prof that did not record
 * them) and none is chosen. */
function renderCgroups() {
  const select = $('cgroup');
  const list = state.processes ? state.processes.cgroups || [] : [];
  const option = (value, text) => {
    const o = el('option', text);
    o.value = value;
    return o;
  };
  // Every sample of the selection, those without a cgroup too.
  const total = state.processes ? state.processes.intervals.reduce((x, iv) => x + iv.samples, 0) : 0;
  const unit = selectionUnit();
  const options = [option('', `all cgroups${list.length ? ` (${amount(total, unit)})` : ''}`)];
  for (const c of list) {
    const depth = c.path.startsWith('/') ? c.path.split('/').length - 2 : 0;
    options.push(option(c.path, `${'\u00a0\u00a0'.repeat(Math.min(depth, 8))}${c.path} (${amount(c.samples, unit)})`));
  }
  if (state.cgroup && !list.some((c) => c.path === state.cgroup)) {
    options.push(option(state.cgroup, `${state.cgroup} (no samples in the selection)`));
  }
  select.replaceChildren(...options);
  select.value = state.cgroup;
  $('cgroup-picker').hidden = !list.length && !state.cgroup;
}

/** Filters the view to cgroup `path` and those below it ('' for all). */
function chooseCgroup(path) {
  state.cgroup = path;
  writeHash();
  if (state.mode === 'diff') showDiff();
  else showProfile();
}

/** Under the flamegraph: the filter names no process of the selection, and which it has. */
function renderNoMatch() {
  const box = $('no-match');
  const p = state.processes;
  const none = state.comm && p && !p.processes.some((x) => x.comm === state.comm);
  box.hidden = !none;
  if (!none) return;
  const names = p.processes.slice(0, 20).map((x) => `${x.comm} (${x.samples})`).join(', ');
  box.textContent = `no samples of a process named “${state.comm}” in the selection; its processes: ${names || 'none'}` +
    (p.processes.length > 20 ? `, and ${p.processes.length - 20} more (see the process list)` : '');
}

/** Asks for the selection's processes (for the stacked timeline, the legend and the picker). */
async function loadProcesses(r) {
  const q = new URLSearchParams({ from: r.from, to: r.to }).toString();
  if (state.processes && state.processes.key === q) return;
  const res = await fetch(`/api/processes.json?${q}`);
  const current = selRange();
  if (!current || current.from !== r.from || current.to !== r.to) return; // the selection moved on
  let error = null;
  if (res.ok) {
    state.processes = { key: q, ...parseNs(await res.text()) };
  } else {
    state.processes = null;
    error = `no breakdown by process: ${(await res.text()).trim()}`;
  }
  renderTimeline();
  if (error) $('legend').replaceChildren(el('li', error));
  renderNoMatch();
  renderCgroups();
  if (!$('comm-list').hidden) renderPicker();
}

// ---- flamegraph ----

/** Hover details and click-to-zoom for every frame the flamegraph draws. */
function setupFlame() {
  onFrames($('flame'), () => state.frames, (f, d) => {
    $('details').textContent = d.title;
  }, (f) => {
    state.zoom = f.path;
    renderFlame();
  });
}

function renderFlame() {
  const box = $('flame');
  if (!state.flame) {
    box.replaceChildren();
    state.frames = [];
    return;
  }
  const { root } = state.flame;
  const re = searchRegex($('search').value);
  const drawn = drawFlame(box, root, { zoom: state.zoom, layout: state.layout, re, decorate: decorateFocus });
  state.frames = drawn.frames;
  // A drawing put back (zooming out) may have been outlined for another function.
  markFocus();
  $('matched').textContent = re ? `matched ${((100 * drawn.matched) / root.value).toFixed(2)}% of ${noun(root.unit)}` : '';
  renderTable(re);
  renderSandwich(re);
}

/** Outlines a frame of the function chosen in the top table. One function for every drawing,
 * so that a drawing that only the search changes is reused (drawFlame compares callbacks). */
function decorateFocus(d, f) {
  d.classList.toggle('focus', state.focus !== null && f.depth > 1 && f.n.name === state.focus);
}

/** Outlines the chosen function's frames in what is drawn, and marks its row. */
function markFocus() {
  const divs = $('flame').children;
  state.frames.forEach((f, i) => {
    if (f.kind !== 'narrow' && divs[i]) decorateFocus(divs[i], f);
  });
  document.querySelectorAll('#top tbody tr').forEach((tr) => {
    const row = state.top[Number(tr.dataset.i)];
    tr.classList.toggle('focused', row !== undefined && row.name === state.focus);
  });
}

// ---- top table ----

const TABLE_ROWS = 200; // rows drawn at most; the rest are counted in the caption

/** The rows of the zoomed stacks in the chosen order, kept for the last few zooms and orders of
 * the tree shown: a search only filters them (a keystroke does not walk the tree again), and
 * zooming back out finds them. */
const TABLE_CACHE = 4;
let tableCache = { root: null, entries: new Map() };
function sortedRows() {
  if (tableCache.root !== state.flame.root) tableCache = { root: state.flame.root, entries: new Map() };
  const key = `${JSON.stringify(state.zoom)} ${state.sort.key} ${state.sort.desc}`;
  let entry = tableCache.entries.get(key);
  if (!entry) {
    const { rows, samples } = functionRows(state.flame.root, state.zoom, (name) => state.moduleOf.get(name) || '');
    entry = { rows: sortRows(rows, state.sort.key, state.sort.desc), samples };
    if (tableCache.entries.size >= TABLE_CACHE) tableCache.entries.delete(tableCache.entries.keys().next().value);
  }
  tableCache.entries.delete(key);
  tableCache.entries.set(key, entry); // the most recent last
  return entry;
}

/** The top table of what the graph shows: the zoomed stacks, the functions the search matches,
 * in the chosen order. */
function renderTable(re) {
  const tbody = document.querySelector('#top tbody');
  tbody.replaceChildren();
  const { rows, samples } = sortedRows();
  const shown = re ? rows.filter((r) => re.test(label(r.name))) : rows;
  state.top = shown.slice(0, TABLE_ROWS);
  const pct = (n) => (samples ? (100 * n) / samples : 0).toFixed(2);
  state.top.forEach((row, i) => {
    const tr = el('tr');
    tr.dataset.i = String(i);
    if (row.name === state.focus) tr.classList.add('focused');
    const kernel = kindOf(row.name, 1) === 'kernel' || row.module === '[kernel.kallsyms]' ? 'kernel' : undefined;
    const open = el('button', '⇅', 'callers');
    open.type = 'button';
    open.title = 'callers and callees of this function (s)';
    const actions = el('td');
    actions.append(open);
    tr.append(el('td', pct(row.self)), el('td', pct(row.total)), el('td', label(row.name), kernel), el('td', row.module), actions);
    tbody.appendChild(tr);
  });
  if (state.topIndex >= state.top.length) state.topIndex = -1;
  if (state.topIndex >= 0) tbody.children[state.topIndex].classList.add('active');
  const where = state.zoom.length ? ` under ${label(state.zoom[state.zoom.length - 1])}` : '';
  const filter = re ? ` matching /${re.source}/` : '';
  const more = shown.length > TABLE_ROWS ? `, the first ${TABLE_ROWS} shown` : '';
  $('top-caption').textContent = `${shown.length} functions${filter}${where}${more}; shares of ${amount(samples, state.flame.root.unit)}. Click a row to outline it in the graph, ⇅ for its callers and callees; click a column to sort.`;
  document.querySelectorAll('#top thead th').forEach((th) => {
    const on = th.dataset.key === state.sort.key;
    th.classList.toggle('sorted', on);
    th.setAttribute('aria-sort', on ? (state.sort.desc ? 'descending' : 'ascending') : 'none');
    th.dataset.arrow = on ? (state.sort.desc ? '▼' : '▲') : '';
  });
}

/** Sorts the top table by column `key`: a second click on the same column reverses it. */
function sortBy(key) {
  const col = COLUMNS.find((c) => c.key === key);
  if (!col) return;
  state.sort = state.sort.key === key ? { key, desc: !state.sort.desc } : { key, desc: col.descending };
  state.topIndex = -1;
  writeHash();
  renderTable(searchRegex($('search').value));
}

// ---- sandwich ----

/** Shows the callers and callees of function `name` instead of the graph (null: the graph). */
function setSandwich(name) {
  state.sandwich = name;
  writeHash();
  renderFlame();
}

function renderSandwich(re) {
  const on = state.sandwich !== null && state.flame !== null;
  $('sandwich').hidden = !on;
  $('flame').hidden = on;
  if (!on) return;
  const { root } = state.flame;
  const name = state.sandwich;
  const { callers, callees, total } = sandwich(root, name);
  callers.unit = root.unit;
  callees.unit = root.unit;
  const share = (n) => `${((100 * n) / (root.value || 1)).toFixed(2)}%`;
  $('sandwich-title').textContent = total
    ? `${label(name)}: on ${share(total)} of stacks (${amount(total, root.unit)}). Callers above, callees below; click a frame for its own.`
    : `${label(name)} is not in this range`;
  const title = (f) => `${label(f.n.name)}: ${amount(f.n.value, root.unit)} (${share(f.n.value)} of all, ` +
    `${((100 * f.n.value) / (total || 1)).toFixed(1)}% of ${label(name)})`;
  const rootText = () => `${label(name)} (${share(total)})`;
  state.sandwichFrames = {
    callers: drawFlame($('callers'), callers, { layout: 'flame', re, title, rootText, decorate: processColour }).frames,
    callees: drawFlame($('callees'), callees, { layout: 'icicle', re, title, rootText }).frames,
  };
}

/** The callers' outermost frames (no caller above them) are processes: coloured as roots. */
function processColour(d, f) {
  if (f.depth > 0 && f.n.children.size === 0) d.className = `frame root${f.isMatch ? ' match' : ''}`;
}

/** Hover details and click-to-recentre for the sandwich's two graphs. */
function setupSandwich() {
  for (const side of ['callers', 'callees']) {
    onFrames($(side), () => (state.sandwichFrames || {})[side] || [], (f, d) => {
      $('details').textContent = d.title;
    }, (f) => {
      // The callers' outermost frames are the processes, not functions; a block of narrow
      // frames is no function either.
      if (f.kind === 'narrow') return;
      if (f.depth > 0 && !(side === 'callers' && f.n.children.size === 0)) setSandwich(f.n.name);
    });
  }
  $('sandwich-close').addEventListener('click', () => setSandwich(null));
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
  document.querySelector('#top tbody').replaceChildren();
  $('top-caption').textContent = '';
  $('losses').replaceChildren();
  if (!res.ok) {
    state.flame = null;
    renderFlame();
    $('flame-title').textContent = await res.text();
    return;
  }
  const data = await res.json();
  state.flame = { root: buildTree(data.names, data.stacks), total: data.total };
  state.flame.root.unit = unitOf(data.unit, data.measure);
  state.moduleOf = new Map(data.names.map((n, i) => [n, (data.modules || [])[i] || '']));
  state.zoom = [];
  state.topIndex = -1;
  state.focus = null;
  $('focus-info').textContent = '';
  $('flame-title').textContent = `${data.title}${data.subtitle ? ' — ' + data.subtitle : ''}`;
  renderLosses(data.losses, data.notes, state.flame.root.unit);
  renderFlame();
  renderNoMatch();
  // The stacked timeline and the process list come after the flamegraph: they read every
  // archive of the range again (once; the server keeps what it read).
  loadProcesses(r);
}

/** Marks row `i` of the top table (arrow keys). */
function markTop(i) {
  const rows = document.querySelectorAll('#top tbody tr');
  if (!rows.length) return;
  state.topIndex = Math.max(0, Math.min(rows.length - 1, i));
  rows.forEach((tr, k) => tr.classList.toggle('active', k === state.topIndex));
  rows[state.topIndex].scrollIntoView({ block: 'nearest' });
}

/** Outlines the frames of the top table's row `i` in the graph (the row's function stays
 * chosen until another is) and brings the first into view. */
function focusTop(i) {
  const row = state.top[i];
  if (!row) return;
  markTop(i);
  state.focus = row.name;
  markFocus();
  const first = $('flame').querySelector('.frame.focus');
  if (first) first.scrollIntoView({ block: 'nearest' });
  const n = $('flame').querySelectorAll('.frame.focus').length;
  $('focus-info').textContent = `${label(row.name)}: ${n} frame${n === 1 ? '' : 's'} outlined in the graph` +
    (n ? '' : ' (all narrower than the graph draws: zoom in or search for it)');
}

/** The callers and callees of the top table's row `i`. */
function sandwichTop(i) {
  const row = state.top[i];
  if (!row) return;
  markTop(i);
  setSandwich(row.name);
}

/** The range's losses (samples, process notifications) and the recording's notes, as text. */
function renderLosses(losses, notes, unit) {
  const box = $('losses');
  const parts = [`${losses.samples} ${unit.ns ? 'blocks' : 'samples'} lost or degraded`, `${losses.events} process notifications lost (ring buffer full)`];
  box.appendChild(el('li', parts.join('; '), losses.samples + losses.events > 0 ? 'lost' : undefined));
  for (const note of notes) box.appendChild(el('li', note, 'note'));
}

/** The diff of the base and the new range (web/diff.js draws it). */
function showDiff() {
  return drawDiff({ base: state.base, next: state.next, comm: state.comm, cgroup: state.cgroup });
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

// ---- themes, layout, keyboard ----

const darkMedia = window.matchMedia('(prefers-color-scheme: dark)');
let chosenTheme = null; // the theme button's choice; null follows the system

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  $('theme').textContent = theme === 'dark' ? 'light theme' : 'dark theme';
}

function toggleTheme() {
  chosenTheme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  try {
    localStorage.setItem('prof-theme', chosenTheme);
  } catch (e) {
    // Storage may be off: the choice lasts until the page is closed.
  }
  applyTheme(chosenTheme);
}

function setupTheme() {
  try {
    chosenTheme = localStorage.getItem('prof-theme');
  } catch (e) {
    chosenTheme = null;
  }
  applyTheme(chosenTheme || (darkMedia.matches ? 'dark' : 'light'));
  darkMedia.addEventListener('change', (e) => {
    if (!chosenTheme) applyTheme(e.matches ? 'dark' : 'light');
  });
  $('theme').addEventListener('click', toggleTheme);
}

function setLayout(layout) {
  state.layout = layout;
  $('layout-icicle').classList.toggle('active', layout === 'icicle');
  $('layout-flame').classList.toggle('active', layout === 'flame');
  writeHash();
  renderFlame();
}

function toggleHelp(show = $('help').hidden) {
  $('help').hidden = !show;
}

/** `/` search, `p` process, Esc clear or zoom out, arrows and Enter in the top table, `f` layout,
 * `t` theme, `?` this list. Keys typed into a text box are its own, except Esc. */
function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target instanceof HTMLInputElement;
  if (e.key === 'Escape') {
    if (!$('help').hidden) toggleHelp(false);
    else if (state.sandwich !== null) setSandwich(null);
    else if ($('search').value) {
      $('search').value = '';
      renderFlame();
    } else if (typing) e.target.blur();
    else if (state.zoom.length) {
      state.zoom = state.zoom.slice(0, -1);
      renderFlame();
    } else if (state.focus !== null) {
      state.focus = null;
      $('focus-info').textContent = '';
      markFocus();
    }
    return;
  }
  if (typing) return;
  const keys = {
    '/': () => $('search').focus(),
    p: () => $('comm').focus(),
    '?': () => toggleHelp(),
    f: () => setLayout(state.layout === 'flame' ? 'icicle' : 'flame'),
    t: toggleTheme,
    ArrowDown: () => markTop(state.topIndex + 1),
    ArrowUp: () => markTop(state.topIndex - 1),
    Enter: () => focusTop(state.topIndex),
    s: () => sandwichTop(state.topIndex),
  };
  const action = keys[e.key];
  if (!action || ((e.key === 'Enter' || e.key === 's') && state.topIndex < 0)) return;
  e.preventDefault();
  action();
}

async function load() {
  setupTheme();
  // A link to a range (the URL hash) needs the interval list only to draw the timeline: ask for
  // the range at the same time, so the two are read in parallel.
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('mode') !== 'diff' && h.get('from') && h.get('to')) {
    const q = query({ from: h.get('from'), to: h.get('to') }, (h.get('comm') || '').trim(), h.get('cgroup') || '');
    state.prefetch = { q, res: fetch(`/api/range.json?${q}`) };
  }
  const [res, metaRes] = await Promise.all([fetch('/api/intervals'), fetch('/api/meta.json')]);
  const meta = metaRes.ok ? await metaRes.json() : {};
  state.intervals = res.ok ? parseNs(await res.text()) : [];
  state.intervals.forEach((iv, i) => state.startIndex.set(iv.start_unix_ns, i));
  const n = state.intervals.length;
  if (n) {
    const [first, last] = [state.intervals[0].start_unix_ns, state.intervals[n - 1].end_unix_ns];
    const on = sameDay(dateOf(first), dateOf(last)) ? ` on ${day(dateOf(first))}` : '';
    $('status').textContent = `${n} intervals${on}, ${fmtSpan(first, last)}`;
  } else {
    $('status').textContent = 'no archives in this directory yet';
  }
  if (n) state.sel = lastHour();
  if (meta.single) {
    // One profile file: no time to select, nothing to compare.
    for (const id of ['chart', 'drag-hint', 'bar-tip', 'legend', 'range', 'mode-diff', 'diff-controls']) $(id).hidden = true;
    $('status').textContent = meta.name;
  }
  groupIntervals();
  const mode = readHash();
  setupTimeline();
  setupFlame();
  setupPicker();
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
  $('no-idle').addEventListener('change', showDiff);
  $('search').addEventListener('input', renderFlame);
  $('reset').addEventListener('click', () => {
    state.zoom = [];
    $('search').value = '';
    renderFlame();
  });
  $('layout-icicle').addEventListener('click', () => setLayout('icicle'));
  $('layout-flame').addEventListener('click', () => setLayout('flame'));
  $('layout-icicle').classList.toggle('active', state.layout === 'icicle');
  $('layout-flame').classList.toggle('active', state.layout === 'flame');
  // After the toolbar's own listeners: the diff view shares it.
  setupDiff({ layout: () => state.layout, setLayout, fmtSpan, fmtDuration });
  $('help-button').addEventListener('click', () => toggleHelp());
  document.querySelector('#top tbody').addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (!tr) return;
    if (e.target.closest('button.callers')) sandwichTop(Number(tr.dataset.i));
    else focusTop(Number(tr.dataset.i));
  });
  document.querySelector('#top thead').addEventListener('click', (e) => {
    const th = e.target.closest('th');
    if (th) sortBy(th.dataset.key);
  });
  setupSandwich();
  document.addEventListener('keydown', onKey);
  setMode(mode);
}

document.addEventListener('DOMContentLoaded', load);
