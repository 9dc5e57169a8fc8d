/* SPDX-License-Identifier: MIT */
/*
 * toy-cipher - chapter 02's opening: a shift (Caesar) cipher, the simplest
 * substitution cipher, and the frequency analysis that breaks it.
 *
 * Each letter moves N places along the alphabet (case kept, everything else
 * untouched). `crack` tries all 25 keys and keeps the one whose letter counts
 * look most like English (chi-squared against English letter frequencies):
 * no key needed. That is why the chapter then switches to a real cipher.
 *
 * Needs: nothing but libc. Never use this for anything but the lesson.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"

static const char USAGE[] =
    "usage: toy-cipher encrypt --shift N [TEXT]\n"
    "       toy-cipher decrypt --shift N [TEXT]\n"
    "       toy-cipher crack [TEXT]\n"
    "\n"
    "Chapter 02: a toy shift cipher (each letter moves N places; N = 1..25) and\n"
    "its breaking by frequency analysis. TEXT defaults to stdin; output on stdout.\n"
    "crack prints the likeliest shift and the text it gives, on stderr the\n"
    "runners-up: with a few sentences of English it needs no key at all.\n"
    "\n"
    "  --shift N        the key: how many places each letter moves\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 success, 1 nothing to crack (no letters), 2 usage.\n";

/* Relative letter frequencies of English text, a..z, in per cent
 * (the usual textbook table; any large English corpus gives close values). */
static const double ENGLISH[26] = {8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4,
                                   6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074};

static void shift_text(char *s, size_t len, int shift)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'a' && c <= 'z')
            s[i] = (char)('a' + (c - 'a' + shift) % 26);
        else if (c >= 'A' && c <= 'Z')
            s[i] = (char)('A' + (c - 'A' + shift) % 26);
    }
}

/* How far the letter counts of text shifted back by `shift` are from English:
 * sum over letters of (observed - expected)^2 / expected. Lower = more English. */
static double chi_squared(const unsigned long counts[26], unsigned long total, int shift)
{
    double chi = 0;
    for (int plain = 0; plain < 26; plain++) {
        double expected = ENGLISH[plain] / 100.0 * (double)total;
        double observed = (double)counts[(plain + shift) % 26];
        chi += (observed - expected) * (observed - expected) / expected;
    }
    return chi;
}

static int crack(char *text, size_t len)
{
    unsigned long counts[26] = {0}, total = 0;
    double score[26];
    int best = 0, second = -1;

    for (size_t i = 0; i < len; i++) {
        if ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')) {
            counts[tolower((unsigned char)text[i]) - 'a']++;
            total++;
        }
    }
    if (total == 0) {
        errorf("crack", "the text has no letters to count");
        return EXIT_FAILED;
    }
    for (int s = 0; s < 26; s++) {
        score[s] = chi_squared(counts, total, s);
        if (score[s] < score[best])
            best = s;
    }
    for (int s = 0; s < 26; s++)
        if (s != best && (second < 0 || score[s] < score[second]))
            second = s;
    fprintf(stderr, "toy-cipher: %lu letters counted; best shift %d (chi-squared %.1f), "
                    "next best %d (%.1f)\n",
            total, best, score[best], second, score[second]);
    if (total < 50)
        fprintf(stderr, "toy-cipher: few letters: the guess may be wrong; give it more text\n");
    printf("shift %d: ", best);
    shift_text(text, len, (26 - best) % 26);
    fwrite(text, 1, len, stdout);
    if (len == 0 || text[len - 1] != '\n')
        putchar('\n');
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shift", required_argument, NULL, 's'},
        CLI_COMMON_OPTIONS,
        {0},
    };
    int c, shift = 0, rc = EXIT_FAILED;
    const char *cmd;
    char *text = NULL;
    size_t len = 0;

    narrate_init("toy-cipher", NULL);
    while ((c = getopt_long(argc, argv, "s:" CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (cli_common(c, USAGE))
            continue;
        if (c == 's')
            shift = (int)cli_long("--shift", optarg, 1, 25);
    }
    if (optind >= argc || optind + 2 < argc)
        cli_usage_error("name one command (encrypt, decrypt or crack) and at most one TEXT");
    cmd = argv[optind];
    if (strcmp(cmd, "crack") != 0 && strcmp(cmd, "encrypt") != 0 && strcmp(cmd, "decrypt") != 0)
        cli_usage_error("unknown command '%s'", cmd);
    if (strcmp(cmd, "crack") != 0 && shift == 0)
        cli_usage_error("%s needs --shift N (1..25)", cmd);
    if (strcmp(cmd, "crack") == 0 && shift != 0)
        cli_usage_error("crack finds the shift itself; drop --shift");

    if (optind + 1 < argc) {
        len = strlen(argv[optind + 1]);
        if ((text = strdup(argv[optind + 1])) == NULL)
            return EXIT_FAILED;
    } else if ((text = cli_read_file("/dev/stdin", 16 * 1024 * 1024, &len)) == NULL) {
        return EXIT_FAILED;
    }
    if (strcmp(cmd, "crack") == 0) {
        rc = crack(text, len);
    } else {
        shift_text(text, len, strcmp(cmd, "encrypt") == 0 ? shift : 26 - shift);
        fwrite(text, 1, len, stdout);
        if (len == 0 || text[len - 1] != '\n')
            putchar('\n');
        rc = EXIT_OK;
    }
    free(text);
    return rc;
}
