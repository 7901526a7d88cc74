// The native Verilator testbench of rtrl_core: it replays a program of bus operations and
// stream words that rtrledit.sim.native compiled from a Job, and writes what the core
// answered. It knows no register, no layout and no model: every fact is in the Python.
//
//   rtrl_native PROGRAM OUTPUT
//
// PROGRAM: little-endian uint32 words: a header (MAGIC, VERSION, sample words SW, result
// words RW, watchdog cycles), then operations until OP_END:
//   OP_RESET n            rst high for n cycles, inputs idle
//   OP_WRITE addr value   one bus write (ack expected)
//   OP_READ addr          one bus read; out: the word
//   OP_POLL addr mask     bus reads until (word & mask) == 0; out: nothing
//   OP_CYCLE              out: the cycle count (lo, hi)
//   OP_STREAM T, T x (SW payload words, idle gap, ready-low run)
//                         out: T accept cycles (lo, hi), then T x (RW payload words,
//                         cycle valid was first seen (lo, hi), protocol error flag)
// OUTPUT: the outputs of the operations in order, then a trailer of 12 words: status
// (0 done, 1 watchdog, 2 no ack, 3 bad program), the index of the operation it stopped
// at, its detail (the address, or samples/results done), the cycles (lo, hi), the
// stream cycles (lo, hi), the stream nanoseconds (lo, hi), the stream's CPU nanoseconds
// (lo, hi) and a 0 word.
#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <type_traits>
#include <vector>

#include "Vrtrl_core.h"
#include "Vrtrl_core___024root.h"
#include "verilated.h"

// Verilator escapes "__" in port names as "___05F" (sample__valid: sample___05Fvalid).

