// Placeholder entry point while the daemon is built (issue 4); it runs nothing yet.
Console.Error.WriteLine("xnb: the daemon is not built yet");
return 1;
