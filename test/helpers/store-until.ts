// Waits for a condition on the studio store: resolves on the store update that makes it true,
// rejects after `ms` with `what` and whatever `context` says about the state then.
import type { StudioStore } from '../../src/store/index.ts';

export function storeUntil(
  store: StudioStore,
  cond: () => boolean,
  what: string,
  ms: number,
  context: () => string = () => '',
): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsub();
      reject(new Error(`timed out: ${what}${context()}`));
    }, ms);
    const unsub = store.subscribe(() => {
      if (cond()) {
        clearTimeout(timer);
        unsub();
        resolve();
      }
    });
  });
}
