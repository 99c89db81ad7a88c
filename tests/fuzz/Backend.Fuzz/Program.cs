using Backend.Fuzz;
using SharpFuzz;

// Backend.Fuzz list                      the targets' names
// Backend.Fuzz fuzz TARGET               under afl-fuzz (SharpFuzz's fork server; input on stdin)
// Backend.Fuzz run TARGET PATH...        each file (or every file of each folder) once; exit 1 on a finding
// Backend.Fuzz seed DIR                  writes every target's seeds to DIR/TARGET/seed-NAME
if (args is ["list"])
{
    foreach (var name in FuzzTargets.Names)
        Console.WriteLine(name);
    return 0;
}
if (args is ["fuzz", var fuzzed])
{
    var target = FuzzTargets.Create(fuzzed);
    // Inputs past this are cut: every target's script is far shorter, and AFL's inputs stay small.
    var buffer = new byte[1 << 20];
    Fuzzer.Run(stream =>
    {
        var length = 0;
        int read;
        while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            length += read;
        target.Run(buffer.AsSpan(0, length));
    });
    return 0;
}
if (args is ["run", var replayed, .. var paths] && paths.Length > 0)
{
    var target = FuzzTargets.Create(replayed);
    var failures = 0;
    var runs = 0;
    foreach (var path in paths)
    {
        var files = Directory.Exists(path) ? Directory.GetFiles(path) : [path];
        Array.Sort(files, StringComparer.Ordinal);
        foreach (var file in files)
        {
            runs++;
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                failures++;
                Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}");
                Console.WriteLine(e.StackTrace);
            }
        }
    }
    Console.WriteLine($"{replayed}: {runs} inputs, {failures} findings");
    return failures == 0 ? 0 : 1;
}
if (args is ["seed", var directory])
{
    foreach (var name in FuzzTargets.Names)
    {
        var folder = Path.Combine(directory, name);
        Directory.CreateDirectory(folder);
        foreach (var seed in FuzzTargets.Create(name).Seeds())
            File.WriteAllBytes(Path.Combine(folder, "seed-" + seed.Name), seed.Input);
    }
    return 0;
}
Console.Error.WriteLine("usage: Backend.Fuzz list | fuzz TARGET | run TARGET PATH... | seed DIR");
return 2;
