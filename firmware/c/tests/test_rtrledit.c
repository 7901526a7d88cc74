/*
 * Unit tests of the C driver against a scripted transport. Built and run by
 * tests/firmware/test_c.py, which generates "vectors.h" with the Python protocol
 * encoder (rtrledit.boards.protocol): the frames the C driver must send and the
 * responses it must accept, so the two implementations are checked against each other.
 */
#include <stdio.h>
#include <string.h>

#include "rtrledit.h"
#include "vectors.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); failures++; } } while (0)
#define CHECK_RC(got, want) do { int g_ = (got); if (g_ != (want)) { fprintf(stderr, "%s:%d: rc %d (%s), expected %d\n", __FILE__, __LINE__, g_, rtrl_strerror(g_), (want)); failures++; } } while (0)

/* scripted link: what the driver sent, and the bytes it will receive */
typedef struct {
    uint8_t sent[4096];
    size_t nsent;
    uint8_t rx[8192];
    size_t nrx, pos;
    int fail_send, fail_recv, flushes;
} mock;

static int m_send(void *u, const uint8_t *d, size_t n)
{
    mock *m = u;
    if (m->fail_send) return -1;
    if (m->nsent + n > sizeof m->sent) return -1;
    memcpy(m->sent + m->nsent, d, n);
    m->nsent += n;
    return 0;
}

static int m_recv(void *u, uint8_t *d, size_t n, uint32_t t)
{
    mock *m = u;
    size_t k = m->nrx - m->pos;
    (void)t;
    if (m->fail_recv) return -1;
    if (k > n) k = n;
    memcpy(d, m->rx + m->pos, k);
    m->pos += k;
    return (int)k;
}

static void m_flush(void *u) { ((mock *)u)->flushes++; }

static void feed(mock *m, const uint8_t *b, size_t n)
{
    memcpy(m->rx + m->nrx, b, n);
    m->nrx += n;
}

static mock M;
static rtrl_dev D;

static void setup(void)
{
    rtrl_transport io = {m_send, m_recv, m_flush, &M};
    rtrl_layout lay = {VEC_M, VEC_P, VEC_XW, VEC_YW, VEC_FIFO};
    memset(&M, 0, sizeof M);
    CHECK_RC(rtrl_init(&D, &io, &lay, 10), RTRL_OK);
}

static void test_crc_and_encoder(void)
{
    uint8_t out[300];
    size_t n;
    CHECK(rtrl_crc16((const uint8_t *)"123456789", 9, RTRL_CRC_INIT) == RTRL_CRC_CHECK);
    n = rtrl_encode_request(RTRL_CMD_READ_REG, vec_read_reg_req + 3, 3, out);
    CHECK(n == sizeof vec_read_reg_req && memcmp(out, vec_read_reg_req, n) == 0);
    CHECK(rtrl_encode_request(RTRL_CMD_PUSH, out, 256, out) == 0);
}

