using NatMap.Cli;

return await CliApp.RunAsync(args, Console.Out, Console.Error, applyRunner: null, CancellationToken.None).ConfigureAwait(false);
