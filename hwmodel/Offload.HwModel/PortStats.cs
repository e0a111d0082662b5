namespace Offload.HwModel;

/// <summary>
/// What the model's stream drivers saw on one port since the last reset or <see cref="HwModel.ClearStats"/>.
/// Cycle stamps are 1-based rising-edge numbers (<see cref="HwModel.Cycles"/> after that edge); 0 means none.
/// </summary>
/// <param name="RxFrames">Ingress frames fully accepted (tlast handshakes).</param>
/// <param name="RxWords">Ingress words accepted.</param>
/// <param name="RxStallCycles">Cycles with tvalid high and tready low on the ingress port (the data plane pushed back).</param>
/// <param name="TxFrames">Egress frames collected.</param>
/// <param name="TxWords">Egress words collected.</param>
/// <param name="TxFirstCycle">Cycle of the first egress word.</param>
/// <param name="TxLastCycle">Cycle of the latest egress word.</param>
public readonly record struct PortStats(
    ulong RxFrames, ulong RxWords, ulong RxStallCycles, ulong TxFrames, ulong TxWords, ulong TxFirstCycle, ulong TxLastCycle);
