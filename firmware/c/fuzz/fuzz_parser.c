/*
 * libFuzzer target: the response parser and the whole receive path of the C driver
 * fed arbitrary bytes as the device's answers. Build (tests/firmware/test_fuzz.py):
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude src/rtrledit.c fuzz/fuzz_parser.c
 * Properties: no crash, no out-of-bounds access (ASan), no UB (UBSan), return codes
 * in range, results never exceed what was asked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtrledit.h"

typedef struct { const uint8_t *d; size_t n, pos; } src;

static int f_send(void *u, const uint8_t *d, size_t n) { (void)u; (void)d; (void)n; return 0; }
static int f_recv(void *u, uint8_t *d, size_t n, uint32_t t)
{
    src *s = u;
    size_t k = s->n - s->pos;
    (void)t;
    if (k > n) k = n;
    memcpy(d, s->d + s->pos, k);
    s->pos += k;
    return (int)k;
}

static void ok_rc(int rc)
{
    if (rc > 0 || rc < RTRL_E_IO) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtrl_response rsp;
    size_t used = 0;
    int rc = rtrl_parse_response(data, size, &rsp, &used);
    ok_rc(rc);
    if (rc == RTRL_OK && (used > size || used != (size_t)rsp.len + 6u)) abort();
    if (size < 1) return 0;
    {
        /* first byte picks a layout and a command; the rest are the device's answers */
        src s = {data + 1, size - 1, 0};
        rtrl_transport io = {f_send, f_recv, NULL, &s};
        rtrl_layout lay = {(uint8_t)(1 + (data[0] & 3)), (uint8_t)(1 + ((data[0] >> 2) & 1)),
                           (uint8_t)(8 + ((data[0] >> 3) & 15)), (uint8_t)(12 + (data[0] >> 4)), 32};
        rtrl_dev dev;
        int32_t words[70], y[255 * 2], x[16] = {0}, d[8] = {0};
        uint16_t fl[255];
        uint32_t v, sat[RTRL_NUM_SAT];
        unsigned got = 0;
        rtrl_info_t info;
        if (rtrl_init(&dev, &io, &lay, 1) != RTRL_OK) abort();
        switch (data[0] % 7) {
        case 0: ok_rc(rtrl_read_reg(&dev, 3, &v)); break;
        case 1: ok_rc(rtrl_read_words(&dev, 0x100, words, 70)); break;
        case 2: rc = rtrl_read_out(&dev, y, fl, 255 / (2u * lay.p + 2u), &got); ok_rc(rc);
                if (got > 255u / (2u * lay.p + 2u)) abort(); break;
        case 3: ok_rc(rtrl_push(&dev, x, d, 2)); break;
        case 4: ok_rc(rtrl_info(&dev, &info)); break;
        case 5: ok_rc(rtrl_read_saturation(&dev, sat)); break;
        default: ok_rc(rtrl_step(&dev, x, d, y, fl)); break;
        }
    }
    return 0;
}
