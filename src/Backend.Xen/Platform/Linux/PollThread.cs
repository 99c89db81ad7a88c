using Backend.Xen.Platform.Native;
using Tmds.Linux;

namespace Backend.Xen.Platform.Linux;

/// <summary>
/// One dedicated thread blocked in poll(2) over many descriptors that the runtime's socket engine cannot
/// take (character devices: evtchn, tun). An eventfd wakes it to pick up a changed set or to stop. One
/// thread serves every registered descriptor: never a thread per channel or per device.
/// </summary>
/// <remarks>
/// While registered, a descriptor's <see cref="FileDescriptor"/> holds an extra reference, so disposing it
/// elsewhere cannot close the number (and let the kernel hand it to someone else) while poll watches it.
/// <see cref="Remove"/> returns only once the thread has stopped watching it.
/// </remarks>
internal sealed unsafe class PollThread : IDisposable
{
    private readonly FileDescriptor _wake = FileDescriptor.EventFd();
    private readonly Thread _thread;
    private readonly Action<IPollable, Exception> _faulted;
    private readonly object _gate = new();
    private IPollable[] _registered = [];
    private long _generation;
    private long _seenGeneration;
    private bool _stopping;
    private bool _stopped;

    /// <param name="name">The thread's name, as seen in a debugger or <c>top -H</c>.</param>
    /// <param name="faulted">
    /// Told when a pollable's <see cref="IPollable.OnReadable"/> throws; that pollable is removed, the
    /// others go on.
    /// </param>
    public PollThread(string name, Action<IPollable, Exception> faulted)
    {
        _faulted = faulted;
        _thread = new Thread(Run) { Name = name, IsBackground = true };
        _thread.Start();
    }

    public void Add(IPollable pollable)
    {
        var added = false;
        pollable.Handle.DangerousAddRef(ref added);
        bool registered;
        lock (_gate)
        {
            registered = !_stopping;
            if (registered)
            {
                _registered = [.. _registered, pollable];
                _generation++;
            }
        }
        if (!registered)
        {
            pollable.Handle.DangerousRelease();
            throw new ObjectDisposedException(nameof(PollThread));
        }
        Wake();
    }

    /// <summary>Stops watching <paramref name="pollable"/>; when this returns, its OnReadable is not running and will not run again.</summary>
    public void Remove(IPollable pollable)
    {
        long generation;
        lock (_gate)
        {
            var index = Array.IndexOf(_registered, pollable);
            if (index < 0)
                return;
            _registered = [.. _registered.AsSpan(0, index), .. _registered.AsSpan(index + 1)];
            generation = ++_generation;
        }
        if (Thread.CurrentThread != _thread)
        {
            Wake();
            lock (_gate)
            {
                while (_seenGeneration < generation && !_stopped)
                    Monitor.Wait(_gate);
            }
        }
        pollable.Handle.DangerousRelease();
    }

    /// <summary>Stops the thread; from another thread it returns once the thread has ended.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
                return;
            _stopping = true;
        }
        Wake();
        if (Thread.CurrentThread != _thread)
            _thread.Join();
    }

    private void Wake()
    {
        // After the thread has ended and closed the eventfd there is nobody to wake; the reference keeps
        // us from writing to a number the kernel may have given to someone else since.
        var added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
            ulong one = 1;
            // EAGAIN means the counter is already non-zero: the thread is being woken anyway.
            LibC.write(_wake.Fd, &one, sizeof(ulong));
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
                _wake.DangerousRelease();
        }
    }

    private void Run()
    {
        var fds = new PollFd[8];
        IPollable[] current = [];
        while (true)
        {
            lock (_gate)
            {
                if (_stopping)
                    break;
                current = _registered;
                _seenGeneration = _generation;
                Monitor.PulseAll(_gate);
            }
            if (fds.Length < current.Length + 1)
                fds = new PollFd[current.Length * 2 + 1];
            fds[0] = new PollFd { Fd = _wake.Fd, Events = LibC.POLLIN };
            for (var i = 0; i < current.Length; i++)
                fds[i + 1] = new PollFd { Fd = current[i].Handle.Fd, Events = LibC.POLLIN };

            int ready;
            fixed (PollFd* p = fds)
                ready = NativeCalls.Poll(p, (nuint)(current.Length + 1), -1);
            if (ready < 0)
            {
                var errno = Errno.Last;
                if (errno == Errno.EINTR)
                    continue;
                // poll itself failing (ENOMEM) leaves no way to wait; stopping every pollable loudly beats spinning.
                var failure = new LinuxDeviceException(_thread.Name ?? "poll", "poll", errno);
                foreach (var pollable in current)
                    _faulted(pollable, failure);
                break;
            }
            if ((fds[0].Revents & LibC.POLLIN) != 0)
            {
                ulong counter;
                LibC.read(_wake.Fd, &counter, sizeof(ulong));
            }
            for (var i = 0; i < current.Length; i++)
            {
                if (fds[i + 1].Revents == 0)
                    continue;
                var pollable = current[i];
                try
                {
                    if ((fds[i + 1].Revents & LibC.POLLNVAL) != 0)
                        throw new LinuxDeviceException(pollable.Handle.Path, "poll", Errno.EINVAL, "the descriptor is not open");
                    pollable.OnReadable();
                }
                catch (Exception e)
                {
                    Remove(pollable);
                    _faulted(pollable, e);
                }
            }
        }
        // Cleaning up here rather than in Dispose lets a pollable's own callback dispose this safely.
        IPollable[] left;
        lock (_gate)
        {
            left = _registered;
            _registered = [];
            _stopping = true;
        }
        foreach (var pollable in left)
            pollable.Handle.DangerousRelease();
        _wake.Dispose();
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }
    }
}
