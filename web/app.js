// prof's web UI: a timeline of intervals, a range selection, the range's flamegraph and top
// table. Every symbol name goes into the page with textContent, never as HTML.
'use strict';

const state = { intervals: [], first: null, last: null };

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
}

function iso(ns) {
  return new Date(Number(BigInt(ns) / 1000000n)).toISOString().replace('.000Z', 'Z');
}

function rangeQuery() {
  const a = state.intervals[Math.min(state.first, state.last)];
  const b = state.intervals[Math.max(state.first, state.last)];
  const q = new URLSearchParams({ from: String(a.start_unix_ns), to: String(b.end_unix_ns) });
  const comm = document.getElementById('comm').value.trim();
  if (comm) q.set('comm', comm);
  return q.toString();
}

function renderTimeline() {
  const box = document.getElementById('timeline');
  box.replaceChildren();
  const max = Math.max(1, ...state.intervals.map((i) => i.samples));
  state.intervals.forEach((iv, idx) => {
    const bar = el('div');
    bar.className = 'bar';
    bar.setAttribute('role', 'listitem');
    bar.title = `${iso(iv.start_unix_ns)}: ${iv.samples} samples, ${iv.lost} lost`;
    bar.style.height = `${Math.max(2, (100 * iv.samples) / max)}%`;
    const lo = Math.min(state.first ?? idx, state.last ?? idx);
    const hi = Math.max(state.first ?? -1, state.last ?? -1);
    if (state.first !== null && idx >= lo && idx <= hi) bar.classList.add('selected');
    bar.addEventListener('click', () => select(idx));
    box.appendChild(bar);
  });
}

function select(idx) {
  if (state.first === null || state.last !== state.first) {
    state.first = idx;
    state.last = idx;
  } else {
    state.last = idx;
  }
  const a = state.intervals[Math.min(state.first, state.last)];
  const b = state.intervals[Math.max(state.first, state.last)];
  document.getElementById('range').textContent = `selected ${iso(a.start_unix_ns)} – ${iso(b.end_unix_ns)}`;
  renderTimeline();
}

async function show() {
  if (state.first === null) return;
  const q = rangeQuery();
  document.getElementById('flamegraph').src = `/api/range.svg?${q}`;
  const downloads = document.getElementById('downloads');
  downloads.replaceChildren();
  for (const [label, path] of [['SVG', 'range.svg'], ['folded', 'range.folded'], ['archive', 'range.prof']]) {
    const a = el('a', label);
    a.href = `/api/${path}?${q}`;
    a.setAttribute('download', '');
    downloads.appendChild(a);
  }
  const tbody = document.querySelector('#top tbody');
  tbody.replaceChildren();
  const res = await fetch(`/api/top.json?${q}&n=30`);
  if (!res.ok) {
    const tr = el('tr');
    tr.appendChild(el('td', await res.text()));
    tbody.appendChild(tr);
    return;
  }
  for (const row of await res.json()) {
    const tr = el('tr');
    tr.append(el('td', row.self_pct.toFixed(2)), el('td', row.total_pct.toFixed(2)), el('td', row.function), el('td', row.module));
    tbody.appendChild(tr);
  }
}

async function load() {
  const res = await fetch('/api/intervals');
  state.intervals = res.ok ? await res.json() : [];
  const status = document.getElementById('status');
  status.textContent = state.intervals.length
    ? `${state.intervals.length} intervals, ${iso(state.intervals[0].start_unix_ns)} – ${iso(state.intervals[state.intervals.length - 1].end_unix_ns)}`
    : 'no archives in this directory yet';
  if (state.intervals.length) {
    state.first = 0;
    state.last = state.intervals.length - 1;
  }
  renderTimeline();
  document.getElementById('show').addEventListener('click', show);
  if (state.intervals.length) show();
}

document.addEventListener('DOMContentLoaded', load);
