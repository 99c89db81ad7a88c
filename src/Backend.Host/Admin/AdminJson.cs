using System.Text.Json;

namespace Backend.Host.Admin;

/// <summary>JSON options of the admin endpoint (camelCase, indented: it is read by people too).</summary>
public static class AdminJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
