using System.Reflection;

namespace Backend.Fuzz;

/// <summary>Every <see cref="FuzzTarget"/> of this assembly, by name.</summary>
public static class FuzzTargets
{
    private static readonly Lazy<IReadOnlyList<Type>> Types = new(() =>
    {
        var types = new List<Type>();
        foreach (var type in typeof(FuzzTarget).Assembly.GetTypes())
        {
            if (type.IsSubclassOf(typeof(FuzzTarget)) && !type.IsAbstract)
                types.Add(type);
        }
        return types;
    });

    /// <summary>The names of all targets, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get
        {
            var names = new List<string>();
            foreach (var type in Types.Value)
                names.Add(Create(type).Name);
            names.Sort(StringComparer.Ordinal);
            return names;
        }
    }

    /// <summary>A fresh instance of the target called <paramref name="name"/>.</summary>
    public static FuzzTarget Create(string name)
    {
        foreach (var type in Types.Value)
        {
            var target = Create(type);
            if (target.Name == name)
                return target;
        }
        throw new ArgumentException($"no fuzz target is called '{name}' (targets: {string.Join(", ", Names)})", nameof(name));
    }

    private static FuzzTarget Create(Type type) =>
        (FuzzTarget)(Activator.CreateInstance(type, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, null, [], null)
            ?? throw new InvalidOperationException($"{type} could not be created"));
}
