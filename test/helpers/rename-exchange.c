// Test helper (issue 11, defect 5): swaps two paths with renameat2(RENAME_EXCHANGE) and back in a
// loop until killed, as an attacker racing an extract would swap a directory with a symlink for a
// moment: the paths spend most of the time as they were (so checks pass) and flip briefly.
// usage: rename-exchange A B [SPIN [WAITFOR]]
//   SPIN: busy-loop iterations between flips (varies the timing);
//   WAITFOR: a path to wait for before the first swap (once the victim is under way).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rename-exchange A B [SPIN [WAITFOR]]\n");
    return 2;
  }
  long spin = argc > 3 ? atol(argv[3]) : 0;
  while (argc > 4 && access(argv[4], F_OK) != 0) usleep(50);
  for (;;) {
    syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */);
    syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2);
    for (volatile long i = 0; i < spin; i++) {
    }
  }
}
