// jsonc-parser builds the text of a whitespace token one character at a time (`value += ch`),
// so a long run of spaces or tabs between tokens becomes a chain of millions of live strings:
// 50 MiB of padding cost `check` 41 s and 2.9 GB, mostly in garbage collection. Such runs carry
// no meaning, so the parser gets a copy where each long run (outside strings and comments) is
// cut to one character, and every offset it reports is mapped back to the original text.

/** Runs shorter than this are left alone: no real config has one, and short runs are cheap. */
const LONG_RUN = 1024;
const LONG_RUN_RE = new RegExp(`[ \\t]{${LONG_RUN}}`);

export interface Squeezed {
  /** The text the parser reads: `text` itself when nothing was cut. */
  text: string;
  /** Offset in the squeezed text → offset in the original (end of a cut run → end of the run). */
  toOriginal(offset: number): number;
}

const IDENTITY: (o: number) => number = (o) => o;

export function squeezeWhitespace(text: string): Squeezed {
  if (!LONG_RUN_RE.test(text)) return { text, toOriginal: IDENTITY };
  // cuts[i]: offset in the squeezed text just after the kept character of the i-th cut run;
  // removed[i]: characters removed by runs 0..i.
  const cuts: number[] = [];
  const removed: number[] = [];
  const parts: string[] = [];
  let copied = 0; // original offset up to which parts hold the text
  let dropped = 0;
  const n = text.length;
  let i = 0;
  // The states mirror jsonc-parser's scanner, so that only trivia whitespace is ever cut.
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        const s = text.charCodeAt(i);
        if (s === 0x22) {
          i++;
          break;
        }
        if (s === 0x5c /* \ */) i += 2;
        else if (s === 0x0a || s === 0x0d) break;
        else i++;
      }
    } else if (c === 0x2f /* / */ && text.charCodeAt(i + 1) === 0x2f) {
      i += 2;
      while (i < n && text.charCodeAt(i) !== 0x0a && text.charCodeAt(i) !== 0x0d) i++;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === 0x20 || c === 0x09) {
      const start = i;
      while (i < n && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
      if (i - start >= LONG_RUN) {
        parts.push(text.slice(copied, start + 1));
        copied = i;
        dropped += i - start - 1;
        cuts.push(start + 1 - (dropped - (i - start - 1)));
        removed.push(dropped);
      }
    } else i++;
  }
  if (cuts.length === 0) return { text, toOriginal: IDENTITY };
  parts.push(text.slice(copied));
  return {
    text: parts.join(''),
    toOriginal(offset) {
      // The last cut at or before `offset` gives the characters removed before it.
      let lo = 0;
      let hi = cuts.length - 1;
      let k = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (cuts[mid]! <= offset) {
          k = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return k < 0 ? offset : offset + removed[k]!;
    },
  };
}
