using Akka.Actor;
using Akka.TestKit.Xunit2;
using Backend.Actors.Hypercall;
using Backend.Xen.Grants;

namespace Backend.Actors.Tests.Hypercall;

/// <summary>The hypercall actor alone, with a copier that the test makes fail.</summary>
public sealed class GrantCopyActorTests : TestKit
{
    public GrantCopyActorTests() : base(@"akka.loglevel = INFO")
    {
    }

    [Fact]
    public async Task A_copy_that_fails_as_a_whole_is_logged_with_its_errno_at_most_ten_times_in_a_burst()
    {
        var hypercall = Sys.ActorOf(GrantCopyActor.Props(new WholeFailureCopier(errno: 14)));
        var batch = new GrantCopyBatch(new GrantCopyOps(4) { Count = 2 }, TestActor);

        await EventFilter.Warning(contains: "failed as a whole: errno 14").ExpectAsync(10, async () =>
        {
            for (var i = 0; i < 12; i++)
            {
                hypercall.Tell(batch);
                var back = await ExpectMsgAsync<GrantCopyBatch>();
                Assert.Same(batch, back);
                foreach (var segment in back.Used)
                    Assert.Equal(GrantStatus.GeneralError, segment.Status);
            }
        });
    }

    [Fact]
    public async Task A_copy_that_succeeds_is_not_logged()
    {
        var hypercall = Sys.ActorOf(GrantCopyActor.Props(new WholeFailureCopier(errno: 0)));
        var batch = new GrantCopyBatch(new GrantCopyOps(4) { Count = 2 }, TestActor);

        await EventFilter.Warning().ExpectAsync(0, async () =>
        {
            hypercall.Tell(batch);
            await ExpectMsgAsync<GrantCopyBatch>();
        });
    }

    /// <summary>As the gntdev ioctl failing whole: every segment general_error, the errno kept; 0 copies them all.</summary>
    private sealed class WholeFailureCopier(int errno) : IGrantCopier
    {
        public int LastBatchErrno { get; private set; }

        public void Copy(Span<GrantCopySegment> segments)
        {
            LastBatchErrno = errno;
            foreach (ref var segment in segments)
                segment.Status = errno == 0 ? GrantStatus.Okay : GrantStatus.GeneralError;
        }
    }
}
