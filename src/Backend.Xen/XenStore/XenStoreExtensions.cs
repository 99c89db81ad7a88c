using Backend.Xen.Xenbus;

namespace Backend.Xen.XenStore;

/// <summary>
/// Typed reads and transactions over any <see cref="IXenStore"/>. Values are read in the one strict grammar
/// (<see cref="XenStoreValue"/>: decimal digits, a '-' only for signed types, nothing else): a value a guest
/// wrote is hostile, and a malformed one is a <see cref="XenStoreValueException"/> naming the path and the
/// value, never a silent default.
/// </summary>
internal static class XenStoreExtensions
{
    /// <summary>Bounded retries of a transaction that met conflicts: xenstored's EAGAIN is transient, a livelock is not.</summary>
    public const int DefaultTransactionAttempts = 16;

    /// <summary>The value as an int, or null when the node does not exist.</summary>
    public static async Task<int?> ReadIntAsync(this IXenStore store, string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var value = await store.ReadAsync(path, transaction, cancellationToken).ConfigureAwait(false);
        if (value is null)
            return null;
        return XenStoreValue.TryParseInt(value, out var parsed)
            ? parsed
            : throw new XenStoreValueException(path, value, "a decimal int");
    }

    /// <summary>The value as a uint, or null when the node does not exist.</summary>
    public static async Task<uint?> ReadUIntAsync(this IXenStore store, string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var value = await store.ReadAsync(path, transaction, cancellationToken).ConfigureAwait(false);
        if (value is null)
            return null;
        return XenStoreValue.TryParseUInt(value, out var parsed)
            ? parsed
            : throw new XenStoreValueException(path, value, "a decimal unsigned 32-bit number");
    }

    /// <summary>The value as a ulong, or null when the node does not exist.</summary>
    public static async Task<ulong?> ReadULongAsync(this IXenStore store, string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var value = await store.ReadAsync(path, transaction, cancellationToken).ConfigureAwait(false);
        if (value is null)
            return null;
        return XenStoreValue.TryParseULong(value, out var parsed)
            ? parsed
            : throw new XenStoreValueException(path, value, "a decimal unsigned 64-bit number");
    }

    /// <summary>A feature flag as frontends write them ("0" or "1"), or null when the node does not exist.</summary>
    public static async Task<bool?> ReadBoolAsync(this IXenStore store, string path, XenStoreTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        var value = await store.ReadAsync(path, transaction, cancellationToken).ConfigureAwait(false);
        if (value is null)
            return null;
        return XenStoreValue.TryParseFlag(value, out var flag) ? flag : throw new XenStoreValueException(path, value, "0 or 1");
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a transaction and commits it, starting again when the commit (or a
    /// request inside) meets a conflict (EAGAIN), at most <paramref name="maxAttempts"/> times. When the body
    /// throws, the transaction is aborted and the exception goes to the caller.
    /// </summary>
    public static async Task RunTransactionAsync(this IXenStore store, Func<XenStoreTransaction, Task> body,
        int maxAttempts = DefaultTransactionAttempts, CancellationToken cancellationToken = default)
    {
        await store.RunTransactionAsync(async transaction =>
        {
            await body(transaction).ConfigureAwait(false);
            return true;
        }, maxAttempts, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc cref="RunTransactionAsync(IXenStore, Func{XenStoreTransaction, Task}, int, CancellationToken)"/>
    /// <returns>What the body returned in the attempt that committed.</returns>
    public static async Task<T> RunTransactionAsync<T>(this IXenStore store, Func<XenStoreTransaction, Task<T>> body,
        int maxAttempts = DefaultTransactionAttempts, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        for (var attempt = 0; attempt < maxAttempts; attempt++)
        {
            var transaction = await store.StartTransactionAsync(cancellationToken).ConfigureAwait(false);
            T result;
            try
            {
                result = await body(transaction).ConfigureAwait(false);
            }
            catch (XenStoreErrorException e) when (e.ErrorName == XenStoreErrors.EAGAIN)
            {
                await AbortQuietlyAsync(store, transaction).ConfigureAwait(false);
                continue;
            }
            catch
            {
                await AbortQuietlyAsync(store, transaction).ConfigureAwait(false);
                throw;
            }
            if (await store.EndTransactionAsync(transaction, commit: true, cancellationToken).ConfigureAwait(false))
                return result;
        }
        throw new XenStoreErrorException(XenStoreErrors.EAGAIN, XenStoreMessageType.TransactionEnd, null,
            $"xenstore transaction still met conflicts (EAGAIN) after {maxAttempts} attempts");
    }

    private static async Task AbortQuietlyAsync(IXenStore store, XenStoreTransaction transaction)
    {
        try
        {
            await store.EndTransactionAsync(transaction, commit: false).ConfigureAwait(false);
        }
        catch (Exception e) when (e is XenStoreErrorException or XenStoreConnectionException or ObjectDisposedException)
        {
            // The abort is best effort: the caller must see why the body failed, not why the abort did.
        }
    }
}
