namespace Backend.Xen.XenStore;

/// <summary>xenstored answered a request with an ERROR reply.</summary>
public sealed class XenStoreErrorException : Exception
{
    public XenStoreErrorException(string errorName, XenStoreMessageType operation, string? path)
        : base(path is null ? $"xenstore {operation}: {errorName}" : $"xenstore {operation} {path}: {errorName}")
    {
        ErrorName = errorName;
        Operation = operation;
        Path = path;
    }

    public XenStoreErrorException(string errorName, XenStoreMessageType operation, string? path, string message)
        : base(message)
    {
        ErrorName = errorName;
        Operation = operation;
        Path = path;
    }

    /// <summary>Xen's error name as xsd_errors spells it (EINVAL, ENOENT, EAGAIN, ...).</summary>
    public string ErrorName { get; }

    public XenStoreMessageType Operation { get; }

    /// <summary>The path the request named, when it named one.</summary>
    public string? Path { get; }
}
