/*
 * main.c - hookline-dispatcher: command line and start-up.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--version") == 0) {
    printf("hookline-dispatcher %s\n", HOOKLINE_VERSION);
    return 0;
  }
  fprintf(stderr, "hookline-dispatcher: the delivery loop is not built yet\n");
  return 2;
}
