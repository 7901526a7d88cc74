/*
 * Example: a microcontroller main loop that adapts online with the rtrledit core.
 * Every sensor period it reads a sample, pushes it with the target (here: the next
 * sample, one-step-ahead prediction), gets the prediction, and acts on it; every
 * few thousand steps it saves the adapted weights to flash.
 *
 * The board support functions (uart_*, sensor_read, millis, flash_save, actuate) are
 * the application's; only rtrledit.h/.c come from rtrledit. Build the header for your
 * core's config with: python -m rtrledit.firmware.export --config core.toml -o include/
 */
#include "rtrledit.h"
#include "rtrledit_regs.h"

/* ---- provided by the application / HAL ---- */
extern int uart_write(const uint8_t *data, size_t len);            /* 0 = ok */
extern int uart_read(uint8_t *data, size_t len, uint32_t timeout_ms); /* bytes read */
extern void uart_flush_rx(void);
extern int32_t sensor_read(void);                                  /* format X integer */
extern void actuate(int32_t prediction);                           /* format Y integer */
extern void flash_save(const int32_t *words, size_t count);
extern void fault(int err);

static int t_send(void *u, const uint8_t *d, size_t n) { (void)u; return uart_write(d, n); }
static int t_recv(void *u, uint8_t *d, size_t n, uint32_t ms) { (void)u; return uart_read(d, n, ms); }
static void t_flush(void *u) { (void)u; uart_flush_rx(); }

#define NPARAM (RTRL_WIN_W_SIZE + RTRL_WIN_U_SIZE + RTRL_WIN_V_SIZE + RTRL_WIN_C_SIZE)
static int32_t params[NPARAM];

static int save_weights(rtrl_dev *dev)
{
    int rc = rtrl_read_words(dev, RTRL_WIN_W_BASE, params, RTRL_WIN_W_SIZE);
    if (!rc) rc = rtrl_read_words(dev, RTRL_WIN_U_BASE, params + RTRL_WIN_W_SIZE, RTRL_WIN_U_SIZE);
    if (!rc) rc = rtrl_read_words(dev, RTRL_WIN_V_BASE, params + RTRL_WIN_W_SIZE + RTRL_WIN_U_SIZE,
                                  RTRL_WIN_V_SIZE);
    if (!rc) rc = rtrl_read_words(dev, RTRL_WIN_C_BASE,
                                  params + RTRL_WIN_W_SIZE + RTRL_WIN_U_SIZE + RTRL_WIN_V_SIZE,
                                  RTRL_WIN_C_SIZE);
    if (!rc) flash_save(params, NPARAM);      /* only a complete read is saved */
    return rc;
}

int rtrl_example_main(void)
{
    static rtrl_dev dev;                      /* ~280 bytes: no heap */
    rtrl_transport io = {t_send, t_recv, t_flush, 0};
    rtrl_layout lay = RTRL_LAYOUT_INIT;
    int32_t x[RTRL_CFG_M] = {0}, d[RTRL_CFG_P], y[RTRL_CFG_P];
    uint16_t flags;
    uint32_t step = 0;
    int rc = rtrl_init(&dev, &io, &lay, 50);  /* 50 ms per receive at 115200 baud */
    if (!rc) rc = rtrl_check(&dev);
    if (!rc) rc = rtrl_check_shape(&dev, RTRL_CFG_SHAPE);
    if (!rc) rc = rtrl_set_learning(&dev, 1);
    if (rc) fault(rc);
    x[0] = sensor_read();
    for (;;) {
        int32_t next = sensor_read();
        unsigned o;
        for (o = 0; o < RTRL_CFG_P; o++) d[o] = next;  /* target: the next sample */
        rc = rtrl_step(&dev, x, d, y, &flags);
        if (rc == RTRL_E_TIMEOUT || rc == RTRL_E_CRC || rc == RTRL_E_FRAME) {
            continue;   /* link hiccup: no bad frame changes the device (this result may be lost) */
        }
        if (rc) fault(rc);
        actuate(y[0]);
        x[0] = next;
        if (++step % 5000u == 0 && (rc = save_weights(&dev)) != RTRL_OK)
            fault(rc);
    }
}
