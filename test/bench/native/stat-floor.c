// The stat floor of a bom copy's full scan: the bare statx of each path read from stdin (one per
// line, absolute), relative to its opened parent directory, on two threads, as
// native/src/bom_state_file.rs does, with no other work. Prints the milliseconds from the first
// open to the last stat (reading stdin excluded). The bom bench compiles it with the host's cc.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char **paths;
static size_t count;

static void *run(void *arg) {
  size_t from = (size_t)arg == 0 ? 0 : count / 2, to = (size_t)arg == 0 ? count / 2 : count;
  char dir[4096] = "";
  int fd = -1;
  struct statx st;
  for (size_t i = from; i < to; i++) {
    char *slash = strrchr(paths[i], '/');
    size_t n = (size_t)(slash - paths[i]);
    if (fd < 0 || strncmp(dir, paths[i], n) != 0 || dir[n] != 0) {
      if (fd >= 0) close(fd);
      memcpy(dir, paths[i], n);
      dir[n] = 0;
      fd = open(n ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    statx(fd, slash + 1, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st);
  }
  if (fd >= 0) close(fd);
  return NULL;
}

int main(void) {
  size_t cap = 1024, len = 0;
  char *line = NULL;
  paths = malloc(cap * sizeof *paths);
  while (getline(&line, &len, stdin) > 0) {
    line[strcspn(line, "\n")] = 0;
    if (line[0] != '/') continue;
    if (count == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
    paths[count++] = strdup(line);
  }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t;
  pthread_create(&t, NULL, run, (void *)0);
  run((void *)1);
  pthread_join(t, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.3f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
  return 0;
}
