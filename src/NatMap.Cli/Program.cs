using NatMap.Cli;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

// Progress only on a terminal: a redirected run (a script, a CI log, a pipe) stays quiet.
var terminal = !Console.IsOutputRedirected && !Console.IsErrorRedirected;
return await CliApp.RunAsync(args, Console.Out, Console.Error, runner: null, terminal, cancel.Token).ConfigureAwait(false);
