// MULT18X18D (ECP5 sysDSP 18 x 18 multiplier) for gate-level simulation of the netlists of
// rtrledit.sim.netlist: Yosys ships this cell as a black box only (ecp5/cells_bb.v). Written
// from Lattice FPGA-TN-02205 (ECP5 and ECP5-5G sysDSP Usage Guide): P = A x B, A (B) signed
// when SIGNEDA (SIGNEDB) is 1; an optional register on the inputs A and B, on the product
// (pipeline) and on the output, each clocked by CLK0 with enable CE0 and synchronous reset
// RST0. Every other setting (other clocks, enables or resets, asynchronous reset, the shift
// chains, the C input, bypass) stops the simulation: it is not modelled. The registers start
// at 0 with GSR = "ENABLED" (the global reset at configuration), else unknown (X), so that a
// read before the first product shows.
`default_nettype none
module MULT18X18D(
    input wire A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input wire B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input wire C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input wire SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input wire CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    input wire SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    input wire SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    output wire SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
    output wire SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
    output wire ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
    output wire ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
    output wire ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
    output wire P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output wire SIGNEDP);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    function automatic clk0_or_none(input [8*8-1:0] clk, input [8*8-1:0] ce, input [8*8-1:0] rst);
        clk0_or_none = (clk == "NONE") || (clk == "CLK0" && ce == "CE0" && rst == "RST0");
    endfunction
    initial begin
        if (!(clk0_or_none(REG_INPUTA_CLK, REG_INPUTA_CE, REG_INPUTA_RST)
              && clk0_or_none(REG_INPUTB_CLK, REG_INPUTB_CE, REG_INPUTB_RST)
              && clk0_or_none(REG_PIPELINE_CLK, REG_PIPELINE_CE, REG_PIPELINE_RST)
              && clk0_or_none(REG_OUTPUT_CLK, REG_OUTPUT_CE, REG_OUTPUT_RST)
              && REG_INPUTC_CLK == "NONE" && MULT_BYPASS == "DISABLED"
              && RESETMODE == "SYNC" && CAS_MATCH_REG == "FALSE")) begin
            $display("MULT18X18D %m: a setting this model does not cover");
            $fatal(1);
        end
    end
    always @* if (SOURCEA === 1'b1 || SOURCEB === 1'b1 || CLK1 === 1'b1 || CLK2 === 1'b1
                  || CLK3 === 1'b1) begin
        $display("MULT18X18D %m: the shift chains and CLK1..3 are not modelled");
        $fatal(1);
    end

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg [17:0] ra, rb;
    reg sa, sb;
    reg [35:0] rp, ro;
    initial if (GSR == "ENABLED") begin
        ra = 0; rb = 0; sa = 0; sb = 0; rp = 0; ro = 0;
    end
    always @(posedge CLK0) begin
        if (RST0) begin
            ra <= 0; rb <= 0; sa <= 0; sb <= 0;
        end else if (CE0) begin
            ra <= a; rb <= b; sa <= SIGNEDA; sb <= SIGNEDB;
        end
    end
    wire [17:0] ia = REG_INPUTA_CLK == "NONE" ? a : ra;
    wire [17:0] ib = REG_INPUTB_CLK == "NONE" ? b : rb;
    wire ea = (REG_INPUTA_CLK == "NONE" ? SIGNEDA : sa) & ia[17];
    wire eb = (REG_INPUTB_CLK == "NONE" ? SIGNEDB : sb) & ib[17];
    wire [71:0] product = {{54{ea}}, ia} * {{54{eb}}, ib};
    always @(posedge CLK0) begin
        if (RST0) begin
            rp <= 0; ro <= 0;
        end else if (CE0) begin
            rp <= product[35:0]; ro <= ip;
        end
    end
    wire [35:0] ip = REG_PIPELINE_CLK == "NONE" ? product[35:0] : rp;
    wire [35:0] io = REG_OUTPUT_CLK == "NONE" ? ip : ro;
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = io;
    assign SIGNEDP = ea ^ eb;
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = 18'b0;
    assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = 18'b0;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = ia;
    assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = ib;
    assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = 18'b0;
endmodule
`default_nettype wire
