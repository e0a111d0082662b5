// Ethernet CRC-32 (reflected polynomial 0xEDB88320) advanced by one RMII di-bit, first bit in
// d[0]. Start from all ones; the FCS is the complement, sent low byte first. Run over a frame and its
// FCS, a good frame leaves 0xDEBB20E3. `included inside a module body.
function [31:0] crc32_dibit(input [31:0] c, input [1:0] d);
    reg [31:0] x;
    integer i;
    begin
        x = c;
        for (i = 0; i < 2; i = i + 1)
            x = (x[0] ^ d[i]) ? ((x >> 1) ^ 32'hEDB88320) : (x >> 1);
        crc32_dibit = x;
    end
endfunction
