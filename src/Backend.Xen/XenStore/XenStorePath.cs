namespace Backend.Xen.XenStore;

/// <summary>
/// Path rules of xenstored's <c>is_valid_nodename</c>: absolute, no trailing or double '/', only
/// <c>[A-Za-z0-9-/_@]</c>, at most XENSTORE_ABS_PATH_MAX characters; special watch paths start with '@'.
/// </summary>
public static class XenStorePath
{
    public const string IntroduceDomain = "@introduceDomain";
    public const string ReleaseDomain = "@releaseDomain";

    public static bool IsSpecial(string path) => path is IntroduceDomain or ReleaseDomain;

    /// <param name="allowSpecial">Whether the special watch paths (<c>@introduceDomain</c>, <c>@releaseDomain</c>) are accepted.</param>
    public static bool IsValid(string path, bool allowSpecial)
    {
        if (allowSpecial && IsSpecial(path))
            return true;
        if (path.Length == 0 || path.Length > XenStoreLimits.AbsolutePathMax || path[0] != '/')
            return false;
        if (path.Length == 1)
            return true;
        if (path[^1] == '/')
            return false;
        var previousSlash = false;
        foreach (var c in path)
        {
            var slash = c == '/';
            if (slash && previousSlash)
                return false;
            previousSlash = slash;
            if (!IsValidCharacter(c))
                return false;
        }
        return true;
    }

    /// <summary>
    /// A path relative to the caller's domain (<c>domid</c>, <c>device/vif/0</c>), as xenstored's
    /// <c>canonicalize</c> takes it: no leading, trailing or double '/', the same characters as an absolute
    /// path, at most XENSTORE_REL_PATH_MAX characters.
    /// </summary>
    public static bool IsValidRelative(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0 || path.Length > XenStoreLimits.RelativePathMax || path[0] == '/' || path[0] == '@')
            return false;
        return IsValid("/" + path, allowSpecial: false);
    }

    private static bool IsValidCharacter(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '/' or '_' or '@';

    /// <summary>The parent of a valid path other than "/".</summary>
    public static string Parent(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    /// <summary>The last component of a valid path other than "/".</summary>
    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    public static string Child(string parent, string name) => parent == "/" ? "/" + name : parent + "/" + name;

    /// <summary>Whether <paramref name="path"/> is <paramref name="ancestor"/> or lies below it.</summary>
    public static bool IsAtOrBelow(string path, string ancestor)
    {
        if (ancestor == "/")
            return path.Length > 0 && path[0] == '/';
        return path.StartsWith(ancestor, StringComparison.Ordinal)
            && (path.Length == ancestor.Length || path[ancestor.Length] == '/');
    }
}
