/*
 * Board support for the example main loop (mcu_main.c) on a Linux PC: the UART is a
 * serial port opened with termios (a USB-serial board, or the pty of
 * `rtrledit board-sim`), the sensor plays format-X integers from a file, actuate
 * writes each prediction to OUT, and flash_save writes the weights to OUT.weights
 * (atomically: a temporary file, then rename) and ends the program after SAVES saves.
 *
 *   host_termios PORT BAUD SAMPLES OUT SAVES
 *
 * Exit status: 0 after SAVES saves; 1 on a driver error (fault: its message on stderr)
 * or when the samples run out.
 */
#define _DEFAULT_SOURCE
#include <asm/termbits.h> /* struct termios2, BOTHER: any baud, not only the Bnnn ones */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "rtrledit.h"

int rtrl_example_main(void);

/* The virtual board simulates slower than real time (and shares the machine): a receive
 * waits this many times the driver's timeout (50 ms in the example), so that a slow
 * answer is not taken for a link hiccup, which the example skips a sample for. */
#define TIMEOUT_SLACK 20

static int port = -1;
static FILE *samples, *predictions;
static const char *out_path;
static long saves_left;

static int open_port(const char *path, unsigned baud)
{
    struct termios2 t;
    int fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0 || ioctl(fd, TCGETS2, &t) != 0) return -1;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CBAUD);
    t.c_cflag |= CS8 | CREAD | CLOCAL | BOTHER; /* 8N1 */
    t.c_ispeed = t.c_ospeed = baud;
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (ioctl(fd, TCSETS2, &t) != 0) return -1;
    return fd;
}

int uart_write(const uint8_t *data, size_t len)
{
    while (len) {
        ssize_t k = write(port, data, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        data += k;
        len -= (size_t)k;
    }
    return 0;
}

int uart_read(uint8_t *data, size_t len, uint32_t timeout_ms)
{
    struct pollfd p = {0, POLLIN, 0};
    size_t got = 0;
    p.fd = port;
    while (got < len) {
        int r = poll(&p, 1, (int)(timeout_ms * TIMEOUT_SLACK));
        ssize_t k;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || (p.revents & (POLLERR | POLLHUP))) return -1; /* the port went away */
        if (r == 0) break;
        k = read(port, data + got, len - got);
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return (int)got;
}

void uart_flush_rx(void)
{
    ioctl(port, TCFLSH, TCIFLUSH);
}

int32_t sensor_read(void)
{
    long x;
    if (fscanf(samples, "%ld", &x) != 1) {
        fprintf(stderr, "host_termios: out of samples\n");
        exit(1);
    }
    return (int32_t)x;
}

void actuate(int32_t prediction)
{
    fprintf(predictions, "%ld\n", (long)prediction);
}

void flash_save(const int32_t *words, size_t count)
{
    char tmp[4096], dst[4096];
    FILE *f;
    size_t i;
    snprintf(dst, sizeof dst, "%s.weights", out_path);
    snprintf(tmp, sizeof tmp, "%s.weights.tmp", out_path);
    f = fopen(tmp, "w");
    if (!f) { perror(tmp); exit(1); }
    for (i = 0; i < count; i++) fprintf(f, "%ld\n", (long)words[i]);
    if (fclose(f) != 0 || rename(tmp, dst) != 0) { perror(dst); exit(1); }
    if (--saves_left == 0) {
        fclose(predictions);
        exit(0);
    }
}

void fault(int err)
{
    fprintf(stderr, "host_termios: %s\n", rtrl_strerror(err));
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s PORT BAUD SAMPLES OUT SAVES\n", argv[0]);
        return 2;
    }
    port = open_port(argv[1], (unsigned)strtoul(argv[2], NULL, 10));
    if (port < 0) { perror(argv[1]); return 1; }
    samples = fopen(argv[3], "r");
    if (!samples) { perror(argv[3]); return 1; }
    out_path = argv[4];
    predictions = fopen(out_path, "w");
    if (!predictions) { perror(out_path); return 1; }
    saves_left = strtol(argv[5], NULL, 10);
    return rtrl_example_main();
}
