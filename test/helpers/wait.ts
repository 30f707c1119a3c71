// The one polling waiter, for conditions no event announces (the process table, files another
// process writes, a pane's frame): checks every 20 ms until `probe` gives a value (not undefined,
// null or false), rejects after `ms` naming what it waited for. On the store, test/helpers/
// store-until.ts waits for the update itself instead.
export async function waitFor<T>(probe: () => T | undefined | null | false, what: string, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
