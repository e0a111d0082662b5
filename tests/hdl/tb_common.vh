// Shared scaffolding, `included inside each module testbench: clock, cycle count, seed, error
// bookkeeping and the watchdog. Benches sample DUT outputs right after a rising edge (before any
// nonblocking update lands) and drive inputs with nonblocking assignments, so no races with the DUT.
// A bench defines TB_NAME (a string expression) before including; TB_WDOG (cycles) may override.
`ifndef TB_WDOG
`define TB_WDOG 200000
`endif

reg clk = 1'b0;
always #5 clk = ~clk;

integer cycle = 0;
always @(posedge clk) cycle <= cycle + 1;

integer seed = 1;
integer seed0 = 1;   // as given; seed itself advances
integer errors = 0;
string first_err = "";

// the first error is the useful one; later ones are often its consequences
task automatic err(input string msg);
    if (errors == 0) first_err = $sformatf("cycle %0d: %s", cycle, msg);
    if (errors < 5) $display("  error at cycle %0d: %s", cycle, msg);
    errors = errors + 1;
endtask

task automatic tb_finish;
    if (errors == 0) $display("TB PASS %s (seed %0d)", `TB_NAME, seed0);
    else $display("TB FAIL %s: %s (%0d errors, seed %0d)", `TB_NAME, first_err, errors, seed0);
    $finish;
endtask

// 0 .. n-1
function automatic integer rnd(input integer n);
    rnd = $unsigned($random(seed)) % n;
endfunction

function automatic bit chance(input integer pct);
    chance = rnd(100) < pct;
endfunction

initial begin
    if (!$value$plusargs("seed=%d", seed)) seed = 1;
    seed0 = seed;
    $display("%s: seed %0d", `TB_NAME, seed);
end

initial begin
    repeat (`TB_WDOG) @(posedge clk);
    err("watchdog timeout");
    tb_finish;
end
