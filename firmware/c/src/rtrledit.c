/*
 * rtrledit.c - driver for the rtrledit learning core (see rtrledit.h).
 * Freestanding C99: no heap, no stdio, no libc.
 */
#include "rtrledit.h"

#define HDR 4u /* response: sync, cmd, status, len */

static unsigned nbytes(unsigned width) { return (width + 7u) / 8u; }

static unsigned sample_bytes(const rtrl_layout *l)
{
    return (unsigned)l->m * nbytes(l->xw) + (unsigned)l->p * nbytes(l->yw);
}

static unsigned result_bytes(const rtrl_layout *l) { return (unsigned)l->p * nbytes(l->yw) + 2u; }

uint16_t rtrl_crc16(const uint8_t *data, size_t len, uint16_t crc)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned b;
        crc = (uint16_t)(crc ^ ((unsigned)data[i] << 8));
        for (b = 0; b < 8; b++)
            crc = (crc & 0x8000u) ? (uint16_t)(((unsigned)crc << 1) ^ RTRL_CRC_POLY)
                                  : (uint16_t)((unsigned)crc << 1);
    }
    return crc;
}

size_t rtrl_encode_request(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *out)
{
    size_t i;
    uint16_t crc;
    if (len > RTRL_MAX_PAYLOAD || out == NULL || (len && payload == NULL))
        return 0;
    out[0] = RTRL_SYNC_REQ;
    out[1] = cmd;
    out[2] = (uint8_t)len;
    for (i = 0; i < len; i++)
        out[3 + i] = payload[i];
    crc = rtrl_crc16(out + 1, len + 2, RTRL_CRC_INIT);
    out[3 + len] = (uint8_t)(crc & 0xFFu);
    out[4 + len] = (uint8_t)(crc >> 8);
    return len + 5;
}

int rtrl_parse_response(const uint8_t *buf, size_t len, rtrl_response *rsp, size_t *used)
{
    size_t n;
    uint16_t crc;
    if (buf == NULL || rsp == NULL)
        return RTRL_E_ARG;
    if (len < 1)
        return RTRL_E_TIMEOUT;
    if (buf[0] != RTRL_SYNC_RSP)
        return RTRL_E_FRAME;
    if (len < HDR + 2)
        return RTRL_E_TIMEOUT;
    n = buf[3];
    if (len < HDR + n + 2)
        return RTRL_E_TIMEOUT;
    crc = rtrl_crc16(buf + 1, HDR - 1 + n, RTRL_CRC_INIT);
    if ((uint16_t)(buf[HDR + n] | ((uint16_t)buf[HDR + n + 1] << 8)) != crc)
        return RTRL_E_CRC;
    rsp->cmd = buf[1];
    rsp->status = buf[2];
    rsp->len = (uint8_t)n;
    rsp->payload = buf + HDR;
    if (used)
        *used = HDR + n + 2;
    return RTRL_OK;
}

const char *rtrl_strerror(int err)
{
    switch (err) {
    case RTRL_OK: return "ok";
    case RTRL_E_TIMEOUT: return "timeout: no complete response from the device";
    case RTRL_E_CRC: return "response CRC error";
    case RTRL_E_DEVICE: return "the device reported an error status";
    case RTRL_E_LENGTH: return "response of the wrong length";
    case RTRL_E_FRAME: return "bad or out-of-sequence response frame";
    case RTRL_E_ARG: return "bad argument";
    case RTRL_E_IO: return "transport failure";
    case RTRL_E_SHAPE: return "the device was built for another network shape (SHAPE register)";
    default: return "unknown error";
    }
}

int rtrl_init(rtrl_dev *dev, const rtrl_transport *io, const rtrl_layout *layout,
              uint32_t timeout_ms)
{
    if (dev == NULL || io == NULL || layout == NULL || io->send == NULL || io->recv == NULL)
        return RTRL_E_ARG;
    if (layout->m == 0 || layout->p == 0 || layout->xw < 2 || layout->xw > 32 ||
        layout->yw < 2 || layout->yw > 32 || layout->fifo_depth == 0 ||
        sample_bytes(layout) > RTRL_MAX_PAYLOAD || result_bytes(layout) > RTRL_MAX_PAYLOAD)
        return RTRL_E_ARG;
    dev->io = *io;
    dev->layout = *layout;
    dev->timeout_ms = timeout_ms;
    dev->retries = 2;
    dev->last_status = RTRL_STATUS_OK;
    dev->poll_limit = 100000u;
    return RTRL_OK;
}

/* Exactly len bytes into p, or an error. */
static int recv_all(rtrl_dev *dev, uint8_t *p, size_t len)
{
    size_t got = 0;
    while (got < len) {
        int k = dev->io.recv(dev->io.user, p + got, len - got, dev->timeout_ms);
        if (k < 0)
            return RTRL_E_IO;
        if (k == 0 || (size_t)k > len - got)
            return k == 0 ? RTRL_E_TIMEOUT : RTRL_E_IO;
        got += (size_t)k;
    }
    return RTRL_OK;
}