static void test_commands_match_python(void)
{
    uint32_t v;
    int32_t words[VEC_NWORDS], back[VEC_NWORDS];
    int32_t y[4 * VEC_P];
    uint16_t fl[4];
    unsigned got, i;
    rtrl_info_t info;

    setup();
    feed(&M, vec_read_reg_rsp, sizeof vec_read_reg_rsp);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_OK);
    CHECK(v == VEC_REG_VALUE);
    CHECK(M.nsent == sizeof vec_read_reg_req && memcmp(M.sent, vec_read_reg_req, M.nsent) == 0);

    setup();
    feed(&M, vec_write_reg_rsp, sizeof vec_write_reg_rsp);
    CHECK_RC(rtrl_write_reg(&D, VEC_REG_ADDR, VEC_REG_VALUE), RTRL_OK);
    CHECK(M.nsent == sizeof vec_write_reg_req && memcmp(M.sent, vec_write_reg_req, M.nsent) == 0);

    /* windows longer than one frame: split exactly as the Python driver does */
    setup();
    for (i = 0; i < VEC_NWORDS; i++) words[i] = vec_words[i];
    feed(&M, vec_write_win_rsp, sizeof vec_write_win_rsp);
    CHECK_RC(rtrl_write_words(&D, VEC_WIN_ADDR, words, VEC_NWORDS), RTRL_OK);
    CHECK(M.nsent == sizeof vec_write_win_req && memcmp(M.sent, vec_write_win_req, M.nsent) == 0);

    setup();
    feed(&M, vec_read_win_rsp, sizeof vec_read_win_rsp);
    CHECK_RC(rtrl_read_words(&D, VEC_WIN_ADDR, back, VEC_NWORDS), RTRL_OK);
    CHECK(M.nsent == sizeof vec_read_win_req && memcmp(M.sent, vec_read_win_req, M.nsent) == 0);
    CHECK(memcmp(back, words, sizeof words) == 0);

    setup();
    feed(&M, vec_push_rsp, sizeof vec_push_rsp);
    CHECK_RC(rtrl_push(&D, vec_push_x, vec_push_d, VEC_PUSH_K), RTRL_OK);
    CHECK(M.nsent == sizeof vec_push_req && memcmp(M.sent, vec_push_req, M.nsent) == 0);

    setup();
    feed(&M, vec_read_out_rsp, sizeof vec_read_out_rsp);
    CHECK_RC(rtrl_read_out(&D, y, fl, 4, &got), RTRL_OK);
    CHECK(M.nsent == sizeof vec_read_out_req && memcmp(M.sent, vec_read_out_req, M.nsent) == 0);
    CHECK(got == VEC_OUT_K);
    for (i = 0; i < VEC_OUT_K * VEC_P; i++) CHECK(y[i] == vec_out_y[i]);
    for (i = 0; i < VEC_OUT_K; i++) CHECK(fl[i] == vec_out_flags[i]);

    setup();
    feed(&M, vec_info_rsp, sizeof vec_info_rsp);
    CHECK_RC(rtrl_info(&D, &info), RTRL_OK);
    CHECK(info.sample_bytes == VEC_SB && info.result_bytes == VEC_RB && info.max_payload == 255);

    setup();
    feed(&M, vec_ctrl_rsp, sizeof vec_ctrl_rsp);
    CHECK_RC(rtrl_set_learning(&D, 0), RTRL_OK);
    CHECK(M.nsent == sizeof vec_ctrl_off_req && memcmp(M.sent, vec_ctrl_off_req, M.nsent) == 0);

    setup();
    feed(&M, vec_shape_rsp, sizeof vec_shape_rsp);
    CHECK_RC(rtrl_check_shape(&D, VEC_SHAPE), RTRL_OK);
    CHECK(M.nsent == sizeof vec_shape_req && memcmp(M.sent, vec_shape_req, M.nsent) == 0);
    setup();
    feed(&M, vec_other_shape_rsp, sizeof vec_other_shape_rsp);
    CHECK_RC(rtrl_check_shape(&D, VEC_SHAPE), RTRL_E_SHAPE);
}

