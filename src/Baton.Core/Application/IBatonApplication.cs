namespace Baton.Application;

/// <summary>
/// An application that serves transactions on connections Baton hands to it. It reads the
/// request body from <see cref="BatonTransaction.RequestBody"/>, writes a complete HTTP/1.1
/// response to <see cref="BatonTransaction.Response"/>, then calls
/// <see cref="BatonTransaction.CompleteAsync"/> so the connection can go back to the router.
/// </summary>
public interface IBatonApplication
{
    /// <summary>Serves one transaction.</summary>
    Task ServeAsync(BatonTransaction transaction, CancellationToken cancellationToken);
}
