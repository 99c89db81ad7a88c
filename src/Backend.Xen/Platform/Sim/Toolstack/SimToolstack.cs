using System.Globalization;
using Backend.Xen.XenStore;

namespace Backend.Xen.Platform.Sim.Toolstack;

/// <summary>
/// The toolstack's part of SIMXEN ("The toolstack's part"): what libxl writes for a vif, each operation in
/// ONE xenstore transaction retried on EAGAIN, permissions included. Keys, order and permissions follow
/// the C reference <c>simxen-c/sxtool.c</c> key by key.
/// </summary>
public sealed class SimToolstack
{
    private readonly IXenStore _store;

    public SimToolstack(IXenStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <summary><c>/local/domain/&lt;B&gt;/backend/vif/&lt;G&gt;/&lt;H&gt;</c>.</summary>
    public static string BackendPath(ushort backend, ushort guest, int handle) =>
        string.Create(CultureInfo.InvariantCulture, $"/local/domain/{backend}/backend/vif/{guest}/{handle}");

    /// <summary><c>/local/domain/&lt;G&gt;/device/vif/&lt;H&gt;</c>.</summary>
    public static string FrontendPath(ushort guest, int handle) =>
        string.Create(CultureInfo.InvariantCulture, $"/local/domain/{guest}/device/vif/{handle}");

    /// <summary>Where a backend writes a vif's connect failure (Linux's <c>xenbus_dev_fatal</c>).</summary>
    public static string ErrorPath(ushort backend, ushort guest, int handle) =>
        string.Create(CultureInfo.InvariantCulture, $"/local/domain/{backend}/error/backend/vif/{guest}/{handle}");

    /// <summary>Owner first, then the one reader, in xs_wire form (<c>n&lt;owner&gt;</c>, <c>r&lt;reader&gt;</c>).</summary>
    public static IReadOnlyList<string> Permissions(ushort owner, ushort reader) =>
        ["n" + owner.ToString(CultureInfo.InvariantCulture), "r" + reader.ToString(CultureInfo.InvariantCulture)];

    /// <summary>
    /// Creates the vif: <c>/local/domain/&lt;G&gt;</c>, its <c>device</c> and <c>device/vif</c> dirs, the
    /// backend dir (owner B, readable by G) and the frontend dir (owner G, readable by B).
    /// </summary>
    public async Task CreateVifAsync(SimVifSpec vif, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vif);
        vif.Validate();
        var g = vif.GuestDomId;
        var b = vif.BackendDomId;
        var be = BackendPath(b, g, vif.Handle);
        var fe = FrontendPath(g, vif.Handle);
        var guestText = g.ToString(CultureInfo.InvariantCulture);
        var handleText = vif.Handle.ToString(CultureInfo.InvariantCulture);
        var domain = "/local/domain/" + guestText;
        var backendMtu = vif.Mtu != SimVifSpec.DefaultMtu;
        var backendKeys = new List<(string Key, string Value)>
        {
            ("frontend", fe),
            ("frontend-id", guestText),
            ("online", "1"),
            ("state", "1"),
            ("script", vif.Script),
            ("mac", vif.Mac),
            ("handle", handleText),
            ("type", "vif"),
            ("bridge", vif.Bridge),
        };
        if (backendMtu)
            backendKeys.Add(("mtu", vif.MtuText));
        if (vif.Rate is { } rate)
            backendKeys.Add(("rate", rate.ToXenStoreValue()));
        // Empty: the backend (the hotplug script's stand-in under SIMXEN) writes "connected".
        backendKeys.Add(("hotplug-status", ""));
        (string Key, string Value)[] frontendKeys =
        [
            ("backend", be),
            ("backend-id", b.ToString(CultureInfo.InvariantCulture)),
            ("state", "1"),
            ("handle", handleText),
            ("mac", vif.Mac),
            ("mtu", vif.MtuText),
            ("trusted", "1"),
        ];
        var backendPerms = Permissions(b, g);
        var frontendPerms = Permissions(g, b);
        IReadOnlyList<string> guestOnly = ["n" + guestText];

        await _store.RunTransactionAsync(async t =>
        {
            // The whole body goes out pipelined, one round trip instead of one per request: the client
            // writes requests in the order of the calls and xenstore answers a connection's requests in
            // order, so each directory exists before its permissions are set and each key before its own.
            // A failed request fails the transaction, which is then not committed.
            var requests = new List<Task>(2 * (backendKeys.Count + frontendKeys.Length) + 8)
            {
                _store.MkdirAsync(domain, t, cancellationToken),
                _store.MkdirAsync(domain + "/device", t, cancellationToken),
                _store.MkdirAsync(domain + "/device/vif", t, cancellationToken),
                _store.SetPermissionsAsync(domain + "/device", guestOnly, t, cancellationToken),
                _store.SetPermissionsAsync(domain + "/device/vif", guestOnly, t, cancellationToken),
            };
            foreach (var (key, value) in backendKeys)
                requests.Add(_store.WriteAsync(be + "/" + key, value, t, cancellationToken));
            foreach (var (key, value) in frontendKeys)
                requests.Add(_store.WriteAsync(fe + "/" + key, value, t, cancellationToken));
            requests.Add(_store.SetPermissionsAsync(be, backendPerms, t, cancellationToken));
            requests.Add(_store.SetPermissionsAsync(string.Create(CultureInfo.InvariantCulture, $"/local/domain/{b}/backend/vif/{g}"), backendPerms, t, cancellationToken));
            requests.Add(_store.SetPermissionsAsync(fe, frontendPerms, t, cancellationToken));
            foreach (var (key, _) in backendKeys)
                requests.Add(_store.SetPermissionsAsync(be + "/" + key, backendPerms, t, cancellationToken));
            foreach (var (key, _) in frontendKeys)
                requests.Add(_store.SetPermissionsAsync(fe + "/" + key, frontendPerms, t, cancellationToken));
            await Task.WhenAll(requests).ConfigureAwait(false);
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes the vif: its backend dir, its frontend dir and its error node (sxtool's <c>del</c>).
    /// Removing what is not there is not an error.
    /// </summary>
    public async Task RemoveVifAsync(ushort guest, int handle, ushort backend = 0, CancellationToken cancellationToken = default)
    {
        var be = BackendPath(backend, guest, handle);
        var fe = FrontendPath(guest, handle);
        var error = ErrorPath(backend, guest, handle);
        await _store.RunTransactionAsync(async t =>
        {
            await _store.RemoveAsync(be, t, cancellationToken).ConfigureAwait(false);
            await _store.RemoveAsync(fe, t, cancellationToken).ConfigureAwait(false);
            await _store.RemoveAsync(error, t, cancellationToken).ConfigureAwait(false);
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// sxtool's <c>offline</c>: <c>online</c>=0 only. The backend forgets the vif once the frontend is Closed,
    /// but nothing tells the frontend to close: the guest must be told to.
    /// </summary>
    public async Task SetOfflineAsync(ushort guest, int handle, ushort backend = 0, CancellationToken cancellationToken = default)
    {
        var be = BackendPath(backend, guest, handle);
        await _store.RunTransactionAsync(async t =>
        {
            await RequireBackendAsync(be, t, cancellationToken).ConfigureAwait(false);
            await _store.WriteAsync(be + "/online", "0", t, cancellationToken).ConfigureAwait(false);
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Unplug as libxl's detach does (<c>libxl__initiate_device_generic_remove</c>): <c>online</c>=0 and the
    /// backend's <c>state</c> Closing (5) in one transaction. The frontend sees its backend Closing and goes
    /// Closed; the backend then goes Closed and, <c>online</c> being 0, forgets the vif. The C reference's
    /// <c>offline</c> writes <c>online</c> only (<see cref="SetOfflineAsync"/>).
    /// </summary>
    public async Task UnplugVifAsync(ushort guest, int handle, ushort backend = 0, CancellationToken cancellationToken = default)
    {
        var be = BackendPath(backend, guest, handle);
        await _store.RunTransactionAsync(async t =>
        {
            await RequireBackendAsync(be, t, cancellationToken).ConfigureAwait(false);
            await _store.WriteAsync(be + "/online", "0", t, cancellationToken).ConfigureAwait(false);
            // libxl writes the state only where it exists: a backend that never started has none to close.
            if (await _store.ReadAsync(be + "/state", t, cancellationToken).ConfigureAwait(false) is not null)
                await _store.WriteAsync(be + "/state", "5", t, cancellationToken).ConfigureAwait(false);
        }, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The handles of guest <paramref name="guest"/>'s vifs on backend <paramref name="backend"/>.</summary>
    public async Task<IReadOnlyList<int>> ListVifsAsync(ushort guest, ushort backend = 0, CancellationToken cancellationToken = default)
    {
        var names = await _store.DirectoryAsync(string.Create(CultureInfo.InvariantCulture, $"/local/domain/{backend}/backend/vif/{guest}"), null, cancellationToken).ConfigureAwait(false);
        var handles = new List<int>();
        if (names is null)
            return handles;
        foreach (var name in names)
        {
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var h))
                handles.Add(h);
        }
        return handles;
    }

    /// <summary>
    /// A guest died (toolstack.sh's <c>destroy</c>): removes each of its vifs, then <c>ROOT/dom&lt;G&gt;/</c>.
    /// <c>/local/domain/&lt;G&gt;</c> is left, as the C reference leaves it.
    /// </summary>
    public async Task DestroyGuestAsync(SimRoot root, ushort guest, ushort backend = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var handle in await ListVifsAsync(guest, backend, cancellationToken).ConfigureAwait(false))
            await RemoveVifAsync(guest, handle, backend, cancellationToken).ConfigureAwait(false);
        var directory = root.DomainDirectory(guest);
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }

    private async Task RequireBackendAsync(string be, XenStoreTransaction t, CancellationToken cancellationToken)
    {
        if (await _store.ReadAsync(be + "/frontend", t, cancellationToken).ConfigureAwait(false) is null)
            throw new InvalidOperationException($"no vif at {be}");
    }
}