namespace {

constexpr uint32_t MAGIC = 0x4C525452, VERSION = 1;
enum Op : uint32_t { OP_END, OP_RESET, OP_WRITE, OP_READ, OP_POLL, OP_CYCLE, OP_STREAM };
enum Status : uint32_t { DONE, WATCHDOG, NO_ACK, BAD_PROGRAM };

// Ports of any width from and to 32-bit words.
template <typename T> void put(T& port, const uint32_t* w) {
    if constexpr (std::is_integral_v<T>) {
        if constexpr (sizeof(T) > 4) port = w[0] | (uint64_t(w[1]) << 32);
        else port = T(w[0]);
    } else {
        for (size_t i = 0; i < sizeof(port.m_storage) / 4; ++i) port.m_storage[i] = w[i];
    }
}
template <typename T> void get(const T& port, uint32_t* w) {
    if constexpr (std::is_integral_v<T>) {
        w[0] = uint32_t(port);
        if constexpr (sizeof(T) > 4) w[1] = uint32_t(uint64_t(port) >> 32);
    } else {
        for (size_t i = 0; i < sizeof(port.m_storage) / 4; ++i) w[i] = port.m_storage[i];
    }
}

struct Stop { Status status; uint32_t detail; };

// One evaluation per clock cycle. Verilator finds a rising edge by comparing clk with the
// copy it kept at the previous evaluation (a member of the model's root class); clearing
// that copy makes the next evaluation with clk = 1 a rising edge, without the evaluation
// with clk = 0 in between, which would only settle the combinational logic once more
// (rtrl_core has one clock domain and no falling-edge logic). A model without that member
// (another Verilator) gets the clk = 0 evaluation: the same cycles, twice the work.
// RTRL_EVAL_LOW forces the clk = 0 evaluation (the tests compare both: word for word).
template <typename Root> bool arm_edge(Root* root) {
#ifdef RTRL_EVAL_LOW
    if constexpr (false) {
#else
    if constexpr (requires { root->__Vtrigprevexpr___TOP__clk__0; }) {
#endif
        root->__Vtrigprevexpr___TOP__clk__0 = 0;
        return true;
    } else {
        return false;
    }
}

struct Harness {
    Vrtrl_core top;
    uint64_t cycle = 0, watchdog = 0;
    std::vector<uint32_t> out;

    // A rising edge: the logic settles with the inputs as they are, then the registers
    // take their next values (one evaluation; see arm_edge).
    void tick() {
        if (!arm_edge(top.rootp)) { top.clk = 0; top.eval(); }
        top.clk = 1; top.eval(); ++cycle;
    }
    // The combinational logic after an input change, with no edge (clk stays high).
    void settle() { top.eval(); }
    void push64(uint64_t v) { out.push_back(uint32_t(v)); out.push_back(uint32_t(v >> 32)); }

    void reset(uint32_t n) {
        top.sample___05Fvalid = 0; top.result___05Fready = 0; top.bus___05Fr_stb = 0; top.bus___05Fw_stb = 0;
        top.bus___05Faddr = 0; top.bus___05Fw_data = 0; top.rst = 1;
        for (uint32_t i = 0; i < n; ++i) tick();
        top.rst = 0;
    }

    uint32_t access(uint32_t addr, bool write, uint32_t value) {
        top.bus___05Faddr = addr; top.bus___05Fw_data = value;
        (write ? top.bus___05Fw_stb : top.bus___05Fr_stb) = 1;
        tick();
        (write ? top.bus___05Fw_stb : top.bus___05Fr_stb) = 0;
        for (int i = 0; i < ACK_TIMEOUT; ++i) {     // addr held until ack (sim/access.py)
            if (top.bus___05Fack) return top.bus___05Fr_data;
            tick();
        }
        throw Stop{NO_ACK, addr};
    }

    // Both streams at once, cycle by cycle: sample s after its idle gap (counted from the
    // first cycle the core is ready), result r held for its ready-low run after valid.
    // The outputs are read before each edge, settled with that cycle's inputs: by the
    // previous edge's evaluation when the inputs did not change, else by settle() (at
    // the start, whose inputs the bus accesses left unsettled, and at each handshake or
    // stall boundary: a few evaluations a sample).
    void stream(const uint32_t* p, uint32_t T, uint32_t sw, uint32_t rw) {
        const uint32_t rec = sw + 2;
        std::vector<uint64_t> accepted(T);
        std::vector<uint32_t> results(size_t(T) * (rw + 3)), held(rw), now(rw);
        uint32_t s = 0, r = 0, gap = T ? p[sw] : 0, hold = T ? p[sw + 1] : 0;
        bool counting = false, holding = false, changed = true;
        uint64_t last = cycle;
        while (r < T) {
            const bool offer = s < T && gap == 0, ready = hold == 0;
            changed |= bool(top.sample___05Fvalid) != offer || bool(top.result___05Fready) != ready;
            top.sample___05Fvalid = offer;
            if (offer) put(top.sample___05Fpayload, p + size_t(s) * rec);
            top.result___05Fready = ready;
            if (changed) settle();
            changed = false;
            const bool s_fire = offer && top.sample___05Fready;
            if (s < T && gap && !counting && top.sample___05Fready) counting = true;
            const bool r_valid = top.result___05Fvalid;
            bool r_fire = false;
            if (r_valid || holding) {
                get(top.result___05Fpayload, now.data());
                uint32_t* res = &results[size_t(r) * (rw + 3)];
                if (!holding) {
                    for (uint32_t i = 0; i < rw; ++i) res[i] = held[i] = now[i];
                    res[rw] = uint32_t(cycle); res[rw + 1] = uint32_t(cycle >> 32);
                    holding = true;
                } else if (!r_valid || now != held) {
                    res[rw + 2] = 1;
                }
                r_fire = r_valid && top.result___05Fready;
            }
            tick();
            if (counting) {
                if (--gap == 0) counting = false;
            }
            if (s_fire) {
                changed = true;                    // the next sample's payload
                accepted[s++] = cycle;
                if (s < T) gap = p[size_t(s) * rec + sw];
            }
            if (holding && !r_fire && hold) --hold;
            if (r_fire) {
                holding = false;
                if (++r < T) hold = p[size_t(r) * rec + sw + 1];
            }
            if (s_fire || r_fire) last = cycle;
            else if (cycle - last > watchdog) throw Stop{WATCHDOG, (s << 16) | (r & 0xFFFF)};
        }
        top.sample___05Fvalid = 0;
        top.result___05Fready = 1;
        for (uint64_t a : accepted) push64(a);
        out.insert(out.end(), results.begin(), results.end());
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s PROGRAM OUTPUT\n", argv[0]);
        return 2;
    }
    std::vector<uint32_t> prog;
    if (FILE* f = std::fopen(argv[1], "rb")) {
        uint32_t buf[4096];
        size_t k;
        while ((k = std::fread(buf, 4, 4096, f)) > 0) prog.insert(prog.end(), buf, buf + k);
        std::fclose(f);
    }
    Verilated::commandArgs(1, argv);
    Harness h;
    Stop stop{DONE, 0};
    uint32_t op_index = 0;
    uint64_t stream_cycles = 0, stream_ns = 0, stream_cpu_ns = 0;
    try {
        if (prog.size() < 5 || prog[0] != MAGIC || prog[1] != VERSION) throw Stop{BAD_PROGRAM, 0};
        const uint32_t sw = prog[2], rw = prog[3];
        h.watchdog = prog[4];
        size_t pc = 5;
        auto need = [&](size_t k) { if (pc + k > prog.size()) throw Stop{BAD_PROGRAM, uint32_t(pc)}; };
        for (;; ++op_index) {
            need(1);
            const uint32_t op = prog[pc++];
            if (op == OP_END) break;
            switch (op) {
            case OP_RESET: need(1); h.reset(prog[pc++]); break;
            case OP_WRITE: need(2); h.access(prog[pc], true, prog[pc + 1]); pc += 2; break;
            case OP_READ: need(1); h.out.push_back(h.access(prog[pc++], false, 0)); break;
            case OP_POLL: {
                need(2);
                const uint64_t start = h.cycle;
                while (h.access(prog[pc], false, 0) & prog[pc + 1])
                    if (h.cycle - start > h.watchdog) throw Stop{WATCHDOG, prog[pc]};
                pc += 2;
                break;
            }
            case OP_CYCLE: h.push64(h.cycle); break;
            case OP_STREAM: {
                need(1);
                const uint32_t T = prog[pc++];
                need(size_t(T) * (sw + 2));
                const uint64_t c0 = h.cycle;
                const auto t0 = std::chrono::steady_clock::now();
                const std::clock_t cpu0 = std::clock();
                h.stream(&prog[pc], T, sw, rw);
                stream_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - t0).count();
                stream_cpu_ns += uint64_t(std::clock() - cpu0) * (1000000000 / CLOCKS_PER_SEC);
                stream_cycles += h.cycle - c0;
                pc += size_t(T) * (sw + 2);
                break;
            }
            default: throw Stop{BAD_PROGRAM, uint32_t(pc - 1)};
            }
        }
    } catch (const Stop& s) {
        stop = s;
    }
    h.top.final();
    h.out.insert(h.out.end(), {uint32_t(stop.status), op_index, stop.detail});
    h.push64(h.cycle);
    h.push64(stream_cycles);
    h.push64(stream_ns);
    h.push64(stream_cpu_ns);
    h.out.push_back(0);
    FILE* f = std::fopen(argv[2], "wb");
    if (!f || std::fwrite(h.out.data(), 4, h.out.size(), f) != h.out.size()) {
        std::fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[2]);
        return 2;
    }
    std::fclose(f);
    return stop.status == DONE ? 0 : 1;
}
