// Fuzzy matching of what was typed against a name (the process picker): prefixes, substrings,
// letters in order, then substrings with a few typos.
'use strict';

/** The edit distance from `q` to the closest substring of `t` (insertions, deletions,
 * substitutions and swaps of neighbours each cost 1). */
function substringDistance(q, t) {
  const m = q.length;
  let prev2 = null;
  let prev = new Array(t.length + 1).fill(0); // row 0: a match may start anywhere
  for (let i = 1; i <= m; i++) {
    const row = new Array(t.length + 1);
    row[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = q[i - 1] === t[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (prev2 && j > 1 && q[i - 1] === t[j - 2] && q[i - 2] === t[j - 1]) row[j] = Math.min(row[j], prev2[j - 2] + 1);
    }
    prev2 = prev;
    prev = row;
  }
  return Math.min(...prev);
}

/** How well `query` names process `name`, lower is better: 0 a prefix, 1 a substring, 2 the
 * letters in order, 3 + n a substring with n typos (one per three letters typed); null when it
 * does not. Case is ignored. */
export function fuzzyScore(query, name) {
  const q = query.toLowerCase();
  const t = name.toLowerCase();
  if (!q) return 0;
  const at = t.indexOf(q);
  if (at >= 0) return at === 0 ? 0 : 1;
  let k = 0;
  for (const c of t) if (c === q[k]) k++;
  if (k === q.length) return 2;
  const d = substringDistance(q, t);
  return d <= Math.floor(q.length / 3) ? 3 + d : null;
}
