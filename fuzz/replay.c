/*
 * replay: runs a fuzz target over every file named on the command line,
 * without libFuzzer, so `make check` replays the committed corpus on any
 * compiler. Prints TAP, one line per input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    int i;

    printf("1..%d\n", argc - 1);
    for (i = 1; i < argc; ++i) {
        FILE *f = fopen(argv[i], "rb");
        uint8_t *buf;
        long len;

        if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0
            || fseek(f, 0, SEEK_SET)) {
            printf("not ok %d - cannot read %s\n", i, argv[i]);
            continue;
        }
        buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            printf("not ok %d - cannot read %s\n", i, argv[i]);
            fclose(f);
            free(buf);
            continue;
        }
        fclose(f);
        /* A violated invariant aborts: the TAP stream then ends early. */
        LLVMFuzzerTestOneInput(buf, (size_t)len);
        printf("ok %d - %s\n", i, argv[i]);
        free(buf);
    }
    return 0;
}
