// The flame tree and its drawing, shared by the profile view, the sandwich view and the diff:
// a tree of frames built from folded stacks, and a renderer that lays one out as an icicle (root
// at the top) or a flamegraph (root at the bottom) in a box, with search highlighting and a zoom
// path. Frame labels only ever enter the page through textContent / title, never as HTML.
'use strict';

/** A frame's kind, from its folded label: root, kernel (`_[k]`), inlined (`_[i]`), a
 * placeholder such as `[missing user stack]`, or user code. */
export function kindOf(name, depth) {
  if (depth === 0) return 'root';
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
export const KIND_TEXT = { kernel: ' (kernel)', inline: ' (inlined)', placeholder: '', user: '', root: '' };

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

/**
 * Draws `root` into `box` (emptied first) and returns what was drawn.
 *
 * Options: `zoom` (a path of names from the root: its last node fills the width, its ancestors
 * are drawn full width and dimmed), `layout` ('icicle' or 'flame'), `re` (search: matching
 * frames are highlighted and their samples counted once), `rootText(root)` (the root's label),
 * `title(frame)` (a frame's tooltip), `decorate(div, frame)` (e.g. a diff colour).
 *
 * Returns `{ frames, matched, zoomed }`: every frame drawn (`{ n, depth, x, w, path, ancestor,
 * isMatch, kind }`, indexed by each element's `data-i`), the samples under matching frames,
 * and the node the zoom path reached.
 */
export function drawFlame(box, root, opts = {}) {
  box.replaceChildren();
  const zoomPath = opts.zoom || [];
  const re = opts.re || null;
  // Walk down the zoom path; ancestors are drawn full width.
  let top = root;
  const ancestors = [];
  for (const name of zoomPath) {
    const next = top.children.get(name);
    if (!next) break;
    ancestors.push(top);
    top = next;
  }
  let depthMax = 0;
  let matched = 0;
  const frames = [];
  const place = (n, depth, x, w, path, ancestor, countMatch) => {
    depthMax = Math.max(depthMax, depth);
    const isMatch = re !== null && depth > 0 && re.test(label(n.name));
    if (isMatch && countMatch) matched += n.value;
    frames.push({ n, depth, x, w, path, ancestor, isMatch, kind: kindOf(n.name, depth) });
    if (ancestor || n.value <= 0) return;
    let cx = x;
    const kids = [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const k of kids) {
      const kw = (w * k.value) / n.value;
      if (kw >= MIN_WIDTH) place(k, depth + 1, cx, kw, path.concat([k.name]), false, countMatch && !isMatch);
      cx += kw;
    }
  };
  ancestors.forEach((a, i) => place(a, i, 0, 1, zoomPath.slice(0, i), true, false));
  place(top, ancestors.length, 0, 1, zoomPath.slice(0, ancestors.length), false, true);
  // Built off the page and attached once: one layout for thousands of frames. Hover and click
  // are handled once for the whole box (by the caller), through each frame's index.
  const rootText = opts.rootText || ((r) => `all (${r.value} samples)`);
  const title = opts.title || defaultTitle(root);
  const fragment = document.createDocumentFragment();
  for (const [i, f] of frames.entries()) {
    const d = document.createElement('div');
    d.textContent = f.depth === 0 ? rootText(root) : label(f.n.name);
    d.className = `frame ${f.kind}`;
    if (f.ancestor) d.classList.add('ancestor');
    if (f.isMatch) d.classList.add('match');
    d.style.left = `${f.x * 100}%`;
    d.style.width = `${f.w * 100}%`;
    d.style.top = `${(opts.layout === 'flame' ? depthMax - f.depth : f.depth) * ROW}px`;
    d.title = title(f);
    d.dataset.i = String(i);
    if (opts.decorate) opts.decorate(d, f);
    fragment.appendChild(d);
  }
  box.appendChild(fragment);
  box.style.height = `${(depthMax + 1) * ROW + 4}px`;
  return { frames, matched, zoomed: top };
}

/** The tooltip of a profile's frame: its label, kind, samples and share of `root`. */
function defaultTitle(root) {
  return (f) => {
    const pct = ((100 * f.n.value) / (root.value || 1)).toFixed(2);
    return `${f.depth === 0 ? 'all' : label(f.n.name)}${KIND_TEXT[f.kind]}: ${f.n.value} samples (${pct}%)`;
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
