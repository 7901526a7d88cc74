// The virtual board: the board top (UART, frame bridge, core) built by Verilator, its UART
// pins connected to a pseudo-terminal at the real bit timing. rtrledit.boards.virtual builds
// and starts it; every fact about the design is in the Python.
//
//   rtrl_board CLOCK_HZ BAUD IDLE_CYCLES
//
// It opens a pty, sets it raw at BAUD, prints its path (one line on stdout) and runs until
// SIGINT or SIGTERM (exit 0) or until its parent dies. Bytes the host writes to the pty
// are sent on the rx pin as 8N1 at the baud the host's side of the pty is set to (read
// with TCGETS2 when they arrive), and the tx pin is sampled at that baud: a host at
// another baud than the board's UART gets what a real one would, garbage or nothing. It
// simulates while a byte moves or for IDLE_CYCLES after the last (so the core finishes
// its steps and a truncated frame times out), then sleeps until the host writes.
#include <asm/ioctls.h>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>
#include <vector>

#include "Vrtrl_board.h"
#include "verilated.h"

// The kernel's struct termios2 (<asm/termbits.h> clashes with <termios.h>).
struct termios2 {
    tcflag_t c_iflag, c_oflag, c_cflag, c_lflag;
    cc_t c_line;
    cc_t c_cc[19];
    speed_t c_ispeed, c_ospeed;
};
#ifndef BOTHER
#define BOTHER 0010000
#endif

namespace {

volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }

// The host's baud: what its side of the pty is set to.
unsigned host_baud(int fd, unsigned fallback) {
    termios2 t{};
    if (ioctl(fd, TCGETS2, &t) != 0 || t.c_ospeed == 0) return fallback;
    return t.c_ospeed;
}

bool set_raw(int fd, unsigned baud) {
    termios t{};
    if (tcgetattr(fd, &t) != 0) return false;
    cfmakeraw(&t);
    if (tcsetattr(fd, TCSANOW, &t) != 0) return false;
    termios2 t2{};
    if (ioctl(fd, TCGETS2, &t2) != 0) return false;
    t2.c_cflag = (t2.c_cflag & ~tcflag_t(CBAUD)) | BOTHER;
    t2.c_ispeed = t2.c_ospeed = baud;
    return ioctl(fd, TCSETS2, &t2) == 0;
}

struct Board {
    Vrtrl_board top;
    uint64_t cycle = 0;

    void tick() {
        top.clk = 0; top.eval();
        top.clk = 1; top.eval();
        ++cycle;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s CLOCK_HZ BAUD IDLE_CYCLES\n", argv[0]);
        return 2;
    }
    const double clock_hz = std::atof(argv[1]);
    const unsigned baud = unsigned(std::atol(argv[2]));
    const uint64_t idle_cycles = std::strtoull(argv[3], nullptr, 10);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    int master = -1, slave = -1;
    if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0 || !set_raw(slave, baud)) {
        std::perror("rtrl_board: openpty");
        return 1;
    }
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    std::printf("%s\n", ttyname(slave));     // the slave stays open: hosts may come and go
    std::fflush(stdout);

    Verilated::commandArgs(1, argv);
    Board b;
    b.top.rx = 1;
    b.top.rst = 1;
    for (int i = 0; i < 4; ++i) b.tick();
    b.top.rst = 0;

    std::deque<uint8_t> in;                  // bytes from the host, not sent yet
    std::vector<uint8_t> out;                // bytes to the host, not written yet
    uint8_t buf[4096];
    unsigned seen_baud = baud;
    double period = clock_hz / baud;         // cycles per bit at the host's baud
    // rx: the byte on the pin and its start cycle
    bool rx_busy = false;
    unsigned rx_bits = 0;
    double rx_start = 0;
    // tx: the host's receiver; sample times in cycles
    bool tx_busy = false;
    int tx_bit = 0;
    unsigned tx_sr = 0;
    double tx_next = 0;
    uint64_t last_activity = 0;

    auto fetch = [&](int timeout_ms) {
        pollfd p{master, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0 || !(p.revents & POLLIN)) return;
        ssize_t k = read(master, buf, sizeof buf);
        if (k <= 0) return;
        in.insert(in.end(), buf, buf + k);
        const unsigned hb = host_baud(master, baud);   // the bytes' baud: the host's now
        if (hb != seen_baud) {
            std::fprintf(stderr, "rtrl_board: the host's port is at %u baud, the board's "
                         "UART at %u\n", hb, baud);
            seen_baud = hb;
        }
        period = clock_hz / hb;
    };
    auto flush_out = [&]() {
        while (!out.empty()) {
            ssize_t k = write(master, out.data(), out.size());
            if (k <= 0) break;               // the host reads slower: keep the rest
            out.erase(out.begin(), out.begin() + k);
        }
    };

    while (!stop) {
        if (!rx_busy && in.empty()) {
            const bool quiet = !tx_busy && b.top.tx && b.cycle - last_activity > idle_cycles;
            if (quiet) {
                flush_out();
                fetch(100);                  // sleep until the host writes (or a signal)
                if (in.empty()) continue;
                last_activity = b.cycle;
            } else if ((b.cycle & 255) == 0) {
                fetch(0);
            }
        }
        if (!rx_busy && !in.empty()) {
            rx_bits = (unsigned(in.front()) << 1) | (1u << 9);   // start, 8 data, stop
            in.pop_front();
            rx_start = double(b.cycle);
            rx_busy = true;
        }
        if (rx_busy) {
            const double k = (double(b.cycle) - rx_start) / period;
            if (k >= 10) {
                rx_busy = false;
                b.top.rx = 1;
                last_activity = b.cycle;
                if (in.empty()) fetch(0);
                continue;
            }
            b.top.rx = (rx_bits >> unsigned(k)) & 1;
        }
        b.tick();
        const bool pin = b.top.tx;
        if (!tx_busy) {
            if (!pin) {                      // start bit: sample mid-bit from here on
                tx_busy = true;
                tx_bit = 0;
                tx_sr = 0;
                tx_next = double(b.cycle) + 1.5 * period;
            }
        } else if (double(b.cycle) >= tx_next) {
            if (tx_bit < 8) {
                tx_sr |= unsigned(pin) << tx_bit;
                ++tx_bit;
                tx_next += period;
            } else {                         // the stop bit: a framing error reads as 0
                out.push_back(pin ? uint8_t(tx_sr) : 0);
                tx_busy = false;
                last_activity = b.cycle;
                if (out.size() >= 64) flush_out();
            }
        }
        if (!pin) last_activity = b.cycle;
        if (!out.empty() && !tx_busy && (b.cycle & 63) == 0) flush_out();
    }
    b.top.final();
    close(master);
    close(slave);
    return 0;
}
