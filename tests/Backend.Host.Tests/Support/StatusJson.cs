using System.Text.Json;

namespace Backend.Host.Tests.Support;

/// <summary>Reads of the daemon's <c>GET /status</c>.</summary>
public static class StatusJson
{
    /// <summary>The vif of guest <paramref name="domid"/> in <c>/status</c>.</summary>
    public static async Task<JsonElement> VifAsync(HttpClient http, ushort domid)
    {
        using var status = JsonDocument.Parse(await http.GetStringAsync("/status"));
        return status.RootElement.GetProperty("vifs").EnumerateArray().Single(v => v.GetProperty("domId").GetInt32() == domid).Clone();
    }
}
