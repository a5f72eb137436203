using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Baton.Router;

namespace Baton.Operations;

/// <summary>The admin API's client, as <c>baton ctl</c> uses it: each call returns the body or throws <see cref="AdminCallException"/> with a line to show.</summary>
public sealed class AdminClient(Uri admin, string token) : IDisposable
{
    private readonly HttpClient _http = new()
    {
        BaseAddress = admin,
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public async Task<IReadOnlyList<DestinationStatus>> DestinationsAsync(CancellationToken ct = default) =>
        (await CallAsync<DestinationList>(HttpMethod.Get, AdminApi.Destinations, ct).ConfigureAwait(false)).Destinations;

    /// <summary>Drains or undrains <paramref name="name"/>; returns its rows (one per cluster that lists it).</summary>
    public Task<List<DestinationStatus>> DrainAsync(string name, bool draining, CancellationToken ct = default) =>
        CallAsync<List<DestinationStatus>>(HttpMethod.Post, $"{AdminApi.Destinations}/{Uri.EscapeDataString(name)}/{(draining ? "drain" : "undrain")}", ct);

    /// <summary>Reloads the configuration file; a refused version is a result (Applied false), not an exception.</summary>
    public Task<ReloadResult> ReloadAsync(CancellationToken ct = default) =>
        CallAsync<ReloadResult>(HttpMethod.Post, AdminApi.Reload, ct, HttpStatusCode.UnprocessableEntity);

    public Task<ConnectionStatus> ConnectionAsync(IPEndPoint client, CancellationToken ct = default) =>
        CallAsync<ConnectionStatus>(HttpMethod.Get, $"{AdminApi.Connections}/{client}", ct);

    public async Task<int> ConnectionCountAsync(CancellationToken ct = default) =>
        (await CallAsync<ConnectionCount>(HttpMethod.Get, AdminApi.Connections, ct).ConfigureAwait(false)).Connections;

    private async Task<T> CallAsync<T>(HttpMethod method, string path, CancellationToken ct, HttpStatusCode? alsoAnswer = null)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(new HttpRequestMessage(method, path), ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new AdminCallException($"cannot reach the admin API at {_http.BaseAddress}: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new AdminCallException($"the admin API at {_http.BaseAddress} did not answer in {_http.Timeout.TotalSeconds:0} s");
        }
        using (response)
        {
            if (response.IsSuccessStatusCode || response.StatusCode == alsoAnswer)
                return await response.Content.ReadFromJsonAsync<T>(AdminApi.Json, ct).ConfigureAwait(false)
                    ?? throw new AdminCallException($"{path}: empty answer");
            string detail;
            try { detail = (await response.Content.ReadFromJsonAsync<AdminError>(AdminApi.Json, ct).ConfigureAwait(false))?.Error ?? ""; }
            catch (System.Text.Json.JsonException) { detail = ""; }
            throw new AdminCallException($"{method} {path}: {(int)response.StatusCode} {response.ReasonPhrase}{(detail.Length > 0 ? $": {detail}" : "")}");
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>An admin call that did not do what was asked; the message is for the operator.</summary>
public sealed class AdminCallException(string message) : Exception(message);
