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

    /// <summary>
    /// The errno with which the last <see cref="Copy"/> failed as a whole (every segment then reads
    /// GNTST_general_error), or 0: for the caller's log, since no segment's status says why. A copier that
    /// cannot fail as a whole (SIMXEN's checks each segment) keeps 0.
    /// </summary>
    int LastBatchErrno => 0;
}
