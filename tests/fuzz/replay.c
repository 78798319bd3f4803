/*
 * replay.c - the main() linked into fuzz targets when not building with libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named (directories: every file inside, in name
 * order) plus the empty input, so the seed corpora and past crashers are ordinary tests.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hl_replay_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  uint8_t *buf = NULL;
  long n;
  int rc = -1;

  if (!fp || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0)
    goto out;
  buf = malloc((size_t)n + 1); /* +1: malloc(0) may be NULL */
  if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n)
    goto out;
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  rc = 0;
out:
  if (rc != 0)
    fprintf(stderr, "replay: cannot read %s\n", path);
  free(buf);
  if (fp)
    fclose(fp);
  return rc;
}

static int hl_replay_dir(const char *dir, int *count) {
  struct dirent **names = NULL;
  int n = scandir(dir, &names, NULL, alphasort), rc = n < 0 ? -1 : 0;

  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc |= hl_replay_file(path);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int rc = 0, count = 0;

  LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
  for (int i = 1; i < argc; i++) {
    struct stat st;

    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      rc |= hl_replay_dir(argv[i], &count);
    } else {
      rc |= hl_replay_file(argv[i]);
      count++;
    }
  }
  printf("replayed %d inputs\n", count);
  return rc == 0 && count > 0 ? 0 : 1;
}
