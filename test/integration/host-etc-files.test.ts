// Occlum's runtime conventions on the host backend: the host's /etc/hostname, /etc/hosts and
// /etc/resolv.conf are in the root file system of every run (Occlum writes them at boot), so a
// program resolves `localhost` as it does in Occlum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { makeInstance } from '../helpers/host-instance.ts';

const SRC = `#include <stdio.h>
#include <netdb.h>
#include <string.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "r");
    char buf[4096] = {0};
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    printf("%s %s %zu\\n", argv[i], f ? "present" : "missing", n);
    if (f) fclose(f);
  }
  struct addrinfo *ai = 0;
  int rc = getaddrinfo("localhost", "80", 0, &ai);
  printf("localhost %s\\n", rc == 0 ? "resolved" : gai_strerror(rc));
  return 0;
}
`;

test('/etc/hostname, /etc/hosts, /etc/resolv.conf of the host are visible to each run; localhost resolves', () => {
  const dir = makeInstance(['hello']);
  writeFileSync(join(dir, 'etc.c'), SRC);
  execFileSync('musl-gcc', ['-fPIE', '-pie', '-o', join(dir, 'image', 'bin', 'etc'), join(dir, 'etc.c')]);
  assert.equal(runCli(['build'], { cwd: dir }).status, 0);
  const files = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'];
  const r = runCli(['run', '/bin/etc', ...files], { cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const expected = files.map((f) => (existsSync(f) ? `${f} present ${readFileSync(f).length}` : `${f} missing 0`));
  assert.equal(r.stdout, [...expected, 'localhost resolved', ''].join('\n'));
});
