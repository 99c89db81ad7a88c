using Backend.Xen.Platform.Native;

namespace Backend.Xen.Platform.Linux;

/// <summary>A descriptor served by a <see cref="PollThread"/>.</summary>
internal interface IPollable
{
    FileDescriptor Handle { get; }

    /// <summary>
    /// Called on the poll thread when the descriptor is readable (or in error, so that the read reports
    /// it). Reads what is there and returns; poll is level-triggered, so what is left fires again.
    /// </summary>
    void OnReadable();
}
