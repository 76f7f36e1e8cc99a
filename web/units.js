// What a profile's counts are: samples of the CPU, or nanoseconds (off-CPU time blocked,
// wall-clock time, or CPU time from a folded file). Every amount the page writes goes through
// `amount`, with the unit of the data it shows (a range, an interval, a diff).
'use strict';

/** The samples unit: what a range without `unit` counts. */
export const SAMPLES = Object.freeze({ ns: false, measure: 'on-cpu' });

/** The unit of a reply: `unit` is 'samples' or 'nanoseconds', `measure` 'on-cpu', 'off-cpu'
 * or 'wall' (both may be missing: samples on the CPU). */
export function unitOf(unit, measure) {
  if (unit !== 'nanoseconds') return SAMPLES;
  return { ns: true, measure: measure === 'off-cpu' || measure === 'wall' ? measure : 'on-cpu' };
}

/** A time in ns as "850 µs", "12.3 ms", "4.56 s", "12.0 min", "3.50 h". */
export function fmtTime(ns) {
  const n = Number(ns);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)} µs`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} ms`;
  if (n < 120e9) return `${(n / 1e9).toFixed(2)} s`;
  if (n < 7200e9) return `${(n / 60e9).toFixed(1)} min`;
  return `${(n / 3600e9).toFixed(2)} h`;
}

/** An amount: "1234 samples", "1 sample", "12.3 ms blocked" (off-CPU), "4.56 s" (wall-clock
 * or CPU time). */
export function amount(n, u = SAMPLES) {
  if (!u.ns) return `${n} sample${n === 1 ? '' : 's'}`;
  return `${fmtTime(n)}${u.measure === 'off-cpu' ? ' blocked' : ''}`;
}

/** What is counted, as a noun: "samples", "time blocked", "wall-clock time", "CPU time". */
export function noun(u = SAMPLES) {
  if (!u.ns) return 'samples';
  return { 'off-cpu': 'time blocked', wall: 'wall-clock time' }[u.measure] || 'CPU time';
}

/** A compact axis label of `n`: "950", "12.3k", "4.1M" samples, or a time ("500 ms"). */
export function axisLabel(n, u = SAMPLES) {
  if (u.ns) return n === 0 ? '0' : fmtTime(n).replace(/\.0+ /, ' ');
  if (n < 1000) return String(Math.round(n));
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(1)}M`;
}
