// The one polling waiter for conditions that no event announces (the process table, files
// another process writes): checks every 20 ms, rejects after `ms` naming what it waited for.
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
