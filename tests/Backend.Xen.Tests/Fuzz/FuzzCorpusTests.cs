using Backend.Fuzz;

namespace Backend.Xen.Tests.Fuzz;

/// <summary>
/// Every fuzz target (tests/fuzz/Backend.Fuzz) over its kept corpus, tests/fuzz/corpus/TARGET: the seeds,
/// the inputs AFL found new coverage with, and every crash found, kept as a regression case. The target
/// checks the product's invariants itself; here each input must pass them.
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string> Targets => [.. FuzzTargets.Names];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_kept_input_of_a_fuzz_target_holds_the_target_s_invariants(string target)
    {
        var files = CorpusOf(target);
        var fuzzTarget = FuzzTargets.Create(target);
        var findings = new List<string>();
        foreach (var file in files)
        {
            try
            {
                fuzzTarget.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                findings.Add($"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        Assert.True(findings.Count == 0, $"{findings.Count} of {files.Length} inputs of {target} fail (replay one with: Backend.Fuzz run {target} tests/fuzz/corpus/{target}/NAME):\n{string.Join("\n", findings)}");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void A_fuzz_target_s_corpus_holds_its_seeds_as_they_are_spelled_now(string target)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", target);
        foreach (var seed in FuzzTargets.Create(target).Seeds())
        {
            var file = Path.Combine(folder, "seed-" + seed.Name);
            Assert.True(File.Exists(file) && File.ReadAllBytes(file).AsSpan().SequenceEqual(seed.Input),
                $"tests/fuzz/corpus/{target}/seed-{seed.Name} is missing or out of date: run Backend.Fuzz seed tests/fuzz/corpus");
        }
    }

    private static string[] CorpusOf(string target)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus", target);
        Assert.True(Directory.Exists(folder), $"no corpus for fuzz target {target} (tests/fuzz/corpus/{target})");
        var files = Directory.GetFiles(folder);
        Array.Sort(files, StringComparer.Ordinal);
        Assert.NotEmpty(files);
        return files;
    }
}
