/*
 * rtrledit.h - driver for the rtrledit learning core behind its frame bridge
 * (docs/protocol.md, docs/firmware.md).
 *
 * Freestanding C99: no heap, no stdio, no libc calls (only <stdint.h>, <stddef.h>).
 * The byte link (a UART, a pipe, ...) is two callbacks supplied by the caller.
 * Every function returns RTRL_OK (0) or a negative rtrl_err code; after
 * RTRL_E_DEVICE the device's status byte is in dev->last_status.
 * A dev is not thread-safe: one request at a time (the protocol is half-duplex).
 */
#ifndef RTRLEDIT_H
#define RTRLEDIT_H

#include <stddef.h>
#include <stdint.h>

#include "rtrledit_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest frame on the wire: response header (4) + payload (255) + CRC (2). */
#define RTRL_FRAME_MAX (4u + RTRL_MAX_PAYLOAD + 2u)

typedef enum {
    RTRL_OK = 0,
    RTRL_E_TIMEOUT = -1, /* no (complete) response within the timeout */
    RTRL_E_CRC = -2,     /* response CRC mismatch */
    RTRL_E_DEVICE = -3,  /* the device answered with an error status (dev->last_status) */
    RTRL_E_LENGTH = -4,  /* response payload of the wrong length for the command */
    RTRL_E_FRAME = -5,   /* no sync byte, or a response to another command (out of sequence) */
    RTRL_E_ARG = -6,     /* bad argument (NULL, count out of range, value does not fit) */
    RTRL_E_IO = -7,      /* the transport's send or receive reported failure */
    RTRL_E_SHAPE = -8    /* the device's SHAPE register is not the expected network shape */
} rtrl_err;

/* The byte link. */
typedef struct {
    /* Send len bytes. Return 0 when all were sent, non-zero on failure. */
    int (*send)(void *user, const uint8_t *data, size_t len);
    /* Receive up to len bytes, waiting at most timeout_ms for them.
     * Return the number received (0..len; fewer than len only on timeout), < 0 on failure. */
    int (*recv)(void *user, uint8_t *data, size_t len, uint32_t timeout_ms);
    /* Optional (may be NULL): drop received bytes not read yet (used after an error). */
    void (*flush)(void *user);
    void *user;
} rtrl_transport;

/* Sample/result layout of the core's Config (rtrledit_regs.h: RTRL_LAYOUT_INIT). */
typedef struct {
    uint8_t m;          /* inputs */
    uint8_t p;          /* outputs */
    uint8_t xw;         /* bits of an input element (format X) */
    uint8_t yw;         /* bits of a target/output element (format Y) */
    uint8_t fifo_depth; /* results the device can hold */
} rtrl_layout;

typedef struct {
    uint8_t version, sample_bytes, result_bytes, fifo_depth, max_payload;
} rtrl_info_t;

/* A decoded response frame (payload points into the parsed buffer). */
typedef struct {
    uint8_t cmd, status, len;
    const uint8_t *payload;
} rtrl_response;

typedef struct {
    rtrl_transport io;
    rtrl_layout layout;
    uint32_t timeout_ms;  /* per receive call */
    uint8_t retries;      /* extra attempts of idempotent requests after a link error */
    uint8_t last_status;  /* device status of the last RTRL_E_DEVICE */
    uint32_t poll_limit;  /* READ_OUT polls of rtrl_step before RTRL_E_TIMEOUT */
    uint8_t buf[RTRL_FRAME_MAX];
} rtrl_dev;

/* ---- frames (pure functions, no I/O) ---- */
uint16_t rtrl_crc16(const uint8_t *data, size_t len, uint16_t crc);
/* Build a request frame into out (room for len + 5 bytes). Returns its size, 0 if len > 255. */
size_t rtrl_encode_request(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *out);
/* Decode the response frame at the start of buf[0..len). On RTRL_OK *used is its size.
 * RTRL_E_FRAME: no sync byte first; RTRL_E_TIMEOUT: truncated; RTRL_E_CRC: bad CRC. */
int rtrl_parse_response(const uint8_t *buf, size_t len, rtrl_response *rsp, size_t *used);
const char *rtrl_strerror(int err);

/* ---- device ---- */
/* Set up dev (no I/O). timeout_ms: per receive call, e.g. 100 at 115200 baud. */
int rtrl_init(rtrl_dev *dev, const rtrl_transport *io, const rtrl_layout *layout,
              uint32_t timeout_ms);
/* One request; the OK response's payload is copied to out (capacity cap), its size to *out_len. */
int rtrl_request(rtrl_dev *dev, uint8_t cmd, const uint8_t *payload, size_t len,
                 uint8_t *out, size_t cap, size_t *out_len);
int rtrl_info(rtrl_dev *dev, rtrl_info_t *info);
/* ID is rtrledit's, INFO agrees with dev->layout. RTRL_E_LENGTH if the layout differs. */
int rtrl_check(rtrl_dev *dev);
/* The device's SHAPE register reads `shape` (RTRL_CFG_SHAPE of the generated
 * rtrledit_regs.h for the config the program was built for): RTRL_E_SHAPE if not. */
int rtrl_check_shape(rtrl_dev *dev, uint32_t shape);
int rtrl_read_reg(rtrl_dev *dev, uint32_t addr, uint32_t *value);
int rtrl_write_reg(rtrl_dev *dev, uint32_t addr, uint32_t value);
/* count signed words from addr on (any count: split into frames of <= 63 words). */
int rtrl_read_words(rtrl_dev *dev, uint32_t addr, int32_t *values, size_t count);
int rtrl_write_words(rtrl_dev *dev, uint32_t addr, const int32_t *values, size_t count);
/* Push k samples: x[k*m] (format X integers), d[k*p] (format Y). k <= max push. */
int rtrl_push(rtrl_dev *dev, const int32_t *x, const int32_t *d, unsigned k);
/* Up to max results: y[max*p], flags[max] (may be NULL); *got results read. */
int rtrl_read_out(rtrl_dev *dev, int32_t *y, uint16_t *flags, unsigned max, unsigned *got);
/* Push one sample and wait for its result (y[p], *flags may be NULL). */
int rtrl_step(rtrl_dev *dev, const int32_t *x, const int32_t *d, int32_t *y, uint16_t *flags);
/* CTRL.LEARN and CTRL.TRACK on (learn != 0) or off (inference only). */
int rtrl_set_learning(rtrl_dev *dev, int learn);
/* Pulses of CTRL (RTRL_CTRL_*_MASK of the w1 fields), keeping LEARN/TRACK as given. */
int rtrl_ctrl(rtrl_dev *dev, int learn, uint32_t pulses);
/* The RTRL_NUM_SAT saturation counters, in RTRL_SAT_*_BIT order. */
int rtrl_read_saturation(rtrl_dev *dev, uint32_t counts[RTRL_NUM_SAT]);
/* Most samples one PUSH frame may carry for dev->layout. */
unsigned rtrl_max_push(const rtrl_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* RTRLEDIT_H */
