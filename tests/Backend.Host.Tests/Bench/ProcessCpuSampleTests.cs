using Backend.Host.Bench;

namespace Backend.Host.Tests.Bench;

/// <summary>Issue 14's backend CPU figures: what procfs says, read as the kernel writes it.</summary>
public sealed class ProcessCpuSampleTests
{
    [Fact]
    public void Cpu_time_is_utime_plus_stime_in_user_hz_even_when_the_command_holds_spaces_and_parentheses()
    {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
        const string stat = "4242 (Backend (Host) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 30 0 12345 0 0";
        Assert.Equal(3.25, ProcessCpuSample.CpuSecondsOf(stat), 6);
    }

    [Fact]
    public void Context_switches_are_the_voluntary_and_the_nonvoluntary_ones()
    {
        string[] status = ["Name:\tBackend.Host", "Threads:\t30", "voluntary_ctxt_switches:\t1200", "nonvoluntary_ctxt_switches:\t34"];
        Assert.Equal(1234, ProcessCpuSample.ContextSwitchesOf(status));
    }

    [Fact]
    public void Per_frame_figures_come_from_the_difference_of_two_samples()
    {
        var cpu = new ProcessCpuSample(12.5, 50_000).Since(new ProcessCpuSample(10.5, 30_000), frames: 1_000_000);
        Assert.Equal(2.0, cpu.CpuSeconds, 6);
        Assert.Equal(2.0, cpu.UsPerFrame!.Value, 6);
        Assert.Equal(20.0, cpu.ContextSwitchesPer1000Frames!.Value, 6);
        Assert.Null(new ProcessCpuSample(1, 1).Since(new ProcessCpuSample(0, 0), frames: 0).UsPerFrame);
    }

    [Fact]
    public void This_process_has_used_some_cpu_and_switched_context()
    {
        var sample = ProcessCpuSample.Read(Environment.ProcessId);
        Assert.True(sample.CpuSeconds > 0, "no CPU time read for this test process");
        Assert.True(sample.ContextSwitches > 0, "no context switch read for this test process");
    }
}
