namespace Baton.Steering;

/// <summary>Which flow steering the router uses (<c>Baton:Steering</c>).</summary>
public enum SteeringKind
{
    /// <summary>eBPF where it loads, nftables otherwise (logged once, with the reason).</summary>
    Auto,

    /// <summary>eBPF at tc ingress only; the router does not start without it.</summary>
    Bpf,

    /// <summary>nftables netdev ingress only.</summary>
    NfTables,
}
