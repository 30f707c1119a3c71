// Creating instances from the start screen (init here / new directory), then opening them.
import { initInstance, newInstance } from '../core/instance/init.ts';
import { errorMessage } from '../core/errors.ts';
import { openInstance, type StudioStore } from './index.ts';

export async function createInstance(store: StudioStore, how: 'init' | 'new', path: string): Promise<void> {
  const s = store.getState();
  try {
    const result = how === 'init' ? initInstance(path) : newInstance(path);
    const musl = result.musl ? '' : ' (no host musl found: install musl-tools to get image/lib/libc.so)';
    await openInstance(store, result.dir);
    s.setFlash(`created an Occlum instance in ${result.dir}${musl}`);
  } catch (err) {
    s.setFlash(errorMessage(err), 'error');
  }
}