static void test_error_paths(void)
{
    uint32_t v, sat[RTRL_NUM_SAT];
    int32_t y[8], x[VEC_M * 64], d[VEC_P * 64];
    unsigned got;
    uint8_t bad[64];

    /* silence: timeout, after retries (idempotent) */
    setup();
    CHECK_RC(rtrl_read_reg(&D, 0, &v), RTRL_E_TIMEOUT);
    CHECK(M.nsent == 3 * sizeof vec_read_reg_req && M.flushes == 3);
    /* truncated response */
    setup();
    feed(&M, vec_read_reg_rsp, sizeof vec_read_reg_rsp - 1);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_E_TIMEOUT);
    /* corrupted response three times: CRC error */
    setup();
    memcpy(bad, vec_read_reg_rsp, sizeof vec_read_reg_rsp);
    bad[5] ^= 0x10;
    feed(&M, bad, sizeof vec_read_reg_rsp);
    feed(&M, bad, sizeof vec_read_reg_rsp);
    feed(&M, bad, sizeof vec_read_reg_rsp);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_E_CRC);
    /* corrupted once, then good: the retry succeeds */
    setup();
    feed(&M, bad, sizeof vec_read_reg_rsp);
    feed(&M, vec_read_reg_rsp, sizeof vec_read_reg_rsp);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_OK);
    CHECK(v == VEC_REG_VALUE);
    /* garbage before the response is skipped */
    setup();
    feed(&M, (const uint8_t *)"\x00\xA5\x13", 3);
    feed(&M, vec_read_reg_rsp, sizeof vec_read_reg_rsp);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_OK);
    /* device errors: status kept, no retry for BAD_LEN */
    setup();
    feed(&M, vec_bad_len_rsp, sizeof vec_bad_len_rsp);
    CHECK_RC(rtrl_read_reg(&D, VEC_REG_ADDR, &v), RTRL_E_DEVICE);
    CHECK(D.last_status == RTRL_STATUS_BAD_LEN && M.nsent == sizeof vec_read_reg_req);
    /* FULL on a push (not retried) */
    setup();
    feed(&M, vec_full_rsp, sizeof vec_full_rsp);
    CHECK_RC(rtrl_push(&D, vec_push_x, vec_push_d, 1), RTRL_E_DEVICE);
    CHECK(D.last_status == RTRL_STATUS_FULL);
    /* out of sequence: a READ_REG answer to a WRITE_REG */
    setup();
    feed(&M, vec_read_reg_rsp, sizeof vec_read_reg_rsp);
    D.retries = 0;
    CHECK_RC(rtrl_write_reg(&D, 0, 1), RTRL_E_FRAME);
    /* wrong payload length for the command */
    setup();
    feed(&M, vec_write_reg_rsp, sizeof vec_write_reg_rsp);   /* OK, but empty, to READ_OUT */
    CHECK_RC(rtrl_read_out(&D, y, NULL, 1, &got), RTRL_E_FRAME);
    setup();
    feed(&M, vec_read_out_odd_rsp, sizeof vec_read_out_odd_rsp);
    CHECK_RC(rtrl_read_out(&D, y, NULL, 4, &got), RTRL_E_LENGTH);
    setup();
    feed(&M, vec_read_out_rsp, sizeof vec_read_out_rsp);          /* more than asked */
    CHECK_RC(rtrl_read_out(&D, y, NULL, 1, &got), RTRL_E_LENGTH);
    /* transport failures */
    setup();
    M.fail_send = 1;
    CHECK_RC(rtrl_read_saturation(&D, sat), RTRL_E_IO);
    setup();
    M.fail_recv = 1;
    CHECK_RC(rtrl_read_reg(&D, 0, &v), RTRL_E_IO);
    /* bad arguments never reach the link */
    setup();
    memset(x, 0, sizeof x);
    memset(d, 0, sizeof d);
    CHECK_RC(rtrl_push(&D, x, d, 0), RTRL_E_ARG);
    CHECK_RC(rtrl_push(&D, x, d, rtrl_max_push(&D) + 1), RTRL_E_ARG);
    x[0] = 1 << (VEC_XW - 1);                                   /* does not fit X */
    CHECK_RC(rtrl_push(&D, x, d, 1), RTRL_E_ARG);
    CHECK_RC(rtrl_read_reg(&D, 1u << 24, &v), RTRL_E_ARG);
    CHECK_RC(rtrl_read_out(&D, y, NULL, 0, &got), RTRL_E_ARG);
    CHECK(M.nsent == 0);
    CHECK(rtrl_strerror(RTRL_E_TIMEOUT)[0] == 't');
}

int main(void)
{
    test_crc_and_encoder();
    test_commands_match_python();
    test_error_paths();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("all C driver tests passed\n");
    return 0;
}
