// Hint lines shorten by priority: labels shorten, then the least important hints drop, and
// `?` (priority 0) stays at any width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitHints, hintsText, HELP_HINT, type Hint } from '../../views/hint-line.ts';

const HINTS: Hint[] = [
  { key: 'enter', label: 'expand', priority: 1 },
  { key: '←/→', label: 'collapse/expand', short: 'tree', priority: 3 },
  { key: 'v', label: 'verify', priority: 2 },
  { key: 'PgUp/PgDn', label: 'scroll', priority: 3 },
  HELP_HINT,
];
const text = (width: number) => hintsText(fitHints(HINTS, width));

test('everything in full when it fits', () => {
  assert.equal(text(200), 'enter expand  ←/→ collapse/expand  v verify  PgUp/PgDn scroll  ? all keys');
});

test('narrower: labels shorten, then priority 3 drops rightmost first, then 2, then 1; ? stays', () => {
  assert.equal(text(62), 'enter expand  ←/→ tree  v verify  PgUp/PgDn scroll  ? all keys');
  assert.equal(text(60), 'enter expand  ←/→ tree  v verify  PgUp/PgDn scroll  ?');
  assert.equal(text(45), 'enter expand  ←/→ tree  v verify  ? all keys');
  assert.equal(text(30), 'enter expand  v verify  ?');
  assert.equal(text(20), 'enter expand  ?');
  assert.equal(text(5), '?');
});

test('never wider than the width, and ? is always in the line', () => {
  for (let w = 1; w <= 120; w++) {
    const t = text(w);
    assert.ok(t.length <= w, `${w}: ${t}`);
    assert.ok(t.includes('?'), `${w}: ${t}`);
  }
});

test('a reserved title leaves less room; plain messages (no key) count like hints', () => {
  const hints: Hint[] = [
    { key: '', label: 'scrolled back 12 lines', short: '-12 lines', priority: 0 },
    { key: 'end', label: 'live screen', short: 'live', priority: 1 },
  ];
  assert.equal(hintsText(fitHints(hints, 40)), 'scrolled back 12 lines  end live screen');
  assert.equal(hintsText(fitHints(hints, 40, 15)), '-12 lines  end live');
});