/* Read one response frame into dev->buf (skipping garbage before its sync byte). */
static int recv_response(rtrl_dev *dev, rtrl_response *rsp)
{
    unsigned skipped = 0;
    int rc;
    for (;;) {
        rc = recv_all(dev, dev->buf, 1);
        if (rc != RTRL_OK)
            return rc;
        if (dev->buf[0] == RTRL_SYNC_RSP)
            break;
        if (++skipped > 2u * RTRL_FRAME_MAX)
            return RTRL_E_FRAME;
    }
    rc = recv_all(dev, dev->buf + 1, HDR - 1);
    if (rc != RTRL_OK)
        return rc;
    rc = recv_all(dev, dev->buf + HDR, (size_t)dev->buf[3] + 2u);
    if (rc != RTRL_OK)
        return rc;
    return rtrl_parse_response(dev->buf, sizeof dev->buf, rsp, NULL);
}

static int idempotent(uint8_t cmd)
{
    return cmd == RTRL_CMD_INFO || cmd == RTRL_CMD_READ_REG || cmd == RTRL_CMD_WRITE_REG ||
           cmd == RTRL_CMD_READ_WIN || cmd == RTRL_CMD_WRITE_WIN;
}

int rtrl_request(rtrl_dev *dev, uint8_t cmd, const uint8_t *payload, size_t len,
                 uint8_t *out, size_t cap, size_t *out_len)
{
    unsigned attempt, attempts;
    int rc = RTRL_E_ARG;
    if (dev == NULL || len > RTRL_MAX_PAYLOAD || (len && payload == NULL) ||
        (cap && out == NULL))
        return RTRL_E_ARG;
    if (out_len)
        *out_len = 0;
    attempts = 1u + (idempotent(cmd) ? dev->retries : 0u);
    for (attempt = 0; attempt < attempts; attempt++) {
        rtrl_response rsp;
        size_t i, n;
        /* the request is built anew each time: dev->buf also receives the response */
        n = rtrl_encode_request(cmd, payload, len, dev->buf);
        if (dev->io.send(dev->io.user, dev->buf, n) != 0)
            return RTRL_E_IO;
        rc = recv_response(dev, &rsp);
        if (rc == RTRL_OK && rsp.cmd != cmd)
            rc = RTRL_E_FRAME;                       /* out of sequence */
        if (rc == RTRL_OK && rsp.status != RTRL_STATUS_OK) {
            dev->last_status = rsp.status;
            rc = RTRL_E_DEVICE;
            if (rsp.status != RTRL_STATUS_BAD_CRC && rsp.status != RTRL_STATUS_TIMEOUT)
                return rc;                           /* not a link error: do not retry */
        }
        if (rc == RTRL_OK) {
            if (rsp.len > cap)
                return RTRL_E_LENGTH;
            for (i = 0; i < rsp.len; i++)
                out[i] = rsp.payload[i];
            if (out_len)
                *out_len = rsp.len;
            return RTRL_OK;
        }
        if (rc == RTRL_E_IO)
            return rc;
        if (dev->io.flush)
            dev->io.flush(dev->io.user);
    }
    return rc;
}

