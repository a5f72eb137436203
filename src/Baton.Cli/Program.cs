using System.CommandLine;
using Baton.Cli;

CliSupport.NoPoolSpinOnOneCpu(); // first: before anything starts the thread pool
var root = new RootCommand("Baton: a layer-7 router that hands live TCP connections to back-ends instead of proxying them.");
root.Add(RouterCommand.Create());
root.Add(AgentCommand.Create());
root.Add(WorkerCommand.Create());
root.Add(OriginCommand.Create());
root.Add(DemoCommand.Create());
root.Add(CtlCommand.Create());
root.Add(Baton.Cli.Check.CheckCommand.Create());
// Each command stops on SIGTERM/SIGINT itself (CliSupport.StopSignal) and tears down what it made.
// System.CommandLine's own handling would end the process 2 s after the signal, cutting that short:
// a demo stopped after load exited after exactly 2.01 s and left its processes and namespaces.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
