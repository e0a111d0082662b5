using Offload.Device;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// Chooses a backend for a new connection. One implementation per policy (Maglev, source hash, smooth
/// weighted round-robin, weighted least connections), all driven the same way: the health-and-load handler
/// calls <see cref="Rebuild"/> with a fresh <see cref="PoolSnapshot"/> whenever membership, health, weight or
/// load changes, and the classifier calls <see cref="Pick"/> for each flow-table miss.
/// </summary>
/// <remarks>
/// Keeping an established connection on its backend across rebuilds is the session tracker's job, not the
/// scheduler's. Implementations are not thread-safe: the owner calls <see cref="Rebuild"/> and
/// <see cref="Pick"/> from one thread (or serialises them), which is how the classifier loop runs.
/// </remarks>
public interface IBackendScheduler
{
    /// <summary>What <see cref="Pick"/> returns when no backend can take the connection.</summary>
    const int None = -1;

    /// <summary>A short policy name for logs and the CLI.</summary>
    string Name { get; }

    /// <summary>The pool the current state was built from, or null before the first <see cref="Rebuild"/>.</summary>
    PoolSnapshot? Pool { get; }

    /// <summary>Replaces the pool. Throws if the pool cannot be scheduled by this policy (for example, too large for a Maglev table).</summary>
    void Rebuild(PoolSnapshot pool);

    /// <summary>An index into <see cref="Pool"/>'s backends, or <see cref="None"/> (no pool yet, or no healthy backend with weight).</summary>
    int Pick(in FlowKey key);
}
