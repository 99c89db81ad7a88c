namespace Backend.Xen.Grants;

/// <summary>
/// Executes batches of grant copies, as GNTTABOP_copy: every segment gets its own status, one failing
/// segment does not stop the others. Called from one thread at a time per instance (each lane's hypercall
/// actor owns one); it blocks for the duration of the copy.
/// </summary>
public interface IGrantCopier
{
    /// <summary>Copies every segment and writes each one's <see cref="GrantCopySegment.Status"/>.</summary>
    void Copy(Span<GrantCopySegment> segments);
}
