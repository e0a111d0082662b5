# nextpnr-ice40 --pre-pack: the clocks the build must meet. The PLL's output (the core clock, 60 MHz)
# gets its constraint from clk_12m through the PLL's dividers.
ctx.addClock("clk_12m", 12)
ctx.addClock("rmii_ref_clk", 50)
