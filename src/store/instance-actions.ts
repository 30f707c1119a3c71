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
    // The next step, as `init`/`new` print it: the image is empty until a program is put there.
    // (The status line names the instance: its path would push the step off a narrow screen.)
    s.setFlash(`created an Occlum instance${musl}: fill image/ (bom copy), then b in the Build pane`);
  } catch (err) {
    s.setFlash(errorMessage(err), 'error');
  }
}
