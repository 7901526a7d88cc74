/*
 * End-to-end host: the C driver, compiled on a PC, drives the simulated device
 * (python -m rtrledit.firmware.simdevice) through a pipe pair: requests on fd 1,
 * responses on fd 0. Used by tests/firmware/test_e2e.py.
 *
 *   e2e_host JOB OUT
 * JOB: whitespace-separated integers: T, then W, U, V, C (window sizes of
 * rtrledit_regs.h), then T rows of m inputs and p targets.
 * OUT: "Y t y... flags" per step, then one line per window/register read back.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rtrledit.h"
#include "rtrledit_regs.h"

static int fd_send(void *u, const uint8_t *d, size_t n)
{
    (void)u;
    while (n) {
        ssize_t k = write(1, d, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        d += k;
        n -= (size_t)k;
    }
    return 0;
}

static int fd_recv(void *u, uint8_t *d, size_t n, uint32_t timeout_ms)
{
    struct pollfd p = {0, POLLIN, 0};
    size_t got = 0;
    (void)u;
    while (got < n) {
        int r = poll(&p, 1, (int)timeout_ms);
        ssize_t k;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        k = read(0, d + got, n - got);
        if (k < 0) return -1;
        if (k == 0) break;
        got += (size_t)k;
    }
    return (int)got;
}

static void fd_flush(void *u)
{
    uint8_t junk[256];
    struct pollfd p = {0, POLLIN, 0};
    (void)u;
    while (poll(&p, 1, 20) > 0 && read(0, junk, sizeof junk) > 0) {}
}

static FILE *out;

static void die(const char *what, int rc)
{
    fprintf(stderr, "e2e_host: %s: %s\n", what, rtrl_strerror(rc));
    exit(1);
}

static int32_t *read_ints(FILE *f, size_t n)
{
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    size_t i;
    long x;
    for (i = 0; i < n; i++) {
        if (fscanf(f, "%ld", &x) != 1) { fprintf(stderr, "e2e_host: short job file\n"); exit(1); }
        v[i] = (int32_t)x;
    }
    return v;
}

static void dump_window(rtrl_dev *dev, const char *name, uint32_t base, size_t size)
{
    int32_t *v = malloc(size * sizeof *v);
    size_t i;
    int rc = rtrl_read_words(dev, base, v, size);
    if (rc) die(name, rc);
    fprintf(out, "%s", name);
    for (i = 0; i < size; i++) fprintf(out, " %ld", (long)v[i]);
    fprintf(out, "\n");
    free(v);
}

int main(int argc, char **argv)
{
    rtrl_transport io = {fd_send, fd_recv, fd_flush, NULL};
    rtrl_layout lay = RTRL_LAYOUT_INIT;
    rtrl_dev dev;
    uint32_t sat[RTRL_NUM_SAT], v;
    int32_t y[RTRL_MAX_OUT * RTRL_CFG_P];
    uint16_t fl[RTRL_MAX_OUT];
    int32_t *W, *U, *V, *C, *xs, *ds;
    long T;
    unsigned sent = 0, done = 0, pending = 0, i, max_push;
    int rc;
    FILE *job;

    if (argc != 3 || !(job = fopen(argv[1], "r")) || !(out = fopen(argv[2], "w"))) {
        fprintf(stderr, "usage: e2e_host JOB OUT\n");
        return 2;
    }
    if (fscanf(job, "%ld", &T) != 1 || T < 1) return 2;
    W = read_ints(job, RTRL_WIN_W_SIZE);
    U = read_ints(job, RTRL_WIN_U_SIZE);
    V = read_ints(job, RTRL_WIN_V_SIZE);
    C = read_ints(job, RTRL_WIN_C_SIZE);
    xs = malloc((size_t)T * RTRL_CFG_M * sizeof *xs);
    ds = malloc((size_t)T * RTRL_CFG_P * sizeof *ds);
    for (i = 0; i < (unsigned)T; i++) {
        int32_t *row = read_ints(job, RTRL_CFG_M + RTRL_CFG_P);
        unsigned e;
        for (e = 0; e < RTRL_CFG_M; e++) xs[i * RTRL_CFG_M + e] = row[e];
        for (e = 0; e < RTRL_CFG_P; e++) ds[i * RTRL_CFG_P + e] = row[RTRL_CFG_M + e];
        free(row);
    }

    if ((rc = rtrl_init(&dev, &io, &lay, 30000))) die("init", rc);
    if ((rc = rtrl_check(&dev))) die("check", rc);
    if ((rc = rtrl_check_shape(&dev, RTRL_CFG_SHAPE))) die("check_shape", rc);
    if ((rc = rtrl_set_learning(&dev, 0))) die("ctrl", rc);
    if ((rc = rtrl_write_words(&dev, RTRL_WIN_W_BASE, W, RTRL_WIN_W_SIZE))) die("W", rc);
    if ((rc = rtrl_write_words(&dev, RTRL_WIN_U_BASE, U, RTRL_WIN_U_SIZE))) die("U", rc);
    if ((rc = rtrl_write_words(&dev, RTRL_WIN_V_BASE, V, RTRL_WIN_V_SIZE))) die("V", rc);
    if ((rc = rtrl_write_words(&dev, RTRL_WIN_C_BASE, C, RTRL_WIN_C_SIZE))) die("C", rc);
    if ((rc = rtrl_write_reg(&dev, RTRL_REG_ETA, RTRL_CFG_ETA | (RTRL_CFG_ETA_O << 8)))) die("ETA", rc);
    if ((rc = rtrl_set_learning(&dev, 1))) die("learn", rc);

    max_push = rtrl_max_push(&dev);
    while (done < (unsigned)T) {
        unsigned k = dev.layout.fifo_depth - pending, got;
        if (k > max_push) k = max_push;
        if (k > (unsigned)T - sent) k = (unsigned)T - sent;
        if (k) {
            if ((rc = rtrl_push(&dev, xs + sent * RTRL_CFG_M, ds + sent * RTRL_CFG_P, k))) die("push", rc);
            sent += k;
            pending += k;
        }
        if ((rc = rtrl_read_out(&dev, y, fl, RTRL_MAX_OUT, &got))) die("read_out", rc);
        for (i = 0; i < got; i++, done++) {
            unsigned o;
            fprintf(out, "Y %u", done);
            for (o = 0; o < RTRL_CFG_P; o++) fprintf(out, " %ld", (long)y[i * RTRL_CFG_P + o]);
            fprintf(out, " %u\n", (unsigned)fl[i]);
        }
        pending -= got;
    }
    do {
        if ((rc = rtrl_read_reg(&dev, RTRL_REG_STATUS, &v))) die("status", rc);
    } while (v & RTRL_STATUS_BUSY_MASK);
    dump_window(&dev, "W", RTRL_WIN_W_BASE, RTRL_WIN_W_SIZE);
    dump_window(&dev, "U", RTRL_WIN_U_BASE, RTRL_WIN_U_SIZE);
    dump_window(&dev, "V", RTRL_WIN_V_BASE, RTRL_WIN_V_SIZE);
    dump_window(&dev, "C", RTRL_WIN_C_BASE, RTRL_WIN_C_SIZE);
    dump_window(&dev, "H", RTRL_WIN_H_BASE, RTRL_WIN_H_SIZE);
    dump_window(&dev, "S", RTRL_WIN_S_BASE, RTRL_WIN_S_SIZE);
    if ((rc = rtrl_read_saturation(&dev, sat))) die("sat", rc);
    fprintf(out, "SAT");
    for (i = 0; i < RTRL_NUM_SAT; i++) fprintf(out, " %lu", (unsigned long)sat[i]);
    if ((rc = rtrl_read_reg(&dev, RTRL_REG_STEPS, &v))) die("steps", rc);
    fprintf(out, "\nSTEPS %lu\n", (unsigned long)v);
    if ((rc = rtrl_read_reg(&dev, RTRL_REG_LFSR, &v))) die("lfsr", rc);
    fprintf(out, "LFSR %lu\n", (unsigned long)v);
    fclose(out);
    free(W); free(U); free(V); free(C); free(xs); free(ds);
    return 0;
}