static void put_addr(uint8_t *p, uint32_t addr)
{
    p[0] = (uint8_t)(addr & 0xFFu);
    p[1] = (uint8_t)((addr >> 8) & 0xFFu);
    p[2] = (uint8_t)((addr >> 16) & 0xFFu);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* two's complement without implementation-defined conversions */
static int32_t to_i32(uint32_t u)
{
    return u <= 0x7FFFFFFFu ? (int32_t)u : (int32_t)(-(int32_t)(~u) - 1);
}

static uint32_t from_i32(int32_t v)
{
    return v >= 0 ? (uint32_t)v : ~(uint32_t)(-(v + 1));
}

int rtrl_info(rtrl_dev *dev, rtrl_info_t *info)
{
    uint8_t pl[RTRL_INFO_BYTES];
    size_t n;
    int rc;
    if (info == NULL)
        return RTRL_E_ARG;
    rc = rtrl_request(dev, RTRL_CMD_INFO, NULL, 0, pl, sizeof pl, &n);
    if (rc != RTRL_OK)
        return rc;
    if (n != RTRL_INFO_BYTES)
        return RTRL_E_LENGTH;
    info->version = pl[0];
    info->sample_bytes = pl[1];
    info->result_bytes = pl[2];
    info->fifo_depth = pl[3];
    info->max_payload = pl[4];
    return RTRL_OK;
}

int rtrl_check(rtrl_dev *dev)
{
    rtrl_info_t info;
    uint32_t id;
    int rc = rtrl_read_reg(dev, RTRL_REG_ID, &id);
    if (rc != RTRL_OK)
        return rc;
    if (id != RTRL_ID_MAGIC)
        return RTRL_E_FRAME;
    rc = rtrl_info(dev, &info);
    if (rc != RTRL_OK)
        return rc;
    if (info.version != RTRL_PROTOCOL_VERSION || info.sample_bytes != sample_bytes(&dev->layout) ||
        info.result_bytes != result_bytes(&dev->layout) || info.fifo_depth == 0)
        return RTRL_E_LENGTH;
    dev->layout.fifo_depth = info.fifo_depth;
    return RTRL_OK;
}

int rtrl_check_shape(rtrl_dev *dev, uint32_t shape)
{
    uint32_t got;
    int rc = rtrl_read_reg(dev, RTRL_REG_SHAPE, &got);
    if (rc != RTRL_OK)
        return rc;
    return got == shape ? RTRL_OK : RTRL_E_SHAPE;
}

int rtrl_read_reg(rtrl_dev *dev, uint32_t addr, uint32_t *value)
{
    uint8_t req[3], pl[4];
    size_t n;
    int rc;
    if (value == NULL || addr >> RTRL_ADDR_WIDTH)
        return RTRL_E_ARG;
    put_addr(req, addr);
    rc = rtrl_request(dev, RTRL_CMD_READ_REG, req, sizeof req, pl, sizeof pl, &n);
    if (rc != RTRL_OK)
        return rc;
    if (n != 4)
        return RTRL_E_LENGTH;
    *value = get_u32(pl);
    return RTRL_OK;
}

int rtrl_write_reg(rtrl_dev *dev, uint32_t addr, uint32_t value)
{
    uint8_t req[7];
    size_t n;
    int rc;
    if (addr >> RTRL_ADDR_WIDTH)
        return RTRL_E_ARG;
    put_addr(req, addr);
    put_u32(req + 3, value);
    rc = rtrl_request(dev, RTRL_CMD_WRITE_REG, req, sizeof req, NULL, 0, &n);
    return rc;
}

int rtrl_read_words(rtrl_dev *dev, uint32_t addr, int32_t *values, size_t count)
{
    uint8_t req[4], pl[4u * RTRL_MAX_WORDS];
    size_t done = 0;
    if (values == NULL || addr >> RTRL_ADDR_WIDTH || count > (1u << RTRL_ADDR_WIDTH) - addr)
        return RTRL_E_ARG;
    while (done < count) {
        size_t c = count - done, n, i;
        int rc;
        if (c > RTRL_MAX_WORDS)
            c = RTRL_MAX_WORDS;
        put_addr(req, addr + (uint32_t)done);
        req[3] = (uint8_t)c;
        rc = rtrl_request(dev, RTRL_CMD_READ_WIN, req, sizeof req, pl, sizeof pl, &n);
        if (rc != RTRL_OK)
            return rc;
        if (n != 4u * c)
            return RTRL_E_LENGTH;
        for (i = 0; i < c; i++)
            values[done + i] = to_i32(get_u32(pl + 4 * i));
        done += c;
    }
    return RTRL_OK;
}

int rtrl_write_words(rtrl_dev *dev, uint32_t addr, const int32_t *values, size_t count)
{
    uint8_t req[3u + 4u * RTRL_MAX_WORDS];
    size_t done = 0;
    if ((count && values == NULL) || addr >> RTRL_ADDR_WIDTH ||
        count > (1u << RTRL_ADDR_WIDTH) - addr)
        return RTRL_E_ARG;
    while (done < count) {
        size_t c = count - done, n, i;
        int rc;
        if (c > RTRL_MAX_WORDS)
            c = RTRL_MAX_WORDS;
        put_addr(req, addr + (uint32_t)done);
        for (i = 0; i < c; i++)
            put_u32(req + 3 + 4 * i, from_i32(values[done + i]));
        rc = rtrl_request(dev, RTRL_CMD_WRITE_WIN, req, 3u + 4u * c, NULL, 0, &n);
        if (rc != RTRL_OK)
            return rc;
        done += c;
    }
    return RTRL_OK;
}

unsigned rtrl_max_push(const rtrl_dev *dev)
{
    unsigned k;
    if (dev == NULL)
        return 0;
    k = RTRL_MAX_PAYLOAD / sample_bytes(&dev->layout);
    return k < dev->layout.fifo_depth ? k : dev->layout.fifo_depth;
}

/* value as a w-bit element in nb bytes; 0 if it does not fit */
static int put_elem(uint8_t *p, int32_t v, unsigned w, unsigned nb)
{
    int64_t lo = -((int64_t)1 << (w - 1)), hi = ((int64_t)1 << (w - 1)) - 1;
    uint32_t u;
    unsigned i;
    if ((int64_t)v < lo || (int64_t)v > hi)
        return 0;
    u = from_i32(v);
    for (i = 0; i < nb; i++)
        p[i] = (uint8_t)((u >> (8 * i)) & 0xFFu);
    return 1;
}

static int32_t get_elem(const uint8_t *p, unsigned w, unsigned nb)
{
    uint32_t u = 0;
    unsigned i;
    for (i = 0; i < nb; i++)
        u |= (uint32_t)p[i] << (8 * i);
    if (w < 32) {
        u &= ((uint32_t)1 << w) - 1u;
        if (u >> (w - 1))
            u |= ~(((uint32_t)1 << w) - 1u);   /* sign-extend */
    }
    return to_i32(u);
}

int rtrl_push(rtrl_dev *dev, const int32_t *x, const int32_t *d, unsigned k)
{
    uint8_t pl[RTRL_MAX_PAYLOAD];
    unsigned s, e, o = 0, xb, yb;
    size_t n;
    if (dev == NULL || x == NULL || d == NULL || k == 0 || k > rtrl_max_push(dev))
        return RTRL_E_ARG;
    xb = nbytes(dev->layout.xw);
    yb = nbytes(dev->layout.yw);
    for (s = 0; s < k; s++) {
        for (e = 0; e < dev->layout.m; e++, o += xb)
            if (!put_elem(pl + o, x[s * dev->layout.m + e], dev->layout.xw, xb))
                return RTRL_E_ARG;
        for (e = 0; e < dev->layout.p; e++, o += yb)
            if (!put_elem(pl + o, d[s * dev->layout.p + e], dev->layout.yw, yb))
                return RTRL_E_ARG;
    }
    return rtrl_request(dev, RTRL_CMD_PUSH, pl, o, NULL, 0, &n);
}

int rtrl_read_out(rtrl_dev *dev, int32_t *y, uint16_t *flags, unsigned max, unsigned *got)
{
    uint8_t req[1], pl[RTRL_MAX_PAYLOAD];
    unsigned rb, yb, r, o, cnt;
    size_t n;
    int rc;
    if (dev == NULL || y == NULL || got == NULL || max == 0 || max > 255)
        return RTRL_E_ARG;
    *got = 0;
    req[0] = (uint8_t)max;
    rc = rtrl_request(dev, RTRL_CMD_READ_OUT, req, 1, pl, sizeof pl, &n);
    if (rc != RTRL_OK)
        return rc;
    rb = result_bytes(&dev->layout);
    yb = nbytes(dev->layout.yw);
    if (n % rb != 0 || n / rb > max)
        return RTRL_E_LENGTH;
    cnt = (unsigned)(n / rb);
    for (r = 0; r < cnt; r++) {
        const uint8_t *p = pl + r * rb;
        for (o = 0; o < dev->layout.p; o++)
            y[r * dev->layout.p + o] = get_elem(p + o * yb, dev->layout.yw, yb);
        if (flags)
            flags[r] = (uint16_t)(p[rb - 2] | ((unsigned)p[rb - 1] << 8));
    }
    *got = cnt;
    return RTRL_OK;
}

int rtrl_step(rtrl_dev *dev, const int32_t *x, const int32_t *d, int32_t *y, uint16_t *flags)
{
    uint32_t polls;
    int rc = rtrl_push(dev, x, d, 1);
    if (rc != RTRL_OK)
        return rc;
    for (polls = 0; polls < dev->poll_limit; polls++) {
        unsigned got;
        rc = rtrl_read_out(dev, y, flags, 1, &got);
        if (rc != RTRL_OK)
            return rc;
        if (got == 1)
            return RTRL_OK;
    }
    return RTRL_E_TIMEOUT;
}

int rtrl_ctrl(rtrl_dev *dev, int learn, uint32_t pulses)
{
    uint32_t v = learn ? (RTRL_CTRL_LEARN_MASK | RTRL_CTRL_TRACK_MASK) : 0u;
    return rtrl_write_reg(dev, RTRL_REG_CTRL, v | (pulses & ~(uint32_t)(RTRL_CTRL_LEARN_MASK |
                                                                        RTRL_CTRL_TRACK_MASK)));
}

int rtrl_set_learning(rtrl_dev *dev, int learn) { return rtrl_ctrl(dev, learn, 0); }

int rtrl_read_saturation(rtrl_dev *dev, uint32_t counts[RTRL_NUM_SAT])
{
    unsigned i;
    if (counts == NULL)
        return RTRL_E_ARG;
    for (i = 0; i < RTRL_NUM_SAT; i++) {
        int rc = rtrl_read_reg(dev, RTRL_REG_SAT_X + i, &counts[i]);
        if (rc != RTRL_OK)
            return rc;
    }
    return RTRL_OK;
}
