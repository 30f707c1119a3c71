// Clickable rows. A row registers its element with useClick; a click (views/mouse.ts) is matched
// against where Ink's layout put each registered element, clipped by the boxes that hide their
// overflow, so a row scrolled out of its list cannot be hit. Only mounted rows are registered:
// an overlay that replaces the pane takes its rows with it.
import { useEffect, useRef, type RefObject } from 'react';
import type { DOMElement } from 'ink';

interface Target {
  ref: RefObject<DOMElement | null>;
  onClick: { current: () => void };
  /** A choice of a list that a text field filters (the palette, the Run picker): clickable while typing. */
  whileTyping: boolean;
}

const targets = new Set<Target>();

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const intersect = (a: Rect, b: Rect): Rect => {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  return {
    x,
    y,
    w: Math.max(0, Math.min(a.x + a.w, b.x + b.w) - x),
    h: Math.max(0, Math.min(a.y + a.h, b.y + b.h) - y),
  };
};

/** The element's box on screen (0-based cells), cut by every ancestor that hides its overflow. */
function screenRect(node: DOMElement): Rect | null {
  const chain: DOMElement[] = [];
  for (let n: DOMElement | undefined = node; n; n = n.parentNode) chain.unshift(n);
  let x = 0;
  let y = 0;
  let clip: Rect | null = null;
  for (const n of chain) {
    const yoga = n.yogaNode;
    if (!yoga) return null;
    x += yoga.getComputedLeft();
    y += yoga.getComputedTop();
    const box = { x, y, w: yoga.getComputedWidth(), h: yoga.getComputedHeight() };
    if (n.style.overflow === 'hidden' || n.style.overflowY === 'hidden' || n.style.overflowX === 'hidden') {
      clip = clip ? intersect(clip, box) : box;
    }
    if (n === node) return clip ? intersect(clip, box) : box;
  }
  return null;
}

/** A ref for the element that `onClick` answers clicks on (the latest `onClick` of each render). */
export function useClick(onClick: () => void, opts: { whileTyping?: boolean } = {}): RefObject<DOMElement | null> {
  const ref = useRef<DOMElement | null>(null);
  const handler = useRef(onClick);
  handler.current = onClick;
  useEffect(() => {
    const target: Target = { ref, onClick: handler, whileTyping: opts.whileTyping ?? false };
    targets.add(target);
    return () => {
      targets.delete(target);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- registered once; the handler is read through its ref
  }, []);
  return ref;
}

/**
 * Runs the handler of the row at the 1-based cell a mouse report names; false if none is there.
 * While a text field has the keys (`typing`), only the choices of the list it filters answer.
 */
export function clickAt(column: number, row: number, typing = false): boolean {
  const x = column - 1;
  const y = row - 1;
  for (const t of targets) {
    if (typing && !t.whileTyping) continue;
    const r = t.ref.current ? screenRect(t.ref.current) : null;
    if (r && x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h) {
      t.onClick.current();
      return true;
    }
  }
  return false;
}
